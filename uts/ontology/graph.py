"""The two rules every consumer of the hierarchy shares, as functions over a graph (networkx
style): **closure** (a label implies all its ancestors) and **domain** (which of speech, music,
sound a concept belongs to). Apply, the training targets and ``Hierarchy``, the corpus
generator, vocabularies and evaluation all call these; none walks the hierarchy itself.

Graphs are ``networkx.DiGraph`` with edges parent -> child (``Ontology.graph``,
``LabelSet.graph``), so ``nx.ancestors`` means ancestors.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from .model import Ontology

if TYPE_CHECKING:  # networkx loads with the first graph function called: concept_domain needs none
    import networkx as nx

GENERAL = "general"  # the domain of a concept no ancestor places in speech, music or sound


def closure(graph: nx.DiGraph, ids: Iterable[str]) -> set[str]:
    """``ids`` and all their ancestors (ids the graph does not know are kept as they are)."""
    import networkx as nx  # lazy: see the imports above

    out = set(ids)
    for node in list(out):
        if node in graph:
            out |= nx.ancestors(graph, node)
    return out


def inferred(graph: nx.DiGraph, ids: Iterable[str]) -> list[str]:
    """The ancestors closure adds to ``ids`` (sorted, the given ids left out): a manifest's
    ``inferred`` column."""
    given = set(ids)
    return sorted(closure(graph, given) - given)


def ancestor_sets(graph: nx.DiGraph) -> dict:
    """Every node's strict ancestors, in one pass in topological order (parents first):
    ``ancestors(c) = U over parents p of {p} | ancestors(p)``. Raises
    ``networkx.NetworkXUnfeasible`` when the graph has a cycle."""
    import networkx as nx  # lazy: see the imports above

    out: dict = {}
    for node in nx.topological_sort(graph):
        acc: set = set()
        for parent in graph.predecessors(node):
            acc |= out[parent]
            acc.add(parent)
        out[node] = acc
    return out


def cycles(graph: nx.DiGraph) -> list[list[str]]:
    """The subClassOf cycles of ``graph``: each strongly connected set of two or more nodes, or a
    node that is its own parent, as sorted ids (the cycles first met, by their smallest id)."""
    import networkx as nx  # lazy: see the imports above

    if nx.is_directed_acyclic_graph(graph):
        return []
    found = [sorted(c) for c in nx.strongly_connected_components(graph)
             if len(c) > 1 or any(graph.has_edge(n, n) for n in c)]
    return sorted(found)


def refuse_cycles(onto: Ontology, source: object) -> None:
    """Raise :class:`~uts.ontology.io.OntologyFormatError` naming ``source`` and the first
    cycle's concepts: a tree or a depth drawn from a cyclic hierarchy silently leaves the whole
    cyclic branch out (no root reaches it)."""
    found = cycles(onto.graph)
    if found:
        from .io import OntologyFormatError  # lazy: io imports this module's neighbours

        names = ", ".join(f"{i} ({onto.concepts[i].label})" for i in found[0])
        more = f" (and {len(found) - 1} more cycle(s))" if len(found) > 1 else ""
        raise OntologyFormatError(f"{source}: subClassOf cycle through {names}{more}; break it first "
                                  "(uts ontology validate lists every problem)")


def concept_domain(onto: Ontology, concept_id: str) -> str:
    """A concept's domain: its own if declared, else that of the nearest ancestor declaring one
    (breadth first; among ancestors at the same distance, the smallest id), else ``general``."""
    frontier, seen = [concept_id], set()
    while frontier:
        nxt = []
        for cid in sorted(frontier):
            if cid in seen or cid not in onto.concepts:
                continue
            seen.add(cid)
            c = onto.concepts[cid]
            if c.domain:
                return c.domain
            nxt.extend(c.parents)
        frontier = nxt
    return GENERAL


def label_domains(onto: Ontology, ids: Iterable[str]) -> set[str]:
    """The domains a set of labels covers: each known concept's :func:`concept_domain`.
    (Not the union over ancestors: a concept belongs to one domain, and a cross-domain ancestor
    such as "human voice" above "singing" must not put a song into speech.)"""
    return {concept_domain(onto, cid) for cid in ids if cid in onto.concepts}
