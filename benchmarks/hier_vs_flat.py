"""Hierarchical vs flat training on a leaf-only-labelled synthetic corpus (fixed seeds).

Runs the `uts demo` pipeline (synthesise -> map tags -> train flat and hier with the same recipe,
data and seed -> evaluate against the complete labels) and prints one JSON line. A third,
post-hoc baseline is scored from the *flat* model's predictions with the max constraint applied
at inference only (``flat_posthoc_*``): it shows how much comes from training through the
constraint rather than from enforcing it afterwards.

Usage: .venv/bin/python benchmarks/hier_vs_flat.py [--clips 320] [--steps 150] [--seeds 0 1]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from rich.console import Console  # noqa: E402


def posthoc(run_dir: Path, manifest: Path, onto) -> dict:
    import numpy as np

    from uts.training.data import ClipDataset, LabelSpace, read_manifest, validate_manifest
    from uts.training.evaluate import load_run, predict
    from uts.training.metrics import hierarchical_report

    run = load_run(run_dir)
    df, _ = validate_manifest(read_manifest(manifest, onto=onto))
    space = LabelSpace(run.labels)
    d = run.cfg["data"]
    ds = ClipDataset(df, space, sample_rate=d["sample_rate"], clip_seconds=d["clip_seconds"], train=False)
    out = predict(run.model, run.objective, ds, run.cfg)
    truth = np.stack([space.encode(ls) for ls in df["labels_complete"].to_list()])[out["index"]]
    return hierarchical_report(run.hierarchy.max_constraint(out["scores"]), truth, run.hierarchy)


def one_seed(seed: int, clips: int, steps: int | None, root: Path) -> dict:
    from uts.ontology import load
    from uts.training.demo import run_demo

    onto = load()
    out = root / f"seed{seed}"
    run_demo(out, clips=clips, steps=steps, seed=seed, onto=onto, console=Console(stderr=True, quiet=True),
             extra_overrides=("run.progress=false",))
    res = json.loads((out / "summary.json").read_text())["results"]
    ph = posthoc(out / "flat", out / "corpus" / "test" / "manifest.jsonl", onto)
    row = {}
    for name, r in (("hier", res["hier"]), ("flat", res["flat"]), ("flat_posthoc", ph)):
        row.update({f"{name}_parent_map": r["parent_map"], f"{name}_leaf_map": r["leaf_map"],
                    f"{name}_macro_map": r["macro_map"], f"{name}_hf1": r["hierarchical_f1"],
                    f"{name}_violations": r["violation_rate"], f"{name}_severity": r["mistake_severity"]})
    return row


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clips", type=int, default=320)
    ap.add_argument("--steps", type=int, default=None, help="steps per objective (default: demo recipe's)")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0])
    ap.add_argument("--keep", type=Path, default=None, help="keep the runs here instead of a temp folder")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = args.keep or Path(tmp)
        rows = [one_seed(s, args.clips, args.steps, root) for s in args.seeds]
    out = {"seeds": args.seeds, "clips": args.clips, "labels": "leaf-only"}
    for key in rows[0]:
        out[key] = round(statistics.mean(r[key] for r in rows), 4)
    out["hier_beats_flat"] = bool(out["hier_parent_map"] > out["flat_parent_map"] and out["hier_hf1"] > out["flat_hf1"]
                                  and out["hier_violations"] == 0.0)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
