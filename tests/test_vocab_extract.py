"""The ontology extractor and the resumable extraction driver (CLI included)."""

from __future__ import annotations

import json

import pytest
from test_vocab_support import read_jsonl, small_ontology, write_jsonl, write_ontology
from typer.testing import CliRunner

from _lhotse_helpers import paper_cut
from uts.cli.main import app
from uts.vocab.extract import OntologyExtractor, run_extraction
from uts.vocab.io import VocabError, read_captions

CAPTIONS = [
    {"id": "a", "caption": "Dogs barking and a siren in heavy rain."},
    {"id": "b", "caption": "A male voice whispering over a distorted electric guitar."},
    {"id": "c", "caption": "Laughing children; the hi-hats and snare drum of a rock band."},
]


@pytest.fixture(autouse=True)
def _private_embedding_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("UTS_CACHE_DIR", str(tmp_path / "cache"))


@pytest.fixture(scope="module")
def lexical():
    return OntologyExtractor(small_ontology(), embed_threshold=None)


def test_lexical_extraction_resolves_mentions_and_keeps_the_rest(lexical):
    rec = lexical.extract([CAPTIONS[0]["caption"]])[0]
    pairs = dict(zip(rec["tags"], map(tuple, rec["concept_ids"])))
    assert pairs["dog"] == ("UTS:0000033",)
    assert pairs["barking"] == ("UTS:0000034",)
    assert pairs["siren"] == ("UTS:0000032",)
    assert pairs["rain"] == ("UTS:0000035",)
    assert pairs["heavy"] == ()  # unresolved tags are kept, with no concept
    assert len(rec["tags"]) == len(set(rec["tags"])) == len(rec["concept_ids"])


def test_multiword_synonyms_and_deprecated_labels(lexical):
    b, c = lexical.extract([CAPTIONS[1]["caption"], CAPTIONS[2]["caption"]])
    assert dict(zip(b["tags"], b["concept_ids"]))["male voice"] == ["UTS:0000010"]
    assert dict(zip(b["tags"], b["concept_ids"]))["electric guitar"] == ["UTS:0000025"]
    ids_c = {i for ids in c["concept_ids"] for i in ids}
    assert {"UTS:0000013", "UTS:0000023", "UTS:0000022", "UTS:0000027"} <= ids_c
    (d,) = lexical.extract(["an old drum kit"])
    assert ["UTS:0000021"] in d["concept_ids"]  # deprecated label resolves to the replacement


def test_embedding_matching_of_leftover_phrases():
    # Threshold well between the true pairs (cosine 0.80-0.86) and the false ones (< 0.55).
    ex = OntologyExtractor(small_ontology(), embed_threshold=0.7, embed_min_words=1)
    (rec,) = ex.extract(["An automobile passes while a puppy yelps."])
    pairs = dict(zip(rec["tags"], rec["concept_ids"]))
    assert pairs["automobile"] == ["UTS:0000031"]  # car, by embedding only
    assert pairs["puppy"] == ["UTS:0000033"]  # dog
    assert pairs["pass"] == []  # below the threshold: unresolved


def test_lone_words_are_not_matched_by_embedding_by_default():
    # "passenger vehicle" (2 words) is close to vehicle; "puppy" alone would be dog at 0.80,
    # but single words are left for `propose` unless embed_min_words=1.
    ex = OntologyExtractor(small_ontology(), embed_threshold=0.75)
    (rec,) = ex.extract(["A puppy, then a passenger automobile."])
    pairs = dict(zip(rec["tags"], rec["concept_ids"]))
    assert pairs["puppy"] == []
    assert pairs["passenger automobile"] == ["UTS:0000030"]  # vehicle, cosine 0.80


def test_run_extraction_writes_one_record_per_caption(tmp_path, lexical):
    out = tmp_path / "tags.jsonl"
    stats = run_extraction([(r["id"], r["caption"]) for r in CAPTIONS], lexical, out, batch_size=2, progress=False)
    rows = read_jsonl(out)
    assert [r["id"] for r in rows] == ["a", "b", "c"]
    assert stats["written"] == 3 and stats["skipped"] == 0 and stats["failed"] == 0
    assert stats["unresolved_tags"] == sum(1 for r in rows for ids in r["concept_ids"] if not ids)


class Counting:
    def __init__(self, inner):
        self.inner, self.seen = inner, []

    def extract(self, captions):
        self.seen.extend(captions)
        return self.inner.extract(captions)


def test_resume_skips_done_ids_and_drops_a_torn_last_line(tmp_path, lexical):
    out = tmp_path / "tags.jsonl"
    first = lexical.extract([CAPTIONS[0]["caption"]])[0]
    out.write_text(json.dumps({"id": "a", **first}) + "\n" + '{"id": "b", "tags": ["gui', encoding="utf-8")
    counting = Counting(lexical)
    stats = run_extraction([(r["id"], r["caption"]) for r in CAPTIONS], counting, out, progress=False)
    assert counting.seen == [CAPTIONS[1]["caption"], CAPTIONS[2]["caption"]]
    assert stats["skipped"] == 1 and stats["written"] == 2
    assert [r["id"] for r in read_jsonl(out)] == ["a", "b", "c"]  # every line valid JSON again


