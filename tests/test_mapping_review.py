"""Review: decisions stored with reviewer and date, rejected pairs kept as negated rows, picks
recorded as manual curation, the editable TSV round trip and the interactive loop."""

from __future__ import annotations

import pytest

from uts.mapping.review import (Decision, ReviewError, apply_decisions, export_review_table, merge_reviewed,
                                read_decisions, review_interactively)
from uts.mapping.sssom import (CLOSE, EXACT, LEXICAL, MANUAL, SEMANTIC, Mapping, MappingSet, default_metadata,
                               dumps_sssom)

ME = "orcid:0000-0002-1825-0097"


def _mset():
    rows = [Mapping("s:a", EXACT, "UTS:0000001", LEXICAL, subject_label="a", object_label="A", confidence=0.9),
            Mapping("s:b", CLOSE, "UTS:0000002", SEMANTIC, subject_label="b", object_label="B", confidence=0.3)]
    return MappingSet(rows, default_metadata("https://x.org/m"))


def _cands():
    rows = [Mapping("s:b", CLOSE, "UTS:0000002", SEMANTIC, subject_label="b", object_label="B", confidence=0.3),
            Mapping("s:b", CLOSE, "UTS:0000003", SEMANTIC, subject_label="b", object_label="C", confidence=0.2),
            Mapping("s:c", CLOSE, "UTS:0000004", SEMANTIC, subject_label="c", object_label="D", confidence=0.1)]
    return MappingSet(rows, default_metadata("https://x.org/c"))


def test_accept_reject_pick_and_predicate():
    out = apply_decisions(_mset(), [Decision("s:a", "accept"), Decision("s:b", "pick", "UTS:0000003")],
                          ME, _cands(), today="2026-01-02")
    a = [m for m in out.mappings if m.subject_id == "s:a"]
    assert a[0].reviewer_id == ME and a[0].mapping_date == "2026-01-02" and a[0].mapping_justification == LEXICAL
    b = [m for m in out.mappings if m.subject_id == "s:b"]
    assert [(m.object_id, m.negated) for m in b] == [("UTS:0000003", False), ("UTS:0000002", True)]
    assert b[0].mapping_justification == MANUAL and b[0].object_label == "C" and b[0].subject_label == "b"
    out2 = apply_decisions(out, [Decision("s:a", "predicate", predicate_id="broad"), Decision("s:b", "reject")], ME)
    assert out2.decided()["s:a"].predicate_id == "skos:broadMatch"
    assert "s:b" not in out2.decided()
    assert out2.rejected_pairs() == {("s:b", "UTS:0000002"), ("s:b", "UTS:0000003")}
    # the input set is untouched
    assert _mset().decided()["s:a"].reviewer_id is None


def test_picking_for_an_unmapped_label_adds_a_row():
    out = apply_decisions(_mset(), [Decision("s:c", "pick", "UTS:0000004", "exact")], ME, _cands())
    assert out.decided()["s:c"].object_label == "D" and out.decided()["s:c"].subject_label == "c"


def test_bad_decisions_fail_clearly():
    with pytest.raises(ReviewError, match="CURIE"):
        apply_decisions(_mset(), [Decision("s:a", "accept")], "me")
    with pytest.raises(ReviewError, match="no mapping to accept"):
        apply_decisions(_mset(), [Decision("s:zzz", "accept")], ME)
    with pytest.raises(ReviewError, match="unknown predicate"):
        apply_decisions(_mset(), [Decision("s:a", "predicate", predicate_id="sameAs")], ME)
    with pytest.raises(ReviewError, match="already the mapping"):
        apply_decisions(_mset(), [Decision("s:a", "pick", "UTS:0000001")], ME)


def test_two_decisions_for_one_pair_are_refused_naming_both_lines(tmp_path):
    """'accept' on line 2 and 'reject' on line 3 for one subject were both "applied"; the last won."""
    table = tmp_path / "todo.tsv"
    table.write_text("subject_id\tdecision\ns:a\taccept\ns:a\treject\n")
    with pytest.raises(ReviewError, match=r"todo\.tsv:3: a second decision for s:a \(line 2 decided it already\)"):
        read_decisions(table)


