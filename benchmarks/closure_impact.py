"""Closure impact of a UTS release on real labels: AudioSet's eval segments under two releases.

Each clip's AudioSet labels are mapped onto UTS through the shipped alignment
(``mapping/audioset.sssom.tsv``, the same rows ``uts map apply`` uses: exact, close and broad
matches) and closed over the ancestors of each release. The (clip, concept) positives of the two
closures are then compared:

* **moved** — a positive on a concept the new release deprecated whose replacement is positive
  for the same clip in the new release (the label survives under its new id);
* **removed** — a positive of the old release that the new one no longer gives (mostly a broken
  edge taken away: a cough is no longer "speech");
* **added** — a positive the new release gives that the old one did not (a new true parent, a
  per-source concept) and that is not the far end of a move.

Counts are per root (a concept under two roots counts under both; the ``all`` row counts each
positive once). The old alignment is the new one read back through the new release's
replacements (an object that is new in the new release and replaces an old concept maps to that
old concept), unless ``--old-mapping`` gives the old file itself.

Usage (from the repository root)::

    .venv/bin/python benchmarks/closure_impact.py \\
        [--segments ../shared/data/audioset/eval_segments.csv] \\
        [--old ontology/releases/uts-1.0.0.ttl] [--new ontology/releases/uts-1.1.0.ttl] \\
        [--mapping mapping/audioset.sssom.tsv] [--old-mapping FILE] [--json out.json] [--examples 5]
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter, defaultdict
from pathlib import Path

from uts.mapping.apply import (label_combinations, mapping_table, read_audioset_segments,
                               resolve_combinations)
from uts.mapping.labelsets import from_ontology
from uts.mapping.sssom import read_sssom
from uts.ontology import Ontology, load

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_SEGMENTS = ROOT.parent / "shared" / "data" / "audioset" / "eval_segments.csv"


def back_migrate(table: dict[str, str], old: Ontology, new: Ontology) -> dict[str, str]:
    """The alignment as it stood for ``old``: an object the old release lacks is sent back to
    the old concept it replaces (the one whose new-release replacements include it)."""
    replaces: dict[str, str] = {}
    for c in new.concepts.values():
        if c.deprecated and c.id in old.concepts and not old.concepts[c.id].deprecated:
            for r in new.current_ids(c.id):
                replaces.setdefault(r, c.id)
    out = {}
    for subject, obj in table.items():
        if obj in old.concepts and not old.concepts[obj].deprecated:
            out[subject] = obj
        elif obj in replaces:
            out[subject] = replaces[obj]
    return out


def positives(combos, table: dict[str, str], onto: Ontology) -> list[set[str]]:
    """Per label combination: the closed set of concepts (labels plus ancestors)."""
    target = from_ontology(onto)
    ancestors = {i: sorted(target.ancestors(i)) for i in set(table.values()) if i in target}
    resolved = resolve_combinations(combos, table, ancestors)
    return [set(a) | set(b) for a, b in zip(resolved["labels"].to_list(), resolved["inferred"].to_list())]


def roots_of(onto: Ontology) -> dict[str, list[str]]:
    """concept id -> labels of the parentless active concepts above it (itself if a root)."""
    top = {r for r in onto.roots()}
    out = {}
    for c in onto.active():
        mine = sorted(onto.concepts[r].label for r in (onto.ancestors(c.id) | {c.id}) & top)
        out[c.id] = mine or ["(orphan)"]
    return out


def compare(combos, old_sets, new_sets, old: Ontology, new: Ontology, examples: int) -> dict:
    old_roots, new_roots = roots_of(old), roots_of(new)
    counts = defaultdict(Counter)  # root -> Counter(kind)
    per_concept = {k: Counter() for k in ("removed", "added", "moved")}
    sample = {k: [] for k in per_concept}
    ns = combos["n"].to_list()
    keys = combos["source_labels"].to_list()
    for n, src, a, b in zip(ns, keys, old_sets, new_sets):
        moved_to: set[str] = set()
        for cid in sorted(a - b):
            repl = set(new.current_ids(cid)) if cid in new.concepts and new.concepts[cid].deprecated else set()
            if repl and repl <= b:
                kind, moved_to = "moved", moved_to | repl
            else:
                kind = "removed"
            for r in old_roots.get(cid, ["(orphan)"]):
                counts[r][kind] += n
            counts["all"][kind] += n
            per_concept[kind][cid] += n
            if len(sample[kind]) < examples and src:
                sample[kind].append({"labels": src[:4], "concept": f"{cid} {old.concepts[cid].label}"})
        for cid in sorted(b - a - moved_to):
            for r in new_roots.get(cid, ["(orphan)"]):
                counts[r]["added"] += n
            counts["all"]["added"] += n
            per_concept["added"][cid] += n
            if len(sample["added"]) < examples and src:
                sample["added"].append({"labels": src[:4], "concept": f"{cid} {new.concepts[cid].label}"})
    totals_old = sum(n * len(s) for n, s in zip(ns, old_sets))
    totals_new = sum(n * len(s) for n, s in zip(ns, new_sets))
    label = lambda cid: (new.concepts.get(cid) or old.concepts[cid]).label  # noqa: E731
    top = {k: [(f"{cid} {label(cid)}", v) for cid, v in per_concept[k].most_common(10)] for k in per_concept}
    return {"clips": int(sum(ns)), "positives_old": totals_old, "positives_new": totals_new,
            "per_root": {r: dict(c) for r, c in sorted(counts.items())}, "top_concepts": top,
            "examples": sample}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--segments", type=Path, default=DEFAULT_SEGMENTS)
    ap.add_argument("--old", type=Path, default=ROOT / "ontology/releases/uts-1.0.0.ttl")
    ap.add_argument("--new", type=Path, default=ROOT / "ontology/releases/uts-1.1.0.ttl")
    ap.add_argument("--mapping", type=Path, default=ROOT / "mapping/audioset.sssom.tsv")
    ap.add_argument("--old-mapping", type=Path, default=None,
                    help="the alignment as shipped with the old release (default: read back)")
    ap.add_argument("--json", type=Path, default=None, help="also write the full result here")
    ap.add_argument("--examples", type=int, default=3)
    args = ap.parse_args(argv)
    for p in (args.segments, args.old, args.new, args.mapping):
        if not p.exists():
            print(f"error: {p} not found", file=sys.stderr)
            return 1
    old, new = load(args.old), load(args.new)
    new_table = mapping_table(read_sssom(args.mapping))
    old_table = (mapping_table(read_sssom(args.old_mapping)) if args.old_mapping
                 else back_migrate(new_table, old, new))
    combos = label_combinations(read_audioset_segments(args.segments))
    result = compare(combos, positives(combos, old_table, old), positives(combos, new_table, new),
                     old, new, args.examples)
    result.update(segments=str(args.segments), old=str(args.old), new=str(args.new),
                  mapped_classes={"old": len(old_table), "new": len(new_table)})
    print(f"AudioSet segments: {args.segments.name}, {result['clips']} clips; alignment rows applied: "
          f"{len(old_table)} (old), {len(new_table)} (new)")
    print(f"(clip, concept) positives after closure: {result['positives_old']} under {args.old.name}, "
          f"{result['positives_new']} under {args.new.name} "
          f"({result['positives_new'] / max(1, result['positives_old']):.3f}x)")
    print(f"\n| root | removed | added | moved |\n|---|---:|---:|---:|")
    for root, c in result["per_root"].items():
        if root != "all":
            print(f"| {root} | {c.get('removed', 0)} | {c.get('added', 0)} | {c.get('moved', 0)} |")
    c = result["per_root"].get("all", {})
    print(f"| **all (each positive once)** | {c.get('removed', 0)} | {c.get('added', 0)} | {c.get('moved', 0)} |")
    for kind, rows in result["top_concepts"].items():
        if rows:
            print(f"\nmost {kind}: " + "; ".join(f"{name} ({n})" for name, n in rows[:6]))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
