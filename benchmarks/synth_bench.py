"""How fast `uts synth` writes a corpus, against real time (the baseline: seconds of audio per
second of wall clock) and against the requirement "200 clips of 2 s well under a minute".

Runs the shipped ontology with skip_missing_labels (so it works before and after UTS 1.0) for
each speech backend available, three repeats each, and prints one JSON line per backend with the
median wall time, the speed relative to real time, the share spent building the espeak-ng
utterance pool, and how many generators the ontology let through.

    .venv/bin/python benchmarks/synth_bench.py [--clips 200] [--seconds 2.0] [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

from uts.ontology import load
from uts.synth import corpus as S


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--clips", type=int, default=200)
    ap.add_argument("--seconds", type=float, default=2.0)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    onto = load()
    backends = ["numpy"] + (["espeak"] if S.espeak_available() else [])
    for backend in backends:
        walls, pools = [], []
        for rep in range(args.repeats):
            t0 = time.perf_counter()
            S.SpeechPool.build(16000, backend, seed=rep)
            pools.append(time.perf_counter() - t0)
            with tempfile.TemporaryDirectory() as tmp:
                cfg = S.SynthConfig(n=args.clips, seconds=args.seconds, seed=rep, speech_backend=backend,
                                    skip_missing_labels=True)
                t0 = time.perf_counter()
                result = S.synthesize(Path(tmp) / "c", onto, cfg)
                walls.append(time.perf_counter() - t0)
        wall = statistics.median(walls)
        audio = args.clips * args.seconds
        print(json.dumps({
            "backend": backend, "clips": args.clips, "clip_seconds": args.seconds,
            "median_wall_s": round(wall, 2), "x_realtime": round(audio / wall, 1),
            "ms_per_clip": round(1000 * wall / args.clips, 1),
            "speech_pool_s": round(statistics.median(pools), 2),
            "source_concepts": len(set(result.labels.values())), "skipped_label_keys": len(result.skipped_keys),
        }))


if __name__ == "__main__":
    main()
