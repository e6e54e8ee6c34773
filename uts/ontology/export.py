"""Views of the ontology for other consumers: the hierarchy restricted to a label set (what the
training code needs), and (to come) id2label JSON, concept tables and OWL exports."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import scipy.sparse as sp

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
