"""Set-level readings: what a label stands for, judged from its whole set before matching.

A person reads a label list before mapping it, and some labels only make sense that way:

- **Documented codes.** A set of short codes (``c``, ``m``, ``KD``, ``gac``) whose file gives
  each code's meaning (a ``description`` column) is read as those meanings: CHiME-Home ``p``
  is *percussive sounds*, not a letter.
- **Abbreviations.** A set of undocumented codes (``vn va vc db``, ``Vln.``, ``jaz``, ``roc``)
  is read by expanding each code into a target name it abbreviates: the code's letters start
  a word of the name (``jaz`` -> *jazz*), are its consonant skeleton (``tpt`` -> *trumpet*,
  ``hn`` -> *horn*) or its initials (``db`` -> *double bass*). One code alone is ambiguous
  (``cla``: *classical*, *clarinet*, *clave*); the set is not: the expansion is taken from the
  target branch that explains most of the set's codes (*music genre* for ``blu cla cou dis``,
  *musical instrument* for ``vn va vc``).
- **Family prefixes.** A list whose labels are paths (``Brass/Horn``, ``Winds/Clarinet_Bb``,
  as folder names often are) names each label's family before the slash: ``Brass/Horn`` is a
  horn of the brass family, read as *Horn (Brass)*, not the *brass instrument* the family names.
- **Two things in one label.** ``SPEECH_WITH_MUSIC``, ``rain with thunder``: the thing
  labelled comes first and the rest says what is heard with it; the label is read as the first
  part (*speech*), not as whatever the whole phrase is nearest to (*prosody*, *hubbub*) -
  unless the target names the whole label.
- **Elided heads.** Label sets drop the head word their whole list shares: in a music tag set
  *happy* is *happy music* and *female* a *female singing* voice; in a list of acoustic scenes
  *bus* is the *bus interior*. When a quarter or more of a flat set's labels complete with the
  same head word to target names, the set elides that head; a label whose own name hits nothing
  in the branch those completions share is read with the head (*happy* -> *happy music*, while
  *rock* keeps its own *rock music* and *home* its own *home*).

A reading replaces the label's text for matching only; the SSSOM row keeps the label as written
and its ``comment`` says how it was read. Negated and non-content labels are never expanded.
Whether a set is a code set is decided from the set, never from one label: at least half of its
labels must be short codes (<= 4 letters a token) that the target does not name, and at least
:data:`NONWORD_SHARE` of them must not be words (one letter, an abbreviation dot, or not a word
of the embedding model's vocabulary) - so a list of spoken command words (*up*, *go*, *six*) is
not read as codes.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, replace

import numpy as np

from uts.ontology.normalize import singular, tokens

from .labelsets import Label
from .text import GENERIC_HEADS, non_content, polarity_negative

CODE_LETTERS = 4  # a code's tokens are at most this long ("timp", "perc")
CODE_SET_SHARE = 0.5  # share of a set's labels that must be unnamed short codes
NONWORD_SHARE = 0.3  # ... and the share that must not be words at all
EXPAND_MIN = 0.7  # weakest expansion score kept (a consonant skeleton of a one-word name)
BRANCH_COVER = 0.8  # a branch explaining this share of the best branch's codes may be preferred
HEAD_SHARE = 0.25  # share of a flat set's labels that must complete with one head word
HEAD_MIN = 3  # ... and at least this many
SECOND_HEAD_MIN = 2  # labels another head must complete into the branch (female, male: singing)
FAMILY_SHARE = 0.5  # share of a set's labels that must be paths for it to read as families
_LETTERS = re.compile(r"[^\W\d_]+")
_DOTTED = re.compile(r"[^\W\d_]\.")
_STOP = frozenset({"and", "of", "the", "n", "a", "or", "for", "in", "on"})


@dataclass
class Reading:
    text: str  # what the label is matched as
    note: str  # why (for the SSSOM comment)


def code_tokens(label: str) -> list[str]:
    return [t.lower() for t in _LETTERS.findall(label)]


def code_like(label: str) -> bool:
    """Short letter codes: 1-3 tokens of at most CODE_LETTERS letters, no digits ("E. Hn.", "gac")."""
    if any(ch.isdigit() for ch in label):
        return False
    toks = code_tokens(label)
    return 1 <= len(toks) <= 3 and all(len(t) <= CODE_LETTERS for t in toks) and sum(map(len, toks)) <= 8


def non_word(label: str, words: set[str]) -> bool:
    """A code that is not a word: a single letter, an abbreviation dot, or a token the model's
    vocabulary does not hold as a word."""
    toks = code_tokens(label)
    return bool(_DOTTED.search(label)) or any(len(t) == 1 or t not in words for t in toks)


def first_phrase(description: str) -> str:
    """The meaning a description gives, without examples and asides: "percussive sounds, e.g.
    crash, bang" -> "percussive sounds"; "anger (Wut)" -> "anger"."""
    text = re.sub(r"\([^)]*\)", " ", description)
    text = re.split(r"\be\.g\.|\bi\.e\.|;|:|\. ", text)[0]
    text = " ".join(text.split()).strip(" ,.-")
    if len(text.split()) > 6:
        text = text.split(",")[0].strip()
    return text or description.strip()


