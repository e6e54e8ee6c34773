"""Shared builders for the ontology tests: a small valid UTS-shaped ontology."""

from __future__ import annotations

from uts.ontology import Concept, Ontology


def build_small() -> Ontology:
    """A small valid UTS-shaped ontology (no warnings) used by all ontology tests."""
    d = "A definition."
    C = lambda *a, **k: Concept(*a, definition=d, **k)  # noqa: E731
    return Ontology([
        C("UTS:0000001", "sound", root=True, domain="sound", facet="source"),
        C("UTS:0000002", "music", root=True, domain="music", facet="source"),
        C("UTS:0000003", "percussion", parents=["UTS:0000002"], domain="music", facet="source"),
        C("UTS:0000004", "drum", synonyms=["drums"], parents=["UTS:0000003"], domain="music", facet="source"),
        C("UTS:0000005", "hi-hat", synonyms=["hi hat"], parents=["UTS:0000003"], domain="music", facet="source"),
        C("UTS:0000006", "snare drum", parents=["UTS:0000004"], domain="music", facet="source"),
        C("UTS:0000007", "vehicle", parents=["UTS:0000001"], domain="sound", facet="source"),
        C("UTS:0000008", "car", parents=["UTS:0000007"], domain="sound", facet="source"),
        C("UTS:0000009", "engine", parents=["UTS:0000007", "UTS:0000010"], domain="sound", facet="source"),
        C("UTS:0000010", "machine", parents=["UTS:0000001"], domain="sound", facet="source"),
        C("UTS:0000011", "old drum", parents=["UTS:0000003"], deprecated=True, replaced_by=["UTS:0000004"],
          domain="music"),
    ])