def test_accepting_a_pair_whose_object_the_target_lacks_is_refused():
    """The row was stamped reviewed, and map apply then refused the whole mapping for it."""
    from _mapping_helpers import mini_target

    mset = _mset()
    mset.mappings[0].object_id = "UTS:9999999"
    target = mini_target()
    with pytest.raises(ReviewError, match=r"todo.tsv:2: s:a: its object UTS:9999999 is not in the target"):
        apply_decisions(mset, [Decision("s:a", "accept", where="todo.tsv:2")], ME, target=target)
    assert mset.mappings[0].reviewer_id is None


def test_merge_keeps_reviewed_and_rejected_rows():
    reviewed = apply_decisions(_mset(), [Decision("s:a", "reject"), Decision("s:b", "accept")], ME)
    rerun = MappingSet([Mapping("s:a", EXACT, "UTS:0000001", LEXICAL), Mapping("s:b", EXACT, "UTS:0000009", LEXICAL),
                        Mapping("s:c", EXACT, "UTS:0000004", LEXICAL)], default_metadata("https://x.org/m"))
    merged = merge_reviewed(rerun, reviewed)
    assert merged.decided()["s:b"].object_id == "UTS:0000002"  # reviewed row wins
    assert "s:a" not in merged.decided()  # the rejected pair is not re-proposed
    assert merged.decided()["s:c"].object_id == "UTS:0000004"
    assert merge_reviewed(rerun, None) is rerun
    # a team reviewer id declared only in the old header stays declared
    team = apply_decisions(_mset(), [Decision("s:a", "accept")], "utsteam:curation")
    team.metadata["curie_map"] = {**team.metadata["curie_map"], "utsteam": "https://w3id.org/uts/team/",
                                  "s": "https://example.org/s/"}
    merged = merge_reviewed(rerun, team)
    assert merged.metadata["curie_map"]["utsteam"] == "https://w3id.org/uts/team/"
    assert "utsteam:curation" in dumps_sssom(merged)


def test_review_table_round_trip(tmp_path):
    path = tmp_path / "todo.tsv"
    n = export_review_table(_mset(), path, _cands())
    assert n == 3  # two mappings (least confident first) and the unmapped s:c
    lines = path.read_text().splitlines()
    assert lines[1].startswith("s:b") and "UTS:0000003 C (0.20)" in lines[1]
    header = lines[0].split("\t")
    rows = [dict(zip(header, ln.split("\t"))) for ln in lines[1:]]
    rows[0].update(decision="pick", new_object_id="UTS:0000003")
    rows[1].update(decision="a")
    path.write_text("\n".join(["\t".join(header)] + ["\t".join(r[h] for h in header) for r in rows]) + "\n")
    decisions = read_decisions(path)
    assert [(d.subject_id, d.action) for d in decisions] == [("s:b", "pick"), ("s:a", "accept")]
    bad = tmp_path / "bad.tsv"
    bad.write_text("subject_id\tdecision\tnew_object_id\ns:a\tpick\t\n")
    with pytest.raises(ReviewError, match="bad.tsv:2: 'pick' needs new_object_id"):
        read_decisions(bad)
    bad.write_text("subject_id\tdecision\ns:a\tmaybe\n")
    with pytest.raises(ReviewError, match="not one of"):
        read_decisions(bad)


def test_interactive_loop_saves_after_each_decision_and_stops_on_quit():
    answers = iter([Decision("s:b", "reject"), Decision("s:a", "skip"), None])
    saved = []
    out, done = review_interactively(_mset(), ME, lambda row: next(answers), saved.append, _cands())
    assert done == 1 and len(saved) == 1
    assert ("s:b", "UTS:0000002") in out.rejected_pairs()
