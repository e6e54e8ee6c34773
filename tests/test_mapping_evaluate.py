"""Evaluation semantics: abstaining on a no-target label is correct, mapping it is a false
positive; alternatives in the gold; Hits@k and MRR from candidates; splits; errors."""

from __future__ import annotations

import pytest

from uts.mapping.evaluate import GoldFormatError, evaluate, read_gold
from uts.mapping.sssom import CLOSE, EXACT, LEXICAL, Mapping, MappingSet


def _gold(tmp_path):
    path = tmp_path / "gold.tsv"
    path.write_text("subject_id\tsubject_label\tpredicate_id\tobject_id\tobject_label\tsplit\n"
                    "s:a\ta\tskos:exactMatch\tT:1\tA\ttest\n"
                    "s:b\tb\tskos:exactMatch\tT:2\tB\ttest\n"
                    "s:b\tb\tskos:broadMatch\tT:3\tB3\ttest\n"
                    "s:c\tc\tskos:exactMatch\tsssom:NoTermFound\t\ttune\n"
                    "s:d\td\tskos:exactMatch\t\t\ttest\n"
                    "s:e\te\tskos:exactMatch\tT:5\tE\ttune\n")
    return read_gold(path)


def _pred(*pairs):
    return MappingSet([Mapping(s, EXACT, o, LEXICAL, confidence=c) for s, o, c in pairs], {})


def test_scores_follow_the_documented_rules(tmp_path):
    gold = _gold(tmp_path)
    assert gold["s:b"].targets == {"T:2", "T:3"} and gold["s:c"].targets == set()
    # a right; b right via alternative; c abstained (right); d mapped though no target (FP); e abstained (FN)
    r = evaluate(_pred(("s:a", "T:1", .9), ("s:b", "T:3", .8), ("s:d", "T:9", .5)), gold)
    assert (r.tp, r.fp, r.fn) == (3, 1, 1)
    assert r.precision == pytest.approx(0.75) and r.recall == pytest.approx(0.75)
    assert r.f1 == pytest.approx(0.75)
    # a wrong target is a false positive and a false negative at once
    r = evaluate(_pred(("s:a", "T:2", .9)), gold, split="test")
    assert (r.n, r.tp, r.fp, r.fn) == (3, 1, 1, 2)


def test_a_split_that_matches_nothing_and_label_only_matches_are_said(tmp_path):
    """`--split` naming no gold row printed zeros, exit 0; another data set's gold file sharing
    labels (not ids) scored 1.0 without a word."""
    gold = _gold(tmp_path)
    with pytest.raises(GoldFormatError, match=r"no gold row has split 'dev' \(splits present: test, tune\)"):
        evaluate(_pred(("s:a", "T:1", .9)), gold, split="dev")
    other = MappingSet([Mapping("zzz:a", EXACT, "T:1", LEXICAL, subject_label="a", confidence=.9)], {})
    r = evaluate(other, gold, split="test")
    assert r.by_label == 1 and r.as_dict()["matched_by_label"] == 1
    assert evaluate(_pred(("s:a", "T:1", .9)), gold, split="test").by_label == 0


def test_hits_and_mrr_from_candidates(tmp_path):
    gold = _gold(tmp_path)
    cands = MappingSet([Mapping("s:a", CLOSE, "T:9", LEXICAL, confidence=.9), Mapping("s:a", CLOSE, "T:1", LEXICAL, confidence=.5),
                        Mapping("s:b", CLOSE, "T:2", LEXICAL, confidence=.7), Mapping("s:e", CLOSE, "T:8", LEXICAL, confidence=.7)], {})
    r = evaluate(_pred(("s:a", "T:9", .9)), gold, cands)
    assert r.hits[1] == pytest.approx(1 / 3) and r.hits[5] == pytest.approx(2 / 3)
    assert r.mrr == pytest.approx((0.5 + 1.0 + 0) / 3)


def test_threshold_curve_reliability_and_plot(tmp_path):
    from uts.mapping.evaluate import plot_evaluation, reliability, threshold_curve

    gold = _gold(tmp_path)
    pred = _pred(("s:a", "T:1", .9), ("s:b", "T:9", .3), ("s:d", "T:9", .2))
    curve = {round(c["threshold"], 2): c for c in threshold_curve(pred, gold)}
    assert curve[0.0]["precision"] == pytest.approx(2 / 4)  # a right, c abstained; b, d wrong
    assert curve[0.5]["precision"] == pytest.approx(1.0)  # b and d now abstain
    assert curve[0.5]["recall"] > curve[0.0]["recall"]  # d abstaining is right; b is a miss either way
    bins = reliability(pred, gold)
    assert [(b["n"], b["correct"]) for b in bins if b["n"]] == [(1, 0), (1, 0), (1, 1)]
    plot_evaluation(pred, gold, tmp_path / "e.png")
    assert (tmp_path / "e.png").read_bytes()[:4] == b"\x89PNG"


def test_gold_errors(tmp_path):
    with pytest.raises(GoldFormatError, match="no gold file"):
        read_gold(tmp_path / "none.tsv")
    bad = tmp_path / "bad.tsv"
    bad.write_text("label\ttarget\nx\ty\n")
    with pytest.raises(GoldFormatError, match="subject_id and object_id"):
        read_gold(bad)


def test_shipped_gold_sets_are_well_formed(repo):
    for path in sorted((repo / "mapping" / "gold").glob("*_audioset.tsv")):
        gold = read_gold(path)
        assert {e.split for e in gold.values()} == {"tune", "test"}, path.name
        assert all(t.startswith("AudioSet:") for e in gold.values() for t in e.targets)