def word_match(code: str, word: str) -> float:
    """How well one code token abbreviates one word: a prefix (jaz: jazz; or the word itself,
    hip in *hip hop*) 1.0; the word's
    letters in order from its first (tpt: trumpet) 0.7, 0.8 when the last letters agree."""
    if len(word) < len(code) or code[0] != word[0]:
        return 0.0
    if word.startswith(code):
        return 1.0
    it = iter(word[1:])
    if all(ch in it for ch in code[1:]):
        return 0.8 if code[-1] == word[-1] else 0.7
    return 0.0


def expansion_score(code: list[str], name: list[str]) -> float:
    """How well a code (its tokens) abbreviates a target name (its tokens): matched words times
    the share of the name's content words they cover ("cla" covers *classical music* whole,
    *classical guitar* half); initials of a 2-5 word name ("db": *double bass*) 0.8, as good as
    a consonant skeleton."""
    core = [t for t in name if t not in GENERIC_HEADS and t not in _STOP] or name
    if len(code) == 1:
        c = code[0]
        if len(c) < 2:
            return 0.0
        best = max((word_match(c, w) for w in core), default=0.0) / len(core)
        if 2 <= len(core) <= 5 and len(c) == len(core) and all(w[0] == ch for w, ch in zip(core, c)):
            best = max(best, 0.8)
        return best
    if sum(len(c) for c in code) < 2 or len(code) > len(core):
        return 0.0
    best = 0.0
    for start in range(len(core) - len(code) + 1):
        window = core[start:start + len(code)]
        q = [1.0 if len(c) == 1 and w.startswith(c) and len(w) > 1 else word_match(c, w) for c, w in zip(code, window)]
        if min(q) > 0:
            best = max(best, float(np.mean(q)) * len(code) / len(core))
    return best


def prefix_share(code: str, name: str) -> float:
    """Share of the name's shortest word that a one-token prefix code covers (0 otherwise)."""
    toks = code_tokens(code)
    if len(toks) != 1:
        return 0.0
    words = [w for w in tokens(name) if w.startswith(toks[0])]
    return len(toks[0]) / min(map(len, words)) if words else 0.0


# English number words: a label set that counts (``zero`` ... ``nine``, ``0`` ... ``9``) is a list of
# spoken words (keyword spotting, spoken digits), whatever its other words name
NUMBER_WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten")
SPOKEN_NUMERALS = 3  # distinct small numerals a set must hold to read as spoken words ...
SPOKEN_SHARE = 0.25  # ... and the share of its labels they must be


def numeral(label: str) -> int | None:
    """The value of a label that is a bare small numeral (``7``, ``seven``, ``Seven``), else None."""
    text = label.strip().lower()
    if text.isdigit():
        return int(text)
    return NUMBER_WORDS.index(text) if text in NUMBER_WORDS else None


def spoken_word_set(labels: list[Label]) -> str | None:
    """Why ``labels`` are spoken words rather than sound classes (None if they are not): at least
    :data:`SPOKEN_NUMERALS` distinct numerals from 0 to 10, digits or number words, make up at
    least :data:`SPOKEN_SHARE` of the set (AudioMNIST's ``0``-``9``; Speech Commands' ``zero``-``nine``
    among ``yes``, ``dog``, ``house``). A sound taxonomy does not count; a spoken-word corpus
    does, and its ``dog`` is the word, not a dog. Chord or meter lists (``7``, ``9``, ``11``)
    hold too few small numerals to qualify."""
    plain = [lab for lab in labels if not non_content(lab.label)]
    values = [v for v in (numeral(lab.label) for lab in plain) if v is not None and v <= 10]
    if len(set(values)) < SPOKEN_NUMERALS or len(values) < SPOKEN_SHARE * len(plain):
        return None
    return (f"a list of spoken words: {len(values)} of its {len(plain)} labels are numerals "
            "(digits or number words), so its labels name words said, not sound classes")


