"""Text handling for matching: compound splitting, head words and the negation guard (the
lexical index itself is the ontology resolver's :class:`uts.ontology.resolve.Lexicon`).

Dataset tags are often written as one word (``acousticbassguitar``, ``drumnbass``), with generic
heads (``Rock music`` vs ``rock``) or as negations (``no vocals``). These helpers turn labels into
what the lexical index and the embedding model should see.
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

from uts.ontology.normalize import singular, tokens

# Heads that add nothing to the identity of a sound/music concept: "Rock music" == "rock".
GENERIC_HEADS = frozenset({"music", "sound", "sounds", "noise", "noises", "genre", "instrument", "audio"})
NEGATION_WORDS = frozenset({"no", "non", "not", "without", "none", "nothing", "never"})
NEGATION_PHRASES = ("absence of", "lack of", "free of", "devoid of", "minus ")
# Labels that name no content at all: they must never be mapped to a real concept.
NONCONTENT = frozenset({
    "other", "others", "unknown", "misc", "miscellaneous", "na", "n a", "none", "null", "nil",
    "unclear", "undefined", "unlabeled", "unlabelled", "various", "mixed", "tbd", "todo",
    "unspecified", "generic", "anything", "something", "etc", "blank", "empty", "invalid", "error",
})
# A label starting with one of these is a catch-all class ("other vehicles", "unknown source").
CATCH_ALL = frozenset({"other", "others", "unknown", "misc", "miscellaneous", "unidentified", "unclassified"})
_NONCONTENT_FILLERS = frozenset({"sound", "sounds", "noise", "noises", "label", "labels", "class", "tag", "category"})
_PAREN = re.compile(r"\([^)]*\)")


def core_tokens(text: str) -> tuple[str, ...]:
    """Singular tokens without parenthetical qualifiers and generic heads."""
    toks = [singular(t) for t in tokens(_PAREN.sub(" ", text))]
    core = [t for t in toks if t not in GENERIC_HEADS]
    return tuple(core or toks)


@lru_cache(maxsize=1 << 16)
def same_word(a: str, b: str) -> bool:
    """Equal up to a verb/noun ending: knock ~ knocking, clap ~ clapping, bark ~ barking."""
    if a == b:
        return True
    short, long_ = sorted((a, b), key=len)
    return len(short) >= 4 and long_.startswith(short[:-1] if short.endswith("e") else short) \
        and len(long_) - len(short) <= 4


# Common English nouns that merely end in "-ing" (not a verb's event form).
_ING_NOUNS = frozenset({
    "building", "ceiling", "clothing", "morning", "evening", "wedding", "pudding", "lightning",
    "awning", "herring", "string", "thing", "nothing", "something", "anything", "everything",
    "king", "ring", "wing", "spring", "sing", "swing", "sting", "bling", "ping", "ling", "offspring",
})


_PREPOSITIONS = frozenset({"on", "of", "in", "at", "with", "from", "by", "against", "into", "onto", "for"})
_STOP = _PREPOSITIONS | {"the", "a", "an", "and"}


def event_words(toks) -> tuple[str, ...]:
    """The ``-ing`` forms of verbs in a label's tokens: what the sound *is* in an event
    description ("crackling fire", "dog barking", "sawing wood"). Any token of 6+ letters
    ending in "ing" counts, except common nouns that merely end so (*building*, *string*)."""
    return tuple(t for t in toks if len(t) >= 6 and t.endswith("ing") and t not in _ING_NOUNS)


def compound_heads(toks) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(heads, modifiers) of a multi-word label, read the way English builds them.

    An event description names its sound with a verb's ``-ing`` form; the other words name the
    sound's source: in "crackling fire" and "dog barking" the heads are *crackling* and
    *barking*, and *fire*/*dog* are neither head nor mere modifier (returned in neither
    tuple). Otherwise the label is a noun compound, whose head is its last word: a "door knock"
    is a knock, a "mouse click" a click; the words before it are modifiers - unless a
    preposition comes first: a "knock on door" is a knock too. A one-word label has no
    compound structure: ``((), ())``."""
    toks = tuple(toks)
    if len(toks) < 2:
        return (), ()
    events = event_words(toks)
    if events:
        return events, ()
    cut = next((i for i, t in enumerate(toks) if t in _PREPOSITIONS), None)
    if cut:  # "knock on door", "bell of church": the head is the noun before the preposition
        return toks[cut - 1:cut], toks[:cut - 1] + tuple(t for t in toks[cut + 1:] if t not in _STOP)
    toks = tuple(t for t in toks if t not in _STOP) or toks
    return toks[-1:], toks[:-1]


def alternatives(text: str) -> list[str]:
    """The parts of a label written as alternatives: "mood/theme" -> ["mood", "theme"],
    "rock or pop" -> ["rock", "pop"]; [] for a label that is not ("n/a" has no word parts)."""
    parts = [p.strip() for p in re.split(r"\s*/\s*|\s+or\s+", text)]
    if len(parts) < 2 or any(len(tokens(p)) == 0 or len(p) < 2 for p in parts):
        return []
    return parts


def branch_head(labels, share: float = 0.5, minimum: int = 3) -> str | None:
    """The generic head (``music``, ``sound``, ...) that at least ``share`` of ``labels`` end
    with, given at least ``minimum`` labels: how a target names the concepts of one branch
    ("Happy music", "Sad music", "Tender music" -> ``music``). None when there is no such head."""
    labels = list(labels)
    if len(labels) < minimum:
        return None
    counts: dict[str, int] = {}
    for text in labels:
        toks = tokens(_PAREN.sub(" ", text.split(",")[0]))
        if toks and singular(toks[-1]) in GENERIC_HEADS:
            counts[toks[-1]] = counts.get(toks[-1], 0) + 1
    if not counts:
        return None
    head, n = max(counts.items(), key=lambda kv: (kv[1], kv[0]))
    return head if n >= share * len(labels) else None


