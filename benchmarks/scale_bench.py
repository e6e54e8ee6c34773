"""Scale figures: wall time and peak memory of ``uts map apply`` and ``uts vocab build`` on corpora
of 1M and 10M clips, and what that projects to for the paper's 361k clips and AudioSet's 2M.

Corpora (generated under ``--workdir``, outside the repository, and deleted afterwards unless
``--keep``):

- apply: AudioSet's eval segments (``/work/shared/data`` or ``$UTS_DATA``) repeated with new clip
  ids, mapped to UTS by the shipped alignment ``mapping/audioset.sssom.tsv``, written as Parquet
  (and, with ``--jsonl``, as JSON Lines too);
- vocab: the LLM-shaped tag corpus of ``vocab_bench.py`` (10 Zipf-drawn tags per clip over 30,000
  tags, repeats inside clips, odd casing, failed lines), built with the default command (UTS
  ontology, concept files, plot).

Each command runs as a subprocess, start-up included; peak memory is the child's ``ru_maxrss``.
A size of ``PROJECT_TO`` that was not measured is projected on the straight line through the two
measured sizes nearest it (time and memory), i.e. a fixed cost plus a cost per clip; pass
``--clips 361000 1000000 2000000 10000000`` to measure them instead.

    .venv/bin/python benchmarks/scale_bench.py                              # 1M and 10M, both
    .venv/bin/python benchmarks/scale_bench.py --clips 100000 1000000 --part vocab
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
from pathlib import Path

import polars as pl

sys.path.insert(0, str(Path(__file__).resolve().parent))
from vocab_bench import SIZES, UTS, generate, peak_rss_mb  # noqa: E402  (the same corpus and RSS probe)

REPO = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("UTS_DATA", "/work/shared/data"))
PROJECT_TO = {"paper (361k clips)": 361_000, "AudioSet (2M clips)": 2_000_000}


def audioset_segments(path: Path, n_clips: int, chunk: int = 1_000_000) -> Path:
    """AudioSet's eval segments repeated to ``n_clips`` rows, each repeat with new clip ids."""
    if path.exists():
        return path
    seed = pl.read_csv(DATA / "audioset" / "eval_segments.csv", infer_schema=False)
    tmp = path.with_suffix(".tmp")
    with open(tmp, "wb") as fh:
        fh.write((",".join(seed.columns) + "\n").encode())
        for start in range(0, n_clips, chunk):
            n = min(chunk, n_clips - start)
            rows = pl.int_range(start, start + n, eager=True)
            part = seed[(rows % seed.height).to_list()].with_columns(
                pl.col("YTID") + "~" + (rows // seed.height).cast(pl.Utf8))
            part.write_csv(fh, include_header=False)
    tmp.rename(path)
    return path


def measure(name: str, cmd: list[str], repeats: int) -> dict:
    load = os.getloadavg()[0]
    runs = [peak_rss_mb(cmd) for _ in range(repeats)]
    return {"command": name, "wall_s": statistics.median(s for _, s in runs),
            "peak_mb": max(mb for mb, _ in runs), "runs": [round(s, 1) for _, s in runs],
            "load": f"{load:.1f} / {os.getloadavg()[0]:.1f}"}


def project(rows: list[dict], key: str, n: int) -> float:
    """``key`` at ``n`` clips on the straight line through the two measured sizes nearest ``n``."""
    (n0, y0), (n1, y1) = sorted((r["clips"], r[key]) for r in sorted(rows, key=lambda r: abs(r["clips"] - n))[:2])
    return y0 + (y1 - y0) * (n - n0) / (n1 - n0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--clips", type=int, nargs="+", default=[1_000_000, 10_000_000])
    ap.add_argument("--part", choices=["apply", "vocab", "all"], default="all")
    ap.add_argument("--repeats", type=int, default=1, help="runs per command and size (median wall, max RSS)")
    ap.add_argument("--jsonl", action="store_true", help="apply: also write JSON Lines output")
    ap.add_argument("--workdir", type=Path, default=Path("/tmp/uts-scale-bench"))
    ap.add_argument("--keep", action="store_true", help="keep the generated corpora")
    args = ap.parse_args()
    work = args.workdir
    work.mkdir(parents=True, exist_ok=True)
    results: dict[str, list[dict]] = {}
    try:
        for n in sorted(args.clips):
            if args.part in ("apply", "all"):
                segments = audioset_segments(work / f"segments_{n}.csv", n)
                for fmt in ("parquet", "jsonl") if args.jsonl else ("parquet",):
                    cmd = [UTS, "map", "apply", str(segments), "-m", str(REPO / "mapping" / "audioset.sssom.tsv"),
                           "-o", str(work / f"applied_{n}.{fmt}")]
                    row = measure(f"uts map apply (AudioSet CSV -> {fmt})", cmd, args.repeats)
                    results.setdefault(row["command"], []).append({**row, "clips": n})
                    print(row | {"clips": n}, flush=True)
            if args.part in ("vocab", "all"):
                tags = generate(work / f"llm_tags_{n}.jsonl", n)
                cmd = [UTS, "vocab", "build", str(tags), "--sizes", *SIZES, "--out", str(work / f"vocab_{n}")]
                row = measure("uts vocab build (default)", cmd, args.repeats)
                results.setdefault(row["command"], []).append({**row, "clips": n})
                print(row | {"clips": n}, flush=True)
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)

    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    print(f"\n{cpus} CPUs; wall includes start-up; load = load average before / after the runs")
    print(f"{'command':42s} {'clips':>11s} {'wall s':>8s} {'peak RSS MB':>12s} {'load':>11s}")
    for name, rows in results.items():
        for r in rows:
            print(f"{name:42s} {r['clips']:>11,} {r['wall_s']:8.1f} {r['peak_mb']:12.0f} {r['load']:>11s}")
        measured = {r["clips"] for r in rows}
        if len(rows) >= 2:
            for label, n in ((k, v) for k, v in PROJECT_TO.items() if v not in measured):
                print(f"{name:42s} {n:>11,} {project(rows, 'wall_s', n):8.1f} "
                      f"{project(rows, 'peak_mb', n):12.0f} {'projected':>11s}  ({label})")


if __name__ == "__main__":
    main()
