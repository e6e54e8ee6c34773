"""THE resolver: free text -> concept ids, and how each matched. Every command that turns a tag
into UTS concepts comes here (``Ontology.lookup``, ``uts vocab``, ``uts map apply``, ``uts
synth``, the demo); the mapping engine's embeddings and set-level context build on top of it.

A text is looked up in tiers, strictest first; the first tier with a hit answers:

1. ``id``: the text is a concept id (``UTS:0000123``);
2. ``curated``: a reviewed alignment the caller passes (dataset label -> concept ids, e.g. the
   paper's ``uts-paper.sssom.tsv``), by exact text and then by normalised text. It is the one
   *context rule*: a curator decided what the tag means in that data set ("pops" there means
   popping sounds, not pop music), so it beats the ontology's own labels. An entry with no ids
   is a decision too ("no UTS concept"): the tag resolves to nothing;
3. ``label`` / ``synonym``: exact text, case folded;
4. ``normalized``: :func:`~uts.ontology.normalize.normalize_label` (case, accents, separators,
   simple plurals: ``Hi-Hats`` finds ``hi-hat``);
5. ``lemma``: :func:`lemma_key`, a light deterministic stemmer on both sides (``barking`` finds
   ``bark``); optional, on by default.

A hit on a deprecated concept is followed to its replacement(s) (``replaced``) unless the caller
asks for deprecated concepts; a live concept that matched directly beats one reached through a
replacement. Inside a caption (:meth:`Resolver.mentions`) the longest run of words that names a
concept wins, never across punctuation.

:class:`Lexicon` is the tier machinery on its own, over any id space: the mapping engine uses it
to match a dataset's label text against an alignment's subject labels.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache

from .normalize import normalize_label, singular, tokens

# "Ontology" below is uts.ontology.model.Ontology, named only in annotations: the model imports
# this module (Ontology.lookup), so importing it back would make a cycle.

# Function words and caption boiler-plate ("the audio features ..."): never a tag on their own
# inside a caption, and never a lookup key.
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


def words(text: str) -> list[str]:
    """:func:`uts.ontology.normalize.tokens`, with a shortcut for ASCII text (nothing to fold or
    strip of accents, so lowercase + the same word pattern give the same tokens, several times
    faster; resolving 30,000 distinct tags is dominated by this)."""
    return _WORD.findall(text.lower()) if text.isascii() else tokens(text)


def _has_vowel(text: str) -> bool:
    return any(ch in "aeiouy" for ch in text)


def lemma(word: str) -> str:
    """A light stem of one lowercase token: plural, ``-ing``, ``-ed`` and a final ``e`` removed,
    a doubled final consonant undone (``drumming`` -> ``drum``, but ``buzzing`` -> ``buzz``).
    Rule-based, so it needs no downloads and is exactly reproducible; both the labels and the
    text go through it, so a stem need not be a real word."""
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


@lru_cache(maxsize=262_144)
def lemma_key(text: str) -> str:
    """The lemma tier's key of a phrase: lemmas of its tokens joined without separators, so
    ``hi-hats``, ``hi hat`` and ``hihat`` share one key."""
    return "".join(lemma(t) for t in words(text))


def surface(tokens_: Iterable[str]) -> str:
    """The raw tag for matched caption words: lowercase, singular, space-separated."""
    return " ".join(singular(w) for w in tokens_)


@dataclass(frozen=True)
class Match:
    """How a free-text tag resolved to a concept."""

    id: str
    label: str
    matched_by: str  # "id" | "curated" | "label" | "synonym" | "normalized" | "lemma" | "replaced"

    def as_dict(self) -> dict:
        return {"id": self.id, "label": self.label, "matched_by": self.matched_by}


class TagFileError(ValueError):
    """A file of tags (one per line) that is not UTF-8 text."""


def read_tags(tags: Iterable[str] | None, file=None) -> list[str]:
    """Tags given as arguments plus the non-empty lines of ``file`` (a path), in order."""
    out = list(tags or [])
    if file is not None:
        with open(file, encoding="utf-8-sig") as fh:  # a BOM is not part of the first tag
            try:
                lines = fh.readlines()
            except UnicodeDecodeError as exc:
                raise TagFileError(f"{file}: not UTF-8 text (bad byte at offset {exc.start}); "
                                   "a text file of tags, one per line, is expected") from None
        out += [line.strip() for line in lines if line.strip()]
    return out


def lookup_many(onto: "Ontology", tags: Sequence[str]) -> list[dict]:
    """``[{"input": tag, "matches": [Match.as_dict(), ...]}, ...]`` by ``Ontology.lookup``."""
    return [{"input": t, "matches": [m.as_dict() for m in onto.lookup(t)]} for t in tags]


def format_lookups(results: list[dict]) -> str:
    """One line per tag: ``tag<TAB>id 'label' (how); ...`` or ``no match``."""
    return "\n".join(
        f"{r['input']}\t" + ("; ".join(f"{m['id']} {m['label']!r} ({m['matched_by']})" for m in r["matches"])
                             or "no match") for r in results)


@dataclass(frozen=True)
class Mention:
    """A stretch of caption text and the concepts it resolves to (empty when unresolved)."""

    tag: str
    concept_ids: tuple[str, ...]
    matched_by: str  # "lexical" | "embedding" | "unresolved"


class Lexicon:
    """Texts -> ids in three tiers (exact case-folded text, normalised, lemma), over any id
    space. Entries are ``(id, text, kind)``; the first entry of a key is listed first, so give
    the preferred ones first."""

    def __init__(self, entries: Iterable[tuple[str, str, str]] = ()):
        self.exact: dict[str, list[tuple[str, str]]] = {}
        self.normalized: dict[str, list[str]] = {}
        self.lemma: dict[str, list[str]] = {}
        self.longest = 1  # most words in one entry's text
        # What each id holds (its table keys, its texts' word counts), so that :meth:`remove`
        # takes an edited concept out without scanning every key.
        self._held: dict[str, tuple[list[tuple[dict, str]], list[int]]] = {}
        self._lengths: Counter[int] = Counter()
        for entry in entries:
            self.add(*entry)

    def add(self, id_: str, text: str, kind: str = "label") -> None:
        toks = words(text)  # shared by the normalised and the lemma key
        keys, lengths = self._held.setdefault(id_, ([], []))
        exact_key = text.casefold().strip()
        if exact_key and exact_key not in STOPWORDS:
            hits = self.exact.setdefault(exact_key, [])
            if all(i != id_ for i, _ in hits):
                hits.append((id_, kind))
                keys.append((self.exact, exact_key))
        for table, key in ((self.normalized, "".join(map(singular, toks))),
                           (self.lemma, "".join(map(lemma, toks)))):
            if key and key not in STOPWORDS:
                ids = table.setdefault(key, [])
                if id_ not in ids:
                    ids.append(id_)
                    keys.append((table, key))
        lengths.append(len(toks))
        self._lengths[len(toks)] += 1
        self.longest = max(self.longest, len(toks))

    def remove(self, ids: Iterable[str]) -> None:
        """Take every entry of ``ids`` out; the other ids' entries keep their order."""
        for id_ in ids:
            keys, lengths = self._held.pop(id_, ((), ()))
            for table, key in keys:
                rest = [h for h in table[key] if (h[0] if table is self.exact else h) != id_]
                if rest:
                    table[key] = rest
                else:
                    del table[key]
            self._lengths.subtract(lengths)
        self._lengths = +self._lengths  # drop zero counts
        self.longest = max([1, *self._lengths])

    def sort_keys_of(self, ids: Iterable[str], rank: Callable[[str], object]) -> None:
        """Order the ids under every key that ``ids`` hold by ``rank`` (stable), as a build from
        entries sorted by ``rank`` lists them: re-added entries then sit where a build puts them."""
        for id_ in ids:
            for table, key in self._held.get(id_, ((), ()))[0]:
                if table is self.exact:
                    table[key].sort(key=lambda hit: rank(hit[0]))
                else:
                    table[key].sort(key=rank)

    def lookup(self, text: str, lemmas: bool = True) -> list[tuple[str, str]]:
        """``(id, how)`` pairs of the strictest tier that knows ``text``; ``how`` is the entry's
        kind for an exact hit, else ``normalized`` or ``lemma``."""
        hits = self.exact.get(text.casefold().strip())
        if hits:
            return list(hits)
        ids = self.normalized.get(normalize_label(text))  # both keys are cached per text
        if ids:
            return [(i, "normalized") for i in ids]
        if lemmas:
            ids = self.lemma.get(lemma_key(text))
            if ids:
                return [(i, "lemma") for i in ids]
        return []


