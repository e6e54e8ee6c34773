"""The paper's data pipeline, ontology-aware: captions -> tags (:mod:`.extract`, :mod:`.llm`) ->
TF-IDF vocabularies (:mod:`.build`, :mod:`.stats`) -> filtered manifests (:mod:`.filter`) ->
proposals for concepts UTS lacks (:mod:`.propose`). Tags resolve to UTS concepts through
:mod:`.resolve`. See docs/vocab.md."""

from .build import PAPER_SIZES, VocabResult, build_vocabulary, size_name, tf_idf, write_outputs
from .extract import OntologyExtractor, run_extraction
from .filter import Vocabulary, filter_manifest
from .io import VocabError, detect_kind, read_captions, scan_tags
from .resolve import ConceptResolver, EmbeddingMatcher, lemma, lemma_key

__all__ = [
    "ConceptResolver", "EmbeddingMatcher", "OntologyExtractor", "PAPER_SIZES", "VocabError",
    "VocabResult", "Vocabulary", "build_vocabulary", "detect_kind", "filter_manifest", "lemma",
    "lemma_key", "read_captions", "run_extraction", "scan_tags", "size_name", "tf_idf", "write_outputs",
]
