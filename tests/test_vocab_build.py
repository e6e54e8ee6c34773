"""TF-IDF vocabulary building: the ranking against a plain Counter reference, the paper's file
form, concept-level counting, balance, closure, inputs and failures."""

from __future__ import annotations

import json
import math
import random
from collections import Counter

import polars as pl
import pytest
from test_vocab_support import small_ontology, write_jsonl, write_ontology
from typer.testing import CliRunner

from uts.cli.main import app
from uts.vocab.build import _unique_labels, build_vocabulary, size_name, tf_idf, write_outputs
from uts.vocab.io import VocabError


def reference_ranking(records) -> list[str]:
    """The paper's formula, written the obvious way."""
    df, n = Counter(), 0
    for r in records:
        n += 1
        df.update({t.strip().lower() for t in r.get("tags") or [] if t.strip()})
    return sorted(df, key=lambda t: (-df[t] * math.log((n + 1) / (df[t] + 1)), t))


def zipf_records(n, n_tags=300, seed=0):
    rng = random.Random(seed)
    weights = [1 / (i + 1) for i in range(n_tags)]
    names = [f"t{i:03d}" for i in range(n_tags)]
    return [{"id": str(i), "tags": rng.choices(names, weights, k=rng.randint(0, 8))} for i in range(n)]


def test_ranking_matches_the_counter_reference_including_ties_and_repeats(tmp_path):
    records = zipf_records(3000)
    path = write_jsonl(tmp_path / "tags.jsonl", records)
    result = build_vocabulary(path, [50, 100], onto=None)
    assert result.ranking["item"].to_list() == reference_ranking(records)
    assert result.n_clips == 3000
    assert result.tagged_clips == sum(1 for r in records if r["tags"])
    row = result.ranking.row(0, named=True)
    assert row["score"] == pytest.approx(tf_idf(row["df"], 3000))
    # Ties (equal df) are broken by the tag, so the order is total and reproducible.
    ties = result.ranking.group_by("df").agg(pl.col("item")).filter(pl.col("item").list.len() > 1)
    assert ties.height > 0
    for items in ties["item"].to_list():
        assert items == sorted(items)


def test_case_and_space_variants_are_one_tag_counted_once_per_clip(tmp_path):
    records = [{"id": "1", "tags": ["Drum", "drum ", "rain"]}, {"id": "2", "tags": ["drum"]},
               {"id": "3", "tags": ["", "  "]}, {"id": "4", "tags": None}]
    result = build_vocabulary(write_jsonl(tmp_path / "t.jsonl", records), [10], onto=None)
    assert dict(result.ranking.select("item", "df").iter_rows()) == {"drum": 2, "rain": 1}
    assert result.ranking["item"].to_list() == reference_ranking(records)
    assert result.n_clips == 4 and result.tagged_clips == 2


def test_score_penalises_tags_in_most_clips():
    # df*log((N+1)/(df+1)) is not monotonic in df: a tag in every clip scores zero.
    assert tf_idf(100, 100) == pytest.approx(0.0)
    assert tf_idf(30, 100) > tf_idf(90, 100)


@pytest.mark.parametrize("size,name", [(800, "800"), (1000, "1k"), (1500, "1.5k"), (2000, "2k"), (3000, "3k"), (250, "250")])
def test_size_names_follow_the_paper(size, name):
    assert size_name(size) == name


def test_files_in_the_papers_id2label_form_and_nested(tmp_path):
    path = write_jsonl(tmp_path / "tags.jsonl", zipf_records(2000, n_tags=400))
    result = build_vocabulary(path, [100, 150, 200], onto=None)
    written = write_outputs(result, tmp_path / "out", plot=False)
    names = {p.name for p in written}
    assert {"label_100.json", "label_150.json", "label_200.json", "ranking.csv", "stats.json", "report.md"} <= names
    small = json.loads((tmp_path / "out" / "label_100.json").read_text())
    big = json.loads((tmp_path / "out" / "label_200.json").read_text())
    assert list(small) == [str(i) for i in range(100)]
    assert [small[str(i)] for i in range(100)] == [big[str(i)] for i in range(100)]
    assert len(set(big.values())) == 200
    stats = json.loads((tmp_path / "out" / "stats.json").read_text())
    cut = {c["size"]: c for c in stats["cuts"]}
    assert cut[200]["df_at_cut"] == result.ranking.row(199, named=True)["df"]