def acronyms(text: str) -> set[str]:
    """Initialisms a multi-word label is written as: "Electronic dance music" -> {"edm"},
    "Rhythm and blues" -> {"rb", "rnb"}. Only for labels of 2-5 words."""
    toks = tokens(_PAREN.sub(" ", text))
    if not 2 <= len(toks) <= 5:
        return set()
    plain = "".join(t[0] for t in toks if t not in ("and", "of", "the", "n"))
    with_and = "".join("n" if t == "and" else t[0] for t in toks if t not in ("of", "the"))
    return {a for a in (plain, with_and) if len(a) >= 2}


def polarity_negative(text: str) -> bool:
    """True for negated labels: "no vocals", "non-speech", "without drums", "no_vocals"."""
    toks = tokens(text)
    if not toks:
        return False
    lowered = " ".join(toks)
    return toks[0] in NEGATION_WORDS or any(f" {p}" in f" {lowered} " for p in NEGATION_PHRASES) \
        or lowered.startswith("non ") or bool(re.match(r"^non[a-z]", toks[0]) and toks[0][3:] in _NON_WORDS)


# "nonspeech", "nonmusic": only split "non" off words we know take it as a negation prefix.
_NON_WORDS = frozenset({"speech", "music", "vocal", "vocals", "verbal", "voice", "human", "musical"})


def non_content(text: str) -> bool:
    """True for labels that name no content: "other", "unknown", "misc", "n/a", "other sounds",
    and catch-all classes that start so ("other identifiable sounds", "unknown-source")."""
    toks = tokens(text)
    if not toks:
        return True
    joined = " ".join(toks)
    if joined in NONCONTENT or toks[0] in CATCH_ALL:
        return True
    content = [t for t in toks if t not in _NONCONTENT_FILLERS]
    return bool(content) and all(t in NONCONTENT for t in content)


def _known(piece: str, words) -> bool:
    """``piece`` is a word of ``words``, its plural, or its -ing form (listening, splashing)."""
    if piece in words or singular(piece) in words:
        return True
    if piece.endswith("ing") and len(piece) >= 6:
        stem = piece[:-3]
        return stem in words or stem + "e" in words or (stem[-1] == stem[-2] and stem[:-1] in words)
    return False


class Segmenter:
    """Split run-together tags into words known from a vocabulary: ``acousticbassguitar`` ->
    ``acoustic bass guitar``. Only tokens that are not words themselves are split, into as few
    known pieces as possible (pieces of 3+ letters, plus a few short connectors).

    ``prose`` (optional) are words met only in running text such as target descriptions: they
    serve as pieces, but do not keep a token whole when it is a compound of ``names`` (the
    target's own label words): ``electropop`` from a description is *Electro* + *Pop*, while
    ``soundscape`` stays whole (not ``sounds cape``)."""

    SHORT = frozenset({"n", "hi", "dj", "of", "and"})

    def __init__(self, vocabulary: set[str], prose: set[str] = frozenset(), names: set[str] = frozenset()):
        self.words = {w for w in vocabulary if len(w) >= 3} | self.SHORT
        self.prose = {w for w in prose if len(w) >= 3} - self.words
        self.names = {w for w in names if len(w) >= 3} | self.SHORT
        self.vocab = self.words | self.prose


    @lru_cache(maxsize=65536)
    def split_token(self, token: str) -> tuple[str, ...]:
        if len(token) < 6 or token in self.words or singular(token) in self.words or self.inflected(token):
            return (token,)
        allowed = self.names if token in self.prose or singular(token) in self.prose else self.vocab
        n = len(token)
        best: list[tuple[int, int] | None] = [None] * (n + 1)  # (pieces, previous cut)
        best[0] = (0, -1)
        for end in range(1, n + 1):
            for start in range(max(0, end - 20), end):
                if start == 0 and end == n:
                    continue  # the token itself is no split
                piece = token[start:end]
                if best[start] is None or not _known(piece, allowed):
                    continue
                cand = (best[start][0] + 1, start)
                if best[end] is None or cand[0] < best[end][0]:
                    best[end] = cand
        if best[n] is None or best[n][0] < 2:
            return (token,)
        pieces, end = [], n
        while end > 0:
            start = best[end][1]
            pieces.append(token[start:end])
            end = start
        return tuple(reversed(pieces))

    def inflected(self, token: str) -> bool:
        """An -ing form of a word is a word, not a compound: ``purring``, ``splashing`` and
        ``galloping`` stay whole (not ``purr ing``, ``gallo ping``), unless its stem itself
        splits (``easylistening`` -> ``easy listening``)."""
        if not token.endswith("ing") or len(token) < 6:
            return False
        stem = token[:-3]
        return len(self.split_token(stem)) == 1 and len(self.split_token(stem + "e")) == 1

    def __call__(self, text: str) -> str:
        """The text with run-together tokens split (unchanged when nothing splits)."""
        toks = tokens(text)
        split = [p for t in toks for p in self.split_token(t)]
        return " ".join(split) if split != toks else text


def wordpiece_words(model_path, min_length: int = 3) -> set[str]:
    """Whole words (of ``min_length`` letters or more) of a WordPiece ``vocab.txt`` beside a
    model (an English word list that ships with the embedding model); empty when it has none."""
    vocab = Path(model_path) / "vocab.txt"
    if not vocab.is_file():
        return set()
    words = vocab.read_text(encoding="utf-8").split("\n")
    return {w for w in words if len(w) >= min_length and w.isalpha() and w.islower()}