def test_refuses_existing_output_without_resume_and_duplicate_ids(tmp_path, lexical):
    out = tmp_path / "tags.jsonl"
    out.write_text("keep me\n", encoding="utf-8")
    with pytest.raises(VocabError, match="exists"):
        run_extraction([("a", "rain")], lexical, out, resume=False, progress=False)
    assert out.read_text(encoding="utf-8") == "keep me\n"
    with pytest.raises(VocabError, match="unique"):
        run_extraction([("a", "rain"), ("a", "dog")], lexical, tmp_path / "x.jsonl", progress=False)


def test_read_captions_from_jsonl_parquet_and_lhotse(tmp_path):
    import polars as pl

    write_jsonl(tmp_path / "c.jsonl", CAPTIONS + [{"id": "empty", "caption": ""}])
    assert [i for i, _ in read_captions(tmp_path / "c.jsonl")] == ["a", "b", "c"]
    pl.DataFrame(CAPTIONS).write_parquet(tmp_path / "c.parquet")
    assert read_captions(tmp_path / "c.parquet") == [(r["id"], r["caption"]) for r in CAPTIONS]
    cut = paper_cut("cut1", "x.wav", ["rain"], "rain on a roof", duration=2.0)
    write_jsonl(tmp_path / "cuts.jsonl", [cut])
    assert read_captions(tmp_path / "cuts.jsonl") == [("cut1", "rain on a roof")]
    write_jsonl(tmp_path / "flat.jsonl", [{"id": "a", "audio_path": "a.wav", "tags": ["x"], "caption": "rain"}])
    assert read_captions(tmp_path / "flat.jsonl") == [("a", "rain")]  # flat manifests carry captions too
    write_jsonl(tmp_path / "tags.jsonl", [{"id": "a", "tags": ["x"]}])
    with pytest.raises(VocabError, match="not captions"):
        read_captions(tmp_path / "tags.jsonl")
    (tmp_path / "bad.jsonl").write_text("{not json\n", encoding="utf-8")
    with pytest.raises(VocabError, match="not JSON"):
        read_captions(tmp_path / "bad.jsonl")


def test_a_repeated_id_is_named_by_file_and_lines(tmp_path):
    """Both places an id occurs are named (JSON Lines), or the file and records (Parquet)."""
    import polars as pl

    rows = CAPTIONS + [{"id": "b", "caption": "again"}]
    write_jsonl(tmp_path / "c.jsonl", rows)
    with pytest.raises(VocabError, match=rf"c\.jsonl:{len(rows)}: id 'b' already used on line 2;"):
        read_captions(tmp_path / "c.jsonl")
    pl.DataFrame(rows).write_parquet(tmp_path / "c.parquet")
    with pytest.raises(VocabError, match=rf"c\.parquet: record {len(rows)}: id 'b' already used on record 2;"):
        read_captions(tmp_path / "c.parquet")


def test_cli_extract_and_errors(tmp_path):
    onto = write_ontology(tmp_path / "onto.ttl")
    captions = write_jsonl(tmp_path / "c.jsonl", CAPTIONS)
    out = tmp_path / "tags.jsonl"
    runner = CliRunner()
    res = runner.invoke(app, ["vocab", "extract", str(captions), "--out", str(out), "--no-embed", "-O", str(onto)])
    assert res.exit_code == 0, res.output
    assert "3 clips tagged" in res.output and len(read_jsonl(out)) == 3
    res = runner.invoke(app, ["vocab", "extract", str(captions), "--out", str(out), "--no-embed", "-O", str(onto)])
    assert res.exit_code == 0 and "0 clips tagged, 0 failed (3 already done" in res.output
    res = runner.invoke(app, ["vocab", "extract", str(tmp_path / "nope.jsonl"), "--out", str(out)])
    assert res.exit_code == 1 and "error: input file not found" in res.output
    res = runner.invoke(app, ["vocab", "extract", str(captions), "--out", str(tmp_path / "o.jsonl"), "-e", "llm"])
    assert res.exit_code == 1 and "--model" in res.output
    assert not (tmp_path / "o.jsonl").exists()


def test_resuming_under_other_settings_is_refused(tmp_path, lexical):
    """A rerun with another model or threshold into the same --out returned the old run's tags for
    every clip already done, without a word."""
    from uts.vocab.extract import settings_path

    out = tmp_path / "tags.jsonl"
    first = {"input": "c.jsonl", "extractor": "ontology", "embed_threshold": 0.8}
    run_extraction([("a", "rain")], lexical, out, progress=False, settings=first)
    assert json.loads(settings_path(out).read_text()) == first
    run_extraction([("a", "rain"), ("b", "dog")], lexical, out, progress=False, settings=first)  # same: resumes
    before = out.read_bytes()
    with pytest.raises(VocabError, match=r"tags\.jsonl was started with other settings \(embed_threshold: 0\.8 -> 0\.6\)"):
        run_extraction([("a", "rain")], lexical, out, progress=False, settings={**first, "embed_threshold": 0.6})
    assert out.read_bytes() == before
