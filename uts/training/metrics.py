"""Metrics for hierarchical multi-label tagging.

All functions take ``scores`` (clips x classes, probabilities) and binary ``targets`` as numpy
arrays or tensors. Targets should already be closed over ancestors (a "snare drum" clip is a
"drum" clip) -- :func:`hierarchical_report` does that itself.

- ``average_precision``: per-class AP with tied scores grouped, as scikit-learn computes it.
- mAP: macro (mean over classes with at least one positive), micro (all decisions pooled),
  per depth level of the hierarchy, over internal ("parent") classes and over leaves.
- hierarchical precision / recall / F1 (Kiritchenko et al. 2005): predicted and true label sets
  are both closed over ancestors, then pooled over clips.
- violation rate: fraction of (clip, edge) pairs where the child is scored above its parent;
  inconsistency rate: fraction of clips whose thresholded prediction holds a child without its
  parent.
- mistake severity: for each false-positive label, the hierarchy distance (up to the lowest
  common ancestor and down again) to the nearest true label; mean over all false positives.
- linear probe: scikit-learn logistic regression per target on standardised frozen embeddings
  (protocol in ``PROBE_C`` / ``PROBE_MAX_ITER`` below), scored with the same AP.
"""

from __future__ import annotations

import math

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import average_precision_score as sklearn_ap
from sklearn.preprocessing import StandardScaler
import torch

from .hierarchy import Hierarchy


def _np(x) -> np.ndarray:
    if isinstance(x, torch.Tensor):
        return x.detach().cpu().double().numpy()
    return np.asarray(x, dtype=np.float64)


def average_precision(scores, targets) -> np.ndarray:
    """AP per class (column), scikit-learn's ``average_precision_score`` (ties scored as one
    threshold); NaN for classes without positives."""
    s_all, y_all = _np(scores), _np(targets) > 0.5
    if s_all.ndim == 1:
        s_all, y_all = s_all[:, None], y_all[:, None]
    out = np.full(s_all.shape[1], np.nan)
    has_pos = y_all.any(axis=0)
    if has_pos.any():
        out[has_pos] = sklearn_ap(y_all[:, has_pos], s_all[:, has_pos], average=None)
    return out


def _mean(values: np.ndarray) -> float:
    values = values[~np.isnan(values)]
    return float(values.mean()) if values.size else math.nan


def mean_average_precision(scores, targets, classes: np.ndarray | None = None) -> float:
    """Macro mAP over ``classes`` (a boolean mask or index array; default all)."""
    ap = average_precision(scores, targets)
    return _mean(ap if classes is None else ap[classes])


def micro_average_precision(scores, targets) -> float:
    return float(average_precision(_np(scores).reshape(-1), _np(targets).reshape(-1))[0])


def hierarchical_prf(scores, targets, hierarchy: Hierarchy, threshold: float = 0.5) -> dict:
    pred = torch.as_tensor(_np(scores) >= threshold, dtype=torch.float32)
    true = torch.as_tensor(_np(targets) > 0.5, dtype=torch.float32)
    pred_c, true_c = hierarchy.close(pred), hierarchy.close(true)
    hit = float((pred_c * true_c).sum())
    n_pred, n_true = float(pred_c.sum()), float(true_c.sum())
    p = hit / n_pred if n_pred else 0.0
    r = hit / n_true if n_true else 0.0
    f = 2 * p * r / (p + r) if p + r else 0.0
    return {"hierarchical_precision": p, "hierarchical_recall": r, "hierarchical_f1": f}


def violation_rates(scores, hierarchy: Hierarchy, threshold: float = 0.5) -> dict:
    s = torch.as_tensor(_np(scores))
    if not hierarchy.edges.numel() or not s.shape[0]:
        return {"violation_rate": 0.0, "inconsistent_clip_rate": 0.0}
    e = hierarchy.edges.cpu()
    above = hierarchy.violations(s, tol=1e-6)
    pred = s >= threshold
    orphan = pred[:, e[:, 0]] & ~pred[:, e[:, 1]]
    return {"violation_rate": float(above.double().mean()),
            "inconsistent_clip_rate": float(orphan.any(dim=1).double().mean())}


