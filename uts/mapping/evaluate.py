"""Evaluate a mapping against a gold standard.

Gold files are TSVs with a header naming at least ``subject_id`` and ``object_id`` (an SSSOM file
works too). Several rows for one subject list alternative acceptable targets; ``object_id``
``sssom:NoTermFound`` (or empty) says the subject has no target. An optional ``split`` column
(``tune``/``test``) lets tuning and reporting use disjoint parts.

Scoring, per gold subject:

- gold has targets, prediction is one of them -> true positive;
- gold has targets, prediction is another concept -> false positive *and* false negative;
- gold has targets, mapper abstained -> false negative;
- gold has no target, mapper abstained -> true positive (abstaining was the right decision);
- gold has no target, mapper mapped -> false positive.

Precision = TP / (TP + FP), recall = TP / (TP + FN). Hits@k and MRR use the candidate list
(ranked by confidence) over subjects that have a target; without candidates the decided mapping
is the only one.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .sssom import NO_TERM_FOUND, MappingSet


class GoldFormatError(ValueError):
    """A gold file cannot be read."""


@dataclass
class GoldEntry:
    subject_id: str
    subject_label: str | None
    targets: set[str] = field(default_factory=set)  # empty: no target
    predicates: dict[str, str] = field(default_factory=dict)
    split: str | None = None


def read_gold(path: str | Path) -> dict[str, GoldEntry]:
    path = Path(path)
    if not path.is_file():
        raise GoldFormatError(f"no gold file at {path}")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise GoldFormatError(f"{path}: not UTF-8 text (bad byte at offset {exc.start}); a gold TSV "
                              "(subject_id, object_id) is expected") from None
    lines = [ln for ln in text.splitlines() if ln and not ln.startswith("#")]
    reader = csv.DictReader(lines, delimiter="\t")
    if not reader.fieldnames or not {"subject_id", "object_id"} <= set(reader.fieldnames):
        raise GoldFormatError(f"{path}: needs a header with subject_id and object_id columns")
    gold: dict[str, GoldEntry] = {}
    for row in reader:
        sid = (row.get("subject_id") or "").strip()
        if not sid:
            continue
        entry = gold.setdefault(sid, GoldEntry(sid, row.get("subject_label"), split=row.get("split") or None))
        oid = (row.get("object_id") or "").strip()
        if oid and oid != NO_TERM_FOUND and row.get("predicate_modifier") != "Not":
            entry.targets.add(oid)
            if row.get("predicate_id"):
                entry.predicates[oid] = row["predicate_id"]
    if not gold:
        raise GoldFormatError(f"{path}: no gold rows")
    return gold


@dataclass
class EvalReport:
    n: int
    tp: int
    fp: int
    fn: int
    hits: dict[int, float]
    mrr: float
    predicate_agreement: float
    errors: list[dict]
    by_label: int = 0  # gold rows found in the prediction by subject_label only (their id is not there)

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 0.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 0.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0

    def as_dict(self) -> dict:
        return {"n": self.n, "precision": round(self.precision, 4), "recall": round(self.recall, 4),
                "f1": round(self.f1, 4), **{f"hits@{k}": round(v, 4) for k, v in self.hits.items()},
                "mrr": round(self.mrr, 4), "predicate_agreement": round(self.predicate_agreement, 4),
                "tp": self.tp, "fp": self.fp, "fn": self.fn, "matched_by_label": self.by_label}


def evaluate(pred: MappingSet, gold: dict[str, GoldEntry], candidates: MappingSet | None = None,
             split: str | None = None, ks: tuple[int, ...] = (1, 5)) -> EvalReport:
    """Score decided mappings (and candidate rankings) against ``gold`` (optionally one split)."""
    decided = pred.decided()
    by_label = {m.subject_label: m for m in decided.values() if m.subject_label}
    ranked: dict[str, list[str]] = {}
    for m in sorted((candidates or pred).mappings, key=lambda m: -(m.confidence or 0.0)):
        if not m.negated and m.object_id != NO_TERM_FOUND:
            ids = ranked.setdefault(m.subject_id, [])
            if m.object_id not in ids:
                ids.append(m.object_id)
    entries = [e for e in gold.values() if split is None or e.split == split]
    if not entries:  # scores of nothing would print as zeros
        present = sorted({e.split for e in gold.values() if e.split})
        raise GoldFormatError(f"no gold row has split {split!r} (splits present: {', '.join(present) or 'none'})")
    by_label_n = sum(1 for e in entries if e.subject_id not in decided and e.subject_label in by_label)
    tp = fp = fn = 0
    hits = {k: 0 for k in ks}
    rr, with_target, pred_agree, pred_n = 0.0, 0, 0, 0
    errors = []
    for e in entries:
        m = decided.get(e.subject_id) or (by_label.get(e.subject_label) if e.subject_label else None)
        got = m.object_id if m else None
        if e.targets:
            with_target += 1
            ranking = ranked.get(e.subject_id) or (ranked.get(m.subject_id) if m else None) or []
            rank = next((i + 1 for i, o in enumerate(ranking) if o in e.targets), None)
            if rank:
                rr += 1.0 / rank
                for k in ks:
                    hits[k] += rank <= k
            if got in e.targets:
                tp += 1
                if e.subject_id in decided or m:
                    pred_n += 1
                    pred_agree += e.predicates.get(got, m.predicate_id) == m.predicate_id
                continue
            fn += 1
            if got:
                fp += 1
        elif got is None:
            tp += 1
            continue
        else:
            fp += 1
        errors.append({"subject_id": e.subject_id, "subject_label": e.subject_label,
                       "predicted": got, "predicted_label": m.object_label if m else None,
                       "gold": sorted(e.targets) or [NO_TERM_FOUND]})
    return EvalReport(
        n=len(entries), tp=tp, fp=fp, fn=fn,
        hits={k: hits[k] / with_target if with_target else 0.0 for k in ks},
        mrr=rr / with_target if with_target else 0.0,
        predicate_agreement=pred_agree / pred_n if pred_n else 0.0, errors=errors, by_label=by_label_n,
    )


def threshold_curve(pred: MappingSet, gold: dict[str, GoldEntry], split: str | None = None,
                    thresholds=None) -> list[dict]:
    """Precision/recall/F1 if every decided mapping below each confidence threshold had been an
    abstention instead: what ``--threshold`` would have given."""
    thresholds = np.round(np.arange(0.0, 1.0, 0.05), 2) if thresholds is None else thresholds
    rows = []
    for t in thresholds:
        kept = MappingSet([m for m in pred.mappings  # rows a person decided carry no confidence: kept
                           if m.negated or m.confidence is None or m.confidence >= t], pred.metadata)
        r = evaluate(kept, gold, split=split)
        rows.append({"threshold": float(t), "precision": r.precision, "recall": r.recall, "f1": r.f1})
    return rows


def reliability(pred: MappingSet, gold: dict[str, GoldEntry], split: str | None = None,
                bins: int = 10) -> list[dict]:
    """Decided mappings grouped by confidence: how often each group was right (calibration)."""
    decided = pred.decided()
    out = [{"low": i / bins, "high": (i + 1) / bins, "n": 0, "correct": 0} for i in range(bins)]
    for e in gold.values():
        if split is not None and e.split != split:
            continue
        m = decided.get(e.subject_id)
        if m is None or m.confidence is None:
            continue
        b = out[min(int(m.confidence * bins), bins - 1)]
        b["n"] += 1
        b["correct"] += m.object_id in e.targets
    return out


def expected_calibration_error(confidences, correct, bins: int = 10) -> float:
    """ECE: the confidence-weighted gap between stated confidence and the fraction right, over
    equal-width bins (0 for perfect calibration)."""
    conf, ok = np.asarray(confidences, dtype=float), np.asarray(correct, dtype=float)
    if not len(conf):
        return 0.0
    which = np.minimum((conf * bins).astype(int), bins - 1)
    return float(sum(abs(ok[which == b].mean() - conf[which == b].mean()) * (which == b).sum()
                     for b in range(bins) if (which == b).any()) / len(conf))


def plot_evaluation(pred: MappingSet, gold: dict[str, GoldEntry], path, split: str | None = None) -> None:
    """Two panels: P/R/F1 against the abstention threshold, and a reliability diagram."""
    # lazy: matplotlib costs ~0.3 s at import; only the plot needs it
    import matplotlib
    import matplotlib.pyplot as plt

    matplotlib.use("Agg")

    curve = threshold_curve(pred, gold, split)
    rel = [b for b in reliability(pred, gold, split) if b["n"]]
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 4))
    xs = [c["threshold"] for c in curve]
    for k in ("precision", "recall", "f1"):
        ax1.plot(xs, [c[k] for c in curve], label=k)
    ax1.set_xlabel("abstain below confidence")
    ax1.set_ylim(0, 1.02)
    ax1.set_title("effect of the threshold")
    ax1.legend()
    ax2.plot([0, 1], [0, 1], "k:", lw=1)
    ax2.plot([(b["low"] + b["high"]) / 2 for b in rel], [b["correct"] / b["n"] for b in rel], "o-")
    for b in rel:
        ax2.annotate(str(b["n"]), ((b["low"] + b["high"]) / 2, b["correct"] / b["n"]),
                     textcoords="offset points", xytext=(0, 6), ha="center", fontsize=8)
    ax2.set_xlabel("confidence")
    ax2.set_ylabel("fraction correct")
    ax2.set_xlim(0, 1)
    ax2.set_ylim(0, 1.05)
    ax2.set_title("calibration (n per bin)")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