TAGGED = [
    {"id": "1", "tags": ["drum", "drums", "rain"]},
    {"id": "2", "tags": ["drumming", "male voice"]},
    {"id": "3", "tags": ["drums", "piano", "saxophone"]},
    {"id": "4", "tags": ["laughing", "laughter", "rain"]},
    {"id": "5", "tags": ["saxophone", "car"]},
]


def test_concept_unit_merges_variants_counted_once_per_clip(tmp_path):
    path = write_jsonl(tmp_path / "t.jsonl", TAGGED)
    onto = small_ontology()
    tag_level = build_vocabulary(path, [3], onto=onto, unit="tag")
    assert "drums" in tag_level.ranking["item"].to_list() and "drum" in tag_level.ranking["item"].to_list()
    concept = build_vocabulary(path, [3], onto=onto, unit="concept")
    df = dict(concept.ranking.select("item", "df").iter_rows())
    assert df["UTS:0000021"] == 3  # drum/drums/drumming in clips 1, 2, 3: three clips, not five tags
    assert df["UTS:0000013"] == 1  # laughing + laughter in one clip
    assert "saxophone" not in concept.ranking["label"].to_list()  # unresolved: no concept to rank
    drum = {e["id"]: e for e in concept.concept_vocabs[3]}["UTS:0000021"]
    assert set(drum["tags"]) == {"drum", "drums", "drumming"} and drum["df"] == 3
    assert drum["domain"] == "music"  # inherited from the 'music' root


def test_tag_unit_concept_vocabulary_lists_resolved_concepts(tmp_path):
    path = write_jsonl(tmp_path / "t.jsonl", TAGGED)
    result = build_vocabulary(path, [4], onto=small_ontology(), unit="tag")
    top = result.selections[4]["item"].to_list()
    ids = [e["id"] for e in result.concept_vocabs[4]]
    assert len(ids) == len(set(ids))
    for entry in result.concept_vocabs[4]:
        assert set(entry["tags"]) <= set(top)
    assert result.tag_table.filter(pl.col("tag") == "saxophone")["concept_ids"].to_list() == [[]]


def test_balance_reserves_slots_for_each_domain(tmp_path):
    records = [{"id": str(i), "tags": ["piano", "drum", "guitar", "rock", "singing"]} for i in range(20)]
    records += [{"id": f"s{i}", "tags": ["rain"]} for i in range(2)] + [{"id": "m", "tags": ["laughter"]}]
    records += [{"id": f"f{i}", "tags": ["unknown"]} for i in range(77)]  # N = 100: df 20 ranks above df 2
    path = write_jsonl(tmp_path / "t.jsonl", records)
    plain = build_vocabulary(path, [4], onto=small_ontology(), unit="concept")
    assert set(plain.selections[4]["domain"]) == {"music"}
    balanced = build_vocabulary(path, [4], onto=small_ontology(), unit="concept", balance=0.25)
    chosen = balanced.selections[4]
    assert chosen.height == 4 and set(chosen["domain"]) == {"music", "sound", "speech"}
    assert chosen["rank"].is_sorted()
    with pytest.raises(VocabError, match="balance"):
        build_vocabulary(path, [4], onto=small_ontology(), unit="concept", balance=0.5)


def test_closure_adds_ancestors(tmp_path):
    records = [{"id": "1", "tags": ["snare drum"]}, {"id": "2", "tags": ["snare drum", "car"]}]
    path = write_jsonl(tmp_path / "t.jsonl", records + [{"id": f"f{i}", "tags": ["x"]} for i in range(8)])
    result = build_vocabulary(path, [1], onto=small_ontology(), unit="concept", closure=True)
    vocab = result.concept_vocabs[1]
    assert vocab[0]["id"] == "UTS:0000022" and "closure" not in vocab[0]
    added = {e["id"] for e in vocab if e.get("closure")}
    assert added == {"UTS:0000021", "UTS:0000020", "UTS:0000002"}  # drum, instrument, music
    write_outputs(result, tmp_path / "out", small_ontology(), plot=False)
    labels = json.loads((tmp_path / "out" / "label_1.json").read_text())
    assert labels["0"] == "snare drum" and len(labels) == 4


