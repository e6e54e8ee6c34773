"""Views of the ontology for other consumers: the hierarchy restricted to a label set (what the
training code needs), concept sets, the paper's id2label JSON, concept tables (polars), OWL as
RDF/XML, and ancestor edge lists / sparse matrices."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import scipy.sparse as sp
from rdflib import Graph, Literal, Namespace
from rdflib.namespace import SKOS

from .files import atomic_write_text, atomic_write_with, is_gzip, table_format
from .io import dumps
from .model import Ontology


def hierarchy_edges(onto: Ontology, ids: Sequence[str]) -> list[tuple[int, int]]:
    """Edges ``(child_index, parent_index)`` of the hierarchy induced on ``ids``.

    A selected concept's parent in the induced hierarchy is its nearest selected ancestor: when
    "snare drum" and "percussion" are selected but "drum" is not, snare drum -> percussion.
    Indices refer to positions in ``ids``; the result is sorted and duplicate-free.
    """
    index = {cid: i for i, cid in enumerate(ids)}
    if len(index) != len(ids):
        raise ValueError("ids contains duplicates")
    g = onto.graph
    edges: set[tuple[int, int]] = set()
    for cid, i in index.items():
        onto.get(cid)
        # Walk up through unselected ancestors until each path meets a selected one.
        frontier, seen = list(g.predecessors(cid)), set()
        while frontier:
            p = frontier.pop()
            if p in seen:
                continue
            seen.add(p)
            if p in index:
                edges.add((i, index[p]))
            else:
                frontier.extend(g.predecessors(p))
    return sorted(edges)


def ancestor_matrix(onto: Ontology, ids: Sequence[str]) -> sp.csr_matrix:
    """Sparse boolean matrix ``A`` with ``A[i, j] = 1`` when ``ids[j]`` is an ancestor of
    ``ids[i]`` within the selected set (reflexive: the diagonal is set)."""
    index = {cid: i for i, cid in enumerate(ids)}
    rows, cols = [], []
    for cid, i in index.items():
        rows.append(i)
        cols.append(i)
        for a in onto.ancestors(cid):
            j = index.get(a)
            if j is not None:
                rows.append(i)
                cols.append(j)
    data = np.ones(len(rows), dtype=np.bool_)
    return sp.csr_matrix((data, (rows, cols)), shape=(len(ids), len(ids)))


# -- concept sets ----------------------------------------------------------------------------
def select_concepts(onto: Ontology, root: str | None = None, domain: str | None = None,
                    facet: str | None = None, leaves_only: bool = False,
                    include_deprecated: bool = False) -> list[str]:
    """Ids of a concept set, sorted by id: all active concepts, optionally restricted to the
    subtree under ``root`` (id or label, itself included), a domain, a facet, or leaves."""
    if root is not None:
        rid = onto.resolve(root).id
        pool = {rid} | onto.descendants(rid)
    else:
        pool = set(onto.concepts)
    out = []
    for cid in sorted(pool):
        c = onto.concepts[cid]
        if c.deprecated and not include_deprecated:
            continue
        if domain is not None and c.domain != domain:
            continue
        if facet is not None and c.facet != facet:
            continue
        if leaves_only and onto.children(cid):
            continue
        out.append(cid)
    return out


def id2label(onto: Ontology, ids: Sequence[str]) -> dict[str, str]:
    """The paper's vocabulary form: ``{"0": "label", "1": ...}`` in the order of ``ids``."""
    return {str(i): onto.get(cid).label for i, cid in enumerate(ids)}


def write_id2label(onto: Ontology, ids: Sequence[str], path) -> Path:
    _write(path, json.dumps(id2label(onto, ids), indent=2, ensure_ascii=False) + "\n")
    return Path(path)


