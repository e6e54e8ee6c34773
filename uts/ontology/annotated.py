"""Which concepts a dataset *annotates*: the rule that lets datasets labelled with different
vocabularies be pooled without their silences becoming false negatives.

A source (AudioSet, MTG-Jamendo, an emotion corpus...) only ever looked for its own labels. Once
its labels are mapped onto UTS, the concepts they map to (``mapped``) are the concepts the source
*annotates*: for each of them, a clip without it is a negative. About any other concept the
source says nothing. The conservative rule, as a function of the hierarchy and ``mapped`` only
(so it is computed once per source, never per clip):

1. every mapped concept is annotated;
2. an ancestor of mapped concepts is annotated only when the source annotates its **whole
   branch**: every child of it is annotated (recursively, so a parent whose children are all
   covered through their own children counts too). A source that annotates *dog* alone says
   nothing about *animal*: a clip without *dog* may still hold a cat;
3. nothing else: a sibling (*cat*) or a concept elsewhere in the ontology is unknown.

Per clip (:func:`uts.training.masking.annotation_mask`), two facts follow from the hierarchy and
need no storage: the clip's positives and their ancestors are known (a *dog* clip is an *animal*
clip), and every descendant of an annotated concept the clip lacks is a known negative (a clip
without *dog* holds no *puppy*).
"""

from __future__ import annotations

from collections.abc import Iterable

import networkx as nx

from .graph import closure


def annotated_concepts(graph: nx.DiGraph, mapped: Iterable[str]) -> set[str]:
    """The concepts a source annotates, given the concepts its labels map to (``mapped``) and
    the hierarchy ``graph`` (networkx, edges parent -> child; pass the *active* concepts'
    graph, e.g. ``LabelSet.graph``, so a deprecated child does not block a branch).

    Mapped ids the graph does not know are kept as they are (rule 1). Ancestors are added
    bottom-up: children are decided before their parents, so a branch covered level by level
    is recognised in one pass.
    """
    mapped = set(mapped)
    known = {m for m in mapped if m in graph}
    annotated = set(mapped)
    candidates = closure(graph, known) - known
    if not candidates:
        return annotated
    sub = graph.subgraph(candidates | known)
    for node in reversed(list(nx.topological_sort(sub))):  # children before parents
        if node in candidates and all(child in annotated for child in graph.successors(node)):
            annotated.add(node)
    return annotated