def mistake_severity(scores, targets, hierarchy: Hierarchy, threshold: float = 0.5) -> dict:
    pred = _np(scores) >= threshold
    true = hierarchy.close(torch.as_tensor(_np(targets) > 0.5, dtype=torch.float32)).numpy() > 0.5
    distances: list[int] = []
    for row in range(pred.shape[0]):
        wrong = np.flatnonzero(pred[row] & ~true[row])
        right = np.flatnonzero(true[row])
        for p in wrong:
            if right.size:
                distances.append(min(hierarchy.distance(int(p), int(t)) for t in right))
    return {"mistake_severity": float(np.mean(distances)) if distances else 0.0,
            "false_positives": len(distances)}


def hierarchical_report(scores, targets, hierarchy: Hierarchy, threshold: float = 0.5) -> dict:
    """Every metric above as one JSON-ready dict (targets are closed over ancestors first)."""
    scores_np = _np(scores)
    true = hierarchy.close(torch.as_tensor(_np(targets) > 0.5, dtype=torch.float32)).numpy()
    ap = average_precision(scores_np, true)
    depth = hierarchy.depth.cpu().numpy()
    internal = hierarchy.internal.cpu().numpy()
    per_level = {int(d): _mean(ap[depth == d]) for d in np.unique(depth)}
    report = {
        "clips": int(scores_np.shape[0]), "classes": int(scores_np.shape[1]),
        "classes_with_positives": int((~np.isnan(ap)).sum()),
        "macro_map": _mean(ap), "micro_map": micro_average_precision(scores_np, true),
        "parent_map": _mean(ap[internal]), "leaf_map": _mean(ap[~internal]),
        "map_per_level": {str(k): v for k, v in per_level.items()},
        "classes_per_level": {str(int(d)): int((depth == d).sum()) for d in np.unique(depth)},
        "threshold": threshold,
    }
    report.update(hierarchical_prf(scores_np, true, hierarchy, threshold))
    report.update(violation_rates(scores_np, hierarchy, threshold))
    report.update(mistake_severity(scores_np, true, hierarchy, threshold))
    report["per_class_ap"] = {hierarchy.ids[i]: (None if np.isnan(v) else float(v)) for i, v in enumerate(ap)}
    return report


#: The linear probe's protocol (documented in docs/training.md, "Evaluation"): features
#: standardised with the training split's mean and standard deviation, then one binary
#: scikit-learn ``LogisticRegression`` per target column (one-vs-rest), L2 penalty with
#: ``C = 1.0`` (scikit-learn's default), solver ``lbfgs``, at most 1000 iterations.
PROBE_C = 1.0
PROBE_MAX_ITER = 1000


def probe_scores(train_x, train_y, test_x, C: float = PROBE_C, max_iter: int = PROBE_MAX_ITER) -> np.ndarray:
    """Test-split probabilities (clips x target columns) of the linear probe.

    A column that is constant on the training split (every clip positive, or none) cannot be
    fitted; it scores that constant, as scikit-learn's ``OneVsRestClassifier`` does.
    """
    scaler = StandardScaler().fit(_np(train_x))
    xtr, xte = scaler.transform(_np(train_x)), scaler.transform(_np(test_x))
    ytr = _np(train_y) > 0.5
    if ytr.ndim == 1:
        ytr = ytr[:, None]
    prob = np.empty((xte.shape[0], ytr.shape[1]))
    for j in range(ytr.shape[1]):
        if ytr[:, j].all() or not ytr[:, j].any():
            prob[:, j] = float(ytr[0, j])
            continue
        clf = LogisticRegression(C=C, solver="lbfgs", max_iter=max_iter).fit(xtr, ytr[:, j])
        prob[:, j] = clf.predict_proba(xte)[:, 1]
    return prob


def linear_probe(train_x, train_y, test_x, test_y, C: float = PROBE_C, max_iter: int = PROBE_MAX_ITER) -> dict:
    """Logistic regression on frozen embeddings (multi-label: :func:`probe_scores`).

    Returns the probe's macro mAP, its AP per target column (None: no positive in the test
    split) and its exact-match accuracy at 0.5 on the test split.
    """
    prob = probe_scores(train_x, train_y, test_x, C=C, max_iter=max_iter)
    yte = _np(test_y) > 0.5
    if yte.ndim == 1:
        yte = yte[:, None]
    ap = average_precision(prob, yte)
    return {"probe_map": _mean(ap), "probe_ap": [None if np.isnan(v) else float(v) for v in ap],
            "probe_exact_match": float(((prob >= 0.5) == yte).all(axis=1).mean()),
            "probe_targets": int(yte.shape[1]), "probe_train_clips": int(_np(train_x).shape[0]),
            "probe_test_clips": int(yte.shape[0])}
