"""Vocabulary build speed and memory against a plain Python ``Counter`` implementation.

Generates tagged clips (10 tags each, Zipf-distributed over 30,000 tags, JSON Lines as the paper's
step 2 writes them, with repeated tags inside clips, odd casing and empty or failed lines: see
:func:`generate`), then times whole commands as subprocesses, start-up included, interleaved
``--repeats`` times, and prints medians:

- baseline: ``json.loads`` per line, ``Counter`` of each clip's set of tags, sort by the formula;
- ``uts vocab build ... --ontology none --no-plot``: the same job (paper mode, tag strings only);
- ``uts vocab build ...``: the default (resolve every tag against UTS, concept vocabularies, plot).

Rankings must be identical. A second file (``--memory-clips``, default 10,000,000) measures the
peak resident memory of ``uts vocab build`` (``ru_maxrss`` of the child process).

    .venv/bin/python benchmarks/vocab_bench.py                 # 1M timing + 10M memory
    .venv/bin/python benchmarks/vocab_bench.py --memory-clips 0  # timing only
    .venv/bin/python benchmarks/vocab_bench.py --parquet         # also on a Parquet copy
    .venv/bin/python benchmarks/vocab_bench.py --concept         # also --unit concept memory
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import polars as pl

REPO = Path(__file__).resolve().parents[1]
UTS = str(Path(sys.executable).with_name("uts"))
SIZES = ["800", "1000", "1500", "2000", "3000"]

BASELINE = r'''
import json, math, sys
from collections import Counter
df, n = Counter(), 0
with open(sys.argv[1], encoding="utf-8") as fh:
    for line in fh:
        if not line.strip():
            continue
        n += 1
        df.update({t.strip().lower() for t in json.loads(line).get("tags") or [] if t.strip()})
ranked = sorted(df, key=lambda t: (-df[t] * math.log((n + 1) / (df[t] + 1)), t))
json.dump(ranked, open(sys.argv[2], "w"))
for size in (800, 1000, 1500, 2000, 3000):
    json.dump({str(i): t for i, t in enumerate(ranked[:size])}, open(f"{sys.argv[2]}.{size}.json", "w"))
'''

# The same Counter logic on Parquet input (rows read with polars, counted in Python).
BASELINE_PARQUET = r'''
import json, math, sys
from collections import Counter
import polars as pl
df, n = Counter(), 0
for tags in pl.read_parquet(sys.argv[1], columns=["tags"])["tags"].to_list():
    n += 1
    df.update({t.strip().lower() for t in tags or [] if t.strip()})
ranked = sorted(df, key=lambda t: (-df[t] * math.log((n + 1) / (df[t] + 1)), t))
json.dump(ranked, open(sys.argv[2], "w"))
'''

PEAK_RSS = r'''
import resource, subprocess, sys
rc = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL).returncode
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, rc)
'''


def generate(path: Path, n_clips: int, n_tags: int = 30_000, per_clip: int = 10, seed: int = 0,
             chunk: int = 1_000_000, real: list[str] = ()) -> Path:
    """Write ``n_clips`` JSON lines ``{"id", "tags"}`` with real LLM output's awkward traits.

    Tags are drawn with p(rank r) ~ 1/r, and drawn independently, so frequent tags repeat inside a
    clip (about one clip in three has a repeat); 10% of the clips spell a tag with odd casing
    or stray spaces (``Rain``, ``RAIN``, `` rain``; they must count as ``rain``), and every 1,000th
    line is what a failed or empty extraction leaves: a blank line, ``"tags": []`` with an
    ``"error"``, or ``"tags": null``. (Lines that are not JSON at all stop ``uts vocab build``
    with file and line number, as they should, so they cannot be part of a timing corpus.)
    ``real`` tag names (e.g. UTS labels) replace the first of the synthetic ones, at random ranks."""
    if path.exists():
        return path
    rng = np.random.default_rng(seed)
    p = 1.0 / np.arange(1, n_tags + 1)
    p /= p.sum()
    pool = list(real)[:n_tags] + [f"tag{i:05d}" for i in range(n_tags - min(len(real), n_tags))]
    names = pl.Series([pool[i] for i in rng.permutation(n_tags)])
    odd = pl.Series([[t.title(), t.upper(), f" {t}", f"{t} "][i % 4] for i, t in enumerate(names)])
    broken = ['{"id":"clip%d","tags":[],"concept_ids":[],"error":"no JSON list of tags in the answer"}',
              '', '{"id":"clip%d","tags":null}']
    tmp = path.with_suffix(".tmp")
    with open(tmp, "wb") as fh:
        for start in range(0, n_clips, chunk):
            n = min(chunk, n_clips - start)
            idx = rng.choice(n_tags, size=(n, per_clip), p=p).ravel()
            flat = names.gather(idx)
            oddly = rng.random(n * per_clip) < 0.01  # ~10% of the clips have one such tag
            flat = pl.select(pl.when(pl.lit(oddly)).then(odd.gather(idx)).otherwise(flat)).to_series()
            ids = "clip" + pl.int_range(start, start + n, eager=True).cast(pl.Utf8)
            frame = pl.DataFrame({"id": ids, "tags": flat.reshape((n, per_clip))})
            lines = frame.with_columns(pl.col("tags").arr.to_list()).write_ndjson().splitlines()
            for k in range(999, n, 1000):
                template = broken[(start + k) // 1000 % len(broken)]
                lines[k] = template % (start + k) if "%d" in template else template
            fh.write(("\n".join(lines) + "\n").encode())
    tmp.rename(path)
    return path


def timed(cmd: list[str]) -> tuple[float, float]:
    """Wall seconds and CPU seconds (user + system, all threads) of one run of ``cmd``."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def peak_rss_mb(cmd: list[str]) -> tuple[float, float]:
    start = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", PEAK_RSS, *cmd], check=True, capture_output=True, text=True)
    kb, rc = out.stdout.split()
    if rc != "0":
        raise SystemExit(f"command failed: {' '.join(cmd)}")
    return int(kb) / 1024, time.perf_counter() - start


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--clips", type=int, default=1_000_000)
    ap.add_argument("--memory-clips", type=int, default=10_000_000)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--parquet", action="store_true", help="also time both on a Parquet copy of the data")
    ap.add_argument("--concept", action="store_true", help="also measure --unit concept memory on clips whose "
                    "tags include labels of the default ontology")
    ap.add_argument("--workdir", type=Path, default=Path(tempfile.gettempdir()) / "uts-vocab-bench")
    args = ap.parse_args()
    work = args.workdir
    work.mkdir(parents=True, exist_ok=True)
    data = generate(work / f"llm_tags_{args.clips}.jsonl", args.clips)
    print(f"data: {args.clips:,} clips, {data.stat().st_size / 1e6:.0f} MB ({data})")

    base_out = work / "baseline_ranking.json"
    commands = {
        "baseline (Counter)": [sys.executable, "-c", BASELINE, str(data), str(base_out)],
        "uts vocab build --ontology none --no-plot": [UTS, "vocab", "build", str(data), "--sizes", *SIZES,
                                                      "--out", str(work / "paper"), "--ontology", "none", "--no-plot"],
        "uts vocab build (default)": [UTS, "vocab", "build", str(data), "--sizes", *SIZES, "--out", str(work / "full")],
    }
    if args.parquet:
        pq = work / f"llm_tags_{args.clips}.parquet"
        if not pq.exists():
            pl.read_ndjson(data, schema={"id": pl.Utf8, "tags": pl.List(pl.Utf8)}).write_parquet(pq)
        commands["baseline (Counter), Parquet input"] = [sys.executable, "-c", BASELINE_PARQUET, str(pq),
                                                         str(work / "baseline_parquet.json")]
        commands["uts vocab build --ontology none --no-plot, Parquet"] = [
            UTS, "vocab", "build", str(pq), "--sizes", *SIZES, "--out", str(work / "paper_pq"),
            "--ontology", "none", "--no-plot"]
    times: dict[str, list[float]] = {k: [] for k in commands}
    cpu: dict[str, list[float]] = {k: [] for k in commands}
    load_before = f"{os.getloadavg()[0]:.1f}"
    for _ in range(args.repeats):  # interleaved, so machine load hits all alike
        for name, cmd in commands.items():
            wall, used = timed(cmd)
            times[name].append(wall)
            cpu[name].append(used)
    expected = json.loads(base_out.read_text())
    for out in ("paper", "full"):
        got = pl.read_csv(work / out / "ranking.csv", schema_overrides={"item": pl.Utf8})["item"].to_list()
        if got != expected:
            raise SystemExit(f"ranking of {out} differs from the baseline")
        for size in SIZES:
            name = f"label_{int(size) / 1000:g}k.json" if int(size) >= 1000 else f"label_{size}.json"
            ours = json.loads((work / out / name).read_text())
            if ours != json.loads(Path(f"{base_out}.{size}.json").read_text()):
                raise SystemExit(f"{out}/{name} differs from the baseline's top {size}")
    if args.parquet:
        got = pl.read_csv(work / "paper_pq" / "ranking.csv", schema_overrides={"item": pl.Utf8})["item"].to_list()
        if got != expected or json.loads((work / "baseline_parquet.json").read_text()) != expected:
            raise SystemExit("Parquet rankings differ from the JSON Lines baseline")
    print("rankings identical (all 30,000 tags, and every label_<size>.json)")
    print(f"load average before/after: {load_before} / {os.getloadavg()[0]:.1f} (2-core machine: above 2 means contention)")
    print(f"{'command':52s} {'wall s':>7s} {'runs':>18s} {'speed-up':>8s} {'cpu s':>6s}")
    for name, ts in times.items():
        ref = "baseline (Counter), Parquet input" if "Parquet" in name else "baseline (Counter)"
        base, med = statistics.median(times[ref]), statistics.median(ts)
        print(f"{name:52s} {med:7.2f} {' '.join(f'{t:.2f}' for t in ts):>18s} {base / med:7.1f}x "
              f"{statistics.median(cpu[name]):6.2f}")

    if args.memory_clips:
        big = generate(work / f"llm_tags_{args.memory_clips}.jsonl", args.memory_clips)
        print(f"\nmemory: {args.memory_clips:,} clips, {big.stat().st_size / 1e9:.2f} GB")
        for label, extra in (("--ontology none --no-plot", ["--ontology", "none", "--no-plot"]), ("default", [])):
            mb, secs = peak_rss_mb([UTS, "vocab", "build", str(big), "--sizes", *SIZES,
                                    "--out", str(work / "big"), *extra])
            print(f"uts vocab build {label:28s} peak RSS {mb:8.0f} MB   wall {secs:6.1f} s")
        if args.concept:
            from uts.ontology import load

            labels = sorted({c.label.lower() for c in load().active()})[:3000]
            mixed = generate(work / f"llm_tags_{args.memory_clips}_uts.jsonl", args.memory_clips, seed=1, real=labels)
            mb, secs = peak_rss_mb([UTS, "vocab", "build", str(mixed), "--sizes", *SIZES, "--unit", "concept",
                                    "--out", str(work / "big")])
            print(f"uts vocab build --unit concept ({len(labels)} of the 30,000 tags are UTS labels) "
                  f"peak RSS {mb:8.0f} MB   wall {secs:6.1f} s")
    shutil.rmtree(work / "big", ignore_errors=True)


if __name__ == "__main__":
    main()
