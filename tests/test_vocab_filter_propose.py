"""Applying vocabularies to manifests (step 4) and proposing concepts for unresolved tags."""

from __future__ import annotations

import gzip
import json

import polars as pl
import pytest
from _lhotse_helpers import paper_cut
from test_vocab_support import read_jsonl, small_ontology, write_jsonl, write_ontology
from typer.testing import CliRunner

from uts.cli.main import app
from uts.inputs import OutputClashError
from uts.ontology.edit import apply_ops, read_ops
from uts.vocab.filter import Vocabulary, filter_manifest
from uts.vocab.io import VocabError
from uts.vocab.propose import Proposal, propose, write_proposals

TAGGED = [
    {"id": "1", "tags": ["Drums", "rain", "noise"], "extra": 1},
    {"id": "2", "tags": ["noise"]},
    {"id": "3", "tags": ["drumming", "car"]},
]


@pytest.fixture()
def label_vocab(tmp_path):
    path = tmp_path / "label_2.json"
    path.write_text(json.dumps({"0": "drums", "1": "rain"}), encoding="utf-8")
    return path


@pytest.fixture()
def concept_vocab(tmp_path):
    path = tmp_path / "concepts_2.json"
    path.write_text(json.dumps({"unit": "concept", "concepts": [
        {"id": "UTS:0000021", "label": "drum"}, {"id": "UTS:0000035", "label": "rain"}]}), encoding="utf-8")
    return path


def test_label_vocabulary_keeps_exact_tags_and_drops_empty_clips(tmp_path, label_vocab):
    src = write_jsonl(tmp_path / "t.jsonl", TAGGED)
    stats = filter_manifest(src, Vocabulary(label_vocab), tmp_path / "out.jsonl")
    assert stats == {"clips": 3, "kept": 1, "removed": 2, "tags_in": 6, "tags_kept": 2, "with_concepts": 0}
    # no ontology (--ontology none): the paper's step 4 on plain strings, in the manifest schema
    assert read_jsonl(tmp_path / "out.jsonl") == [{
        "id": "1", "audio_path": None, "start": None, "duration": None, "labels": [], "inferred": [],
        "caption": None, "source_labels": ["Drums", "rain"], "unmapped_tags": [], "extra": 1}]


def test_a_vocabulary_built_before_a_merge_follows_the_retired_id(tmp_path):
    """'drum kit' (UTS:0000099) was merged into drum: a vocabulary naming the retired id dropped
    every drum clip as "no tag left"."""
    old = tmp_path / "concepts_1.json"
    old.write_text(json.dumps({"unit": "concept", "concepts": [{"id": "UTS:0000099", "label": "drum kit"}]}))
    src = write_jsonl(tmp_path / "t.jsonl", TAGGED)
    stats = filter_manifest(src, Vocabulary(old, small_ontology()), tmp_path / "out.jsonl")
    assert stats["kept"] == 2 and [r["labels"] for r in read_jsonl(tmp_path / "out.jsonl")] == [["UTS:0000021"]] * 2


def test_label_vocabulary_with_an_ontology_gives_the_kept_tags_concepts(tmp_path, label_vocab):
    src = write_jsonl(tmp_path / "t.jsonl", TAGGED)
    filter_manifest(src, Vocabulary(label_vocab, small_ontology()), tmp_path / "out.jsonl")
    [row] = read_jsonl(tmp_path / "out.jsonl")
    assert row["labels"] == ["UTS:0000021", "UTS:0000035"]  # drum, rain
    assert row["inferred"] == ["UTS:0000002", "UTS:0000003", "UTS:0000020"]  # music, env. sound, instrument


def test_concept_vocabulary_writes_ids_closure_and_the_tags_as_written(tmp_path, concept_vocab):
    src = write_jsonl(tmp_path / "t.jsonl", TAGGED)
    stats = filter_manifest(src, Vocabulary(concept_vocab, small_ontology()), tmp_path / "out.jsonl")
    rows = read_jsonl(tmp_path / "out.jsonl")
    assert [r["labels"] for r in rows] == [["UTS:0000021", "UTS:0000035"], ["UTS:0000021"]]
    assert [r["source_labels"] for r in rows] == [["Drums", "rain"], ["drumming"]]  # car is no vocab concept
    assert rows[1]["inferred"] == ["UTS:0000002", "UTS:0000020"]
    assert stats["kept"] == 2 and stats["removed"] == 1 and stats["with_concepts"] == 2