def test_extract_output_concept_ids_are_used(tmp_path):
    # An embedding match recorded by `vocab extract` ("automobile" -> car) counts for the concept.
    recs = [{"id": "1", "tags": ["automobile"], "concept_ids": [["UTS:0000031"]]},
            {"id": "2", "tags": ["car", "wind"], "concept_ids": [["UTS:0000031"], []]}]
    result = build_vocabulary(write_jsonl(tmp_path / "t.jsonl", recs), [5], onto=small_ontology(), unit="concept")
    assert dict(result.ranking.select("item", "df").iter_rows()) == {"UTS:0000031": 2}
    # Ids from another ontology version: deprecated ones follow their replacement, unknown ones drop.
    recs = [{"id": "1", "tags": ["drum kit", "gone"], "concept_ids": [["UTS:0000099"], ["UTS:0000777"]]}]
    result = build_vocabulary(write_jsonl(tmp_path / "v.jsonl", recs), [5], onto=small_ontology(), unit="concept")
    assert result.ranking["item"].to_list() == ["UTS:0000021"]
    recs = [{"id": "1", "tags": ["a", "b"], "concept_ids": [["UTS:0000031"]]}]
    with pytest.raises(VocabError, match="one list of ids per tag"):
        build_vocabulary(write_jsonl(tmp_path / "w.jsonl", recs), [5], onto=small_ontology(), unit="concept")


def test_lhotse_and_parquet_inputs_rank_like_jsonl(tmp_path):
    records = zipf_records(400, n_tags=50, seed=3)
    expected = reference_ranking(records)
    pl.DataFrame(records, schema={"id": pl.Utf8, "tags": pl.List(pl.Utf8)}).write_parquet(tmp_path / "t.parquet")
    assert build_vocabulary(tmp_path / "t.parquet", [10]).ranking["item"].to_list() == expected
    cuts = [{"id": r["id"], "start": 0, "duration": 1.0, "recording": {"sources": [{"source": "a.wav"}]},
             "supervisions": [{"custom": {"audio_tag": ",".join(r["tags"])}}]} for r in records]
    assert build_vocabulary(write_jsonl(tmp_path / "cuts.jsonl", cuts), [10]).ranking["item"].to_list() == expected
    for cut, r in zip(cuts, records):  # the list form is streamed by polars instead
        cut["supervisions"][0]["custom"]["audio_tag"] = r["tags"]
    assert build_vocabulary(write_jsonl(tmp_path / "cuts2.jsonl", cuts), [10]).ranking["item"].to_list() == expected


def test_bad_inputs_fail_clearly(tmp_path):
    with pytest.raises(VocabError, match="captions"):
        build_vocabulary(write_jsonl(tmp_path / "c.jsonl", [{"id": "1", "caption": "rain"}]), [10])
    with pytest.raises(VocabError, match="no tags"):
        build_vocabulary(write_jsonl(tmp_path / "e.jsonl", [{"id": "1", "tags": []}]), [10])
    with pytest.raises(VocabError, match="ontology"):
        build_vocabulary(write_jsonl(tmp_path / "t.jsonl", TAGGED), [10], onto=None, unit="concept")
    with pytest.raises(VocabError, match="not found"):
        build_vocabulary(tmp_path / "missing.jsonl", [10])
    with pytest.raises(VocabError, match="no tag resolves"):
        build_vocabulary(write_jsonl(tmp_path / "u.jsonl", [{"id": "1", "tags": ["zzz"]}]), [10],
                         onto=small_ontology(), unit="concept")
    (tmp_path / "s.jsonl").write_text('{"id": 1, "tags": "rain, wind"}\n', encoding="utf-8")
    with pytest.raises(VocabError, match="list of strings"):
        build_vocabulary(tmp_path / "s.jsonl", [10])
    (tmp_path / "j.jsonl").write_text('{"id": 1, "tags": ["rain"]}\nnot json\n', encoding="utf-8")
    with pytest.raises(VocabError, match="j.jsonl"):
        build_vocabulary(tmp_path / "j.jsonl", [10])


