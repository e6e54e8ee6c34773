"""Metrics against hand-computed values and brute-force definitions."""

import math

import numpy as np
import pytest
import torch

from uts.training.hierarchy import Hierarchy
from uts.training.metrics import (average_precision, hierarchical_prf, hierarchical_report,
                                  linear_probe, mean_average_precision, micro_average_precision,
                                  mistake_severity, probe_scores, violation_rates)

# 0 music -> 1 drum -> {2 snare, 3 kick};  0 -> 4 piano;  5 sound (root) -> 6 rain
H = Hierarchy([f"c{i}" for i in range(7)], [(1, 0), (2, 1), (3, 1), (4, 0), (6, 5)])


def test_average_precision_by_hand_and_with_ties():
    # ranks 1 and 3 are positive: (1/1 + 2/3) / 2
    assert average_precision([0.9, 0.8, 0.7, 0.6], [1, 0, 1, 0])[0] == pytest.approx(5 / 6)
    # a tie between a positive and a negative counts as one threshold: precision 1/2
    assert average_precision([0.5, 0.5], [1, 0])[0] == pytest.approx(0.5)
    assert math.isnan(average_precision([0.1, 0.2], [0, 0])[0])


def test_average_precision_matches_precision_at_k_definition():
    rng = np.random.default_rng(0)
    s, y = rng.random((50, 4)), rng.random((50, 4)) < 0.3
    ap = average_precision(s, y)
    for c in range(4):
        order = np.argsort(-s[:, c])
        hits = y[order, c]
        ref = np.mean([hits[: k + 1].mean() for k in np.flatnonzero(hits)])
        assert ap[c] == pytest.approx(ref)
    assert mean_average_precision(s, y) == pytest.approx(ap.mean())
    assert micro_average_precision(s, y) == pytest.approx(average_precision(s.ravel(), y.ravel())[0])


def test_hierarchical_prf_closes_both_sets():
    true = np.zeros((1, 7))
    true[0, 2] = 1  # snare => {snare, drum, music}
    pred = np.zeros((1, 7))
    pred[0, 3] = 0.9  # kick => {kick, drum, music}: 2 of 3 right
    r = hierarchical_prf(pred, true, H)
    assert r["hierarchical_precision"] == pytest.approx(2 / 3)
    assert r["hierarchical_recall"] == pytest.approx(2 / 3)
    assert r["hierarchical_f1"] == pytest.approx(2 / 3)
    assert hierarchical_prf(np.zeros((1, 7)), true, H)["hierarchical_f1"] == 0.0


def test_violations_and_inconsistency():
    s = np.array([[0.9, 0.8, 0.7, 0.1, 0.2, 0.1, 0.0],    # consistent
                  [0.1, 0.2, 0.9, 0.1, 0.0, 0.0, 0.0]])   # snare > drum > music, predicted alone
    r = violation_rates(s, H)
    assert r["violation_rate"] == pytest.approx(2 / 10)  # 2 of 5 edges x 2 clips
    assert r["inconsistent_clip_rate"] == pytest.approx(0.5)


def test_mistake_severity_is_distance_to_nearest_true_label():
    true = np.zeros((2, 7))
    true[:, 2] = 1  # snare
    pred = np.zeros((2, 7))
    pred[0, 3] = 1  # kick: sibling, 1 step to the true "drum"
    pred[1, 6] = 1  # rain: other root; rain->sound (1) + virtual root (2) + music (0) = 3 to "music"
    r = mistake_severity(pred, true, H)
    assert r["false_positives"] == 2
    assert r["mistake_severity"] == pytest.approx((1 + 3) / 2)


def test_report_levels_and_parent_leaf_split():
    rng = np.random.default_rng(1)
    leaves = rng.choice([2, 3, 4, 6], size=40)
    true = np.zeros((40, 7))
    true[np.arange(40), leaves] = 1
    perfect = H.close(torch.tensor(true, dtype=torch.float32)).numpy()
    r = hierarchical_report(perfect, true, H)
    assert r["macro_map"] == pytest.approx(1.0) and r["parent_map"] == pytest.approx(1.0)
    assert set(r["map_per_level"]) == {"0", "1", "2"}
    assert r["violation_rate"] == 0.0 and r["hierarchical_f1"] == pytest.approx(1.0)
    assert r["per_class_ap"]["c2"] == pytest.approx(1.0)


