"""How long `uts ontology site` takes for the whole of UTS, against baselines in the same run.

Reports medians over ``--repeats`` runs of:

* loading the ontology (what every `uts ontology` command does first);
* writing the same files with the same bytes, already rendered (the disk floor);
* the full site build as the command runs it: load, read the shipped SSSOM files, render every
  page, the search index and the statistics plot (target: under 30 s on the 2-core machine).

Usage: ``.venv/bin/python benchmarks/site_bench.py [--repeats 3] [--ontology FILE] [--mappings DIR]``
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

from uts.ontology import load
from uts.serve.site import build_site

REPO = Path(__file__).resolve().parents[1]
TARGET_S = 30.0


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def write_copy(files: list[tuple[Path, bytes]], out: Path) -> None:
    for rel, data in files:
        target = out / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--ontology", type=Path, default=REPO / "ontology" / "uts.ttl")
    parser.add_argument("--mappings", type=Path, action="append", default=None,
                        help="SSSOM folder(s) (default: the shipped mapping/)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--no-plot", action="store_true", help="leave out the statistics plot")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args(argv)
    mappings = args.mappings if args.mappings is not None else [REPO / "mapping"]

    work = Path(tempfile.mkdtemp(prefix="uts-site-bench-"))
    loads, floors, builds = [], [], []
    try:
        summary = None
        for i in range(args.repeats):
            out = work / f"site-{i}"
            loads.append(timed(lambda: load(args.ontology)))
            builds.append(timed(lambda: build_site(load(args.ontology), out, mappings, plot=not args.no_plot)))
            files = [(p.relative_to(out), p.read_bytes()) for p in out.rglob("*") if p.is_file()]
            floors.append(timed(lambda: write_copy(files, work / f"copy-{i}")))
            summary = (len(list((out / "c").glob("*.html"))), len(files), sum(len(d) for _, d in files))
            shutil.rmtree(work / f"copy-{i}")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    load_s, floor_s, build_s = (statistics.median(x) for x in (loads, floors, builds))
    figures = {"concept_pages": summary[0], "files": summary[1], "megabytes": round(summary[2] / 1e6, 1),
               "load_s": load_s, "write_floor_s": floor_s, "build_s": build_s,
               "build_over_load": build_s / load_s, "build_over_write_floor": build_s / floor_s,
               "ms_per_concept_page": 1000 * build_s / summary[0], "target_s": TARGET_S,
               "meets_target": build_s < TARGET_S, "repeats": args.repeats}
    if args.json:
        print(json.dumps(figures, indent=2))
    else:
        print(f"site of {args.ontology}: {summary[0]} concept pages, {summary[1]} files, {figures['megabytes']} MB "
              f"(medians of {args.repeats})")
        print(f"  load the ontology (baseline)        {load_s:7.2f} s")
        print(f"  write the same bytes (disk floor)   {floor_s:7.2f} s")
        print(f"  full site build                     {build_s:7.2f} s  = {figures['build_over_load']:.1f}x load, "
              f"{figures['build_over_write_floor']:.1f}x the disk floor, "
              f"{figures['ms_per_concept_page']:.1f} ms per concept page")
        print(f"  target: under {TARGET_S:g} s -> {'met' if figures['meets_target'] else 'MISSED'}")
    return figures


if __name__ == "__main__":
    main(sys.argv[1:])
    sys.exit(0)