def test_cli_build_sizes_like_the_paper_and_user_errors(tmp_path):
    tags = write_jsonl(tmp_path / "t.jsonl", zipf_records(500, n_tags=120))
    onto = write_ontology(tmp_path / "onto.ttl")
    out = tmp_path / "vocab"
    runner = CliRunner()
    res = runner.invoke(app, ["vocab", "build", str(tags), "--sizes", "20", "50", "1.5k", "--out", str(out), "-O", str(onto)])
    assert res.exit_code == 0, res.output
    assert {p.name for p in out.iterdir()} >= {"label_20.json", "label_50.json", "label_1.5k.json", "concepts_20.json",
                                               "ranking.csv", "stats.json", "report.md", "vocab_stats.png"}
    assert (out / "vocab_stats.png").read_bytes()[:4] == b"\x89PNG"
    res = runner.invoke(app, ["vocab", "build", str(tags), "--sizes", "ten", "--out", str(tmp_path / "x")])
    assert res.exit_code == 2 and "not a vocabulary size" in res.output and "'--sizes'" in res.output
    res = runner.invoke(app, ["vocab", "build", str(tmp_path / "nope.jsonl"), "--out", str(tmp_path / "y"), "-O", "none"])
    assert res.exit_code == 1 and res.output.startswith("error: input file not found")
    assert not (tmp_path / "x").exists() and not (tmp_path / "y").exists()


def test_repeated_concept_labels_stay_distinct_in_id2label():
    entries = [{"id": "UTS:1", "label": "bass", "domain": "music"}, {"id": "UTS:2", "label": "bass", "domain": "sound"},
               {"id": "UTS:3", "label": "bass", "domain": "sound"}, {"id": "UTS:4", "label": "rain", "domain": "sound"}]
    assert _unique_labels(entries) == ["bass (music)", "bass (sound) [UTS:2]", "bass (sound) [UTS:3]", "rain"]


@pytest.mark.parametrize("unit,closure", [("tag", False), ("concept", False), ("concept", True)])
def test_coverage_counts_what_filter_keeps(tmp_path, unit, closure):
    from uts.vocab.filter import Vocabulary, filter_manifest

    rng = random.Random(5)
    pool = ["drum", "drums", "rain", "car", "siren", "piano", "laughter", "snare drum", "Bird", "wind", "hiss", "x1", "x2"]
    records = [{"id": str(i), "tags": rng.sample(pool, rng.randint(0, 3))} for i in range(300)]
    path = write_jsonl(tmp_path / "t.jsonl", records)
    onto = small_ontology()
    result = build_vocabulary(path, [2, 4, 6], onto=onto, unit=unit, closure=closure, coverage=True)
    write_outputs(result, tmp_path / "v", onto, plot=False)
    for size in (2, 4, 6):
        vocab = tmp_path / "v" / (f"label_{size}.json" if unit == "tag" else f"concepts_{size}.json")
        kept = filter_manifest(path, Vocabulary(vocab, onto), tmp_path / f"f{size}.jsonl")["kept"]
        assert result.coverage[size] == kept
    assert result.coverage[2] <= result.coverage[4] <= result.coverage[6] < 300
    stats = json.loads((tmp_path / "v" / "stats.json").read_text())
    assert [c["clips_kept"] for c in stats["cuts"]] == [result.coverage[s] for s in (2, 4, 6)]


def test_cli_build_reports_a_broken_ontology_loaded_in_the_background(tmp_path):
    tags = write_jsonl(tmp_path / "t.jsonl", zipf_records(50, n_tags=20))
    bad = tmp_path / "bad.ttl"
    bad.write_text("@prefix uts: <https://example.org/uts#> .\nthis is not turtle\n", encoding="utf-8")
    res = CliRunner().invoke(app, ["vocab", "build", str(tags), "--sizes", "5", "--out", str(tmp_path / "v"),
                                   "-O", str(bad), "--no-plot"])
    assert res.exit_code == 1 and res.output.startswith("error: ") and "bad.ttl" in res.output, res.output
    assert not (tmp_path / "v").exists()
