"""The UTS ontology engine: model, I/O, THE resolver (text -> concepts, :mod:`.resolve`), THE
closure and domain rules (:mod:`.graph`); editing, validation, releases, diff and export live in
sibling modules. Imports nothing else of ``uts``."""

from .io import OntologyFormatError, default_ontology_path, dumps, load, loads, save
from .model import DOMAINS, Concept, Match, Ontology, OntologyMeta, format_id
from .normalize import normalize_label
from .resolve import Resolver

__all__ = [
    "Concept", "DOMAINS", "Match", "Ontology", "OntologyFormatError", "OntologyMeta",
    "Resolver", "default_ontology_path", "dumps", "format_id", "load", "loads", "normalize_label", "save",
]
