"""Markdown reports with PNG plots: training curves, per-level mAP, and flat-vs-hier comparisons."""

from __future__ import annotations

import csv
import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

HEADLINE = [("macro_map", "macro mAP"), ("micro_map", "micro mAP"), ("parent_map", "parent mAP"),
            ("leaf_map", "leaf mAP"), ("hierarchical_precision", "hier. precision"),
            ("hierarchical_recall", "hier. recall"), ("hierarchical_f1", "hier. F1"),
            ("violation_rate", "violation rate"), ("inconsistent_clip_rate", "inconsistent clips"),
            ("mistake_severity", "mistake severity")]


def _fmt(v) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "n/a"
    return f"{v:.3f}" if isinstance(v, float) else str(v)


def clip_count(data: dict, what: str = "Evaluated") -> str:
    """How many clips were used out of how many, why any were skipped, and how many labels were
    left out of the truth because they are no UTS id."""
    line = f"{what} {data['evaluated']} of {data['entries']} clips; skipped {data['skipped']}"
    reasons = ", ".join(f"{k}: {v}" for k, v in data["reasons"].items())
    line += f" ({reasons})." if reasons else "."
    if data.get("labels_without_concept"):
        line += (f" {data['labels_without_concept']} labels are no UTS id and were left out of the truth "
                 f"(e.g. {', '.join(map(repr, data['label_examples']))}).")
    return line


def headline(res: dict) -> str:
    """What ``uts eval`` prints: the tagging figures, zero-shot and retrieval when present."""
    keys = ["macro_map", "micro_map", "parent_map", "hierarchical_f1", "violation_rate", "mistake_severity"]
    lines = ["(no tagging objective: tagging figures are zero-shot)"] if res.get("scores_from") == "zero-shot" else []
    if "data" in res:
        lines.append(clip_count(res["data"]))
    if "data" in res.get("probe", {}):
        lines.append(clip_count(res["probe"]["data"], "Linear probe trained on"))
    lines.append("  ".join(f"{k}={res[k]:.3f}" for k in keys))
    if "zero_shot" in res:
        lines.append("zero-shot " + "  ".join(f"{k}={res['zero_shot'][k]:.3f}"
                                              for k in ("macro_map", "parent_map", "hierarchical_f1")))
    for sid, rep in res.get("per_source", {}).items():  # pooled data: each source on its own labels
        lines.append(f"source {sid}: " + (rep["skipped"] if "skipped" in rep else f"{rep['clips']} clips, "
                     f"{rep['classes']} classes  macro_map={rep['macro_map']:.3f}  hierarchical_f1={rep['hierarchical_f1']:.3f}"))
    ret = res.get("retrieval", {})
    if "captions" in ret:
        lines.append(f"retrieval ({ret['clips']} clips, {ret['captions']} captions) " + "  ".join(
            f"{k}={ret[k]:.3f}" for k in ("t2a_R@1", "t2a_R@10", "t2a_mAP@10", "a2t_R@1", "a2t_R@10", "a2t_mAP@10")))
    cap = res.get("caption", {})
    if "caption_loss" in cap:
        g = cap["generated"]
        lines.append(f"captioning caption_loss={cap['caption_loss']:.3f}  perplexity={cap['perplexity']:.2f}  "
                     + "  ".join(f"{k}={g[k]:.3f}" for k in ("bleu_4", "rouge_l", "cider_d"))
                     + f"  (beam {g['beam_size']})")
    return "\n".join(lines)


def read_metrics(csv_path: Path) -> list[dict]:
    if not Path(csv_path).is_file():
        return []
    with open(csv_path, newline="") as fh:
        return list(csv.DictReader(fh))


def training_curves(csv_path: Path, png: Path, runs: dict[str, Path] | None = None) -> Path | None:
    """One loss panel per run, validation mAP of all runs together.

    Losses of different objectives (and a run's training loss against its validation loss, which
    may leave out terms such as the contrastive one) live on different scales, so each gets its
    own axis: a run's panel draws its training loss on the left axis and its validation loss on
    a right axis of its own. mAP is on one 0-1 scale for every run, so those share a panel."""
    runs = runs or {"": csv_path}
    fig, axes = plt.subplots(1, len(runs) + 1, figsize=(3.6 * (len(runs) + 1), 3.4), squeeze=False)
    *loss_axes, ax_map = axes[0]
    plotted = False
    for i, ((name, path), ax) in enumerate(zip(runs.items(), loss_axes)):
        color = f"C{i}"
        rows = read_metrics(path)
        tr = [(int(r["step"]), float(r["loss"])) for r in rows if r["split"] == "train" and r["loss"]]
        va = [(int(r["step"]), float(r["loss"]), r["macro_map"]) for r in rows if r["split"] == "val" and r["loss"]]
        ax.set(xlabel="step", title=f"{name} loss".strip())
        if tr:
            ax.plot(*zip(*tr), color=color, label="train")
            ax.set_ylabel("training loss", color=color)
            plotted = True
        if va:
            ax_val = ax.twinx()
            ax_val.plot([s for s, _, _ in va], [v for _, v, _ in va], "o--", color="0.35", label="validation")
            ax_val.set_ylabel("validation loss", color="0.35")
            pts = [(s, float(m)) for s, _, m in va if m not in ("", "nan")]
            if pts:
                ax_map.plot(*zip(*pts), "o-", color=color, label=name or "val")
    if not plotted:
        plt.close(fig)
        return None
    ax_map.set(xlabel="step", ylabel="macro mAP", title="validation mAP")
    if ax_map.lines:
        ax_map.legend(fontsize=8)
    else:
        ax_map.text(0.5, 0.5, "no validation set", ha="center", va="center", transform=ax_map.transAxes)
    fig.tight_layout()
    fig.savefig(png, dpi=110)
    plt.close(fig)
    return png


