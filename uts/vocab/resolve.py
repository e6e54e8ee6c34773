"""What the lexical resolver leaves over: runs of caption words matched to concepts by sentence
embeddings (:class:`EmbeddingMatcher`, lazy and optional: the model loads only when it is used).

The lexical layer (tags and captions -> concepts, with lemmas) is the ontology's one resolver,
:class:`uts.ontology.resolve.Resolver`; this module only builds on it.
"""

from __future__ import annotations

from uts.embedding import Embedder
from uts.ontology.model import Ontology


class EmbeddingMatcher:
    """Match phrases to the nearest concept label by sentence embedding (cosine >= threshold).

    Concept labels and synonyms are embedded once (and cached on disk by :mod:`uts.embedding`);
    the model loads on first use only.
    """

    def __init__(self, onto: Ontology, threshold: float = 0.8, model: str | None = None,
                 min_words: int = 2):
        import torch  # lazy: keeps torch (~1-3 s) off every importer of this module, e.g. vocab extract

        self.threshold = threshold
        self.min_words = min_words
        self.embedder = Embedder(model, device="cuda" if torch.cuda.is_available() else "cpu")
        self._label_ids: list[str] = []
        self._label_texts: list[str] = []
        for c in sorted(onto.active(), key=lambda c: c.id):
            for text in c.all_labels():
                self._label_texts.append(text)
                self._label_ids.append(c.id)
        self._label_vectors = None  # embedded on first use: short tags may never need the model
        self._cache: dict[str, tuple[str, float] | None] = {}

    def nearest(self, phrases: list[str], k: int = 3) -> list[list[tuple[str, float]]]:
        """The ``k`` most similar distinct concepts per phrase, best first, with cosine scores."""
        if not self._label_texts or not phrases:
            return [[] for _ in phrases]
        if self._label_vectors is None:
            self._label_vectors = self.embedder.encode(self._label_texts)
        sims = self.embedder.encode(phrases) @ self._label_vectors.T
        out = []
        for row in sims:
            best: dict[str, float] = {}
            for j in row.argsort()[::-1]:
                cid = self._label_ids[j]
                if cid not in best:
                    best[cid] = float(row[j])
                    if len(best) == k:
                        break
            out.append(list(best.items()))
        return out

    def match(self, phrases: list[str]) -> dict[str, tuple[str, float] | None]:
        """Best concept per phrase when its cosine reaches the threshold, else ``None``.

        Phrases of fewer than ``min_words`` words are never matched (``None``): a lone word that
        no label, synonym or lemma names is mostly a sense the model guesses wrong ("playing" ->
        gameplay). Measured by ``benchmarks/vocab_resolve_bench.py``: of the paper's 3k tags that
        UTS 1.0 does not name lexically, single words matched at cosine >= 0.8 agreed with the
        curated alignment 12 times in 46. They stay unresolved and go to ``uts vocab propose``."""
        for p in phrases:
            if p not in self._cache and len(p.split()) < self.min_words:
                self._cache[p] = None
        todo = [p for p in dict.fromkeys(phrases) if p not in self._cache]
        for phrase, near in zip(todo, self.nearest(todo, k=1)):
            hit = near[0] if near and near[0][1] >= self.threshold else None
            self._cache[phrase] = hit
        return {p: self._cache[p] for p in phrases}
