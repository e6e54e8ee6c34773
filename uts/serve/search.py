"""Search over labels and synonyms, ranked the way ``uts ontology lookup`` resolves a tag.

The first results are exactly what the ontology's resolver answers (id, exact label, exact
synonym, normalised form; deprecated concepts followed to their replacements). Because people
type partial words into a search box, further results follow: concepts with a label or synonym
whose normalised form starts with the query's, then those that contain it (preferred labels
before synonyms, shorter before longer).

The static site runs the same ranking in the browser (``static/site.js``) over the index that
:func:`search_index` precomputes from the resolver's own tables; the browser tests check that
both give the same answers.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from uts.ontology import Match, Ontology, normalize_label
from uts.ontology.normalize import PLURAL_INVARIANT  # shipped to the JS port of the plural rule

PARTIAL_MIN_CHARS = 2  # a one-letter query would match most of UTS


def resolve(onto: Ontology, text: str) -> list[Match]:
    """Text -> concepts through the ontology's one resolver. The only call into it from
    ``uts.serve``: repoint here if the resolver moves."""
    return onto.lookup(text)


@dataclass(frozen=True)
class Hit:
    id: str
    label: str
    matched_by: str  # the resolver's answer, or "prefix" / "contains" for partial matches
    text: str  # the label or synonym that matched

    def as_dict(self) -> dict:
        return {"id": self.id, "label": self.label, "matched_by": self.matched_by, "text": self.text}


class Searcher:
    """Search over one ontology state; the partial-match table is built once (rebuild after an
    edit: the app keeps one per loaded file)."""

    def __init__(self, onto: Ontology):
        self.onto = onto
        # (normalised text, text, id) of every active concept's label and synonyms, in the order
        # partial matches are ranked: labels before synonyms, shorter before longer, then id.
        rows = [(kind, t, c.id) for c in sorted(onto.active(), key=lambda c: c.id)
                for kind, t in [(0, c.label), *[(1, s) for s in c.synonyms]]]
        rows.sort(key=lambda r: (r[0], len(r[1]), r[2]))
        self.entries = [(normalize_label(t), t, cid) for _kind, t, cid in rows]

    def search(self, query: str, limit: int = 30) -> list[Hit]:
        """The resolver's matches first, then prefix and substring matches on normalised text."""
        hits = [Hit(m.id, m.label, m.matched_by, query.strip()) for m in resolve(self.onto, query)]
        key = normalize_label(query)
        if len(key) >= PARTIAL_MIN_CHARS:
            prefix, contains = [], []
            for norm, text, cid in self.entries:  # one pass; str.find is the fast test
                at = norm.find(key)
                if at >= 0:
                    (contains if at else prefix).append((cid, text))
            seen = {h.id for h in hits}
            for how, found in (("prefix", prefix), ("contains", contains)):
                for cid, text in found:
                    if cid not in seen:
                        seen.add(cid)
                        hits.append(Hit(cid, self.onto.concepts[cid].label, how, text))
        return hits[:limit]


def search(onto: Ontology, query: str, limit: int = 30) -> list[Hit]:
    """One search (use :class:`Searcher` for many on the same ontology)."""
    return Searcher(onto).search(query, limit)


def search_index(onto: Ontology) -> dict:
    """What ``site.js`` needs to rank like :func:`search`: every concept (deprecated ones too,
    so their labels lead to the replacement); the resolver's own exact and normalised tables
    (``onto.resolver.lexicon``, so the browser answers from the same keys as ``uts ontology
    lookup`` and never rebuilds them); every label and synonym for the partial matches; and the
    plural rule's exception words so the browser normalises a query as Python does."""
    concepts = {c.id: [c.label, int(c.deprecated), list(c.replaced_by), c.domain or ""]
                for c in sorted(onto, key=lambda c: c.id)}
    lexicon = onto.resolver.lexicon
    exact = {key: [[cid, int(kind == "synonym")] for cid, kind in hits] for key, hits in lexicon.exact.items()}
    entries = [[t, c.id, kind] for c in sorted(onto, key=lambda c: c.id)
               for kind, t in [(0, c.label), *[(1, s) for s in c.synonyms]]]
    return {"format": 2, "version": onto.meta.version or "working copy", "invariant": sorted(PLURAL_INVARIANT),
            "partial_min_chars": PARTIAL_MIN_CHARS, "concepts": concepts, "exact": exact,
            "normalized": lexicon.normalized, "entries": entries}


def search_index_js(onto: Ontology) -> str:
    """The index as a script that sets ``window.UTS_SEARCH_INDEX`` (a script tag also works on
    pages opened from disk, where browsers refuse ``fetch``)."""
    return f"window.UTS_SEARCH_INDEX={json.dumps(search_index(onto), ensure_ascii=False, separators=(',', ':'))};\n"
