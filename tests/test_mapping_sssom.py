"""SSSOM reading/writing: round trip, the metadata header and CURIE map, validation by the
sssom package, and clear errors for malformed files."""

from __future__ import annotations

import pytest

from uts.mapping.sssom import (EXACT, LEXICAL, MANUAL, DEFAULT_CURIE_MAP, Mapping, MappingSet, SSSOMError,
                               default_metadata, dumps_sssom, loads_sssom, read_sssom, validate_sssom,
                               write_sssom)


def _set() -> MappingSet:
    rows = [
        Mapping("AudioSet:/m/0bt9lr", EXACT, "UTS:0000012", LEXICAL, subject_label="Dog",
                object_label="dog", confidence=0.97, mapping_tool="uts-map", mapping_tool_version="0.1.0",
                mapping_date="2026-01-02"),
        Mapping("MTGJamendo:genre---rock", "skos:closeMatch", "UTS:0000013", MANUAL, subject_label="rock",
                predicate_modifier="Not", reviewer_id="orcid:0000-0002-1825-0097", mapping_date="2026-01-02",
                comment="rejected\tby reviewer"),
    ]
    return MappingSet(rows, default_metadata("https://w3id.org/uts/mappings/test.sssom.tsv"))


def test_round_trip_keeps_every_field(tmp_path):
    path = write_sssom(tmp_path / "m.sssom.tsv", _set())
    back = read_sssom(path)
    assert [m.pair for m in back.mappings] == [m.pair for m in _set().mappings]
    assert back.mappings[0].confidence == 0.97 and back.mappings[1].negated
    assert back.mappings[1].comment == "rejected by reviewer"  # tabs never break the table
    assert back.metadata["curie_map"]["UTS"] == "https://w3id.org/uts/UTS_"
    assert back.decided().keys() == {"AudioSet:/m/0bt9lr"}
    assert back.rejected_pairs() == {("MTGJamendo:genre---rock", "UTS:0000013")}


def test_written_files_pass_sssom_validate(tmp_path):
    path = write_sssom(tmp_path / "m.sssom.tsv", _set())
    assert validate_sssom(path) == []
    text = path.read_text()
    assert text.startswith("#curie_map:")
    # only the prefixes the file uses are declared
    assert "MTGJamendo:" in text and "UTSpaper" not in text


def test_validator_catches_undeclared_prefixes(tmp_path):
    bad = tmp_path / "bad.sssom.tsv"
    bad.write_text("#curie_map:\n#  skos: http://www.w3.org/2004/02/skos/core#\n#mapping_set_id: https://x.org/a\n"
                   "subject_id\tpredicate_id\tobject_id\tmapping_justification\n"
                   "FOO:1\tskos:exactMatch\tBAR:2\tsemapv:LexicalMatching\n")
    problems = validate_sssom(bad)
    assert any("FOO" in p for p in problems)


def test_writer_refuses_unknown_prefix_and_predicate(tmp_path):
    mset = MappingSet([Mapping("nowhere:1", EXACT, "UTS:0000001", LEXICAL)], default_metadata("https://x.org/m"))
    with pytest.raises(SSSOMError, match="nowhere"):
        write_sssom(tmp_path / "x.sssom.tsv", mset)
    assert not (tmp_path / "x.sssom.tsv").exists()
    mset = MappingSet([Mapping("UTS:0000002", "skos:sameAs", "UTS:0000001", LEXICAL)], default_metadata("https://x.org/m"))
    with pytest.raises(SSSOMError, match="predicate"):
        dumps_sssom(mset)
    with pytest.raises(SSSOMError, match="mapping_set_id"):
        dumps_sssom(MappingSet([], {"curie_map": DEFAULT_CURIE_MAP}))


def test_reader_errors_name_the_problem(tmp_path):
    with pytest.raises(SSSOMError, match="no mapping file"):
        read_sssom(tmp_path / "missing.tsv")
    with pytest.raises(SSSOMError, match="missing column"):
        loads_sssom("#mapping_set_id: x\nsubject_id\tobject_id\nA:1\tB:2\n")
    with pytest.raises(SSSOMError, match="not a number"):
        loads_sssom("subject_id\tpredicate_id\tobject_id\tconfidence\nA:1\tskos:exactMatch\tB:2\thigh\n")
    with pytest.raises(SSSOMError, match="YAML"):
        loads_sssom("#curie_map: [unclosed\nsubject_id\tpredicate_id\tobject_id\n")


HEAD = "#mapping_set_id: x\n\nsubject_id\tpredicate_id\tobject_id\tpredicate_modifier\tconfidence\n"
GOOD_ROW = "A:1\tskos:exactMatch\tB:1\t\t0.9\n"


@pytest.mark.parametrize("row, message", [
    ("A:2\tskos:exactMatch\tB:2\tnot\t0.9\n", "predicate_modifier 'not'; SSSOM allows only 'Not'"),
    ("A:2\tskos:exactMatch\tB:2\tMaybe\t0.9\n", "predicate_modifier 'Maybe'"),
    ("A:2\tskos:exactmatch\tB:2\t\t0.9\n", "predicate 'skos:exactmatch' is not one of"),
    ("A:2\tskos:fuzzyMatch\tB:2\t\t0.9\n", "predicate 'skos:fuzzyMatch'"),
    ("A:2\tskos:exactMatch\tB:2\t\t0.9\textra\n", "6 fields but the header names 5"),
    ("A:2\tskos:exactMatch\tB:2\t\t1.7\n", "confidence 1.7 is outside 0-1"),
])
def test_a_row_whose_meaning_is_unclear_is_refused_at_its_physical_line(row, message):
    """A modifier typo must not turn a rejected pair into an applied one, nor an odd predicate
    quietly become 'unmapped'. Blank lines and a quoted line break before the row still give
    the file's own line number (here 7)."""
    text = HEAD + GOOD_ROW + "\n" + "A:3\tskos:exactMatch\tB:3\t\t0.5\n" + row
    text = text.replace("A:3\t", '"A:\n3"\t')  # a quoted field spanning two lines (line 5-6)
    with pytest.raises(SSSOMError, match=rf"^m\.tsv:8: {message}"):
        loads_sssom(text, "m.tsv")


def test_a_broken_metadata_header_is_one_line_with_the_file_line():
    with pytest.raises(SSSOMError) as err:
        loads_sssom("#mapping_set_id: x\n#curie_map:\n#  UTS: [broken\nsubject_id\tpredicate_id\tobject_id\n", "m.tsv")
    assert "\n" not in str(err.value) and str(err.value).startswith("m.tsv:3:15: metadata header is not YAML"), str(err.value)


def test_overwrite_is_atomic_on_failure(tmp_path):
    path = write_sssom(tmp_path / "m.sssom.tsv", _set())
    before = path.read_text()
    broken = MappingSet([Mapping("zzz:1", EXACT, "UTS:1", LEXICAL)], default_metadata("https://x.org/m"))
    with pytest.raises(SSSOMError):
        write_sssom(path, broken)
    assert path.read_text() == before
