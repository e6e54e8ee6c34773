"""Label normalisation shared by validation, lookup and every resolver in the toolkit.

Two labels are "the same" when they differ only in case, accents, separators (space, hyphen,
underscore, punctuation) or a simple English plural: ``Hi-Hats``, ``hi_hat`` and ``hihat`` all
normalise to ``hihat``.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

_TOKEN = re.compile(r"[^\W_]+", re.UNICODE)

# Words whose trailing "s" is not a plural; stripping it would merge unrelated ideas
# (blues/blue, news/new) or mangle the word (bass/bas is guarded by the "ss" rule).
PLURAL_INVARIANT = frozenset(
    """news blues series species bus gas chaos lens atlas canvas bias
    chorus virus status bonus campus corpus circus genius thesis analysis basis
    mathematics physics acoustics electronics dynamics ethics lyrics graphics aerobics
    politics economics athletics gymnastics mechanics linguistics phonetics semantics
    tennis billiards darts checkers bagpipes pants trousers scissors glasses jeans
    is was has this its us yes always perhaps""".split()
)


def singular(word: str) -> str:
    """Strip a simple English plural from one lowercase token."""
    if len(word) <= 3 or word in PLURAL_INVARIANT:
        return word
    if word.endswith("ies") and len(word) > 4:
        return word[:-3] + "y"
    if word.endswith(("sses", "shes", "ches", "xes", "zes")):
        return word[:-2]
    if word.endswith(("ss", "us", "is", "os")):
        return word
    if word.endswith("s"):
        return word[:-1]
    return word


def tokens(text: str) -> list[str]:
    """Lowercase, accent-free word tokens of ``text``."""
    folded = unicodedata.normalize("NFKD", text.casefold())
    folded = "".join(ch for ch in folded if not unicodedata.combining(ch))
    return _TOKEN.findall(folded)


@lru_cache(maxsize=262_144)
def normalize_label(text: str) -> str:
    """The collision key of a label: tokens singularised and joined without separators."""
    return "".join(singular(t) for t in tokens(text))
