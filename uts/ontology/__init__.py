"""The UTS ontology engine: model, I/O, lookup and graph queries (editing, validation,
releases, diff and export live in sibling modules)."""

from .io import OntologyFormatError, default_ontology_path, dumps, load, loads, save
from .model import DOMAINS, Concept, Match, Ontology, OntologyMeta, format_id
from .normalize import normalize_label

__all__ = [
    "Concept", "DOMAINS", "Match", "Ontology", "OntologyFormatError", "OntologyMeta",
    "default_ontology_path", "dumps", "format_id", "load", "loads", "normalize_label", "save",
]