def test_recorded_concept_ids_are_used_never_resolved_again(tmp_path, concept_vocab):
    """`uts vocab extract`'s ids win over the tag's text; deprecated ids follow their replacement."""
    records = [{"id": "a", "tags": ["drums", "weather"], "concept_ids": [["UTS:0000035"], ["UTS:0000099"]]},
               {"id": "b", "tags": ["drums"], "concept_ids": [[]]}]  # extract found nothing: not re-resolved
    src = write_jsonl(tmp_path / "t.jsonl", records)
    stats = filter_manifest(src, Vocabulary(concept_vocab, small_ontology()), tmp_path / "out.jsonl")
    rows = read_jsonl(tmp_path / "out.jsonl")
    assert [(r["id"], r["labels"], r["source_labels"]) for r in rows] == [
        ("a", ["UTS:0000035", "UTS:0000021"], ["drums", "weather"])]
    assert "concept_ids" not in rows[0] and stats["removed"] == 1


def test_the_output_is_the_manifest_training_reads(tmp_path, concept_vocab):
    import soundfile as sf

    from uts.manifest import read_manifest, validate_manifest

    (tmp_path / "audio").mkdir()
    sf.write(tmp_path / "audio" / "a.wav", [0.1] * 1600, 16000)
    records = [{"id": 7, "tags": ["rain"], "audio_path": "audio/a.wav", "start": 0, "caption": "rain falls"}]
    src = write_jsonl(tmp_path / "t.jsonl", records)
    out = tmp_path / "elsewhere" / "clips.parquet"
    filter_manifest(src, Vocabulary(concept_vocab, small_ontology()), out)
    df, report = validate_manifest(read_manifest(out, onto=small_ontology()))
    assert report.skipped == 0  # the relative audio path still finds its file from the new folder
    row = df.row(0, named=True)
    assert (row["id"], row["labels"], row["inferred"], row["caption"], row["duration"]) == (
        "7", ["UTS:0000035"], ["UTS:0000003"], "rain falls", 0.1)


def test_lhotse_cuts_become_manifest_rows(tmp_path, label_vocab):
    cuts = [paper_cut(f"c{i}", f"/a/{i}.flac", tags, caption="x", start=0.5, duration=3.0, file_seconds=4.0)
            for i, tags in enumerate([["rain", "wind"], "noise, hum", ["drums"]])]
    src = tmp_path / "cuts.jsonl.gz"
    with gzip.open(src, "wt") as fh:
        fh.writelines(json.dumps(c) + "\n" for c in cuts)
    stats = filter_manifest(src, Vocabulary(label_vocab, small_ontology()), tmp_path / "kept.jsonl.gz")
    with gzip.open(tmp_path / "kept.jsonl.gz", "rt") as fh:
        kept = [json.loads(line) for line in fh]
    assert stats["kept"] == 2 and [c["id"] for c in kept] == ["c0", "c2"]
    assert kept[0] == {"id": "c0", "audio_path": "/a/0.flac", "start": 0.5, "duration": 3.0,
                       "labels": ["UTS:0000035"], "inferred": ["UTS:0000003"], "caption": "x",
                       "source_labels": ["rain"], "unmapped_tags": []}


def test_parquet_manifest(tmp_path, label_vocab):
    pl.DataFrame([{"id": r["id"], "tags": r["tags"]} for r in TAGGED]).write_parquet(tmp_path / "t.parquet")
    stats = filter_manifest(tmp_path / "t.parquet", Vocabulary(label_vocab), tmp_path / "o.pq")
    assert stats["kept"] == 1 and pl.read_parquet(tmp_path / "o.pq")["source_labels"].to_list() == [["Drums", "rain"]]


