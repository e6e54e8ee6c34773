"""Applying mappings to real annotation files (AudioSet segments, MTG-Jamendo, Lhotse, generic
tables): annotated vs inferred labels, ancestor closure, optional columns, the report, and
errors that leave no output behind."""

from __future__ import annotations

import json

import polars as pl
import pytest

from uts.mapping.apply import (ApplyError, apply_file, detect_annotation_format, mapping_table,
                               read_annotations)
from uts.mapping.labelsets import read_audioset_ontology, read_mtg_jamendo
from uts.mapping.sssom import BROAD, EXACT, LEXICAL, NARROW, Mapping, MappingSet, default_metadata

from _lhotse_helpers import paper_cut
from _mapping_helpers import ANIMAL, BARK, DOG, DRUM, GUITAR, MUSIC, PERC, SNARE, SOUND, mini_target


@pytest.fixture(scope="module")
def audioset(shared_data):
    return read_audioset_ontology(shared_data / "audioset" / "ontology.json")


def _identity(labelset, skip=()):
    rows = [Mapping(lab.id, EXACT, lab.id, LEXICAL, subject_label=lab.label) for lab in labelset if lab.id not in skip]
    return MappingSet(rows, default_metadata("https://x.org/id"))


def test_audioset_segments_with_closure(shared_data, audioset, tmp_path):
    speech = "AudioSet:/m/03l9g"  # Hammer: some clips carry only this label
    out = tmp_path / "eval.parquet"
    rep = apply_file(shared_data / "audioset" / "eval_segments.csv", _identity(audioset, skip={speech}),
                     audioset, out)
    df = pl.read_parquet(out)
    assert df.columns == ["id", "labels", "inferred", "start", "duration", "source_labels"]
    assert rep.clips == len(df) > 20000
    first = df.row(0, named=True)
    assert first["id"] == "--4gqARaEJE_0.000" and first["duration"] == 10.0
    assert "AudioSet:/m/0bt9lr" in first["labels"]
    for row in df.head(200).iter_rows(named=True):  # closure = ancestors of labels, minus labels
        expected = set().union(*(audioset.ancestors(x) for x in row["labels"])) - set(row["labels"])
        assert set(row["inferred"]) == expected
        assert row["labels"] == sorted(set(row["labels"]))
    # Hammer was left unmapped on purpose: the report counts it, clips with only Hammer are empty
    assert list(rep.unmapped_labels) == [speech]
    n_speech = df.filter(pl.col("source_labels").list.contains(speech)).height
    assert rep.unmapped_labels[speech] == n_speech
    only_speech = df.filter(pl.col("source_labels") == pl.lit([speech])).height
    assert rep.clips_without_labels == only_speech > 0


def test_mtg_jamendo_keeps_audio_path_and_duration(shared_data, tmp_path):
    path = shared_data / "mtg-jamendo" / "autotagging-validation.tsv"
    tags = read_mtg_jamendo(path)
    target = mini_target()
    mapping = MappingSet([Mapping("MTGJamendo:instrument---drums", EXACT, DRUM, LEXICAL),
                          Mapping("MTGJamendo:genre---rock", BROAD, MUSIC, LEXICAL),
                          Mapping("MTGJamendo:instrument---guitar", NARROW, GUITAR, LEXICAL)],
                         default_metadata("https://x.org/m"))
    out = tmp_path / "mtg.jsonl"
    rep = apply_file(path, mapping, target, out)
    rows = [json.loads(x) for x in out.read_text().splitlines()]
    assert rep.clips == len(rows) > 10000
    assert set(rows[0]) == {"id", "labels", "inferred", "audio_path", "duration", "source_labels"}
    drums = next(r for r in rows if "MTGJamendo:instrument---drums" in r["source_labels"])
    assert DRUM in drums["labels"] and set(drums["inferred"]) >= {PERC, MUSIC}
    # narrowMatch is not applied by default: a "guitar" tag does not make a guitar-only clip labelled
    assert all(GUITAR not in r["labels"] for r in rows)
    assert rep.label_occurrences == sum(len(r["source_labels"]) for r in rows)
    assert "MTGJamendo:instrument---guitar" in rep.unmapped_labels
    assert len(tags) > 150