def family_paths(labels: list[Label]) -> dict[str, tuple[str, str]]:
    """Label id -> (name, family) for a list whose labels are paths (``Brass/Horn`` ->
    ("Horn", "Brass"); ``a/b/c`` -> ("c", "a/b")). Decided from the whole list, never from one
    label: at least :data:`FAMILY_SHARE` of its labels are paths, some family holds two or more
    of them, and there are at most half as many families as path labels. A list with a few
    "either" labels (``cafe/restaurant``, ``Folk / Country``) is left alone: their parts are
    alternatives (:func:`uts.mapping.text.alternatives`)."""
    paths = {}
    for lab in labels:
        family, _, name = lab.label.rpartition("/")
        if family.strip() and name.strip():
            paths[lab.id] = (name.strip(), family.strip())
    families = Counter(f for _, f in paths.values())
    if len(paths) < max(2, FAMILY_SHARE * len(labels)) or max(families.values(), default=0) < 2 \
            or len(families) > len(paths) / 2:
        return {}
    return paths


_WITH = re.compile(r"[\s_-]+with[\s_-]+", re.I)


def with_parts(label: str) -> tuple[str, str] | None:
    """(the thing labelled, what comes with it) of a label made of two things joined by *with*
    (``SPEECH_WITH_MUSIC`` -> ("SPEECH", "MUSIC")); None for any other label."""
    parts = _WITH.split(label.strip(), maxsplit=1)
    if len(parts) != 2 or not tokens(parts[0]) or not tokens(parts[1]):
        return None
    return parts[0].strip(" _-"), parts[1].strip(" _-")


