"""Fit the reranker and the abstention threshold on gold mappings.

The reranker is a logistic model over :data:`uts.mapping.match.FEATURES`; fitted on candidate
pairs labelled by a gold set (positive when the candidate is an acceptable target), its output is
a calibrated probability. The strength of its L2 pull towards the prior weights is chosen by
cross-validation inside the tuning gold (:func:`choose_l2`); the abstention threshold is then the
value that maximises F1 on the same (tuning) gold. The shipped defaults in :mod:`uts.mapping.match` came from
``benchmarks/mapping_bench.py --fit`` on the tune split of ``mapping/gold``; the test split was
never used for fitting.
"""

from __future__ import annotations

import copy
import hashlib

import numpy as np
from scipy.optimize import minimize

from .evaluate import GoldEntry
from .match import FEATURES, PRIOR_WEIGHTS, MatchResult


def training_pairs(results: list[MatchResult], gold: dict[str, GoldEntry]) -> tuple[np.ndarray, np.ndarray]:
    X, y = [], []
    for r in results:
        entry = gold.get(r.subject.id)
        if entry is None:
            continue
        for c in r.candidates:
            X.append([c.features[f] for f in FEATURES])
            y.append(1.0 if c.object_id in entry.targets else 0.0)
    return np.asarray(X, dtype=np.float64), np.asarray(y, dtype=np.float64)


def fit_logistic(X: np.ndarray, y: np.ndarray, l2: float = 1.0, iterations: int = 50,
                 prior: dict[str, float] | None = None) -> tuple[dict[str, float], float]:
    """Logistic regression by Newton's method, L2-regularised towards ``prior`` weights
    (default :data:`~uts.mapping.match.PRIOR_WEIGHTS`), so a feature the tuning data never
    exercises (say, acronyms) keeps its prior weight instead of dropping to zero."""
    if len(y) == 0 or y.min() == y.max():
        raise ValueError("need both positive and negative candidate pairs to fit the reranker")

    prior = prior or PRIOR_WEIGHTS
    A = np.hstack([X, np.ones((len(X), 1))])
    w0 = np.array([prior.get(f, 0.0) for f in FEATURES] + [0.0])
    penalty = np.full(A.shape[1], l2)
    penalty[-1] = 0.0  # the bias is free

    def loss(w):
        z = A @ w
        nll = np.sum(np.logaddexp(0.0, z) - y * z)
        grad = A.T @ (1.0 / (1.0 + np.exp(-np.clip(z, -50, 50))) - y)
        diff = w - w0
        return nll + 0.5 * np.sum(penalty * diff * diff), grad + penalty * diff

    w = minimize(loss, w0, jac=True, method="L-BFGS-B", options={"maxiter": iterations * 20}).x
    return {f: round(float(v), 3) for f, v in zip(FEATURES, w[:-1])}, round(float(w[-1]), 3)


def rescore(results: list[MatchResult], weights: dict[str, float], bias: float) -> None:
    """Recompute candidate probabilities in place with new weights (best first again)."""
    for r in results:
        for c in r.candidates:
            z = bias + sum(weights[f] * c.features[f] for f in FEATURES)
            c.probability = float(1.0 / (1.0 + np.exp(-z)))
        r.candidates.sort(key=lambda c: -c.probability)


def best_threshold(results: list[MatchResult], gold: dict[str, GoldEntry],
                   grid=np.round(np.arange(0.05, 0.96, 0.025), 3)) -> tuple[float, float]:
    """The acceptance probability with the best F1 on ``gold`` (ties: the lower threshold)."""
    best = (0.5, -1.0)
    for t in grid:
        tp, fp, fn = _f1_counts(results, gold, t)
        f1 = 2 * tp / (2 * tp + fp + fn) if tp else 0.0
        if f1 > best[1] + 1e-12:
            best = (float(t), f1)
    return best


def _f1_counts(results: list[MatchResult], gold: dict[str, GoldEntry], threshold: float) -> tuple[int, int, int]:
    """True/false positives and false negatives of the top candidate at ``threshold`` over the
    labels in ``gold`` (a gold "no target" is right only when the matcher abstains)."""
    tp = fp = fn = 0
    for r in results:
        entry = gold.get(r.subject.id)
        if entry is None:
            continue
        top = r.candidates[0] if r.candidates and r.candidates[0].probability >= threshold else None
        if entry.targets:
            if top and top.object_id in entry.targets:
                tp += 1
            else:
                fn += 1
                fp += top is not None
        elif top is None:
            tp += 1
        else:
            fp += 1
    return tp, fp, fn


def cross_validate(results: list[MatchResult], gold: dict[str, GoldEntry], l2: float, folds: int = 5,
                   repeats: int = 2) -> float:
    """Out-of-fold F1 of the whole fit (weights, then threshold) on the labels of ``gold``:
    labels are split into ``folds`` by a hash of their id (``repeats`` different splits); each
    fold is decided by weights and a threshold fitted on the others. Deterministic."""
    results = [r for r in results if r.subject.id in gold]
    if len(results) < folds:
        raise ValueError(f"need at least {folds} gold labels to cross-validate, got {len(results)}")
    tp = fp = fn = 0
    for rep in range(repeats):
        fold = {r.subject.id: int(hashlib.md5(f"{rep}:{r.subject.id}".encode()).hexdigest(), 16) % folds
                for r in results}
        for k in range(folds):
            train = [copy.deepcopy(r) for r in results if fold[r.subject.id] != k]
            held = [copy.deepcopy(r) for r in results if fold[r.subject.id] == k]
            weights, bias = fit_logistic(*training_pairs(train, gold), l2=l2)
            rescore(train, weights, bias)
            threshold, _ = best_threshold(train, gold)
            rescore(held, weights, bias)
            a, b, c = _f1_counts(held, gold, threshold)
            tp, fp, fn = tp + a, fp + b, fn + c
    return 2 * tp / (2 * tp + fp + fn) if tp else 0.0


def choose_l2(results: list[MatchResult], gold: dict[str, GoldEntry],
              grid=(0.01, 0.03, 0.1, 0.3, 1.0), repeats: int = 10) -> tuple[float, dict[float, float]]:
    """The L2 strength with the best cross-validated F1 on ``gold`` (ties: the stronger pull
    towards the priors), and the F1 of every value tried. Small gold sets make one split's F1
    noisy (one label moves it by ~0.006), hence ``repeats`` splits."""
    scores = {l2: cross_validate(results, gold, l2, repeats=repeats) for l2 in grid}
    best = max(scores, key=lambda l2: (round(scores[l2], 6), l2))
    return best, scores
