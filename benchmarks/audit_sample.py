"""Draw the random samples a taxonomy audit judges by hand (docs/taxonomy-rules.md).

Prints N random parent edges (child -> parent, each with both definitions, over active concepts)
and M random concepts that have synonyms (with their synonyms), numbered, from a seed chosen at
audit time. A person judges each edge under the closure rule (true / debatable / false) and each
concept's synonyms (all right / one debatable / one names a different idea); the rates go into
docs/uts-1.1.md with the seed, so the audit can be re-drawn exactly.

Usage: .venv/bin/python benchmarks/audit_sample.py --seed SEED [--edges 150] [--concepts 150]
       [--ontology ontology/uts.ttl] [--tsv out.tsv]
"""

from __future__ import annotations

import argparse
import csv
import random
import sys
from pathlib import Path

from uts.ontology import load


def draw(onto, seed: int, n_edges: int, n_concepts: int):
    rng = random.Random(seed)
    edges = sorted((c.id, p) for c in onto.active() for p in c.parents)
    with_synonyms = sorted(c.id for c in onto.active() if c.synonyms)
    return rng.sample(edges, min(n_edges, len(edges))), rng.sample(with_synonyms, min(n_concepts, len(with_synonyms)))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seed", type=int, required=True)
    ap.add_argument("--edges", type=int, default=150)
    ap.add_argument("--concepts", type=int, default=150)
    ap.add_argument("--ontology", type=Path, default=None)
    ap.add_argument("--tsv", type=Path, default=None, help="also write a judging sheet here")
    args = ap.parse_args(argv)
    onto = load(args.ontology)
    edges, concepts = draw(onto, args.seed, args.edges, args.concepts)
    total_edges = sum(len(c.parents) for c in onto.active())
    print(f"# seed {args.seed}: {len(edges)} of {total_edges} edges, {len(concepts)} concepts with synonyms")
    rows = []
    for i, (child, parent) in enumerate(edges, 1):
        c, p = onto.concepts[child], onto.concepts[parent]
        print(f"E{i:03d} {c.label} -> {p.label}\n      child: {c.definition}\n      parent: {p.definition}")
        rows.append(["edge", f"E{i:03d}", child, c.label, parent, p.label, ""])
    for i, cid in enumerate(concepts, 1):
        c = onto.concepts[cid]
        print(f"S{i:03d} {c.label}: {' ; '.join(c.synonyms)}\n      def: {c.definition}")
        rows.append(["synonyms", f"S{i:03d}", cid, c.label, "", " ; ".join(c.synonyms), ""])
    if args.tsv:
        with open(args.tsv, "w", newline="", encoding="utf-8") as fh:
            w = csv.writer(fh, delimiter="\t", lineterminator="\n")
            w.writerow(["kind", "n", "id", "label", "parent_id", "parent_label_or_synonyms", "judgement"])
            w.writerows(rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