class Curated:
    """A reviewed alignment's answers for a data set's own tags: tag text -> ids, by exact
    (case-folded) text and then by normalised text, never by lemma. A tag decided to have no
    concept (an empty id list, SSSOM's ``sssom:NoTermFound``) answers ``()``, which stops the
    lookup: it is a decision, not a gap. ``lookup`` returns ``None`` for a tag it does not know."""

    def __init__(self, labels: Mapping[str, Sequence[str]] | None = None):
        self.lexicon = Lexicon()
        self.decided_empty: set[str] = set()
        for text, ids in (labels or {}).items():
            if not ids:
                self.decided_empty.add(text.casefold().strip())
            for id_ in ids:
                self.lexicon.add(id_, text, "curated")

    def __bool__(self) -> bool:
        return bool(self.decided_empty or self.lexicon.exact)

    def lookup(self, text: str) -> tuple[str, ...] | None:
        key = text.casefold().strip()
        hits = self.lexicon.exact.get(key)
        if hits:
            return tuple(i for i, _ in hits)
        if key in self.decided_empty:
            return ()
        hits = self.lexicon.lookup(text, lemmas=False)
        return tuple(i for i, _ in hits) if hits else None


class Resolver:
    """Text -> concepts of one ontology (see the module doc for the tiers).

    ``curated`` maps a data set's own tag text to the concept ids a reviewed alignment gives it
    (build it with :func:`uts.mapping.sssom.curated_labels`); ``lemmas=False`` stops at the
    normalised tier (``Ontology.lookup`` passes ``lemmas=False`` per call: a curator naming a
    concept wants no stemming).
    The resolver reads the ontology once; after edits build a new one, or call :meth:`refresh`
    with the ids of the concepts that were added or changed (``Ontology.touch`` does so for the
    ontology's own resolver)."""

    def __init__(self, onto: "Ontology", curated: Mapping[str, Sequence[str]] | None = None,
                 lemmas: bool = True, max_ngram: int = 6):
        self.onto = onto
        self.lemmas = lemmas
        # Active concepts first so that, for a shared key, the live concept is listed first.
        ordered = sorted(onto.concepts.values(), key=self._rank)
        self.lexicon = Lexicon(entry for c in ordered for entry in self._entries(c))
        self.curated = Curated(curated)
        self._max_ngram = max_ngram
        self.max_ngram = min(self.lexicon.longest, max_ngram)
        self._ids_cache: dict[str, tuple[str, ...]] = {}
        self._live_cache: dict[tuple[int, str], tuple[str, ...]] = {}

    @staticmethod
    def _rank(c) -> tuple[bool, str]:
        return c.deprecated, c.id

    @staticmethod
    def _entries(c) -> list[tuple[str, str, str]]:
        return [(c.id, c.label, "label")] + [(c.id, s, "synonym") for s in c.synonyms]

    def refresh(self, changed: Iterable[str]) -> None:
        """Bring the lexicon up to date after the concepts ``changed`` were added or edited
        (labels, synonyms, deprecation): their old entries go, their new ones are added where a
        fresh build would list them, and the caches are cleared. A batch of edits then costs
        per changed concept, not per concept of the ontology."""
        concepts = self.onto.concepts
        changed = set(changed)
        self.lexicon.remove(changed)
        for c in sorted((concepts[i] for i in changed), key=self._rank):
            for entry in self._entries(c):
                self.lexicon.add(*entry)
        self.lexicon.sort_keys_of(changed, lambda i: self._rank(concepts[i]))
        self.max_ngram = min(self.lexicon.longest, self._max_ngram)
        self._ids_cache.clear()
        self._live_cache.clear()

    # -- one tag -----------------------------------------------------------------------------
    def resolve(self, text: str, include_deprecated: bool = False,
                lemmas: bool | None = None) -> list[Match]:
        """Every concept ``text`` names, with how it matched (empty list: nothing).
        ``lemmas`` overrides the resolver's setting for this call."""
        query = text.strip()
        if query in self.onto.concepts:
            return self._matches([(query, "id")], include_deprecated)
        if self.curated:
            ids = self.curated.lookup(query)
            if ids is not None:
                return self._matches([(i, "curated") for i in ids if i in self.onto.concepts],
                                     include_deprecated)
        lemmas = self.lemmas if lemmas is None else lemmas
        return self._matches(self.lexicon.lookup(query, lemmas), include_deprecated)

    def decided(self, text: str) -> tuple[str, ...] | None:
        """What the reviewed alignment (the curated tier) says ``text`` names: its active ids,
        ``()`` for a tag it decided has no concept, ``None`` when it does not decide the tag. A
        record's own ids (``vocab extract``'s, resolved without the alignment) yield to it, so
        one tag gets one answer whichever command reads it."""
        if not self.curated:
            return None
        ids = self.curated.lookup(text.strip())
        if ids is None:
            return None
        return tuple(m.id for m in self._matches([(i, "curated") for i in ids if i in self.onto.concepts], False))

    def ids(self, text: str) -> tuple[str, ...]:
        """Ids of the active concepts ``text`` names (cached: vocabularies repeat tags)."""
        hit = self._ids_cache.get(text)
        if hit is None:
            hit = self._ids_cache[text] = tuple(m.id for m in self.resolve(text))
        return hit

    def one(self, text: str, lemmas: bool | None = None) -> str | None:
        """The id of the single concept ``text`` names; ``None`` when none or several. An exact
        label or synonym hit beats looser ones (``"guitar"`` is the guitar even if a plural
        folds onto it too)."""
        matches = self.resolve(text, lemmas=lemmas)
        exact = [m for m in matches if m.matched_by in ("id", "label", "synonym", "curated")]
        pick = exact or matches
        return pick[0].id if len(pick) == 1 else None

    def _matches(self, hits: list[tuple[str, str]], include_deprecated: bool) -> list[Match]:
        out: list[Match] = []
        seen: set[str] = set()
        concepts = self.onto.concepts
        for cid, how in hits:
            c = concepts[cid]
            if c.deprecated and not include_deprecated:
                for rid in self.onto.current_ids(cid):
                    if rid not in seen:
                        seen.add(rid)
                        out.append(Match(rid, concepts[rid].label, "replaced"))
                continue
            if cid not in seen:
                seen.add(cid)
                out.append(Match(cid, c.label, how))
        # A live concept that matched directly beats one reached through a replacement.
        direct = [m for m in out if m.matched_by != "replaced"]
        return direct or out

    # -- a caption ---------------------------------------------------------------------------
    def mentions(self, caption: str) -> tuple[list[Mention], list[list[str]]]:
        """Concepts mentioned in ``caption`` (longest n-gram first, not across punctuation;
        normalised tier before lemma tier) and the runs of content words nothing matched
        (candidate noun phrases for an embedding matcher)."""
        found_mentions: list[Mention] = []
        leftovers: list[list[str]] = []
        for segment in _SEGMENT.split(caption):
            toks = words(segment)
            singulars = [singular(w) for w in toks]
            lemmas = [lemma(w) for w in toks]
            run: list[str] = []
            i = 0
            while i < len(toks):
                found = None
                for n in range(min(self.max_ngram, len(toks) - i), 0, -1):
                    if n == 1 and toks[i] in STOPWORDS:
                        break
                    # The closer form wins: "drumming" names drumming before the lemma reaches drum.
                    ids = (self._live(self.lexicon.normalized, "".join(singulars[i:i + n]))
                           or self._live(self.lexicon.lemma, "".join(lemmas[i:i + n])))
                    if ids:
                        found = (n, ids)
                        break
                if found:
                    if run:
                        leftovers.append(run)
                        run = []
                    n, ids = found
                    found_mentions.append(Mention(surface(toks[i:i + n]), ids, "lexical"))
                    i += n
                    continue
                word = toks[i]
                if word in STOPWORDS or word.isdigit() or len(word) < 2:
                    if run:
                        leftovers.append(run)
                        run = []
                else:
                    run.append(word)
                i += 1
            if run:
                leftovers.append(run)
        return found_mentions, leftovers

    def _live(self, table: dict[str, list[str]], key: str) -> tuple[str, ...]:
        """Active ids under ``key`` in a lexicon table (deprecated ones followed), memoised."""
        ids = table.get(key)
        if not ids:
            return ()
        live = self._live_cache.get((id(table), key))
        if live is None:
            live = self._live_cache[(id(table), key)] = tuple(
                m.id for m in self._matches([(i, "") for i in ids], False))
        return live
