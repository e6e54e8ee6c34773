"""The label hierarchy as index tensors, and the max-constraint propagation over it.

Everything here is sparse: a :class:`Hierarchy` over ``C`` classes holds its ``E`` (child, parent)
edges and the ``P`` strict (descendant, ancestor) pairs of their transitive closure. Propagating a
``(batch, C)`` tensor up the hierarchy is one gather of ``(batch, P)`` values and one
``scatter_reduce(amax)`` -- memory ``batch x P`` (P is about C x depth), never ``batch x C x C``.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence

import networkx as nx
import torch

from uts.ontology.export import hierarchy_edges
from uts.ontology.graph import ancestor_sets


class HierarchyError(ValueError):
    """The edge list is not a DAG over the given classes."""


class Hierarchy:
    """A DAG over ``len(ids)`` classes given by ``(child, parent)`` index edges."""

    def __init__(self, ids: Sequence[str], edges: Sequence[tuple[int, int]]):
        self.ids = list(ids)
        n = len(self.ids)
        parents: list[list[int]] = [[] for _ in range(n)]
        for c, p in edges:
            if not (0 <= c < n and 0 <= p < n) or c == p:
                raise HierarchyError(f"bad edge ({c}, {p}) for {n} classes")
            if p not in parents[c]:
                parents[c].append(p)
        self.parents = parents
        self.children: list[list[int]] = [[] for _ in range(n)]
        for c, ps in enumerate(parents):
            for p in ps:
                self.children[p].append(c)
        graph = nx.DiGraph()
        graph.add_nodes_from(range(n))
        graph.add_edges_from((p, c) for c, ps in enumerate(parents) for p in ps)
        try:
            by_node = ancestor_sets(graph)  # the one closure rule, in topological order
        except nx.NetworkXUnfeasible:
            cyc = sorted({self.ids[a] for a, _ in nx.find_cycle(graph)})[:5]
            raise HierarchyError(f"hierarchy has a cycle through {', '.join(cyc)}") from None
        ancestors = [by_node[i] for i in range(n)]
        depth = [0] * n  # shortest number of steps to a root
        for c in nx.topological_sort(graph):
            depth[c] = min((depth[p] + 1 for p in parents[c]), default=0)
        self.ancestors = ancestors
        self.depth = torch.tensor(depth, dtype=torch.long)
        self.edges = torch.tensor(sorted((c, p) for c, ps in enumerate(parents) for p in ps),
                                  dtype=torch.long).reshape(-1, 2)
        pairs = sorted((d, a) for d in range(n) for a in ancestors[d])
        pair_t = torch.tensor(pairs, dtype=torch.long).reshape(-1, 2)
        self.pair_desc, self.pair_anc = pair_t[:, 0].contiguous(), pair_t[:, 1].contiguous()

    # -- construction ------------------------------------------------------------------------
    @classmethod
    def from_ontology(cls, onto, ids: Sequence[str]) -> "Hierarchy":
        """The hierarchy the ontology induces on ``ids`` (nearest selected ancestors become parents)."""
        return cls(ids, hierarchy_edges(onto, ids))

    def to_dict(self) -> dict:
        return {"ids": self.ids, "edges": self.edges.tolist()}

    @classmethod
    def from_dict(cls, data: dict) -> "Hierarchy":
        return cls(data["ids"], [tuple(e) for e in data["edges"]])

    # -- views -------------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.ids)

    @property
    def num_pairs(self) -> int:
        return int(self.pair_desc.numel())

    @property
    def internal(self) -> torch.Tensor:
        """Boolean mask of classes that have children ("parents" in the metrics)."""
        mask = torch.zeros(len(self), dtype=torch.bool)
        if self.edges.numel():
            mask[self.edges[:, 1]] = True
        return mask

    def to(self, device) -> "Hierarchy":
        self.pair_desc, self.pair_anc = self.pair_desc.to(device), self.pair_anc.to(device)
        self.edges = self.edges.to(device)
        return self

    # -- propagation -------------------------------------------------------------------------
    def max_constraint(self, x: torch.Tensor) -> torch.Tensor:
        """C-HMCNN's max-constraint module: ``out[:, a] = max(x[:, a], x[:, d] for d below a)``.

        Works on probabilities or logits alike (sigmoid is monotone); differentiable.
        """
        if not self.num_pairs:
            return x
        desc, anc = self.pair_desc.to(x.device), self.pair_anc.to(x.device)
        src = x.index_select(1, desc)
        return x.scatter_reduce(1, anc.expand(x.shape[0], -1), src, "amax", include_self=True)

    def close(self, labels: torch.Tensor) -> torch.Tensor:
        """Binary labels closed over ancestors (a "snare drum" clip is also a "drum" clip)."""
        return self.max_constraint(labels)

    def violations(self, scores: torch.Tensor, tol: float = 1e-6) -> torch.Tensor:
        """Boolean ``(batch, E)``: the child of each edge scored above its parent."""
        e = self.edges.to(scores.device)
        return scores[:, e[:, 0]] > scores[:, e[:, 1]] + tol

    def distance(self, a: int, b: int) -> int:
        """Steps from ``a`` up to their lowest common ancestor and down to ``b`` (shortest).

        Classes without a shared ancestor meet at a virtual root above all roots.
        """
        da, db = self._up_distances(a), self._up_distances(b)
        common = da.keys() & db.keys()
        if common:
            return min(da[c] + db[c] for c in common)
        ra = min(v for k, v in da.items() if not self.parents[k])
        rb = min(v for k, v in db.items() if not self.parents[k])
        return ra + rb + 2

    def _up_distances(self, i: int) -> dict[int, int]:
        cache = self.__dict__.setdefault("_up_cache", {})
        if i not in cache:
            dist, queue = {i: 0}, deque([i])
            while queue:
                c = queue.popleft()
                for p in self.parents[c]:
                    if p not in dist:
                        dist[p] = dist[c] + 1
                        queue.append(p)
            cache[i] = dist
        return cache[i]
