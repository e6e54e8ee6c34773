"""The UTS ontology engine: model, I/O, THE resolver (text -> concepts, :mod:`.resolve`), THE
closure and domain rules (:mod:`.graph`); editing, validation, releases, diff and export live in
sibling modules. Imports nothing else of ``uts``.

The names below are loaded on first use (PEP 562): every package imports the file plumbing
:mod:`uts.ontology.files` from here, and a plain-string vocabulary build must not pay for
loading rdflib and networkx just to write a file atomically.
"""

from __future__ import annotations

import importlib
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

# name -> submodule it is loaded from on first use (see the module docstring)
_SUBMODULE = {
    **dict.fromkeys(("OntologyFormatError", "default_ontology_path", "dumps", "load", "loads", "save"), "io"),
    **dict.fromkeys(("DOMAINS", "Concept", "Match", "Ontology", "OntologyMeta", "format_id"), "model"),
    "normalize_label": "normalize",
    "Resolver": "resolve",
}


def __getattr__(name: str):
    if name not in _SUBMODULE:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    module = importlib.import_module(f"{__name__}.{_SUBMODULE[name]}")
    value = getattr(module, name)
    globals()[name] = value  # later look-ups skip this function
    return value
