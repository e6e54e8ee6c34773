"""Resolving free text to UTS concepts: single tags (``drums`` -> drum) and whole captions (every
concept a caption mentions, found by n-gram matching over lemmatised tokens, longest first).

Lexical matching goes beyond :meth:`Ontology.lookup` (case, separators, plurals) with a light,
deterministic lemmatiser applied to both sides: ``barking``/``barks``/``bark``, ``whispered``/
``whispering``, ``muffled``/``muffle`` share one key. It is rule-based rather than dictionary
based so it needs no downloads and is exactly reproducible; both the ontology's labels and the
caption go through the same function, so a stem need not be a real word.

What lexical matching leaves over (runs of content words) may be matched by sentence embeddings
(:class:`EmbeddingMatcher`, lazy and optional: the model loads only when it is used).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from uts.ontology.model import Ontology
from uts.ontology.normalize import singular, tokens

# Function words and caption boiler-plate ("the audio features ..."): never tags on their own.
STOPWORDS = frozenset(
    """a an the and or but nor so yet of in on at to from by for with without within into onto
    over under above below between among through during before after while as than then there
    here this that these those it its it's is are was were be been being am has have had having
    do does did doing can could may might must shall should will would not no also very quite
    rather somewhat slightly fairly just only mostly mainly mostly often sometimes occasionally
    some any all each every both either neither few many much more most less least other another
    such same own which who whom whose what when where why how i you he she we they me him her
    us them my your his our their one two three four five six seven eight nine ten several
    audio clip recording's track's sound's features feature featuring contains containing
    heard hear hears hearing present presents presenting appears appear appearing seems seem
    accompanied followed including includes include throughout along around against about
    like something someone up down out off again further once overall together away back
    suggesting suggests suggest indicating indicates indicate possibly likely perhaps
    characterized characterised consisting consists made makes making creates creating create
    conveys conveying gives giving""".split()
)

_SEGMENT = re.compile(r"[.,;:!?()\[\]{}\"/]+|\s[-–—]+\s")
_WORD = re.compile(r"[^\W_]+")


def _tokens(text: str) -> list[str]:
    """:func:`uts.ontology.normalize.tokens`, with a shortcut for ASCII text (nothing to fold or
    strip of accents, so lowercase + the same word pattern give the same tokens, several times
    faster; resolving 30,000 distinct tags is dominated by this)."""
    return _WORD.findall(text.lower()) if text.isascii() else tokens(text)


def _has_vowel(text: str) -> bool:
    return any(ch in "aeiouy" for ch in text)


def lemma(word: str) -> str:
    """A light stem of one lowercase token: plural, ``-ing``, ``-ed`` and a final ``e`` removed,
    a doubled final consonant undone (``drumming`` -> ``drum``, but ``buzzing`` -> ``buzz``)."""
    w = singular(word)
    stripped = False
    if len(w) > 5 and w.endswith("ing") and _has_vowel(w[:-3]):
        w, stripped = w[:-3], True
    elif len(w) > 4 and w.endswith("ed") and not w.endswith("eed") and _has_vowel(w[:-2]):
        w, stripped = w[:-2], True
    if stripped and len(w) > 2 and w[-1] == w[-2] and w[-1] not in "aeiouylsz":
        w = w[:-1]
    if len(w) > 3 and w.endswith("e"):
        w = w[:-1]
    return w


def lemma_key(text: str) -> str:
    """The matching key of a phrase: lemmas of its tokens joined without separators, so
    ``hi-hats``, ``hi hat`` and ``hihat`` share one key."""
    return "".join(lemma(t) for t in _tokens(text))


def surface(words: Iterable[str]) -> str:
    """The raw tag for matched caption words: lowercase, singular, space-separated."""
    return " ".join(singular(w) for w in words)


@dataclass(frozen=True)
class Mention:
    """A stretch of caption text and the concepts it resolves to (empty when unresolved)."""

    tag: str
    concept_ids: tuple[str, ...]
    matched_by: str  # "lexical" | "embedding" | "unresolved"


class ConceptResolver:
    """Lexical resolution of tags and captions against one ontology (active concepts only;
    a label of a deprecated concept resolves to its replacement)."""

    def __init__(self, onto: Ontology, max_ngram: int = 6):
        self.onto = onto
        # Three tiers of keys, strictest first, as in Ontology.lookup: exact (case-folded) text,
        # normalised label, lemma key. Only the lemma tier is used inside captions.
        self.exact: dict[str, list[str]] = {}
        self.normalized: dict[str, list[str]] = {}
        self.index: dict[str, list[str]] = {}
        longest = 1
        deprecated_keys: set[str] = set()
        ordered = sorted(onto.concepts.values(), key=lambda c: (c.deprecated, c.id))
        for c in ordered:
            targets = onto.current_ids(c.id) if c.deprecated else [c.id]
            for text in c.all_labels():
                words = _tokens(text)  # normalize_label and lemma_key, sharing one tokenisation
                normalized = "".join(map(singular, words))
                for table, key in ((self.exact, text.casefold().strip()), (self.normalized, normalized),
                                   (self.index, "".join(map(lemma, words)))):
                    # Active concepts come first: a key a live concept already owns is not shared
                    # with the replacement of a deprecated one (as in Ontology.lookup).
                    if key and key not in STOPWORDS and not (c.deprecated and key in table and key not in deprecated_keys):
                        ids = table.setdefault(key, [])
                        ids.extend(t for t in targets if t not in ids)
                        if c.deprecated:
                            deprecated_keys.add(key)
                longest = max(longest, len(words))
        self.max_ngram = min(longest, max_ngram)
        self._tag_cache: dict[str, tuple[str, ...]] = {}

    def resolve_tag(self, tag: str) -> tuple[str, ...]:
        """Concept ids a free-text tag names: by id, exact label, normalised label, lemma key."""
        hit = self._tag_cache.get(tag)
        if hit is None:
            text = tag.strip()
            if text in self.onto.concepts:
                hit = tuple(self.onto.current_ids(text))
            else:
                words = _tokens(text)  # once for both keys below (normalize_label, lemma_key)
                ids = (self.exact.get(text.casefold()) or self.normalized.get("".join(map(singular, words)))
                       or self.index.get("".join(map(lemma, words))) or ())
                hit = tuple(ids)
            self._tag_cache[tag] = hit
        return hit

    def find_mentions(self, caption: str) -> tuple[list[Mention], list[list[str]]]:
        """Concepts mentioned in ``caption`` (longest n-gram first, not across punctuation) and
        the runs of content words nothing matched (candidate noun phrases for embedding)."""
        mentions: list[Mention] = []
        leftovers: list[list[str]] = []
        for segment in _SEGMENT.split(caption):
            words = _tokens(segment)
            singulars = [singular(w) for w in words]
            lemmas = [lemma(w) for w in words]
            run: list[str] = []
            i = 0
            while i < len(words):
                found = None
                for n in range(min(self.max_ngram, len(words) - i), 0, -1):
                    if n == 1 and words[i] in STOPWORDS:
                        break
                    # The closer form wins: "drumming" names drumming before the lemma reaches drum.
                    ids = self.normalized.get("".join(singulars[i:i + n])) or self.index.get("".join(lemmas[i:i + n]))
                    if ids:
                        found = (n, ids)
                        break
                if found:
                    if run:
                        leftovers.append(run)
                        run = []
                    n, ids = found
                    mentions.append(Mention(surface(words[i:i + n]), tuple(ids), "lexical"))
                    i += n
                    continue
                word = words[i]
                if word in STOPWORDS or word.isdigit() or len(word) < 2:
                    if run:
                        leftovers.append(run)
                        run = []
                else:
                    run.append(word)
                i += 1
            if run:
                leftovers.append(run)
        return mentions, leftovers


class EmbeddingMatcher:
    """Match phrases to the nearest concept label by sentence embedding (cosine >= threshold).

    Concept labels and synonyms are embedded once (and cached on disk by :mod:`uts.embedding`);
    the model loads on first use only.
    """

    def __init__(self, onto: Ontology, threshold: float = 0.8, model: str | None = None,
                 min_words: int = 2):
        import torch

        from uts.embedding import Embedder

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