def per_level_plot(results: dict[str, dict], png: Path) -> Path:
    """Grouped bars: mAP at each depth of the hierarchy, one bar per run (± 1 s.d. over seeds
    when ``spread`` has it); under each depth, how many classes sit there."""
    levels = sorted({int(k) for r in results.values() for k in r["map_per_level"]})
    fig, ax = plt.subplots(figsize=(max(4, 1.3 * len(levels) + 2), 3.8))
    width = 0.8 / max(1, len(results))
    for i, (name, r) in enumerate(results.items()):
        vals = [r["map_per_level"].get(str(lv)) for lv in levels]
        vals = [0 if v is None or math.isnan(v) else v for v in vals]
        sds = [(r.get("spread", {}).get(f"map_per_level.{lv}") or [0, None])[1] for lv in levels]
        err = [sd or 0 for sd in sds] if any(sd is not None for sd in sds) else None
        ax.bar([lv + (i - (len(results) - 1) / 2) * width for lv in levels], vals, width, label=name,
               yerr=err, capsize=2)
    ax.set(xlabel="depth in the hierarchy (0 = top)", ylabel="macro mAP", ylim=(0, 1), title="mAP per level")
    ax.set_xticks(levels)
    counts = next((r["classes_per_level"] for r in results.values() if "classes_per_level" in r), None)
    if counts:
        n = [counts.get(str(lv), 0) for lv in levels]
        ax.set_xticklabels([f"{lv}\n{k} class{'' if k == 1 else 'es'}" for lv, k in zip(levels, n)])
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(png, dpi=110)
    plt.close(fig)
    return png


def _cell(result: dict, key: str) -> str:
    """A table cell: the value, or "mean ± s.d." when ``result["spread"]`` (several seeds) has it."""
    spread = result.get("spread", {}).get(key)
    if spread and spread[1] is not None:
        return f"{spread[0]:.3f} ± {spread[1]:.3f}"
    value = result
    for part in key.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return _fmt(value)


def _table(results: dict[str, dict]) -> list[str]:
    names = list(results)
    lines = ["| metric | " + " | ".join(names) + " |", "|---|" + "---|" * len(names)]
    for key, label in HEADLINE:
        lines.append(f"| {label} | " + " | ".join(_cell(results[n], key) for n in names) + " |")
    if any(results[n].get("probe", {}).get("probe_map") is not None for n in names):
        lines.append("| linear probe mAP (domain) | " + " | ".join(_cell(results[n], "probe.probe_map") for n in names) + " |")
    if any("zero_shot" in results[n] for n in names):
        for key, label in ZERO_SHOT:
            lines.append(f"| zero-shot {label} | " + " | ".join(
                _cell(results[n], f"zero_shot.{key}") for n in names) + " |")
    if any("retrieval" in results[n] for n in names):
        for key in RETRIEVAL:
            lines.append(f"| {key.replace('_', ' ')} | " + " | ".join(
                _cell(results[n], f"retrieval.{key}") for n in names) + " |")
    return lines


ZERO_SHOT = [("macro_map", "macro mAP"), ("parent_map", "parent mAP"), ("leaf_map", "leaf mAP"),
             ("hierarchical_f1", "hier. F1")]
RETRIEVAL = ["t2a_R@1", "t2a_R@5", "t2a_R@10", "t2a_mAP@10", "a2t_R@1", "a2t_R@5", "a2t_R@10", "a2t_mAP@10"]
CONTRASTIVE_NOTES = """*Zero-shot*: clips scored against the text of the classes' UTS concepts (label, synonyms
and definition as prompts): by embedding similarity for contrastive objectives, by the decoder's
likelihood for captioning ones (docs/training.md); same metrics as tagging. *Retrieval*: every caption
queries all clips (t2a; its own clip is correct) and every clip queries all captions (a2t; any of
its captions is correct); R@k and mAP@10 (see docs/training.md)."""


DEFINITIONS = """Definitions: mAP over classes with at least one positive, against the true labels closed
over ancestors; *parent* = classes with children, *leaf* = the rest. Hierarchical P/R/F1 pool the
ancestor-closed predicted (score >= threshold) and true sets over clips. *Violation rate*: share of
(clip, parent-child edge) pairs whose child is scored above its parent; *inconsistent clips*: share
of clips whose prediction holds a child without its parent. *Mistake severity*: mean hierarchy
distance from each false-positive label to the nearest true label (lower is better)."""


