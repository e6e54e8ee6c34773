"""Caption metrics as the COCO caption evaluation code computes them: BLEU-1..4, ROUGE-L, CIDEr-D.

No well-kept offline package fits: ``pycocoevalcap`` needs Java for its tokenizer and ships
hundreds of MB of jars; ``aac-metrics`` pulls in a CLAP model package. The three metrics are
short, so they are written here once, following the reference code (coco-caption's
``bleu_scorer.py``, ``rouge.py``, ``cider_scorer.py``, whose quirks are kept so figures compare
with published ones), and tested against published values (tests/test_caption_metrics.py).

Text is prepared as the PTB tokenizer step of that code leaves it: lower case, punctuation
removed, split on white space (:func:`tokenize`).

- **BLEU-n** (Papineni et al., 2002): corpus level; modified n-gram precisions clipped by the
  maximum count in any reference, geometric mean, brevity penalty against the *closest*
  reference length; coco's tiny/small constants (1e-15, 1e-9) keep zero counts finite.
- **ROUGE-L** (Lin, 2004): per caption, the longest common subsequence with each reference,
  F-measure of the best precision and best recall with ``beta = 1.2``; the corpus score is the
  mean.
- **CIDEr-D** (Vedantam et al., 2015): TF-IDF n-gram vectors (n = 1..4; document frequency over
  the references of the evaluated corpus), clipped cosine similarity with each reference times a
  Gaussian length penalty (sigma 6), averaged over n and references, times 10; corpus = mean.
"""

from __future__ import annotations

import math
import re
from collections import Counter, defaultdict
from collections.abc import Sequence

# coco-caption's PTBTokenizer drops these tokens
_PUNCT = re.compile(r"""[''"`.,?!:;\-_()\[\]{}/\\|@#$%^&*+=<>~]""")


def tokenize(text: str) -> list[str]:
    return _PUNCT.sub(" ", text.lower()).split()


def _ngrams(words: Sequence[str], n: int) -> Counter:
    counts: Counter = Counter()
    for k in range(1, n + 1):
        for i in range(len(words) - k + 1):
            counts[tuple(words[i:i + k])] += 1
    return counts


def _check(candidates: Sequence[str], references: Sequence[Sequence[str]]) -> None:
    if len(candidates) != len(references):
        raise ValueError(f"{len(candidates)} candidates but {len(references)} reference lists")
    if any(len(r) == 0 for r in references):
        raise ValueError("every candidate needs at least one reference")


def bleu(candidates: Sequence[str], references: Sequence[Sequence[str]], n: int = 4) -> list[float]:
    """Corpus BLEU-1..n (a list of n values)."""
    _check(candidates, references)
    tiny, small = 1e-15, 1e-9
    guess, correct = [0] * n, [0] * n
    test_len = ref_len = 0
    for cand, refs in zip(candidates, references):
        words = tokenize(cand)
        ref_words = [tokenize(r) for r in refs]
        max_ref: dict = {}
        for rw in ref_words:
            for gram, c in _ngrams(rw, n).items():
                max_ref[gram] = max(max_ref.get(gram, 0), c)
        lens = [len(rw) for rw in ref_words]
        ref_len += min(lens, key=lambda length: (abs(length - len(words)), length))  # closest
        test_len += len(words)
        for gram, c in _ngrams(words, n).items():
            correct[len(gram) - 1] += min(max_ref.get(gram, 0), c)
        for k in range(n):
            guess[k] += max(len(words) - k, 0)
    scores, product = [], 1.0
    for k in range(n):
        product *= (correct[k] + tiny) / (guess[k] + small)
        scores.append(product ** (1.0 / (k + 1)))
    ratio = (test_len + tiny) / (ref_len + small)
    if ratio < 1:
        scores = [s * math.exp(1 - 1 / ratio) for s in scores]
    return scores


def _lcs(a: Sequence[str], b: Sequence[str]) -> int:
    prev = [0] * (len(b) + 1)
    for x in a:
        cur = [0]
        for j, y in enumerate(b):
            cur.append(prev[j] + 1 if x == y else max(prev[j + 1], cur[j]))
        prev = cur
    return prev[-1]


def rouge_l(candidates: Sequence[str], references: Sequence[Sequence[str]],
            beta: float = 1.2) -> tuple[float, list[float]]:
    """Corpus ROUGE-L (mean) and the per-caption scores."""
    _check(candidates, references)
    per = []
    for cand, refs in zip(candidates, references):
        words = tokenize(cand)
        prec, rec = [], []
        for ref in refs:
            rw = tokenize(ref)
            common = _lcs(rw, words)
            prec.append(common / len(words) if words else 0.0)
            rec.append(common / len(rw) if rw else 0.0)
        p, r = max(prec), max(rec)
        per.append((1 + beta**2) * p * r / (r + beta**2 * p) if p and r else 0.0)
    return sum(per) / len(per), per


def cider_d(candidates: Sequence[str], references: Sequence[Sequence[str]], n: int = 4,
            sigma: float = 6.0) -> tuple[float, list[float]]:
    """Corpus CIDEr-D (mean) and the per-caption scores."""
    _check(candidates, references)
    cands = [_ngrams(tokenize(c), n) for c in candidates]
    refs = [[_ngrams(tokenize(r), n) for r in rs] for rs in references]
    df: Counter = Counter()
    for rs in refs:
        for gram in set(g for r in rs for g in r):
            df[gram] += 1
    log_docs = math.log(float(len(refs)))

    def vec(counts: Counter):
        v = [defaultdict(float) for _ in range(n)]
        norm = [0.0] * n
        length = 0
        for gram, tf in counts.items():
            k = len(gram) - 1
            v[k][gram] = tf * (log_docs - math.log(max(1.0, df[gram])))
            norm[k] += v[k][gram] ** 2
            if k == 1:  # coco-caption counts the length in bigrams; kept for comparable figures
                length += tf
        return v, [math.sqrt(x) for x in norm], length

    def sim(vh, nh, lh, vr, nr, lr):
        delta = float(lh - lr)
        val = [0.0] * n
        for k in range(n):
            for gram, w in vh[k].items():
                val[k] += min(w, vr[k][gram]) * vr[k][gram]
            if nh[k] and nr[k]:
                val[k] /= nh[k] * nr[k]
            val[k] *= math.exp(-(delta**2) / (2 * sigma**2))
        return val

    per = []
    for c, rs in zip(cands, refs):
        vh, nh, lh = vec(c)
        total = [0.0] * n
        for r in rs:
            for k, x in enumerate(sim(vh, nh, lh, *vec(r))):
                total[k] += x
        per.append(sum(total) / n / len(rs) * 10.0)
    return sum(per) / len(per), per


def caption_scores(candidates: Sequence[str], references: Sequence[Sequence[str]]) -> dict[str, float]:
    """BLEU-1..4, ROUGE-L and CIDEr-D of a corpus of generated captions."""
    b = bleu(candidates, references)
    return {**{f"bleu_{k + 1}": b[k] for k in range(4)},
            "rouge_l": rouge_l(candidates, references)[0], "cider_d": cider_d(candidates, references)[0]}
