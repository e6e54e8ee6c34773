"""Bootstrap UTS 1.0 from the curated seed files in this folder.

The seed files (YAML lists, one per area) are where the 1.0 content was authored. This script
checks them (unique keys, resolvable parents, no cycles, no two concepts sharing a normalised
label or synonym), assigns opaque ids in file order and writes ``ontology/uts.ttl``. After the
1.0.0 release the Turtle file is the source of truth and edits go through ``uts ontology``;
the script refuses to run once a release exists unless ``--force`` is given.

    .venv/bin/python ontology/seed/build.py            # check + write ontology/uts.ttl + report
    .venv/bin/python ontology/seed/build.py --check    # check only

Seed entry fields: key, label, synonyms, definition, parents (keys, or "=label" to name a
concept of another file by its label), domain and facet (inherited from the first parent when
absent), xrefs (e.g. "AudioSet:/m/0dgw9r", "ISO639-1:fr"), root.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections import Counter, defaultdict
from pathlib import Path

import networkx as nx
import yaml

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
sys.path.insert(0, str(REPO))

from uts.ontology import Concept, Ontology, OntologyMeta, format_id, normalize_label, save  # noqa: E402

SHARED = next((Path(p) for p in (os.environ.get("UTS_SHARED_DATA"), REPO.parent / "shared" / "data", "/work/shared/data")
               if p and Path(p).is_dir()), REPO.parent / "shared" / "data")
FIELDS = {"key", "label", "synonyms", "definition", "parents", "domain", "facet", "xrefs", "root"}


def read_seeds() -> list[dict]:
    entries = []
    for path in sorted(HERE.glob("*.yaml")):
        for i, e in enumerate(yaml.safe_load(path.read_text()) or []):
            e = dict(e)
            e["_file"] = f"{path.name}#{i}"
            entries.append(e)
    return entries


def check(entries: list[dict]) -> tuple[list[str], dict[str, dict]]:
    errors: list[str] = []
    by_key: dict[str, dict] = {}
    for e in entries:
        unknown = set(e) - FIELDS - {"_file"}
        if unknown:
            errors.append(f"{e['_file']}: unknown fields {sorted(unknown)}")
        if not e.get("key") or not e.get("label"):
            errors.append(f"{e['_file']}: key and label are required")
            continue
        if e["key"] in by_key:
            errors.append(f"{e['_file']}: duplicate key {e['key']!r} (first in {by_key[e['key']]['_file']})")
        by_key[e["key"]] = e
    label_index: dict[str, str] = {}
    for e in by_key.values():
        for text in [e["label"], *(e.get("synonyms") or [])]:
            label_index.setdefault(normalize_label(str(text)), e["key"])
    # Resolve "=label" parent references and check existence.
    for e in by_key.values():
        resolved = []
        for p in e.get("parents") or []:
            p = str(p)
            if p.startswith("="):
                k = label_index.get(normalize_label(p[1:]))
                if k is None:
                    errors.append(f"{e['_file']} ({e['key']}): parent label {p[1:]!r} not found")
                    continue
                p = k
            if p not in by_key:
                errors.append(f"{e['_file']} ({e['key']}): unknown parent key {p!r}")
                continue
            resolved.append(p)
        e["_parents"] = resolved
        if not resolved and not e.get("root"):
            errors.append(f"{e['_file']} ({e['key']}): no parent and not a declared root")
    g = nx.DiGraph((p, k) for k, e in by_key.items() for p in e["_parents"])
    for cycle in list(nx.simple_cycles(g))[:10]:
        errors.append(f"cycle: {' -> '.join(cycle)}")
    # Normalised label/synonym collisions between concepts.
    owners: dict[str, set[str]] = defaultdict(set)
    for k, e in by_key.items():
        for text in [e["label"], *(e.get("synonyms") or [])]:
            owners[normalize_label(str(text))].add(k)
    for norm, keys in sorted(owners.items()):
        if len(keys) > 1:
            where = ", ".join(f"{k} [{by_key[k]['_file'].split('#')[0]}]" for k in sorted(keys))
            errors.append(f"label collision on {norm!r}: {where}")
    return errors, by_key


def inherit(by_key: dict[str, dict], key: str, field: str):
    e = by_key[key]
    if e.get(field):
        return e[field]
    for p in e["_parents"]:
        v = inherit(by_key, p, field)
        if v:
            return v
    return None


def clean_synonyms(label: str, synonyms: list) -> list[str]:
    """Curators listed tag spellings such as ``high_fidelity``; lookup folds separators anyway,
    so an underscore variant is kept in its readable form (``high fidelity``) and duplicates of
    the label or of each other (ignoring case) are dropped."""
    seen = {label.casefold()}
    out = []
    for s in synonyms:
        s = " ".join(str(s).replace("_", " ").split())
        if s and s.casefold() not in seen:
            seen.add(s.casefold())
            out.append(s)
    return sorted(out)


def build(by_key: dict[str, dict]) -> Ontology:
    ids = {k: format_id(i + 1) for i, k in enumerate(by_key)}
    concepts = []
    for k, e in by_key.items():
        concepts.append(Concept(
            id=ids[k], label=str(e["label"]),
            synonyms=clean_synonyms(str(e["label"]), e.get("synonyms") or []),
            definition=e.get("definition"), parents=[ids[p] for p in e["_parents"]],
            domain=inherit(by_key, k, "domain"), facet=inherit(by_key, k, "facet"),
            xrefs=sorted({str(x) for x in e.get("xrefs") or []}), root=bool(e.get("root")),
            sources=["UTS 1.0 curation"],
        ))
    meta = OntologyMeta(description="The Unified Tag System: one audio tag taxonomy spanning speech, music and environmental sound.")
    return Ontology(concepts, meta)


def report(onto: Ontology) -> dict:
    out: dict = {"concepts": len(onto), "per_domain": Counter(c.domain for c in onto),
                 "definitions": sum(bool(c.definition) for c in onto)}
    leaves = [c.id for c in onto if not onto.children(c.id)]
    depths = sorted(onto.depth(i) for i in leaves)
    out["median_leaf_depth"] = depths[len(depths) // 2] if depths else 0
    paper = SHARED / "uts-paper"
    if paper.exists():
        for size in ("2k", "3k"):
            tags = list(json.loads((paper / f"label_{size}.json").read_text()).values())
            unresolved = [t for t in tags if not onto.lookup(t)]
            out[f"paper_{size}_resolved"] = round(1 - len(unresolved) / len(tags), 4)
            if size == "3k":
                out["paper_3k_unresolved"] = unresolved
    aso = SHARED / "audioset" / "ontology.json"
    if aso.exists():
        xrefs = {x for c in onto for x in c.xrefs}
        classes = json.loads(aso.read_text())
        missing = [f"{c['id']}\t{c['name']}" for c in classes if f"AudioSet:{c['id']}" not in xrefs]
        out["audioset_with_xref"] = len(classes) - len(missing)
        out["audioset_missing_xref"] = missing
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--check", action="store_true", help="only check the seeds")
    ap.add_argument("--force", action="store_true", help="write even though a release exists")
    ap.add_argument("--out", default=str(REPO / "ontology" / "uts.ttl"))
    args = ap.parse_args()
    errors, by_key = check(read_seeds())
    for e in errors:
        print("ERROR", e)
    print(f"{len(by_key)} seed concepts, {len(errors)} errors")
    if errors:
        return 1
    onto = build(by_key)
    rep = report(onto)
    rep_dir = HERE / ".report"
    rep_dir.mkdir(exist_ok=True)
    for k in ("paper_3k_unresolved", "audioset_missing_xref"):
        (rep_dir / f"{k}.txt").write_text("\n".join(rep.pop(k, [])) + "\n")
    print(json.dumps(rep, indent=1, default=dict))
    print(f"unresolved paper tags / AudioSet classes without xref listed in {rep_dir}/")
    if args.check:
        return 0
    if any((REPO / "ontology" / "releases").glob("uts-*.ttl")) and not args.force:
        print("a release exists: uts.ttl is now the source of truth (use --force to overwrite)")
        return 1
    save(onto, args.out)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