@pytest.mark.parametrize("record, message", [
    ({"id": "x", "tags": "drums, rain"}, r"t.jsonl:2: 'tags' must be a list of strings"),
    ({"id": "x", "tags": ["drums"], "concept_ids": [["UTS:0009999"]]}, r"t.jsonl:2: concept id UTS:0009999 is not in"),
    ({"id": "x", "tags": ["drums", "rain"], "concept_ids": [["UTS:0000021"]]}, r"t.jsonl:2: 'concept_ids' must hold"),
    ({"id": "x", "tags": ["drums"], "caption": 5}, r"t.jsonl:2: 'caption' must be a str, found int"),
    ({"id": None, "tags": ["drums"]}, r"t.jsonl:2: 'id' must be"),
    ({"id": "1", "tags": ["rain"]}, r"t.jsonl:2: id '1' again \(first at .*t.jsonl:1\)"),
])
def test_a_bad_record_is_one_error_and_nothing_is_written(tmp_path, concept_vocab, record, message):
    src = write_jsonl(tmp_path / "t.jsonl", [TAGGED[0], record])
    out = tmp_path / "o.jsonl"
    with pytest.raises(VocabError, match=message):
        filter_manifest(src, Vocabulary(concept_vocab, small_ontology()), out)
    assert not out.exists() and not list(tmp_path.glob(".o.jsonl*"))


def test_filter_failures_write_nothing(tmp_path, label_vocab, concept_vocab):
    src = write_jsonl(tmp_path / "t.jsonl", TAGGED)
    before = src.read_bytes()
    with pytest.raises(OutputClashError, match="is also the input: writing it would destroy"):
        filter_manifest(src, Vocabulary(label_vocab), src)
    assert src.read_bytes() == before
    (tmp_path / "bad.json").write_text("[1, 2]", encoding="utf-8")
    with pytest.raises(VocabError, match="neither"):
        Vocabulary(tmp_path / "bad.json")
    with pytest.raises(VocabError, match="ontology"):
        Vocabulary(concept_vocab, None)
    broken = tmp_path / "broken.jsonl"
    broken.write_text(json.dumps(TAGGED[0]) + "\n{oops\n", encoding="utf-8")
    with pytest.raises(VocabError, match="broken.jsonl:2"):
        filter_manifest(broken, Vocabulary(label_vocab), tmp_path / "o.jsonl")
    assert not (tmp_path / "o.jsonl").exists() and not list(tmp_path.glob(".o.jsonl*"))


class NearestByTable:
    """Stands in for the embedding matcher: fixed nearest concepts per label."""

    def __init__(self, table):
        self.table = table

    def nearest(self, phrases, k=3):
        return [self.table.get(p, [])[:k] for p in phrases]


PROPOSE_TAGS = (
    [{"id": f"a{i}", "tags": ["saxophone", "rain"]} for i in range(4)]
    + [{"id": f"b{i}", "tags": ["saxophones", "acid rock"]} for i in range(2)]
    + [{"id": "c", "tags": ["rare thing"]}]
)


def test_propose_merges_variants_and_suggests_parents(tmp_path):
    onto = small_ontology()
    path = write_jsonl(tmp_path / "t.jsonl", PROPOSE_TAGS)
    near = NearestByTable({"saxophone": [("UTS:0000024", 0.7), ("UTS:0000026", 0.6)],   # guitar
                           "acid rock": [("UTS:0000027", 0.8)]})                         # rock music
    props = propose(path, onto, min_df=2, matcher=near)
    by_label = {p.label: p for p in props}
    assert set(by_label) == {"saxophone", "acid rock"}  # 'rare thing' is below --min-df
    assert by_label["saxophone"].synonyms == [] and by_label["saxophone"].df == 6  # plural merged
    assert by_label["saxophone"].parents == ["UTS:0000020"]  # a sibling of guitar: guitar's parent
    assert by_label["acid rock"].parents == ["UTS:0000027"]  # a kind of rock music
    out = write_proposals(tmp_path / "edits.yaml", props, onto, source="t.jsonl")
    edited, records = apply_ops(onto, read_ops(out))  # the ontology engine accepts the file as is
    assert {r["label"] for r in records} == {"saxophone", "acid rock"}
    assert edited.lookup("saxophones")[0].label == "saxophone"