def test_format_detection_reads_the_first_record_not_a_text_prefix(tmp_path):
    # A cut whose caption pushes "recording" past the first 4 KB is still a cut; a flat JSON
    # Lines table and a broken first line are tables (the table reader then names the line).
    cuts = tmp_path / "long.jsonl"
    cuts.write_text(json.dumps(paper_cut("c1", "a.wav", ["dog"], "a dog " * 1000)) + "\n")
    assert cuts.read_text().index('"recording"') > 4096
    assert detect_annotation_format(cuts) == "lhotse"
    flat = tmp_path / "flat.jsonl"
    flat.write_text(json.dumps({"id": "c1", "tags": ["dog"]}) + "\n")
    assert detect_annotation_format(flat) == "table"
    broken = tmp_path / "broken.jsonl"
    broken.write_text('{"id": "c1", "tags": [\n')
    assert detect_annotation_format(broken) == "table"


def test_lhotse_and_generic_tables_match_label_text(tmp_path):
    target = mini_target()
    mapping = MappingSet([Mapping("x:dog", EXACT, DOG, LEXICAL, subject_label="dog"),
                          Mapping("x:Hi_Hats", EXACT, SNARE, LEXICAL, subject_label="Snare-Drums")],
                         default_metadata("https://x.org/m"))
    cuts = tmp_path / "cuts.jsonl"
    cuts.write_text(json.dumps(paper_cut("c1", "a.wav", ["dog", "snare drum", "kazoo"], "a dog",
                                         start=1.5, duration=2.0)) + "\n")
    assert detect_annotation_format(cuts) == "lhotse"
    out = tmp_path / "o.jsonl"
    rep = apply_file(cuts, mapping, target, out)
    row = json.loads(out.read_text())
    assert row["labels"] == sorted([DOG, SNARE])  # "snare drum" found through normalisation
    assert row["caption"] == "a dog" and row["audio_path"] == "a.wav" and row["start"] == 1.5
    assert set(row["inferred"]) == {SOUND, ANIMAL, DRUM, PERC, MUSIC}
    assert rep.unmapped_labels == {"kazoo": 1}
    csv = tmp_path / "t.csv"
    csv.write_text('clip,tags,path\nk1,"dog; kazoo",k1.wav\nk2,kazoo,k2.wav\n')
    rep = apply_file(csv, mapping, target, tmp_path / "t.parquet", id_column="clip", separator=";")
    df = pl.read_parquet(tmp_path / "t.parquet")
    assert df["id"].to_list() == ["k1", "k2"] and df["audio_path"].to_list() == ["k1.wav", "k2.wav"]
    assert df["labels"].to_list() == [[DOG], []] and rep.clips_without_labels == 1
    pq = tmp_path / "in.parquet"
    pl.DataFrame({"id": ["p1"], "tags": [["dog"]]}).write_parquet(pq)
    apply_file(pq, mapping, target, tmp_path / "p.jsonl")
    assert json.loads((tmp_path / "p.jsonl").read_text())["labels"] == [DOG]


def test_errors_leave_no_output(tmp_path, shared_data, audioset):
    target = mini_target()
    csv = tmp_path / "t.csv"
    csv.write_text("id,labels\n1,dog\n")
    with pytest.raises(ApplyError, match="no tags column 'tags'"):
        read_annotations(csv)
    mapping = _identity(audioset)
    out = tmp_path / "x.parquet"
    with pytest.raises(ApplyError, match="not in the target"):
        apply_file(shared_data / "audioset" / "eval_segments.csv", mapping, target, out)
    with pytest.raises(ApplyError, match="must end in"):
        apply_file(shared_data / "audioset" / "eval_segments.csv", mapping, audioset, tmp_path / "x.txt")
    assert not out.exists() and not list(tmp_path.glob(".*tmp"))
    with pytest.raises(ApplyError, match="no annotation file"):
        read_annotations(tmp_path / "missing.csv")
    assert mapping_table(MappingSet([Mapping("a:1", EXACT, "T:1", LEXICAL, predicate_modifier="Not")], {})) == {}


def test_a_mapping_made_for_another_target_names_its_file_and_a_row(tmp_path):
    from uts.mapping.sssom import read_sssom, write_sssom

    sssom = write_sssom(tmp_path / "m.sssom.tsv", MappingSet(
        [Mapping("x:dog", EXACT, DOG, LEXICAL, subject_label="dog"),
         Mapping("x:kazoo", EXACT, "UTS:9999999", LEXICAL, subject_label="kazoo")],
        default_metadata("https://x.org/m", curie_map={"x": "https://x.org/"})))
    tags = tmp_path / "t.jsonl"
    tags.write_text('{"id": "a", "tags": ["dog", "kazoo"]}\n')
    with pytest.raises(ApplyError, match=rf"^{sssom}: 1 mapped target id\(s\) .* \(e\.g\. 'kazoo' -> UTS:9999999\)"):
        apply_file(tags, read_sssom(sssom), mini_target(), tmp_path / "o.jsonl")
    assert not (tmp_path / "o.jsonl").exists()


