"""How often does embedding similarity resolve a tag to the right UTS concept when no label,
synonym or lemma names it?

Gold: the curated alignment of the paper's 3k vocabulary (``mapping/uts-paper.sssom.tsv``, every
row reviewed). Tags that UTS names lexically are left out (they never reach the embedding step);
for the rest, the nearest concept label by the bundled MiniLM is compared with the curated target
(a curated ``sssom:NoTermFound`` means the right answer is no concept). Printed per cosine
threshold and ambiguity margin (best minus runner-up concept), for single words and longer
phrases separately — the evidence behind ``EmbeddingMatcher(min_words=2)``.

    .venv/bin/python benchmarks/vocab_resolve_bench.py
"""

from __future__ import annotations

import argparse
import csv
import json
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "data"


def curated(path: Path) -> dict[str, set[str]]:
    gold: dict[str, set[str]] = {}
    with open(path, encoding="utf-8") as fh:
        rows = csv.DictReader((line for line in fh if not line.startswith("#")), delimiter="\t")
        for row in rows:
            gold.setdefault(row["subject_label"], set()).add(row["object_id"])
    return gold


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tags", type=Path, default=DATA / "uts-paper" / "label_3k.json")
    ap.add_argument("--gold", type=Path, default=REPO / "mapping" / "uts-paper.sssom.tsv")
    args = ap.parse_args()

    from uts.ontology import load
    from uts.ontology.resolve import Resolver
    from uts.vocab.resolve import EmbeddingMatcher

    onto = load()
    resolver = Resolver(onto)
    gold = curated(args.gold)
    tags = list(dict.fromkeys(json.loads(args.tags.read_text()).values()))
    todo = [t for t in tags if not resolver.ids(t) and t in gold]
    near = EmbeddingMatcher(onto).nearest(todo, k=2)
    rows = []  # (words, cosine, margin, right)
    for tag, best in zip(todo, near):
        words = len(tag.replace("_", " ").replace("-", " ").split())
        margin = best[0][1] - best[1][1] if len(best) > 1 else best[0][1]
        rows.append((words, best[0][1], margin, best[0][0] in gold[tag]))
    print(f"{len(tags)} paper tags; {len(todo)} not named by UTS 1.0 but curated "
          f"({sum(r[0] == 1 for r in rows)} single words, {sum(r[0] > 1 for r in rows)} longer)")
    print(f"{'phrases':8s} {'cosine>=':>8s} {'margin>=':>8s} {'matched':>8s} {'right':>6s} {'precision':>9s}")
    for kind, keep in (("1 word", lambda w: w == 1), ("2+ words", lambda w: w > 1)):
        for threshold in (0.7, 0.75, 0.8, 0.85, 0.9):
            for margin in (0.0, 0.1):
                hits = [r for r in rows if keep(r[0]) and r[1] >= threshold and r[2] >= margin]
                right = sum(r[3] for r in hits)
                precision = f"{right / len(hits):.2f}" if hits else "-"
                print(f"{kind:8s} {threshold:8.2f} {margin:8.2f} {len(hits):8d} {right:6d} {precision:>9s}")


if __name__ == "__main__":
    main()