def test_propose_with_the_mapping_engine_puts_a_kind_under_its_concept(tmp_path, monkeypatch):
    pytest.importorskip("uts.mapping.match", reason="the mapping engine is not installed")
    monkeypatch.setenv("UTS_CACHE_DIR", str(tmp_path / "cache"))
    path = write_jsonl(tmp_path / "t.jsonl", PROPOSE_TAGS)
    props = {p.label: p for p in propose(path, small_ontology(), min_df=2, suggest="mapping")}
    acid = props["acid rock"]
    assert acid.parents == ["UTS:0000027"] and not acid.weak  # broadMatch: a kind of rock music
    assert "broadMatch" in acid.evidence
    assert all(p.parents for p in props.values())


def test_propose_keeps_spelling_variants_as_synonyms(tmp_path):
    path = write_jsonl(tmp_path / "t.jsonl", [{"id": str(i), "tags": ["chirping", "chirp"]} for i in range(3)])
    props = propose(path, small_ontology(), matcher=NearestByTable({"chirp": [("UTS:0000036", 0.6)]}))
    assert [(p.label, p.synonyms) for p in props] == [("chirp", ["chirping"])]
    edited, _ = apply_ops(small_ontology(), read_ops(write_proposals(tmp_path / "e.yaml", props, small_ontology(), "t")))
    assert edited.lookup("chirping")


def test_propose_nothing_frequent_is_an_error(tmp_path):
    path = write_jsonl(tmp_path / "t.jsonl", [{"id": "1", "tags": ["rain", "once"]}])
    props = propose(path, small_ontology(), min_df=2, matcher=NearestByTable({}))
    assert props == []
    with pytest.raises(VocabError, match="min-df"):
        write_proposals(tmp_path / "e.yaml", props, small_ontology(), "t")
    assert not (tmp_path / "e.yaml").exists()


def test_cli_filter_and_propose(tmp_path, monkeypatch, label_vocab):
    monkeypatch.setenv("UTS_CACHE_DIR", str(tmp_path / "cache"))
    onto = write_ontology(tmp_path / "onto.ttl")
    src = write_jsonl(tmp_path / "t.jsonl", PROPOSE_TAGS)
    runner = CliRunner()
    res = runner.invoke(app, ["vocab", "filter", str(src), "--vocab", str(label_vocab), "--out", str(tmp_path / "f.jsonl"),
                              "--report", str(tmp_path / "r.json"), "-O", str(onto)])
    assert res.exit_code == 0, res.output
    assert "kept 4 of 7 clips" in res.output and json.loads((tmp_path / "r.json").read_text())["removed"] == 3
    res = runner.invoke(app, ["vocab", "propose", str(src), "--out", str(tmp_path / "e.yaml"), "-O", str(onto)])
    assert res.exit_code == 0, res.output
    ops = read_ops(tmp_path / "e.yaml")
    assert {o["label"] for o in ops} == {"saxophone", "acid rock"} and all(o["parents"] for o in ops)
    res = runner.invoke(app, ["ontology", "apply", str(tmp_path / "e.yaml"), "--ontology", str(onto)])
    assert res.exit_code == 0, res.output
    res = runner.invoke(app, ["vocab", "filter", str(src), "--vocab", str(tmp_path / "nope.json"), "--out", str(tmp_path / "g.jsonl")])
    assert res.exit_code == 1 and res.output.startswith("error:")


def test_a_tag_judged_the_same_as_a_concept_is_proposed_as_its_synonym(tmp_path):
    onto = small_ontology()
    props = [Proposal("automobile", 5, synonyms=["automobiles car"], parents=["UTS:0000030"], synonym_of="UTS:0000031",
                      evidence="mapping engine: car (exactMatch, p=0.90)", weak=False),
             Proposal("saxophone", 3, parents=["UTS:0000020"], evidence="mapping engine: ...", weak=False)]
    path = write_proposals(tmp_path / "e.yaml", props, onto, "t")
    ops = read_ops(path)
    assert ops[0] == {"op": "add_synonym", "id": "UTS:0000031", "synonym": "automobile"}
    assert [o["op"] for o in ops] == ["add_synonym", "add_synonym", "add"]
    edited, _ = apply_ops(onto, ops)
    assert edited.lookup("automobile")[0].id == "UTS:0000031"
    assert "same as 'car'" in path.read_text()
