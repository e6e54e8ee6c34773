"""The in-memory model of UTS: concepts, the ontology that holds them, lookup and graph views.

An :class:`Ontology` is plain data (a dict of :class:`Concept`) plus two derived views built
lazily: a networkx DAG (edges parent -> child) and the resolver (:mod:`uts.ontology.resolve`) for
lookup. Code that mutates concepts must call :meth:`Ontology.touch`, with the ids it changed so
that only their entries are refreshed, or with none to have the views rebuilt.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Iterable, Iterator

from .normalize import normalize_label
from .resolve import Match, Resolver

if TYPE_CHECKING:  # networkx (~0.15 s to import) loads with the first graph view, not with the model
    import networkx as nx

ID_PREFIX = "UTS:"
ID_PATTERN = re.compile(r"^UTS:\d{7}$")
DOMAINS = ("speech", "music", "sound", "general")
# Typed links that are not is-a (docs/taxonomy-rules.md). "A part_of B" reads "A is part of B";
# closure, ancestors and the graph view never follow them.
LINK_RELATIONS = ("part_of", "source_of", "typical_of", "technique_of", "related")


def format_id(number: int) -> str:
    return f"{ID_PREFIX}{number:07d}"


def id_number(concept_id: str) -> int:
    return int(concept_id.split(":", 1)[1])


class UnknownConceptError(KeyError):
    """An id or label names no concept (or more than one). A KeyError, so ``except KeyError``
    still catches it; the CLI shows it as the user's mistake, unlike a KeyError from a bug."""


@dataclass
class Concept:
    """One UTS concept. ``id`` is opaque and permanent; everything else may be edited."""

    id: str
    label: str
    synonyms: list[str] = field(default_factory=list)
    definition: str | None = None
    parents: list[str] = field(default_factory=list)
    domain: str | None = None
    facet: str | None = None
    deprecated: bool = False
    replaced_by: list[str] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)  # provenance: where the idea came from
    xrefs: list[str] = field(default_factory=list)  # e.g. "ISO639-1:en", "AudioSet:/m/09x0r"
    root: bool = False  # declared top-level concept (not an orphan)
    # Non-is-a links as sorted (relation, target id) pairs; never part of the hierarchy.
    links: list[tuple[str, str]] = field(default_factory=list)

    @property
    def active(self) -> bool:
        return not self.deprecated

    def all_labels(self) -> list[str]:
        return [self.label, *self.synonyms]


@dataclass
class OntologyMeta:
    iri: str = "https://w3id.org/uts/uts.owl"
    version: str | None = None  # owl:versionInfo, e.g. "1.0.0"
    version_iri: str | None = None
    title: str = "Unified Tag System (UTS)"
    description: str | None = None
    imports: list[str] = field(default_factory=list)


