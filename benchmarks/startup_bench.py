"""Start-up cost of light commands: this checkout against a baseline git ref, in the same run.

Each command runs as a fresh ``python -m uts.cli.main ...`` process (start-up included), the
baseline and this checkout interleaved so that load on the machine hits both alike; medians of
``--runs``. The baseline is the ref's tree (``git archive``) put first on ``PYTHONPATH``.

    python benchmarks/startup_bench.py --baseline main --runs 9
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from io import BytesIO
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
COMMANDS = {
    "uts --help": ["--help"],
    "uts ontology validate": ["ontology", "validate"],
    "uts ontology lookup drums": ["ontology", "lookup", "drums"],
}


def checkout(ref: str, into: Path) -> Path:
    data = subprocess.run(["git", "-C", str(REPO), "archive", ref], check=True, capture_output=True).stdout
    with tarfile.open(fileobj=BytesIO(data)) as tar:
        tar.extractall(into, filter="data")
    return into


def wall(root: Path, args: list[str]) -> float:
    env = {**os.environ, "PYTHONPATH": str(root)}
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "uts.cli.main", *args], cwd=root, env=env,
                          capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if done.returncode:
        raise SystemExit(f"{root}: uts {' '.join(args)} failed: {done.stderr.strip()[-300:]}")
    return elapsed


def modules_loaded(root: Path, args: list[str]) -> int:
    """How many modules the command imports (``-X importtime`` rows): a count that load on the
    machine cannot blur."""
    env = {**os.environ, "PYTHONPATH": str(root)}
    done = subprocess.run([sys.executable, "-X", "importtime", "-m", "uts.cli.main", *args], cwd=root,
                          env=env, capture_output=True, text=True)
    return sum(line.startswith("import time:") for line in done.stderr.splitlines()) - 1


def import_cost(root: Path) -> tuple[float, int]:
    """Cumulative import time of ``uts.cli.main`` (``-X importtime``, seconds) and modules loaded."""
    env = {**os.environ, "PYTHONPATH": str(root)}
    done = subprocess.run([sys.executable, "-X", "importtime", "-c", "import uts.cli.main"], cwd=root,
                          env=env, capture_output=True, text=True, check=True)
    rows = [line.split("|") for line in done.stderr.splitlines() if line.startswith("import time:")][1:]
    total = next(int(r[1]) for r in rows if r[2].strip() == "uts.cli.main")
    return total / 1e6, len(rows)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--baseline", default="main", help="git ref to compare against (default: main)")
    ap.add_argument("--runs", type=int, default=9, help="runs per command and side (default: 9)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        sides = {args.baseline: checkout(args.baseline, Path(tmp)), "this checkout": REPO}
        print(f"{'command':28} {args.baseline + ' (s)':>12} {'this (s)':>10} {'ratio':>7}   modules loaded "
              f"(wall: medians of {args.runs})")
        for name, cli_args in COMMANDS.items():
            times = {side: [] for side in sides}
            for _ in range(args.runs):
                for side, root in sides.items():
                    times[side].append(wall(root, cli_args))
            base, this = (statistics.median(t) for t in times.values())
            mods = [modules_loaded(root, cli_args) for root in sides.values()]
            print(f"{name:28} {base:12.3f} {this:10.3f} {this / base:7.2f}   {mods[0]} -> {mods[1]}")
        costs = {side: [import_cost(root) for _ in range(args.runs)] for side, root in sides.items()}
        base, this = (statistics.median(c[0] for c in v) for v in costs.values())
        mods = [v[0][1] for v in costs.values()]
        print(f"{'import uts.cli.main':28} {base:12.3f} {this:10.3f} {this / base:7.2f}   "
              f"{mods[0]} -> {mods[1]} (-X importtime's own total)")


if __name__ == "__main__":
    main()