# -- tables ----------------------------------------------------------------------------------
def concept_table(onto: Ontology, ids: Sequence[str] | None = None):
    """A polars DataFrame with one row per concept (list columns for synonyms, parents...)."""
    import polars as pl  # lazy: polars costs ~0.5 s at import; only the table formats need it

    ids = list(ids) if ids is not None else sorted(onto.concepts)
    rows = []
    for i, cid in enumerate(ids):
        c = onto.get(cid)
        rows.append({"index": i, "id": c.id, "label": c.label, "synonyms": list(c.synonyms),
                     "definition": c.definition, "parents": list(c.parents),
                     "domain": c.domain, "facet": c.facet, "depth": onto.depth(cid),
                     "root": c.root, "deprecated": c.deprecated, "replaced_by": list(c.replaced_by),
                     "xrefs": list(c.xrefs), "sources": list(c.sources),
                     "links": [f"{r} {t}" for r, t in c.links]})
    schema = {"index": pl.Int64, "id": pl.Utf8, "label": pl.Utf8, "synonyms": pl.List(pl.Utf8),
              "definition": pl.Utf8, "parents": pl.List(pl.Utf8), "domain": pl.Utf8,
              "facet": pl.Utf8, "depth": pl.Int64, "root": pl.Boolean, "deprecated": pl.Boolean,
              "replaced_by": pl.List(pl.Utf8), "xrefs": pl.List(pl.Utf8), "sources": pl.List(pl.Utf8),
              "links": pl.List(pl.Utf8)}  # "relation target" (not is-a; see docs/taxonomy-rules.md)
    return pl.DataFrame(rows, schema=schema)


OWL_SUFFIXES = (".owl", ".rdf", ".xml")


class ExportError(ValueError):
    """An export cannot be written as asked (a file name whose suffix names another format)."""


def write_concept_table(onto: Ontology, path, ids: Sequence[str] | None = None) -> Path:
    """``.parquet``/``.pq`` keeps list columns; ``.csv``/``.tsv`` join them with ``|``."""
    import polars as pl  # lazy: polars costs ~0.5 s at import; only the table formats need it

    path = Path(path)
    fmt = table_format(path)
    if fmt not in ("parquet", "csv", "tsv") or is_gzip(path):
        raise ExportError(f"{path}: a concept table must end in .csv, .tsv or .parquet")
    df = concept_table(onto, ids)
    if fmt == "parquet":
        return atomic_write_with(path, df.write_parquet)
    flat = df.with_columns(pl.col(pl.List(pl.Utf8)).list.join("|"))
    return atomic_write_with(path, lambda tmp: flat.write_csv(tmp, separator="\t" if fmt == "tsv" else ","))


# -- OWL and ancestors -----------------------------------------------------------------------
def write_owl(onto: Ontology, path, drop_imports: bool = False) -> Path:
    """RDF/XML OWL (what Protégé, owlready2 and pronto read best). ``drop_imports`` removes
    ``owl:imports`` so tools that follow them fetch nothing."""
    if Path(path).suffix.lower() not in OWL_SUFFIXES:  # RDF/XML under a .ttl name breaks every reader
        raise ExportError(f"{path}: OWL is written as RDF/XML; name it .owl, .rdf or .xml")
    if drop_imports and onto.meta.imports:
        onto = Ontology(onto.concepts.values(), dataclasses.replace(onto.meta, imports=[]))

    g = Graph()
    g.parse(data=dumps(onto), format="turtle")
    # Mirror SKOS text to the OBO properties that pronto and OBO tools read.
    obo, oio = Namespace("http://purl.obolibrary.org/obo/"), Namespace("http://www.geneontology.org/formats/oboInOwl#")
    for s, o in list(g.subject_objects(SKOS.altLabel)):
        g.add((s, oio.hasExactSynonym, Literal(str(o))))
    for s, o in list(g.subject_objects(SKOS.definition)):
        g.add((s, obo.IAO_0000115, Literal(str(o))))
    _write(path, g.serialize(format="pretty-xml"))
    return Path(path)


def ancestor_edges(onto: Ontology, ids: Sequence[str] | None = None) -> list[tuple[str, str]]:
    """All (concept, ancestor) pairs (transitive, not reflexive), restricted to ``ids`` when
    given, sorted."""
    if ids is None:
        ids = [c.id for c in onto.active()]
    keep = set(ids)
    return sorted((cid, a) for cid in ids for a in onto.ancestors(cid) if a in keep)


def write_ancestors(onto: Ontology, path, ids: Sequence[str] | None = None) -> Path:
    """``.tsv``: concept_id, ancestor_id rows; ``.npz``: the sparse :func:`ancestor_matrix`
    (reflexive) over ``ids`` in their order (save ids beside it with ``write_id2label``)."""
    path = Path(path)
    ids = list(ids) if ids is not None else [c.id for c in onto.active()]
    if path.suffix == ".npz":
        path.parent.mkdir(parents=True, exist_ok=True)
        sp.save_npz(path, ancestor_matrix(onto, ids))
        return path
    lines = ["concept_id\tancestor_id"] + [f"{c}\t{a}" for c, a in ancestor_edges(onto, ids)]
    _write(path, "\n".join(lines) + "\n")
    return path


def _write(path, text: str) -> None:
    atomic_write_text(path, text)