def test_linear_probe_separates_separable_data_and_not_noise():
    g = torch.Generator().manual_seed(0)
    y = (torch.rand(200, 2, generator=g) < 0.5).float()
    x = torch.cat([y * 3 + torch.randn(200, 2, generator=g) * 0.3, torch.randn(200, 6, generator=g)], 1)
    good = linear_probe(x[:100], y[:100], x[100:], y[100:])
    assert good["probe_map"] > 0.95
    noise = linear_probe(torch.randn(100, 8, generator=g), y[:100], torch.randn(100, 8, generator=g), y[100:])
    assert noise["probe_map"] < 0.8


def test_linear_probe_is_scikit_learn_on_random_data():
    """The probe is scikit-learn's logistic regression, one per column on standardised features,
    with the documented protocol: its scores and its AP are what scikit-learn gives directly."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import average_precision_score
    from sklearn.preprocessing import StandardScaler

    rng = np.random.default_rng(3)
    xtr, xte = rng.normal(size=(80, 12)) * rng.uniform(0.1, 5, 12), rng.normal(size=(40, 12))
    ytr = rng.random((80, 4)) < [0.2, 0.5, 0.7, 0.4]
    yte = rng.random((40, 4)) < 0.4
    yte[:, 3] = False  # no positive in the test split: AP undefined, left out of the mean
    scaler = StandardScaler().fit(xtr)
    direct = np.stack([LogisticRegression(C=1.0, solver="lbfgs", max_iter=1000)
                       .fit(scaler.transform(xtr), ytr[:, j]).predict_proba(scaler.transform(xte))[:, 1]
                       for j in range(4)], axis=1)
    np.testing.assert_allclose(probe_scores(xtr, ytr, xte), direct, rtol=0, atol=1e-12)
    res = linear_probe(torch.tensor(xtr), torch.tensor(ytr).float(), torch.tensor(xte), torch.tensor(yte).float())
    want = [average_precision_score(yte[:, j], direct[:, j]) for j in range(3)]
    assert res["probe_ap"][:3] == pytest.approx(want, abs=1e-12) and res["probe_ap"][3] is None
    assert res["probe_map"] == pytest.approx(np.mean(want), abs=1e-12)
    assert res["probe_exact_match"] == pytest.approx(((direct >= 0.5) == yte).all(axis=1).mean())
    # a different regularisation gives different scores: the comparison above can fail
    assert not np.allclose(probe_scores(xtr, ytr, xte, C=0.01), direct, atol=1e-3)


def test_linear_probe_column_constant_in_training_scores_the_constant():
    rng = np.random.default_rng(4)
    x = rng.normal(size=(30, 5))
    y = np.c_[rng.random(30) < 0.5, np.ones(30, bool), np.zeros(30, bool)]
    prob = probe_scores(x, y, x[:7])
    assert (prob[:, 1] == 1).all() and (prob[:, 2] == 0).all() and prob.shape == (7, 3)
    assert probe_scores(x, y[:, 0], x[:7]).shape == (7, 1)  # one target column, given 1-D


def _ap_by_hand(s, y):
    """The formula the toolkit used before scikit-learn: sum over distinct thresholds of
    (R_n - R_n-1) * P_n, a tie group counted as one threshold."""
    order = np.argsort(-s, kind="mergesort")
    s, y = s[order], y[order]
    last = np.r_[np.flatnonzero(np.diff(s)), len(s) - 1]
    tps = np.cumsum(y)[last]
    return float(np.sum(np.diff(np.r_[0.0, tps / tps[-1]]) * tps / (last + 1)))


def test_average_precision_is_scikit_learns_and_equals_the_hand_formula_on_random_data():
    rng = np.random.default_rng(0)
    scores = rng.integers(0, 20, size=(300, 12)) / 20  # coarse scores: many ties
    targets = rng.random((300, 12)) < 0.2
    targets[:, 3] = False  # a class without positives: NaN
    ap = average_precision(scores, targets)
    assert np.isnan(ap[3])
    expected = [_ap_by_hand(scores[:, c], targets[:, c]) for c in range(12) if c != 3]
    np.testing.assert_allclose(np.delete(ap, 3), expected, rtol=1e-12)
