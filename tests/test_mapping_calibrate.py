"""Fitting the reranker: logistic fit, threshold, and the cross-validated choice of its L2 pull,
on synthetic candidate lists whose right answer is known."""

from __future__ import annotations

import numpy as np
import pytest

from uts.mapping.calibrate import best_threshold, choose_l2, cross_validate, fit_logistic, rescore, training_pairs
from uts.mapping.evaluate import GoldEntry
from uts.mapping.labelsets import Label
from uts.mapping.match import FEATURES, Candidate, MatchResult


def _synthetic(n=60, seed=0):
    """Labels with 4 candidates each; the right one has the higher name similarity ("emb") most of
    the time; every 5th label has no right target (its candidates are all weak)."""
    rng = np.random.default_rng(seed)
    results, gold = [], {}
    for i in range(n):
        sid = f"s:{i}"
        none = i % 5 == 0
        cands = []
        for j in range(4):
            right = j == 0 and not none
            emb = rng.uniform(0.75, 0.95) if right else rng.uniform(0.3, 0.7)
            feats = {f: 0.0 for f in FEATURES}
            feats.update(emb=emb, desc=emb - 0.2)
            cands.append(Candidate(f"t:{i}:{j}", "x", 0.5, feats))
        results.append(MatchResult(Label(sid, f"label {i}"), cands))
        gold[sid] = GoldEntry(sid, f"label {i}", set() if none else {f"t:{i}:0"})
    return results, gold


def test_fit_ranks_the_right_candidate_first_and_abstains_on_weak_ones():
    results, gold = _synthetic()
    X, y = training_pairs(results, gold)
    assert X.shape == (240, len(FEATURES)) and y.sum() == 48
    weights, bias = fit_logistic(X, y, l2=0.1)
    assert weights["emb"] > 0
    rescore(results, weights, bias)
    threshold, f1 = best_threshold(results, gold)
    assert f1 > 0.95 and 0.05 <= threshold <= 0.95


def test_cross_validation_is_deterministic_and_scores_held_out_labels():
    results, gold = _synthetic()
    a = cross_validate(results, gold, l2=0.1, repeats=2)
    assert a == cross_validate(results, gold, l2=0.1, repeats=2)
    assert 0.9 < a <= 1.0
    # labels outside the gold are ignored; too few labels is an error, not a silent score
    with pytest.raises(ValueError, match="at least 5"):
        cross_validate(results, {k: gold[k] for k in list(gold)[:3]}, l2=0.1)


def test_choose_l2_returns_a_grid_value_with_every_score():
    results, gold = _synthetic(n=40, seed=1)
    l2, scores = choose_l2(results, gold, grid=(0.03, 1.0, 100.0), repeats=2)
    assert set(scores) == {0.03, 1.0, 100.0} and l2 in scores
    assert scores[l2] == max(scores.values())
