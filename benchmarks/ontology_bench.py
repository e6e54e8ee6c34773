"""Ontology engine speed against a bare rdflib parse of the same file, measured in the same run.

Generates a multi-parent ontology (default 20,000 concepts), writes it as canonical Turtle, then
reports medians over ``--repeats`` runs of:

* bare ``rdflib.Graph().parse`` of the file (the baseline);
* ``uts.ontology`` load + validate (target: at most 2x the baseline);
* diff of two releases 500 changes apart, both files loaded from disk (target: at most 3x);
* lookups per second after load (target: at least 100,000/s);
* a batch edit of ``--batch-adds`` (default 5,000) adds on the shipped ontology, end to end
  through ``edit_file``, against the per-operation path (lookup index and graph rebuilt after every
  operation, as before) in the same run (target: under 5 s and at least 30x faster).

Usage: ``.venv/bin/python benchmarks/ontology_bench.py [--concepts 20000] [--changes 500]
[--batch-adds 5000] [--only-batch]``
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

from rdflib import Graph

from uts.ontology import Concept, Ontology, load, save
from uts.ontology.diff import diff
from uts.ontology.io import from_graph
from uts.ontology.model import format_id
from uts.ontology.validate import validate, validate_path

SYLLABLES = ["ba", "ko", "ri", "tan", "mel", "zu", "dor", "vi", "sha", "lon", "pe", "gri", "mo",
             "ka", "sel", "tu", "fra", "ne", "bo", "li", "qua", "dre", "xo", "ju"]


def word(rng: random.Random) -> str:
    return "".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 4)))


def generate(n: int, seed: int = 0) -> Ontology:
    """A valid ontology of ``n`` concepts: 4 domain roots, each concept's first parent chosen
    among earlier concepts (so it is a DAG), ~20% with a second parent, ~50% with synonyms."""
    rng = random.Random(seed)
    used: set[str] = set()

    def fresh(k: int = 2) -> str:
        while True:
            text = " ".join(word(rng) for _ in range(k))
            key = text.replace(" ", "")
            if key not in used:
                used.add(key)
                return text

    domains = ["speech", "music", "sound", "general"]
    concepts = [Concept(format_id(i + 1), d, root=True, domain=d, facet="source",
                        definition=f"The {d} domain.") for i, d in enumerate(domains)]
    used.update(domains)
    for i in range(len(concepts), n):
        first = concepts[rng.randrange(max(1, i // 2), i) if i > 8 else rng.randrange(i)]
        parents = {first.id}
        if rng.random() < 0.2:
            parents.add(concepts[rng.randrange(i)].id)
        concepts.append(Concept(
            format_id(i + 1), fresh(), synonyms=[fresh() for _ in range(rng.choice([0, 0, 1, 2]))],
            definition=f"Generated concept number {i + 1}." if rng.random() < 0.9 else None,
            parents=sorted(parents), domain=first.domain, facet=rng.choice(["source", "event", "quality"]),
        ))
    return Ontology(concepts)


def change(onto: Ontology, k: int, seed: int = 1) -> Ontology:
    """A copy of ``onto`` with ``k`` changes of every kind the diff reports, applied to the model
    directly (the edit API would validate after each one, which is not what is measured here)."""
    import copy

    rng = random.Random(seed)
    new = copy.deepcopy(onto)
    leaves = [c.id for c in new.active() if not new.children(c.id) and not c.root]
    rng.shuffle(leaves)
    kinds = ["add", "relabel", "synonym", "definition", "move", "merge", "split", "deprecate"]
    for n in range(k):
        kind = kinds[n % len(kinds)]
        cid = leaves.pop()
        c = new.concepts[cid]
        if kind == "add":
            nid = new.next_id()
            new.concepts[nid] = Concept(nid, f"added concept {n}", parents=[cid], domain=c.domain)
        elif kind == "relabel":
            c.synonyms = sorted(set(c.synonyms) | {c.label})
            c.label = f"relabelled {n}"
        elif kind == "synonym":
            c.synonyms = sorted(set(c.synonyms) | {f"new synonym {n}"})
        elif kind == "definition":
            c.definition = f"Rewritten definition {n}."
        elif kind == "move":
            c.parents = [new.concepts[rng.choice(leaves)].parents[0]]
        elif kind == "merge":
            target = new.concepts[leaves.pop()]
            target.synonyms = sorted(set(target.synonyms) | {c.label, *c.synonyms})
            c.deprecated, c.replaced_by = True, [target.id]
        elif kind == "split":
            ids = []
            for part in ("a", "b"):
                nid = new.next_id()
                new.concepts[nid] = Concept(nid, f"split {n} {part}", parents=list(c.parents), domain=c.domain)
                ids.append(nid)
            c.deprecated, c.replaced_by = True, ids
        elif kind == "deprecate":
            c.deprecated = True
        new.touch()
    return new


def median_time(fn, repeats: int) -> tuple[float, object]:
    times, result = [], None
    for _ in range(repeats):
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), result


def batch_ops(onto: Ontology, n: int, seed: int = 3) -> list[dict]:
    """``n`` adds as a reviewed batch would name them: parents by label (with the odd casing and
    separators of real input), some synonyms, now and then a parent added earlier in the batch."""
    rng = random.Random(seed)
    labels = [c.label for c in onto.active()]
    ops = []
    for i in range(n):
        parent = rng.choice(labels)
        parent = rng.choice([parent, parent.upper(), parent.replace(" ", "-"), parent.title()])
        op = {"op": "add", "label": f"batch concept {i}", "parents": [parent]}
        if i > 10 and rng.random() < 0.1:
            op["parents"].append(f"batch concept {rng.randrange(i)}")
        if rng.random() < 0.3:
            op["synonyms"] = [f"batch synonym {i}"]
        ops.append(op)
    return ops


def batch_edit_figures(base: Path, n_ops: int, baseline_ops: int) -> dict:
    """Time ``edit_file`` with ``n_ops`` adds on a copy of ``base`` (lock, load, apply, one
    validation, write, change log), then the per-operation path on the first ``baseline_ops`` of
    them: the same code with the lookup index and graph rebuilt after every operation, as every
    edit did before the views were refreshed incrementally. Both in this run, same machine."""
    import shutil
    from unittest import mock

    from uts.ontology.edit import edit_file

    ops = batch_ops(load(base), n_ops)
    timings = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, count in (("batch", n_ops), ("per_op", baseline_ops)):
            path = Path(tmp) / name / "uts.ttl"
            path.parent.mkdir()
            shutil.copy(base, path)
            full_rebuild = Ontology.touch
            patch = (mock.patch.object(Ontology, "touch", lambda self, *ids: full_rebuild(self))
                     if name == "per_op" else mock.patch.object(Ontology, "touch", Ontology.touch))
            with patch:
                t0, c0 = time.perf_counter(), time.process_time()
                edit_file(ops[:count], path, editor="bench")
                # CPU time too: on a shared machine the load can change between the two paths
                timings[name] = (time.perf_counter() - t0, time.process_time() - c0)
    (batch_wall, batch_cpu), (old_wall, old_cpu) = timings["batch"], timings["per_op"]
    scale = n_ops / baseline_ops  # 1 unless the per-operation path ran only a prefix
    return {"batch_adds": n_ops, "batch_s": round(batch_wall, 3), "batch_cpu_s": round(batch_cpu, 3),
            "per_op_path_ops": baseline_ops, "per_op_path_s": round(old_wall, 3),
            "per_op_path_cpu_s": round(old_cpu, 3),
            "per_op_path_ms_per_op": round(old_wall / baseline_ops * 1000, 2),
            "batch_ms_per_op": round(batch_wall / n_ops * 1000, 3),
            "batch_speedup": round(old_wall * scale / batch_wall, 1),
            "batch_speedup_cpu": round(old_cpu * scale / batch_cpu, 1)}


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--concepts", type=int, default=20_000)
    ap.add_argument("--changes", type=int, default=500)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--lookups", type=int, default=300_000)
    ap.add_argument("--batch-adds", type=int, default=5000,
                    help="adds in the batch-edit measurement on the shipped ontology (0: skip)")
    ap.add_argument("--batch-baseline-ops", type=int, default=None,
                    help="how many of them the per-operation path runs (default: all; fewer are "
                         "scaled up per operation, which flatters the baseline since each of its "
                         "operations costs more as the ontology grows)")
    ap.add_argument("--batch-base", type=Path, default=Path(__file__).resolve().parents[1] / "ontology" / "uts.ttl")
    ap.add_argument("--only-batch", action="store_true", help="run only the batch-edit measurement")
    ap.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = ap.parse_args(argv)
    batch = {}
    if args.batch_adds:
        batch = batch_edit_figures(args.batch_base, args.batch_adds,
                                   min(args.batch_baseline_ops or args.batch_adds, args.batch_adds))
        if not args.json:
            print(f"batch edit, {args.batch_adds} adds on {args.batch_base.name} ({len(load(args.batch_base))} concepts), "
                  f"edit_file end to end")
            print(f"per-operation path (views rebuilt per op) {batch['per_op_path_s']:8.2f} s wall, "
                  f"{batch['per_op_path_cpu_s']:8.2f} s CPU for {batch['per_op_path_ops']} ops "
                  f"({batch['per_op_path_ms_per_op']:.1f} ms/op; baseline)")
            print(f"batch (views refreshed per op)           {batch['batch_s']:8.2f} s wall, "
                  f"{batch['batch_cpu_s']:8.2f} s CPU; {batch['batch_speedup']:.1f}x faster by wall time, "
                  f"{batch['batch_speedup_cpu']:.1f}x by CPU time (target: 5,000 adds < 5 s, >= 30x)")
        if args.only_batch:
            if args.json:
                print(json.dumps(batch, indent=2))
            return batch

    with tempfile.TemporaryDirectory() as tmp:
        a_path, b_path = Path(tmp) / "uts-1.0.0.ttl", Path(tmp) / "uts-2.0.0.ttl"
        onto = generate(args.concepts)
        assert validate(onto).ok, "generator must produce a valid ontology"
        save(onto, a_path)
        changed = change(onto, args.changes)
        save(changed, b_path)

        def bare_parse():
            g = Graph()
            g.parse(a_path, format="turtle")
            return len(g)

        t_parse, triples = median_time(bare_parse, args.repeats)
        t_load_validate, report = median_time(lambda: validate_path(a_path), args.repeats)
        assert report.ok, report.to_text()[:500]
        t_rdflib_path, _ = median_time(lambda: validate(from_graph(_parsed(a_path))), 1)
        t_diff, d = median_time(lambda: diff(load(a_path), load(b_path)), args.repeats)

        loaded = load(a_path)
        rng = random.Random(2)
        pool = []
        for c in rng.sample(list(loaded.active()), min(5000, len(loaded))):
            pool += [c.label, c.label.upper(), c.label.replace(" ", "-") + "s", *c.synonyms, "no such tag " + c.label]
        queries = [pool[i % len(pool)] for i in range(args.lookups)]
        loaded.lookup(queries[0])  # build the index once; "after load"
        t0 = time.perf_counter()
        for q in queries:
            loaded.lookup(q)
        lookups_per_s = len(queries) / (time.perf_counter() - t0)

    figures = {
        "concepts": args.concepts, "triples": triples, "changes": args.changes,
        "diff_changes_reported": len(d.changes), "repeats": args.repeats,
        "bare_rdflib_parse_s": round(t_parse, 3),
        "load_validate_s": round(t_load_validate, 3),
        "load_validate_ratio": round(t_load_validate / t_parse, 3),
        "load_validate_via_rdflib_path_s": round(t_rdflib_path, 3),
        "diff_two_releases_s": round(t_diff, 3),
        "diff_ratio": round(t_diff / t_parse, 3),
        "lookups_per_s": round(lookups_per_s),
        **batch,
    }
    if args.json:
        print(json.dumps(figures, indent=2))
    else:
        print(f"{args.concepts} concepts, {triples} triples, medians of {args.repeats} runs")
        print(f"bare rdflib parse            {t_parse:8.3f} s   (baseline)")
        print(f"load + validate              {t_load_validate:8.3f} s   {t_load_validate / t_parse:5.2f}x  (target <= 2x)")
        print(f"  same via rdflib path       {t_rdflib_path:8.3f} s   {t_rdflib_path / t_parse:5.2f}x  (non-canonical files)")
        print(f"diff of two releases         {t_diff:8.3f} s   {t_diff / t_parse:5.2f}x  (target <= 3x; "
              f"{args.changes} changes -> {len(d.changes)} typed changes)")
        print(f"lookups after load       {lookups_per_s:12,.0f} /s          (target >= 100,000/s)")
    return figures


def _parsed(path: Path) -> Graph:
    g = Graph()
    g.parse(path, format="turtle")
    return g


if __name__ == "__main__":
    main(sys.argv[1:])
