"""Lhotse Shar against one file per clip: loading throughput, and what an export costs.

1. **Loading** — the same clips through ``uts train``'s two loaders, both with 2 DataLoader
   workers, batch 32, 16 kHz, 10 s crops (the base recipe): one WAV file per clip (flat
   manifest: ``ClipDataset`` + ``DurationBatchSampler``) and Shar shards of 100 clips
   (``make_shar_loader``, one pass; FLAC, and WAV). Clips/s over whole passes, rounds alternate
   between the loaders so they share the machine's noise; medians and the ratio to the baseline.
2. **Export** — ``uts shar export`` as its own process on N clips (FLAC, shards of 1000): wall
   seconds, clips/s and peak resident memory of that process, at two sizes; the marginal rate
   and memory slope between them project linearly to the paper's 361k clips and AudioSet's 2M.

3. **Reading cut manifests** — ``uts.cuts.read_cuts`` (lhotse's ``CutSet.from_jsonl_lazy``, the
   path of ``uts map apply`` and ``data.alignment`` on Lhotse input) against a plain
   ``json.loads`` loop pulling the same fields (what the hand-written reader it replaced did),
   on the same paper-shaped cuts; both must give the same rows.

The corpus has real data's awkward traits: durations 5-10 s, a tenth of the files stereo at
44.1 kHz (resampled and mixed down when loaded), clip ids that do not follow file order. The
export rows reuse the loading corpus's files (distinct ids), so export reads warm files; the
loading figures are warm-cache too (the files fit in memory), i.e. they measure decoding and
batching, not a cold disk or a network file system, where Shar's sequential reads matter most.

Prints one JSON line. Usage: .venv/bin/python benchmarks/shar_bench.py [--clips 1000]
[--rounds 3] [--export-clips 2000 8000] [--read-cuts 50000] [--no-loading]
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

import numpy as np
import polars as pl
import soundfile as sf

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from uts.cuts import CUT_SCHEMA, export_shar, read_cuts  # noqa: E402
from uts.training.data import (ClipDataset, LabelSpace, make_loader, make_shar_loader, read_manifest,  # noqa: E402
                               read_shar, validate_manifest)

REPO = Path(__file__).resolve().parents[1]
# Runs a command and prints its wall seconds and the peak RSS (MiB) of the child, alone.
MEASURE = ("import resource, subprocess, sys, time; t = time.perf_counter(); "
           "rc = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL).returncode; "
           "print(rc, time.perf_counter() - t, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024)")


def write_corpus(folder: Path, n: int, seed: int = 0) -> Path:
    """``n`` WAV files (tones + noise, 5-10 s) and their flat manifest with a few labels each."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    rows = []
    for i in rng.permutation(n):
        stereo = rng.random() < 0.1
        sr = 44100 if stereo else 16000
        t = np.arange(int(rng.uniform(5, 10) * sr)) / sr
        x = (0.3 * np.sin(2 * np.pi * rng.uniform(100, 2000) * t) + 0.02 * rng.standard_normal(len(t))).astype(np.float32)
        path = folder / f"clip{i:06d}.wav"
        sf.write(path, np.stack([x, 0.5 * x], axis=1) if stereo else x, sr, subtype="PCM_16")
        labels = [f"UTS:{int(k):07d}" for k in rng.choice(40, size=int(rng.integers(1, 4)), replace=False)]
        rows.append({"id": f"c{i:06d}", "audio_path": path.name, "labels": labels, "caption": f"clip {i}"})
    manifest = folder / "manifest.jsonl"
    pl.DataFrame(rows).write_ndjson(manifest)
    return manifest


def loading(manifest: Path, shars: dict[str, Path], rounds: int, batch: int = 32, workers: int = 2) -> dict:
    df, _ = validate_manifest(read_manifest(manifest))  # fills durations, as uts train does
    space = LabelSpace.from_manifest(df)
    flat = ClipDataset(df, space, sample_rate=16000, clip_seconds=10.0, train=True)
    shar_clips = {name: ClipDataset(read_shar(path), space, sample_rate=16000, clip_seconds=10.0, train=True)
                  for name, path in shars.items()}

    def one_pass(name: str, epoch: int) -> float:
        if name == "files":
            loader = make_loader(flat, batch_size=batch, num_workers=workers, seed=0, epoch=epoch, num_buckets=1)
        else:
            loader = make_shar_loader(shars[name], shar_clips[name], batch_size=batch, num_workers=workers,
                                      seed=0, epoch=epoch, endless=False)
        start, clips = time.perf_counter(), 0
        for b in loader:
            clips += len(b["id"])
        assert clips == len(flat), (name, clips)
        return clips / (time.perf_counter() - start)

    rates: dict[str, list[float]] = {name: [] for name in ["files", *shars]}
    for r in range(rounds):
        for name in rates:
            rates[name].append(one_pass(name, r))
    med = {name: statistics.median(v) for name, v in rates.items()}
    return {"clips": len(flat), "batch": batch, "workers": workers, "rounds": rounds,
            "clips_per_s": {k: round(v, 1) for k, v in med.items()},
            "all_rounds": {k: [round(x, 1) for x in v] for k, v in rates.items()},
            "ratio_vs_files": {k: round(v / med["files"], 2) for k, v in med.items() if k != "files"}}


