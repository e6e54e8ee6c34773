"""UTS: the Unified Tag System toolkit — ontology, mapping, vocabulary and pre-training."""

__version__ = "0.1.0"
