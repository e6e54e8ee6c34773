"""The UTS ontology engine: model, I/O, THE resolver (text -> concepts, :mod:`.resolve`), THE
closure and domain rules (:mod:`.graph`); editing, validation, releases, diff and export live in
sibling modules. Imports nothing else of ``uts``.

The names below are loaded on first use (PEP 562): every package imports the file plumbing
:mod:`uts.ontology.files` from here, and a plain-string vocabulary build must not pay for
loading rdflib and networkx just to write a file atomically.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .io import OntologyFormatError, default_ontology_path, dumps, load, loads, save
    from .model import DOMAINS, Concept, Match, Ontology, OntologyMeta, format_id
    from .normalize import normalize_label
    from .resolve import Resolver

__all__ = [
    "Concept", "DOMAINS", "Match", "Ontology", "OntologyFormatError", "OntologyMeta",
    "Resolver", "default_ontology_path", "dumps", "format_id", "load", "loads", "normalize_label", "save",
]

_IO_NAMES = {"OntologyFormatError", "default_ontology_path", "dumps", "load", "loads", "save"}
_MODEL_NAMES = {"DOMAINS", "Concept", "Match", "Ontology", "OntologyMeta", "format_id"}


def __getattr__(name: str):
    if name in _IO_NAMES:
        from . import io as module
    elif name in _MODEL_NAMES:
        from . import model as module
    elif name == "normalize_label":
        from . import normalize as module
    elif name == "Resolver":
        from . import resolve as module
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(module, name)
    globals()[name] = value  # later look-ups skip this function
    return value
