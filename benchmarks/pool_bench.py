"""Pooling datasets with partial labels: masked vs unmasked pooled training vs each source alone.

Synthetic part. Three training "datasets" drawn from the corpus generator, each annotating one
domain only, although its clips also hold another domain's sounds (as a music dataset's tracks
hold singing and an emotion corpus's clips hold background noise):

    speech-set  clips: speech + music   labels: speech concepts only
    music-set   clips: music + sound    labels: music concepts only
    sound-set   clips: sound + speech   labels: sound concepts only

Each source's mapped concepts are the generator's concepts of its domain; its annotated space
follows by the conservative rule (uts.ontology.annotated). The three are pooled with
``uts.pool.pool_manifests`` and trained with the demo recipe (hier objective) with masking
(the default) and without (``objective.mask_unannotated=false``), and on each source alone.
All runs are scored on one held-out, fully labelled test corpus (generated before anything is
trained, never used for choices): per source on that source's annotated space, and overall
on every class of the pooled model.

Real part (``--real``): AudioSet's eval segments and MTG-Jamendo's test split are mapped with
``uts map apply`` (the shipped alignments) and pooled with ``uts pool``, each command in its
own process: wall time and peak resident memory, against reading the two mapped manifests with
polars as the baseline, plus the coverage table.

Usage: .venv/bin/python benchmarks/pool_bench.py [--clips 160] [--test-clips 150] [--steps 150]
       [--seeds 0 1 2] [--clip-seconds 2.0] [--out DIR] [--real] [--no-synthetic]
       .venv/bin/python benchmarks/pool_bench.py --merge A/pool_bench.json B/pool_bench.json
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SOURCES = {"speech": "music", "music": "sound", "sound": "speech"}  # annotated domain -> unlabelled other
DATA = ROOT.parent / "shared" / "data"
THREADS = 1  # torch threads per run: seeds run as separate processes (--seeds 0 & --seeds 1 & ...)


def make_sources(root: Path, onto, clips: int, test_clips: int) -> tuple[list[Path], Path]:
    import polars as pl

    from uts.ontology.graph import concept_domain
    from uts.pool import Sources, active_graph, describe_source, write_sources
    from uts.synth import SynthConfig, most_specific, synthesize

    graph = active_graph(onto)
    # the held-out test corpus first: every domain, complete labels
    test = synthesize(root / "test", onto, SynthConfig(n=test_clips, seed=999, skip_missing_labels=True),
                      overwrite=True).manifest
    manifests = []
    for k, (domain, other) in enumerate(SOURCES.items()):
        excluded = tuple(d for d in ("speech", "music", "sound") if d not in (domain, other))
        res = synthesize(root / domain, onto, SynthConfig(n=clips, seed=100 + k, label_mode="complete",
                                                          exclude_domains=excluded, skip_missing_labels=True),
                         overwrite=True)
        df = pl.read_ndjson(res.manifest)
        own = [most_specific(onto, [c for c in truth if concept_domain(onto, c) == domain])
               for truth in df["labels_complete"].to_list()]
        df = df.with_columns(pl.Series("labels", own, dtype=pl.List(pl.Utf8))).drop("source_labels")
        path = root / domain / "labels.jsonl"
        df.write_ndjson(path)
        vocabulary = sorted({cid for cid in res.labels.values() if concept_domain(onto, cid) == domain})
        write_sources(path, Sources([describe_source(f"{domain}-set", vocabulary, graph, df.height, str(path))]))
        manifests.append(path)
    return manifests, test


def train_eval(name: str, manifest: Path, test: Path, out: Path, seed: int, steps: int, onto, extra=(),
               clip_seconds: float = 2.0) -> dict:
    from uts.training.config import load_config
    from uts.training.evaluate import evaluate
    from uts.training.trainer import train

    cfg = load_config(ROOT / "training" / "demo.yaml", [
        f"data.train={manifest}", f"run.out={out / f'{name}-s{seed}'}", f"run.seed={seed}",
        f"optim.max_steps={steps}", "run.progress=false", "run.tensorboard=false", "data.num_workers=1",
        "run.ckpt_every=100000", f"data.clip_seconds={clip_seconds}", f"run.threads={THREADS}", *extra])
    t0 = time.perf_counter()
    run = train(cfg, onto=onto)
    res = evaluate(run, test, probe=False, onto=onto)
    row = {"config": name, "seed": seed, "seconds": time.perf_counter() - t0,
           "overall_map": res["macro_map"], "overall_hf1": res["hierarchical_f1"], "classes": res["classes"],
           "violation_rate": res["violation_rate"]}
    for sid, rep in res.get("per_source", {}).items():
        if "skipped" not in rep:
            row[f"{sid}_map"], row[f"{sid}_hf1"] = rep["macro_map"], rep["hierarchical_f1"]
            row[f"{sid}_classes"] = rep["classes"]
    return row


def synthetic(args, root: Path) -> list[dict]:
    from uts.ontology import load
    from uts.pool import pool_manifests

    onto = load()
    manifests, test = make_sources(root / "data", onto, args.clips, args.test_clips)
    pooled = pool_manifests(manifests, root / "data" / "pooled.jsonl", onto=onto, mode="balanced",
                            prefix_ids=True).manifest
    rows = []
    pooled_steps = args.pooled_steps or args.steps
    for seed in args.seeds:
        jobs = [("pooled+mask", pooled, (), pooled_steps),
                ("pooled-nomask", pooled, ("objective.mask_unannotated=false",), pooled_steps)]
        jobs += [(f"{d}-set alone", m, (), args.steps) for d, m in zip(SOURCES, manifests)]
        for name, manifest, extra, steps in jobs:
            if args.configs and name not in args.configs:
                continue
            row = train_eval(f"{name.replace(' ', '_')}-{steps}", manifest, test, root / "runs", seed, steps, onto,
                             extra, args.clip_seconds)
            row["config"] = f"{name}, {steps} steps"
            rows.append(row)
            print(json.dumps(row), flush=True)
    return rows


def _cell(values: list[float]) -> str:
    if not values:
        return "–"
    if len(values) == 1:
        return f"{values[0]:.3f}"
    return f"{statistics.mean(values):.3f} ± {statistics.stdev(values):.3f}"


def table(rows: list[dict]) -> str:
    configs = list(dict.fromkeys(r["config"] for r in rows))
    cols = [f"{d}-set" for d in SOURCES]
    head = ("| training | " + " | ".join(f"{c} mAP | {c} hF1" for c in cols)
            + " | overall mAP | overall hF1 | classes |")
    lines = [head, "|" + "---|" * (2 * len(cols) + 4)]
    for cfg in configs:
        rs = [r for r in rows if r["config"] == cfg]
        cells = []
        for c in cols:
            cells += [_cell([r[f"{c}_map"] for r in rs if f"{c}_map" in r]),
                      _cell([r[f"{c}_hf1"] for r in rs if f"{c}_hf1" in r])]
        overall = ("–", "–") if "alone" in cfg else (_cell([r["overall_map"] for r in rs]),
                                                             _cell([r["overall_hf1"] for r in rs]))
        lines.append(f"| {cfg} | " + " | ".join(cells) + f" | {overall[0]} | {overall[1]} | {rs[0]['classes']} |")
    return "\n".join(lines)


# -- real data -------------------------------------------------------------------------------
_MEASURE = ("import resource, runpy, sys, time\n"
            "sys.argv = ['uts'] + sys.argv[1:]\n"
            "t = time.perf_counter()\n"
            "try:\n    runpy.run_module('uts.cli.main', run_name='__main__')\n"
            "finally:\n"
            "    print(f'MEASURE {time.perf_counter() - t:.3f} '\n"
            "          f'{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f}', file=sys.stderr)\n")


def measured(*argv: str) -> tuple[float, float, str]:
    """Run ``uts ARGV`` in its own process: (seconds, peak RSS MiB, stdout)."""
    proc = subprocess.run([sys.executable, "-c", _MEASURE, *argv], capture_output=True, text=True, cwd=ROOT)
    if proc.returncode:
        raise SystemExit(f"uts {' '.join(argv)} failed:\n{proc.stderr[-2000:]}")
    line = [x for x in proc.stderr.splitlines() if x.startswith("MEASURE ")][-1].split()
    return float(line[1]), float(line[2]), proc.stdout


def real(root: Path, repeats: int = 3) -> dict:
    """Apply both real annotation files and pool them, ``repeats`` times; medians of wall time
    and peak RSS per step, against polars reading, concatenating and writing the same two
    mapped manifests (the least any pooling has to do)."""
    root.mkdir(parents=True, exist_ok=True)
    audioset, mtg, pooled = root / "audioset-eval.jsonl", root / "mtg-test.jsonl", root / "pooled.jsonl"
    steps = [("apply AudioSet eval", ("map", "apply", str(DATA / "audioset" / "eval_segments.csv"), "--mapping",
                                      "mapping/audioset.sssom.tsv", "-o", str(audioset), "--source", "audioset-eval")),
             ("apply MTG-Jamendo test", ("map", "apply", str(DATA / "mtg-jamendo" / "autotagging-test.tsv"),
                                         "--mapping", "mapping/mtg-jamendo.sssom.tsv", "-o", str(mtg),
                                         "--source", "mtg-jamendo-test")),
             ("uts pool (with coverage + plot)", ("pool", str(audioset), str(mtg), "-o", str(pooled), "--sampling",
                                                  "proportional", "--report", str(root / "coverage.json"),
                                                  "--plot", str(root / "coverage.png")))]
    base = ("import resource, sys, time; import polars as pl; t = time.perf_counter(); "
            "df = pl.concat([pl.read_ndjson(p) for p in sys.argv[1:]], how='diagonal_relaxed'); "
            "df.write_ndjson(sys.argv[1] + '.baseline.jsonl'); "
            "print(time.perf_counter() - t, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)")
    times: dict[str, list[tuple[float, float]]] = {}
    out: dict = {}
    for _ in range(repeats):
        for name, argv in steps:
            sec, mib, stdout = measured(*argv)
            times.setdefault(name, []).append((sec, mib))
            if name.startswith("uts pool"):
                out["coverage_table"] = "\n".join(x for x in stdout.splitlines() if x.startswith("|"))
                out["pool_stdout"] = stdout
        proc = subprocess.run([sys.executable, "-c", base, str(audioset), str(mtg)], capture_output=True, text=True,
                              check=True)
        times.setdefault("baseline: polars read + concat + write", []).append(tuple(map(float, proc.stdout.split())))
    for name, values in times.items():
        out[name] = {"seconds_median": statistics.median(v[0] for v in values),
                     "peak_rss_mib_median": statistics.median(v[1] for v in values), "runs": values}
        print(f"{name}: median {out[name]['seconds_median']:.2f} s, {out[name]['peak_rss_mib_median']:.0f} MiB "
              f"peak RSS ({len(values)} runs)", flush=True)
    pool = out["uts pool (with coverage + plot)"]["seconds_median"]
    base_s = out["baseline: polars read + concat + write"]["seconds_median"]
    print(f"uts pool / baseline: {pool / base_s:.1f}x time")
    print(out["coverage_table"])
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--clips", type=int, default=160, help="training clips per source")
    p.add_argument("--test-clips", type=int, default=150)
    p.add_argument("--steps", type=int, default=150)
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--pooled-steps", type=int, default=None,
                   help="steps of the pooled runs [default: --steps; 3x --steps is the three alone runs' compute]")
    p.add_argument("--configs", nargs="+", default=None,
                   help="only these: 'pooled+mask', 'pooled-nomask', 'speech-set alone', ...")
    p.add_argument("--clip-seconds", type=float, default=2.0, help="training/eval crop (the demo recipe's is 2.0)")
    p.add_argument("--out", type=Path, default=None, help="work folder [default: a temporary one]")
    p.add_argument("--real", action="store_true", help="also pool the real AudioSet + MTG-Jamendo annotations")
    p.add_argument("--no-synthetic", action="store_true")
    p.add_argument("--repeats", type=int, default=3, help="--real: runs per step (medians are reported)")
    p.add_argument("--merge", type=Path, nargs="+", help="print the table of earlier runs' pool_bench.json files")
    args = p.parse_args()
    if args.merge:
        rows = []
        for f in args.merge:
            data = json.loads(f.read_text())
            for r in data.get("rows", []):  # files written before configs carried their steps
                r["config"] = r["config"] if "steps" in r["config"] else f"{r['config']}, {data['args']['steps']} steps"
                rows.append(r)
        print(table(rows))
        return
    root = args.out or Path(tempfile.mkdtemp(prefix="uts-pool-bench-"))
    root.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("OMP_NUM_THREADS", "2")
    result = {"args": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()}}
    if not args.no_synthetic:
        rows = synthetic(args, root)
        result["rows"] = rows
        result["table"] = table(rows)
        print(result["table"])
    if args.real:
        result["real"] = real(root / "real", args.repeats)
    (root / "pool_bench.json").write_text(json.dumps(result, indent=2))
    print(f"results -> {root / 'pool_bench.json'}")


if __name__ == "__main__":
    main()