class Ontology:
    """A set of concepts with lazily built graph and lookup views."""

    def __init__(self, concepts: Iterable[Concept] = (), meta: OntologyMeta | None = None):
        self.concepts: dict[str, Concept] = {}
        for concept in concepts:
            if concept.id in self.concepts:
                raise ValueError(f"duplicate concept id {concept.id}")
            self.concepts[concept.id] = concept
        self.meta = meta or OntologyMeta()
        # Problems seen while parsing that the model cannot hold (an id declared twice, two
        # preferred labels): (code, id, message) tuples, reported by validation.
        self.load_issues: list[tuple[str, str, str]] = []
        self._graph: nx.DiGraph | None = None
        self._resolver: Resolver | None = None
        self._depth: dict[str, int] | None = None
        self._missing_parents: set[str] = set()  # parents named but absent when the graph was built
        self._highest: tuple[int, int] | None = None  # (concept count, highest id number)

    # -- bookkeeping -------------------------------------------------------------------------
    def touch(self, *changed: str) -> None:
        """Bring the derived views up to date after a mutation. With no ids, drop them all (rebuilt
        on next use); with the ids of every concept that was added or changed, refresh only
        their entries (graph edges, the resolver's lexicon), so a batch of edits does not rebuild
        the views once per operation."""
        self._depth = None
        if not changed:
            self._graph = self._resolver = self._highest = None
            return
        if self._highest is not None:
            numbers = [id_number(i) for i in changed if ID_PATTERN.match(i)]
            self._highest = (len(self.concepts), max([self._highest[1], *numbers]))
        if self._graph is not None:
            self._refresh_graph(changed)
        if self._resolver is not None:
            self._resolver.refresh(changed)

    def _refresh_graph(self, changed: Iterable[str]) -> None:
        g = self._graph
        for cid in changed:
            if cid not in g and cid in self._missing_parents:
                self._graph = None  # a dangling reference now resolves: rebuild on next use
                return
            g.add_node(cid)
            g.remove_edges_from(list(g.in_edges(cid)))
            for p in self.concepts[cid].parents:
                if p in self.concepts:
                    g.add_edge(p, cid)
                else:
                    self._missing_parents.add(p)

    def __len__(self) -> int:
        return len(self.concepts)

    def __contains__(self, concept_id: str) -> bool:
        return concept_id in self.concepts

    def __iter__(self) -> Iterator[Concept]:
        return iter(self.concepts.values())

    def get(self, concept_id: str) -> Concept:
        try:
            return self.concepts[concept_id]
        except KeyError:
            raise UnknownConceptError(f"no concept with id {concept_id!r}") from None

    def active(self) -> Iterator[Concept]:
        return (c for c in self.concepts.values() if not c.deprecated)

    def next_id(self) -> str:
        """A fresh id: one above the highest ever used (concepts are never deleted)."""
        # Cached with the concept count it was computed at, so adding a concept without
        # touch() still gets a fresh id.
        if self._highest is None or self._highest[0] != len(self.concepts):
            highest = max((id_number(i) for i in self.concepts if ID_PATTERN.match(i)), default=0)
            self._highest = (len(self.concepts), highest)
        return format_id(self._highest[1] + 1)

    # -- graph view --------------------------------------------------------------------------
    @property
    def graph(self) -> nx.DiGraph:
        """DAG over all concepts, edges parent -> child (so ``nx.ancestors`` means ancestors)."""
        if self._graph is None:
            import networkx as nx  # lazy: see the imports above

            g = nx.DiGraph()
            g.add_nodes_from(self.concepts)
            g.add_edges_from(
                (p, c.id) for c in self.concepts.values() for p in c.parents if p in self.concepts
            )
            self._graph = g
            self._missing_parents = {p for c in self.concepts.values() for p in c.parents
                                     if p not in self.concepts}
        return self._graph

    def parents(self, concept_id: str) -> list[str]:
        return list(self.get(concept_id).parents)

    def children(self, concept_id: str, include_deprecated: bool = False) -> list[str]:
        self.get(concept_id)
        kids = self.graph.successors(concept_id)
        return sorted(k for k in kids if include_deprecated or not self.concepts[k].deprecated)

    def link_lines(self, concept_id: str) -> list[str]:
        """A concept's typed non-is-a links as "relation TARGET_ID target label" lines."""
        return [f"{rel} {t} {self.concepts[t].label if t in self.concepts else '(missing)'}"
                for rel, t in self.get(concept_id).links]

    def ancestors(self, concept_id: str) -> set[str]:
        self.get(concept_id)
        import networkx as nx  # lazy: see the imports above

        return nx.ancestors(self.graph, concept_id)

    def descendants(self, concept_id: str) -> set[str]:
        self.get(concept_id)
        import networkx as nx  # lazy: see the imports above

        return nx.descendants(self.graph, concept_id)

    def roots(self) -> list[str]:
        """Active concepts without parents (declared roots and orphans alike)."""
        return sorted(c.id for c in self.active() if not c.parents)

    def depth(self, concept_id: str) -> int:
        """Shortest number of subClassOf steps from a parentless concept (roots have depth 0)."""
        if self._depth is None:
            import networkx as nx  # lazy: see the imports above

            g = self.graph
            sources = [n for n in g.nodes if g.in_degree(n) == 0]
            self._depth = dict(nx.multi_source_dijkstra_path_length(g, sources)) if sources else {}
        self.get(concept_id)
        return self._depth.get(concept_id, 0)

    def lowest_common_ancestors(self, a: str, b: str) -> set[str]:
        """All most-specific shared ancestors of ``a`` and ``b`` (each counts as its own ancestor)."""
        common = (self.ancestors(a) | {a}) & (self.ancestors(b) | {b})
        return {c for c in common if not (self.descendants(c) & common)}

    def paths_to_root(self, concept_id: str) -> list[list[str]]:
        """Every path from ``concept_id`` up to a parentless concept, most specific first."""
        parents = [p for p in self.get(concept_id).parents if p in self.concepts]
        if not parents:
            return [[concept_id]]
        return [[concept_id, *path] for p in parents for path in self.paths_to_root(p)]

    # -- lookup (through the one resolver, uts.ontology.resolve) ---------------------------------
    @property
    def resolver(self) -> Resolver:
        """The ontology's own :class:`~uts.ontology.resolve.Resolver` (no curated alignment),
        refreshed by :meth:`touch`."""
        if self._resolver is None:
            self._resolver = Resolver(self)
        return self._resolver

    def lookup(self, text: str, include_deprecated: bool = False) -> list[Match]:
        """Resolve a free-text tag: by id, exact label, exact synonym, then normalised variant
        (no lemma tier: naming a concept wants no stemming).

        A hit on a deprecated concept is followed to its replacement(s) and reported as
        ``replaced`` unless ``include_deprecated`` is set.
        """
        return self.resolver.resolve(text, include_deprecated, lemmas=False)

    def ids_with_normalized(self, text: str) -> list[str]:
        """Ids of all concepts (deprecated too) having a label or synonym that normalises like
        ``text``."""
        return list(self.resolver.lexicon.normalized.get(normalize_label(text), ()))

    def current_ids(self, concept_id: str) -> list[str]:
        """Follow replacement pointers from a (possibly deprecated) concept to active ones."""
        result: list[str] = []
        stack, seen = [concept_id], set()
        while stack:
            cid = stack.pop()
            if cid in seen or cid not in self.concepts:
                continue
            seen.add(cid)
            c = self.concepts[cid]
            if not c.deprecated:
                result.append(cid)
            else:
                stack.extend(reversed(c.replaced_by))
        return result

    def resolve(self, id_or_label: str) -> Concept:
        """The single concept named by an id or label; a clear error when none or several."""
        matches = self.lookup(id_or_label, include_deprecated=True)
        if not matches:
            raise UnknownConceptError(f"no concept matches {id_or_label!r}")
        if len(matches) > 1:
            # a concept whose own preferred label (or id) is the text beats synonym hits
            direct = [m for m in matches if m.matched_by in ("id", "label")]
            if len(direct) == 1:
                return self.concepts[direct[0].id]
            names = ", ".join(f"{m.id} ({m.label})" for m in matches)
            raise UnknownConceptError(f"{id_or_label!r} is ambiguous: {names}")
        return self.concepts[matches[0].id]