class SetReader:
    """Computes the readings of one label set against one matcher's target (built lazily: only
    code sets and flat sets with a shared elided head need the target's name index)."""

    def __init__(self, matcher):
        self.m = matcher
        self._names: dict[str, list[tuple[int, list[str], str]]] | None = None
        self._completions: dict[str, list[tuple[str, int, str]]] | None = None
        self._sizes: np.ndarray | None = None
        self.words = matcher.words

    # -- target indexes -------------------------------------------------------------------
    def names(self) -> dict[str, list[tuple[int, list[str], str]]]:
        """Target names as (concept index, tokens, text), filed under the first letter of each
        of their words: a code is only scored against names with a word starting like it."""
        if self._names is None:
            out: dict[str, list[tuple[int, list[str], str]]] = {}
            for i, lab in enumerate(self.m.target):
                for t in lab.texts():
                    toks = tokens(re.sub(r"\([^)]*\)", " ", t)) or tokens(t)
                    for letter in {w[0] for w in toks}:
                        out.setdefault(letter, []).append((i, toks, t))
            self._names = out
        return self._names

    def completions(self) -> dict[str, list[tuple[str, int, str]]]:
        """Target names of 2+ words keyed by all but their last word (singular): "car" ->
        [("interior", car interior, "car interior"), ...]."""
        if self._completions is None:
            out: dict[str, list[tuple[str, int, str]]] = {}
            for i, lab in enumerate(self.m.target):
                for t in lab.texts():
                    toks = tokens(t)
                    if len(toks) >= 2:
                        key = " ".join(singular(x) for x in toks[:-1])
                        out.setdefault(key, []).append((toks[-1], i, t))
            self._completions = out
        return self._completions

    def subtree_sizes(self) -> np.ndarray:
        """Per target concept, how many concepts sit at or below it."""
        if self._sizes is None:
            self._sizes = np.zeros(len(self.m.ids), dtype=np.int64)
            for anc in self.m.ancestors:
                self._sizes[anc] += 1
        return self._sizes

    def named(self, text: str) -> list[int]:
        return [self.m.index[cid] for cid, _ in self.m.lexicon.lookup(text, lemmas=False)]

    def under(self, i: int, branch: int) -> bool:
        return branch in self.m.ancestors[i]

    # -- readings -------------------------------------------------------------------------
    def read(self, labels: list[Label], flat: bool) -> dict[str, Reading]:
        plain = [lab for lab in labels if not polarity_negative(lab.label) and not non_content(lab.label)]
        if not plain:
            return {}
        codes = [lab for lab in plain if code_like(lab.label) and not self.named(lab.label)]
        nonwords = [lab for lab in codes if non_word(lab.label, self.words)]
        code_set = len(plain) >= 3 and len(codes) >= CODE_SET_SHARE * len(plain) \
            and len(nonwords) >= NONWORD_SHARE * len(plain)
        out: dict[str, Reading] = {}
        for lid, (name, family) in family_paths(plain).items():
            out[lid] = Reading(f"{name} ({family})", f"read as {name!r} of the family {family!r}: "
                                                     "the set's labels are paths, family first")
        for lab in plain:
            parts = with_parts(lab.label) if lab.id not in out else None
            if parts and not self.named(lab.label):
                out[lab.id] = Reading(parts[0], f"read as {parts[0]!r}: two things in one label, "
                                                f"{parts[0]!r} with {parts[1]!r}")
        for lab in plain:
            if lab.id in out:
                continue
            if lab.description and code_like(lab.label) and (code_set or non_word(lab.label, self.words)):
                meaning = first_phrase(lab.description)
                out[lab.id] = Reading(meaning, f"read as {meaning!r}: a code, by its documented meaning")
        if code_set:
            named = [lab for lab in plain if code_like(lab.label) and lab not in codes and lab.id not in out]
            out.update(self.expand([lab for lab in codes if lab.id not in out], named))
        elif flat:
            out.update(self.elided_head([lab for lab in plain if lab.id not in out]))
        return out

    def expand(self, codes: list[Label], named: list[Label] = ()) -> dict[str, Reading]:
        """Abbreviation codes expanded into target names, the set's coherent branch first.
        ``named`` codes (the target names them outright: ``bn`` a language code, ``db`` a genre
        initialism) are expanded too if nothing they name lies in the branch the other codes
        choose: in ``vn va vc db fl bn``, *db* is a double bass and *bn* a bassoon."""
        if len(codes) < 2:
            return {}
        names = self.names()
        found: dict[str, dict[int, tuple[float, str]]] = {}
        for lab in [*codes, *named]:
            code = code_tokens(lab.label)
            hits: dict[int, tuple[float, str]] = {}
            for i, toks, text in names.get(code[0][0], ()):
                s = expansion_score(code, toks)
                if s >= EXPAND_MIN and s > hits.get(i, (0.0, ""))[0]:
                    hits[i] = (s, text)
            if hits:
                found[lab.id] = hits
        if len(found) < 2:
            return {}
        # the branch that explains most codes (score-weighted), preferring the most specific one
        # (fewest concepts) that explains nearly as many: music genre over music for "blu cla
        # cou"; musical instrument, not the larger sound of things, for "vn va vc db" (a big
        # branch offers some expansion for any code: vacuum cleaner, clock)
        cover = np.zeros(len(self.m.ids))
        unnamed = {lab.id for lab in codes}
        for hits in (h for k, h in found.items() if k in unnamed):  # the branch: unnamed codes only
            best = np.zeros(len(self.m.ids))
            for i, (s, _) in hits.items():
                anc = self.m.ancestors[i]
                best[anc] = np.maximum(best[anc], s)
            cover += best
        top = cover.max()
        if top < max(2.0, 0.5 * len(codes) * EXPAND_MIN):
            return {}
        depth = np.array([len(a) for a in self.m.ancestors])
        near = np.flatnonzero(cover >= BRANCH_COVER * top)
        size = self.subtree_sizes()
        branch = int(near[np.lexsort((-cover[near], size[near]))[0]])
        widest = int(np.flatnonzero(cover == top)[np.argmin(depth[cover == top])])
        label = self.m.target.get(self.m.ids[branch]).label
        codes = codes + [lab for lab in named if not any(self.under(i, branch) for i in self.named(lab.label))]
        candidates = {lab.id: {i: v for i, v in found.get(lab.id, {}).items() if self.under(i, widest)} for lab in codes}
        candidates = {k: v for k, v in candidates.items() if v}

        def first(i, hits):  # inside the preferred branch, the score, a concept's own label
            return (self.under(i, branch), round(hits[i][0], 2),
                    hits[i][1] == self.m.target.get(self.m.ids[i]).label, self.m.known[i])

        # Codes of one set name things of one kind: among equally good expansions the one
        # nearest to what the set's other codes expand to wins (*Vc.*: violoncello, not vocoder,
        # beside flute, oboe and violin); an initialism counts as much as a skeleton here.
        picks = [max(hits, key=lambda i: first(i, hits)) for hits in candidates.values()]
        centroid = self.m.label_vecs[picks].mean(axis=0)
        out = {}
        for lab in codes:
            hits = candidates.get(lab.id)
            if not hits:
                continue
            near_set = self.m.label_vecs[list(hits)] @ centroid
            sim = dict(zip(hits, near_set))
            i = max(hits, key=lambda i: (self.under(i, branch), round(hits[i][0], 1),
                                         prefix_share(lab.label, hits[i][1]) >= 0.5, float(sim[i])))
            name = self.m.target.get(self.m.ids[i]).label
            out[lab.id] = Reading(name, f"read as {name!r}: abbreviation ({hits[i][1]!r}); "
                                        f"{len(found)} of {len(codes)} codes of the set expand, most under {label!r}")
        return out

    def elided_head(self, labels: list[Label]) -> dict[str, Reading]:
        """Labels completed with the head word a flat set leaves out (*happy* -> *happy music*)."""
        comp = self.completions()
        by_head: dict[str, dict[str, tuple[int, str]]] = {}
        for lab in labels:
            key = " ".join(singular(t) for t in tokens(lab.label))
            for head, i, text in comp.get(key, ()):
                by_head.setdefault(head, {}).setdefault(lab.id, (i, text))
        if not by_head:
            return {}
        head, hits = max(by_head.items(), key=lambda kv: (len(kv[1]), kv[0]))
        if len(hits) < max(HEAD_MIN, HEAD_SHARE * len(labels)):
            return {}
        # the branch the completions share: the deepest concept holding all of them (none when
        # they spread over several roots)
        counts = np.zeros(len(self.m.ids))
        for i, _ in hits.values():
            counts[self.m.ancestors[i]] += 1
        held = np.flatnonzero(counts >= len(hits))
        if not len(held):
            return {}
        depth = np.array([len(self.m.ancestors[i]) for i in held])
        branch = int(held[np.argmax(depth)])
        branch_label = self.m.target.get(self.m.ids[branch]).label
        note = f"{len(hits)} of {len(labels)} labels of the set complete with {head!r} to names under {branch_label!r}"
        out, elsewhere = {}, []
        for lab in labels:
            own = self.named(lab.label)
            if any(self.under(i, branch) for i in own):
                continue  # the label names a concept of the branch itself (rock: rock music)
            if lab.id in hits:
                out[lab.id] = Reading(hits[lab.id][1], f"read as {hits[lab.id][1]!r}: {note}")
            else:
                elsewhere.append(lab)
        # A label whose own name lands outside the branch or nowhere (*female*: female voice, in a
        # music tag set; *slow*) may take another head word, if that head completes at least two
        # such labels into the branch (*female singing*, *male singing*; *slow tempo*, *fast tempo*).
        second: dict[str, int] = {}
        for lab in elsewhere:
            for h, hs in by_head.items():
                if h != head and lab.id in hs and self.under(hs[lab.id][0], branch):
                    second[h] = second.get(h, 0) + 1
        for lab in elsewhere:
            for h in sorted((h for h, n in second.items() if n >= SECOND_HEAD_MIN), key=lambda h: (-second[h], h)):
                i, text = by_head[h].get(lab.id, (None, ""))
                if i is not None and self.under(i, branch):
                    out[lab.id] = Reading(text, f"read as {text!r}: {note}; its own name lies outside that branch, "
                                                f"and {second[h]} such labels complete with {h!r} into it")
                    break
        return out


def apply_readings(labels: list[Label], readings: dict[str, Reading]) -> list[Label]:
    """The labels as matched: a read label's text replaced by its reading."""
    return [replace(lab, label=readings[lab.id].text, synonyms=[]) if lab.id in readings else lab for lab in labels]