def export_cost(manifest: Path, work: Path, sizes: list[int]) -> dict:
    base = pl.read_ndjson(manifest).with_columns(
        pl.col("audio_path").map_elements(lambda p: str(manifest.parent / p), return_dtype=pl.Utf8))
    uts = str(Path(sys.executable).with_name("uts"))
    runs = []
    for n in sizes:
        rows = pl.concat([base] * (n // base.height + 1)).head(n).with_row_index("k").with_columns(
            (pl.col("id") + "_" + pl.col("k").cast(pl.Utf8)).alias("id")).drop("k")
        src = work / f"export_{n}.jsonl"
        rows.write_ndjson(src)
        out = work / f"shar_{n}"
        proc = subprocess.run([sys.executable, "-c", MEASURE, uts, "shar", "export", str(src), "--out", str(out),
                               "--shard-size", "1000"], capture_output=True, text=True, check=True)
        rc, seconds, peak = proc.stdout.split()
        assert rc == "0", proc.stderr
        size = sum(p.stat().st_size for p in out.iterdir())
        audio_h = float(rows.height) * 7.5 / 3600  # mean duration of the corpus (uniform 5-10 s)
        runs.append({"clips": n, "seconds": round(float(seconds), 1), "clips_per_s": round(n / float(seconds), 1),
                     "peak_rss_mib": round(float(peak), 1), "shar_mib": round(size / 2**20, 1),
                     "approx_audio_hours": round(audio_h, 2)})
        for p in out.iterdir():
            p.unlink()
        out.rmdir()
    # the marginal rate between the two sizes leaves out the process's fixed start-up (imports)
    first, last = runs[0], runs[-1]
    rate = ((last["clips"] - first["clips"]) / (last["seconds"] - first["seconds"])
            if last["clips"] > first["clips"] and last["seconds"] > first["seconds"] else last["clips_per_s"])
    slope = ((runs[-1]["peak_rss_mib"] - runs[0]["peak_rss_mib"]) / (runs[-1]["clips"] - runs[0]["clips"])
             if len(runs) > 1 and runs[-1]["clips"] != runs[0]["clips"] else 0.0)
    projection = {f"{n:,}": {"hours": round(n / rate / 3600, 1),
                             "peak_rss_mib": round(runs[-1]["peak_rss_mib"] + slope * (n - runs[-1]["clips"]))}
                  for n in (361_000, 2_000_000)}
    return {"runs": runs, "marginal_clips_per_s": round(rate, 1), "rss_mib_per_1k_clips": round(slope * 1000, 2),
            "projection_one_process": projection}


def plain_read(path: Path) -> pl.DataFrame:
    """The baseline: json.loads per line and the fields read by hand (no Lhotse objects)."""
    rows = []
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            cut = json.loads(line)
            custom = cut["supervisions"][0].get("custom") or {}
            rows.append({"id": cut["id"], "audio_path": cut["recording"]["sources"][0]["source"],
                         "start": float(cut["start"]), "duration": float(cut["duration"]),
                         "caption": custom.get("caption"), "audio_tag": list(custom.get("audio_tag") or [])})
    return pl.DataFrame(rows, schema=CUT_SCHEMA)


def cut_reading(work: Path, n: int, rounds: int) -> dict:
    sys.path.insert(0, str(REPO / "tests"))
    from _lhotse_helpers import paper_cut

    path = work / "cuts.jsonl"
    tags = [["dog", "Rain", "dog"], ["piano"], ["Engine", "siren", "traffic noise", "horn"]]
    with open(path, "w", encoding="utf-8") as fh:
        for i in range(n):
            fh.write(json.dumps(paper_cut(f"cut{i:07d}", f"/data/{i}.flac", tags[i % 3], f"caption {i}",
                                          duration=10.0)) + "\n")
    rates: dict[str, list[float]] = {"json_loads": [], "lhotse": []}
    for _ in range(rounds):
        for name, fn in (("json_loads", plain_read), ("lhotse", read_cuts)):
            start = time.perf_counter()
            frame = fn(path)
            rates[name].append(n / (time.perf_counter() - start))
            assert frame.height == n
    assert read_cuts(path).equals(plain_read(path))
    med = {k: statistics.median(v) for k, v in rates.items()}
    return {"cuts": n, "cuts_per_s": {k: round(v) for k, v in med.items()},
            "lhotse_vs_json_loads": round(med["lhotse"] / med["json_loads"], 2)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--clips", type=int, default=1000, help="clips in the loading comparison")
    ap.add_argument("--rounds", type=int, default=3, help="passes per loader (alternating)")
    ap.add_argument("--export-clips", type=int, nargs="*", default=[2000, 8000],
                    help="export sizes (two give the memory slope); none: skip the export figures")
    ap.add_argument("--read-cuts", type=int, default=50000, help="cuts in the manifest-reading comparison (0: skip)")
    ap.add_argument("--no-loading", action="store_true", help="skip the loading comparison")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="shar-bench-") as tmp:
        work = Path(tmp)
        result = {"bench": "shar", "load_average": [round(x, 2) for x in os.getloadavg()]}
        reading = cut_reading(work, args.read_cuts, args.rounds) if args.read_cuts else None
        manifest = write_corpus(work / "corpus", args.clips)
        if not args.no_loading:
            shars = {f"shar_{fmt}": export_shar(manifest, work / f"shar_{fmt}", audio_format=fmt,
                                                shard_size=max(1, min(100, args.clips // 8))).out
                     for fmt in ("flac", "wav")}
            result["loading"] = loading(manifest, shars, args.rounds)
        if reading:
            result["reading_cuts"] = reading
        if args.export_clips:
            result["export"] = export_cost(manifest, work, sorted(args.export_clips))
        result["load_average_end"] = [round(x, 2) for x in os.getloadavg()]
    print(json.dumps(result))


if __name__ == "__main__":
    main()