def _per_class(result: dict, limit: int = 10) -> list[str]:
    """AP per class, best first (all classes when few, else the best and worst ``limit``)."""
    names = result.get("class_labels", {})
    rows = sorted(((v, k) for k, v in result["per_class_ap"].items() if v is not None), reverse=True)
    if not rows:
        return []
    shown = rows if len(rows) <= 3 * limit else rows[:limit] + [None] + rows[-limit:]
    lines = ["## AP per class", "", "| class | id | AP |", "|---|---|---|"]
    for row in shown:
        lines.append("| … | | |" if row is None else f"| {names.get(row[1], row[1])} | {row[1]} | {row[0]:.3f} |")
    return lines + [""]


def _caption_section(cap: dict, zero_shot_from: str | None, examples: int = 5) -> list[str]:
    """Captioning figures and a few generated captions next to their references."""
    if "caption_loss" not in cap:
        return []
    g = cap["generated"]
    lines = ["## Captioning", "",
             f"Held-out captions: loss {cap['caption_loss']:.3f} nats/token (perplexity {cap['perplexity']:.2f}, "
             f"{cap['tokens']} tokens, {cap['unknown_token_rate']:.1%} outside the training vocabulary). "
             f"Generated (beam {g['beam_size']}): BLEU-4 {g['bleu_4']:.3f}, ROUGE-L {g['rouge_l']:.3f}, "
             f"CIDEr-D {g['cider_d']:.3f}.", ""]
    if zero_shot_from == "caption decoder":
        lines += ["Zero-shot tagging and retrieval above score texts by the decoder's likelihood, centred "
                  "per text over the clips (see docs/training.md).", ""]
    lines += ["| clip | generated | reference |", "|---|---|---|"]
    for e in g["examples"][:examples]:
        lines.append(f"| {e['id']} | {e['generated']} | {e['references'][0]} |")
    return lines + [""]


def write_eval_report(result: dict, out_dir: Path, run_dir: Path | None = None) -> Path:
    out_dir = Path(out_dir)
    per_level_plot({result["name"]: result}, out_dir / "per_level.png")
    lines = [f"# Evaluation of `{result['name']}`", "",
             f"Run `{result['run']}` ({result['objective']} objective, {result['encoder']} encoder) on "
             f"`{result['manifest']}`: {result['clips']} clips, {result['classes']} classes "
             f"({result['classes_with_positives']} with positives), truth from `{result['truth_column']}`, "
             f"threshold {result['threshold']}.", ""]
    if "data" in result:  # never state the smaller count as if it were the dataset
        lines += [clip_count(result["data"]), ""]
    if "data" in result.get("probe", {}):
        lines += [clip_count(result["probe"]["data"], "Linear probe trained on"), ""]
    if result.get("scores_from") == "zero-shot":
        lines += ["The objective has no tagging head: the tagging figures are the zero-shot ones.", ""]
    lines += _table({result["name"]: result}) + ["", DEFINITIONS, ""]
    if "zero_shot" in result or "retrieval" in result:
        lines += [CONTRASTIVE_NOTES, ""]
        ret = result.get("retrieval", {})
        if "captions" in ret:
            lines += [f"Retrieval over {ret['clips']} clips and {ret['captions']} captions "
                      f"({ret.get('captions_from_labels', 0)} written from labels).", ""]
        elif "skipped" in ret:
            lines += [f"Retrieval skipped: {ret['skipped']}.", ""]
    lines += _caption_section(result.get("caption", {}), result.get("zero_shot_from"))
    lines += ["![mAP per level](per_level.png)", ""]
    lines += _per_class(result)
    if run_dir is not None and training_curves(Path(run_dir) / "metrics.csv", out_dir / "curves.png"):
        lines += ["![training curves](curves.png)", ""]
    path = out_dir / "report.md"
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def write_comparison(results: dict[str, dict], out_dir: Path, run_dirs: dict[str, Path],
                     title: str = "Flat vs hierarchical training", intro: str = "") -> Path:
    """One Markdown report comparing several evaluated runs (what ``uts demo`` writes)."""
    out_dir = Path(out_dir)
    per_level_plot(results, out_dir / "per_level.png")
    curves = training_curves(Path(), out_dir / "curves.png",
                             runs={n: Path(p) / "metrics.csv" for n, p in run_dirs.items()})
    lines = [f"# {title}", ""] + ([intro, ""] if intro else [])
    lines += _table(results) + ["", DEFINITIONS, ""]
    if any("zero_shot" in r or "retrieval" in r for r in results.values()):
        lines += [CONTRASTIVE_NOTES, ""]
    lines += ["![mAP per level](per_level.png)", ""]
    if curves:
        lines += ["![training curves](curves.png)", ""]
    lines += ["Per-run details: " + ", ".join(f"[{n}]({Path(p).name}/eval/report.md)" for n, p in run_dirs.items()), ""]
    path = out_dir / "report.md"
    path.write_text("\n".join(lines), encoding="utf-8")
    return path
