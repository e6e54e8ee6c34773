"""The paper's data pipeline, ontology-aware: captions -> tags (:mod:`.extract`, :mod:`.llm`) ->
TF-IDF vocabularies (:mod:`.build`, :mod:`.stats`) -> filtered manifests (:mod:`.filter`) ->
proposals for concepts UTS lacks (:mod:`.propose`). Tags resolve to UTS concepts through
:mod:`.resolve`. See docs/vocab.md.

Names are imported on first use, so ``uts vocab build --ontology none`` never loads the ontology
stack (rdflib, networkx) and starts fast.
"""

from importlib import import_module

_EXPORTS = {
    "PAPER_SIZES": "build", "VocabResult": "build", "build_and_write": "build", "build_vocabulary": "build",
    "tf_idf": "build", "size_name": "io", "write_outputs": "build",
    "OntologyExtractor": "extract", "run_extraction": "extract",
    "Vocabulary": "filter", "filter_manifest": "filter",
    "VocabError": "io", "detect_kind": "io", "read_captions": "io", "scan_tags": "io",
    "EmbeddingMatcher": "resolve",
    "propose": "propose", "write_proposals": "propose",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(import_module(f".{_EXPORTS[name]}", __name__), name)
    raise AttributeError(f"module 'uts.vocab' has no attribute {name!r}")