def test_official_audioset_csv_layout(tmp_path, audioset):
    """The released files start with '#' lines and put a space after each comma."""
    path = tmp_path / "balanced.csv"
    path.write_text("# Segments csv created Sun Mar  5 10:54:31 2017\n# num_ytids=2, num_segs=2\n"
                    "# YTID, start_seconds, end_seconds, positive_labels\n"
                    '--PJHxphWEs, 30.000, 40.000, "/m/09x0r,/t/dd00088"\n'
                    '--ZhevVpy1s, 50.000, 60.000, "/m/012xff"\n')
    assert detect_annotation_format(path) == "audioset"
    out = tmp_path / "o.jsonl"
    rep = apply_file(path, _identity(audioset), audioset, out)
    rows = [json.loads(x) for x in out.read_text().splitlines()]
    assert [r["id"] for r in rows] == ["--PJHxphWEs_30.000", "--ZhevVpy1s_50.000"]
    assert rows[0]["source_labels"] == ["AudioSet:/m/09x0r", "AudioSet:/t/dd00088"]
    assert rows[0]["start"] == 30.0 and rows[0]["duration"] == 10.0
    assert rep.clips == 2 and rep.unmapped_occurrences == 0


def test_jsonl_lines_equal_polars_own_writer(tmp_path):
    """The JSON Lines fast path (combination parts serialised once) writes exactly the records
    polars' NDJSON writer writes for the same frame: awkward ids, non-ASCII, nulls, no labels."""
    import gzip

    from uts.mapping.apply import (closure, label_combinations, resolve_combinations, write_applied,
                                   write_frame, apply_mapping)

    target = mini_target()
    mapping = MappingSet([Mapping("x:dog", EXACT, DOG, LEXICAL, subject_label="dog"),
                          Mapping("x:snare", EXACT, SNARE, LEXICAL, subject_label="snare")],
                         default_metadata("https://x.org/m"))
    src = tmp_path / "in.parquet"
    pl.DataFrame({"id": ['a"1', "b\\2", "c\n3", "dé", "e"],
                  "tags": [["dog"], ["snare", "dog"], [], ["kazoo", "chien é"], None],
                  "caption": ["un chien \"aboie\"", None, "x", "ü", None],
                  "start": [0.5, None, 1e-7, 2.0, 3.25]}).write_parquet(src)
    ann = read_annotations(src)
    table = {"dog": DOG, "snare": SNARE}
    combos = resolve_combinations(label_combinations(ann), table, closure(target))
    write_applied(ann, combos, tmp_path / "fast.jsonl")
    write_frame(apply_mapping(ann, table, {}, combos), tmp_path / "polars.jsonl")
    fast = (tmp_path / "fast.jsonl").read_text(encoding="utf-8").splitlines()
    assert [json.loads(x) for x in fast] == [json.loads(x) for x in (tmp_path / "polars.jsonl").read_text().splitlines()]
    assert len(fast) == 5 and json.loads(fast[0])["id"] == 'a"1' and json.loads(fast[4])["labels"] == []
    assert json.loads(fast[1])["inferred"] and json.loads(fast[3])["caption"] == "ü"
    write_applied(ann, combos, tmp_path / "fast.jsonl.gz")
    assert gzip.decompress((tmp_path / "fast.jsonl.gz").read_bytes()).decode().splitlines() == fast
    rep = apply_file(src, mapping, target, tmp_path / "cli.jsonl")
    assert rep.clips == 5 and (tmp_path / "cli.jsonl").read_text(encoding="utf-8").splitlines() == fast


def test_a_null_among_a_clips_tags_is_named_not_written_through(tmp_path):
    """["dog", null] grouped with ["dog"] and the null went into the manifest's source_labels;
    vocab filter refused the same file. Now apply refuses it too, at its line."""
    tags = tmp_path / "t.jsonl"
    tags.write_text('{"id": "a", "tags": ["dog"]}\n{"id": "b", "tags": ["dog", null]}\n{"id": "c", "tags": []}\n')
    mapping = MappingSet([Mapping("x:dog", EXACT, DOG, LEXICAL, subject_label="dog")], default_metadata("https://x.org/m"))
    with pytest.raises(ApplyError, match=r"t\.jsonl:2: column 'tags' expected a list of strings, got a list holding null"):
        apply_file(tags, mapping, mini_target(), tmp_path / "o.jsonl")
    assert not (tmp_path / "o.jsonl").exists()
