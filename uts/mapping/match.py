"""The matcher: align a source label set to a target label set (UTS by default).

Pipeline, per source label:

1. **Lexical index** - the ontology resolver's :class:`uts.ontology.resolve.Lexicon` (exact
   case-folded text, then :func:`uts.ontology.normalize_label`; no lemma tier) over every target
   label and synonym, plus two more lexicons of the same kind: a looser variant of each name
   (generic heads such as "music"/"sound" and parentheticals dropped) and its initialisms
   ("edm"); run-together tags are split first (``acousticguitar``).
2. **Embedding retrieval** - sentence embeddings of labels and synonyms (max over them) and of
   ``label: description`` texts; a label under a source category aligned to a target branch
   whose concepts share a generic head is also embedded with it ("film" under mood/theme ~
   "Music mood": "film music"); the ``retrieve`` nearest target concepts plus all lexical hits
   become candidates.
3. **Reranker** - a logistic model over features (:data:`FEATURES`): name and description
   similarity, token overlap, lexical hits, token containment, English head words (a "door
   knock" is a knock; in "crackling fire" the sound is the crackling), and hierarchy context
   (the source label's parents against the candidate's parents, grandparents and sibling leaves;
   its children against the candidate's children and grandchildren). Its output is a calibrated probability
   that the pair is a correct mapping; the weights were fitted on the *tune* split of
   ``mapping/gold`` (see ``benchmarks/mapping_bench.py --fit``; L2 strength by cross-validation
   inside that split) and are the defaults below.
4. **Decision** - abstain below ``accept``; otherwise pick the predicate: exactMatch for lexical
   identity or near-identical names, broadMatch when the source is the target plus qualifiers
   ("acid jazz" -> Jazz), closeMatch otherwise - or relatedMatch when that semantic guess is
   less probable than ``related_below`` (such rows are for review; ``apply`` skips them).
   A cross-reference recorded in either label set (a UTS concept's ``xrefs`` naming the source
   id) decides the mapping outright: exactMatch, ``semapv:BackgroundKnowledgeBasedMatching``.
5. **Guards** - negated labels ("no vocals") and non-content labels ("other", "unknown") are
   only ever mapped by exact lexical identity with a target that says the same thing; a
   positive label is never mapped to a negated target.
6. **Hierarchy repair** - when the source has a hierarchy, a child's target must be its parent's
   target or below it; otherwise the best candidate that fits is taken if it is close enough,
   else the conflict is flagged in the mapping's comment and its confidence lowered.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from datetime import date

import numpy as np
from networkx import descendants as nx_descendants

from uts import __version__
from uts.embedding import Embedder
from uts.ontology.normalize import normalize_label
from uts.ontology.resolve import Lexicon

from .context import (CONTEXT_POOL, DEFAULT_COLLECTIVE, MIN_VOTES, align_context, aligned_members, clear_context,
                      collective_logit, context_fit, explain, infer_profile, set_features)
from .labelsets import Label, LabelSet
from .readings import SetReader, apply_readings, spoken_word_set
from .sssom import (BACKGROUND, BROAD, CLOSE, EXACT, LEXICAL, RELATED, SEMANTIC, Mapping, MappingSet,
                    default_metadata)
from .text import (Segmenter, acronyms, alternatives, branch_head, compound_heads, core_tokens, non_content, polarity_negative, same_word,
                   tokens, wordpiece_words)

TOOL = "uts-map"


def _sigmoid(x):
    if isinstance(x, float):  # the per-candidate scalar path: math is much cheaper than numpy here
        return 1.0 / (1.0 + math.exp(-x)) if x > -700 else 0.0
    return 1.0 / (1.0 + np.exp(-x))


FEATURES = ("emb", "desc", "gap", "tok", "lex", "variant", "acronym", "ctx", "ctx_gap", "has_ctx",
            "src_more", "tgt_more", "head", "modifier_only", "kids", "has_kids")
_FEATURE_SET = frozenset(FEATURES)
# Hand-set prior weights: the fit is regularised towards these (a feature the tuning gold never
# exercises keeps its prior weight).
PRIOR_WEIGHTS = {
    "emb": 5.0, "desc": 5.0, "gap": 10.0, "tok": 1.0, "lex": 4.0, "variant": 3.0, "acronym": 4.0,
    "ctx": 4.0, "ctx_gap": 4.0, "has_ctx": -3.0, "src_more": 1.0, "tgt_more": 0.0,
    "head": 1.0, "modifier_only": -1.0, "kids": 3.0, "has_kids": -1.5,
}
# Fitted on the tune split of mapping/gold (benchmarks/mapping_bench.py --fit); see docs/mapping.md.
DEFAULT_WEIGHTS = {
    "emb": 4.983, "desc": 4.302, "gap": 19.604, "tok": -0.006, "lex": 0.087, "variant": 3.741,
    "acronym": 4.0, "ctx": 6.773, "ctx_gap": 7.696, "has_ctx": -6.283, "src_more": 0.871, "tgt_more": 0.715,
    "head": 0.421, "modifier_only": -1.19,
    "kids": 3.0, "has_kids": -1.5,  # prior, not fitted: no gold source has children
}
DEFAULT_BIAS = -5.459
XREF_CONFIDENCE = 0.99  # a recorded cross-reference (UTS xref "AudioSet:/m/09x0r") decides the mapping
RAW_ACCEPT = 0.3  # abstention threshold on the reranker's scale with the best F1 on the tune split
# Platt scaling of the decided candidate's probability: P(the mapping is right) =
# sigmoid(a * logit(p) + b), fitted on the tunable gold (benchmarks/mapping_bench.py
# --fit-calibration; 885 decided mappings of the old tune split and mapping/gold/dev, both
# targets, with and without stated context: ECE 0.070 -> 0.033 in-sample). (1, 0) is the identity.
# The slope under 1 says the reranker is overconfident at the top (a synonym hit at 0.999 is
# right about 96% of the time) and underconfident near the threshold.
DEFAULT_CALIBRATION = (0.3894, 0.1808)


def calibrated(p: float, calibration: tuple[float, float] = DEFAULT_CALIBRATION) -> float:
    p = min(max(p, 1e-9), 1 - 1e-9)
    return float(_sigmoid(calibration[0] * np.log(p / (1 - p)) + calibration[1]))


def uncalibrated(q: float, calibration: tuple[float, float] = DEFAULT_CALIBRATION) -> float:
    q = min(max(q, 1e-9), 1 - 1e-9)
    return float(_sigmoid((np.log(q / (1 - q)) - calibration[1]) / calibration[0]))


DEFAULT_ACCEPT = round(calibrated(RAW_ACCEPT), 3)  # the same decisions, on the calibrated scale


@dataclass
class MatchConfig:
    """Matcher settings; thresholds are probabilities from the calibrated reranker."""

    accept: float = DEFAULT_ACCEPT  # calibrated probability below which the label is left unmapped
    exact_similarity: float = 0.88  # name similarity at which a non-lexical match is exactMatch
    related_below: float = 0.35  # a semantic closeMatch less probable than this becomes relatedMatch
    repair_margin: float = 0.15  # a hierarchy-consistent candidate may be this much less probable
    retrieve: int = 30  # embedding neighbours considered per label
    candidates: int = 5  # candidates kept per label for review / Hits@k
    use_descriptions: bool = True
    target_context: bool = True  # also embed each target label qualified by its parent
    # a source category this alike to a target concept takes the generic head its children
    # share ("genre" ~ "Music genre": "world" also reads as "world music"); > 1 turns it off
    branch_similarity: float = 0.6
    repair: bool = True
    weights: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_WEIGHTS))
    bias: float = DEFAULT_BIAS
    # set-level evidence (uts.mapping.context): the set's profile and any stated context
    collective: bool = True
    collective_weights: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_COLLECTIVE))
    calibration: tuple[float, float] = DEFAULT_CALIBRATION  # maps reranker probabilities to P(right)
    # set-level readings before matching (uts.mapping.readings): documented codes, abbreviations,
    # elided heads
    readings: bool = True

    @property
    def raw_accept(self) -> float:
        """``accept`` on the reranker's (uncalibrated) scale, where decisions are made."""
        return uncalibrated(self.accept, self.calibration) if 0 < self.accept < 1 else self.accept


@dataclass
class Candidate:
    object_id: str
    object_label: str
    probability: float
    features: dict[str, float]
    predicate: str = CLOSE
    justification: str = SEMANTIC


@dataclass
class MatchResult:
    subject: Label
    candidates: list[Candidate]  # best first
    decided: Candidate | None = None
    reason: str | None = None  # why nothing was decided
    comment: str | None = None  # e.g. hierarchy repair notes

    @property
    def mapped(self) -> bool:
        return self.decided is not None


class Matcher:
    """Match label sets onto one target. Build once per target; embeddings are cached."""

    def __init__(self, target: LabelSet, embedder=None, config: MatchConfig | None = None):
        self.target = target
        self.config = config or MatchConfig()
        self.embedder = embedder or Embedder()
        self.ids = [lab.id for lab in target]
        if not self.ids:
            raise ValueError(f"target label set {target.name!r} is empty")
        self.index = {cid: i for i, cid in enumerate(self.ids)}
        vocab: set[str] = set()  # words of target names: never split
        prose: set[str] = set()  # words of target descriptions: pieces only
        # the resolver's tier machinery over the target's ids: names, their variants without
        # generic heads ("Rock music" -> "rock"), their initialisms ("edm"); preferred labels
        # alone say whether a candidate is the concept a label names outright
        self.lexicon, self.variants, self.acronyms, self.preferred = Lexicon(), Lexicon(), Lexicon(), Lexicon()
        self.xref: dict[str, list[int]] = {}
        self.core: list[list[tuple[str, ...]]] = []
        self.negative = np.zeros(len(self.ids), dtype=bool)
        name_texts, name_owner = [], []
        for i, lab in enumerate(target):
            for x in lab.xrefs:
                self.xref.setdefault(x, []).append(i)
            cores = []
            self.preferred.add(lab.id, lab.label)
            for kind, text in [("label", lab.label)] + [("synonym", t) for t in lab.texts()[1:]]:
                self.lexicon.add(lab.id, text, kind)
                self.variants.add(lab.id, " ".join(core_tokens(text)), "variant")
                for short in acronyms(text):  # "Electronic dance music" -> edm
                    self.acronyms.add(lab.id, short, "acronym")
                cores.append(core_tokens(text))
                name_texts.append(text)
                name_owner.append(i)
                vocab.update(core_tokens(text))
            if self.config.target_context:  # "Pop music (Music genre)" meets "pop (genre)"
                for p in target.parents(lab.id):
                    name_texts.append(f"{lab.label} ({target.get(p).label})")
                    name_owner.append(i)
            self.core.append(cores)
            self.negative[i] = polarity_negative(lab.label)
            if lab.description:
                prose.update(t for t in core_tokens(lab.description))
        model_words = wordpiece_words(getattr(self.embedder, "model_path", ""), min_length=2)
        self.words = model_words  # the model's English words: codes are not among them
        self.segment = Segmenter(vocab | {w for w in model_words if len(w) >= 3}, prose, vocab)
        self.name_owner = np.asarray(name_owner)
        self.name_vecs = self.embedder.encode(name_texts)
        self.label_vecs = self.name_vecs[np.searchsorted(self.name_owner, np.arange(len(self.ids)))]
        if self.config.use_descriptions:
            self.desc_vecs = self.embedder.encode([_described(lab) for lab in target])
        else:
            self.desc_vecs = self.label_vecs
        self.group_starts = np.searchsorted(self.name_owner, np.arange(len(self.ids)))
        self.ancestors = [np.array([self.index[a] for a in target.ancestors(cid) if a in self.index] + [i])
                          for i, cid in enumerate(self.ids)]
        # Context is judged against the nearest ancestors (parents and grandparents): far ones
        # such as "Music" or "Sounds of things" say little about which branch a concept is in.
        # A leaf's sibling leaves name its branch too: "Soundtrack music" sits beside "Theme
        # music", so a source category "theme" fits it though its parent is "Music role".
        self.near = []
        for cid in self.ids:
            parents = [p for p in target.parents(cid) if p in self.index]
            grand = [g for p in parents for g in target.parents(p) if g in self.index]
            sibs = [] if target.children(cid) else [
                s for p in parents for s in target.children(p)
                if s != cid and s in self.index and not target.children(s)]
            self.near.append(np.array(sorted({self.index[x] for x in parents + grand + sibs}), dtype=int))
        # How the target names the concepts of a branch: most of "Music mood"'s children are
        # "<x> music", so a source label under a category aligned to it reads as "<x> music".
        self.branch_head: list[str | None] = [branch_head([target.get(k).label for k in target.children(cid)])
                                              for cid in self.ids]
        # how well known a concept is (its names and descendants): "clarinet" before "clave"
        graph = target.graph
        self.known = [len(lab.texts()) + (len(nx_descendants(graph, lab.id)) if lab.id in graph else 0)
                      for lab in target]
        self.reader = SetReader(self)
        self._source_cache: dict[tuple[str, ...], list] = {}
        self._target_cache: dict[int, list] = {}
        # ... and the source label's children against the candidate's children and grandchildren
        self.below = []
        for cid in self.ids:
            kids = [k for k in target.children(cid) if k in self.index]
            grand = [g for k in kids for g in target.children(k) if g in self.index]
            self.below.append(np.array(sorted({self.index[x] for x in kids + grand}), dtype=int))

    # -- embeddings ------------------------------------------------------------------------
    def _source_texts(self, lab: Label, parents: list[str] = (), heads: list[str] = ()) -> list[str]:
        """Label and synonyms (run-together words split); for a label with parents, the label
        qualified by each parent: "pop (genre)" reads as music, not as a bursting sound; and
        the label completed with the generic head its branch's target concepts share
        ("film" under mood/theme, aligned to "Music mood" whose children are "<x> music",
        also reads as "film music")."""
        texts = [self.segment(t) for t in lab.texts()]
        texts += [self.segment(t) for t in alternatives(lab.label)]  # "mood/theme": mood, theme
        texts += [f"{self.segment(lab.label)} ({self.segment(p)})" for p in parents]
        name = self.segment(lab.label)
        texts += [f"{name} {h}" for h in heads if h not in tokens(name)]
        return list(dict.fromkeys(texts))

    def source_heads(self, source: LabelSet, parent_ids) -> dict[str, list[str]]:
        """Generic heads (``music``) per source category: the target concept nearest to the
        category's label (``genre`` -> *Music genre*) if at least ``branch_similarity`` alike,
        and the head most of that concept's children share."""
        parent_ids = sorted(parent_ids)
        if not parent_ids or self.config.branch_similarity > 1:
            return {}
        vecs = self.embedder.encode([self.segment(source.get(p).label) for p in parent_ids])
        sims = np.maximum.reduceat(vecs @ self.name_vecs.T, self.group_starts, axis=1)
        out = {}
        for p, row in zip(parent_ids, sims):
            best = int(row.argmax())
            if row[best] >= self.config.branch_similarity and self.branch_head[best]:
                out[p] = [self.branch_head[best]]
        return out

    def embed_source(self, labels: list[Label], progress: bool = False, source: LabelSet | None = None):
        """Name vectors (with owner index), description vectors, for source labels."""
        texts, owner, descs = [], [], []
        heads = self.source_heads(source, {p for lab in labels for p in source.parents(lab.id)}) \
            if source is not None else {}
        for i, lab in enumerate(labels):
            parent_ids = source.parents(lab.id) if source is not None else []
            parents = [source.get(p).label for p in parent_ids]
            lab_heads = list(dict.fromkeys(h for p in parent_ids for h in heads.get(p, ())))
            for t in self._source_texts(lab, parents, lab_heads):
                texts.append(t)
                owner.append(i)
            descs.append(_described(lab, self.segment(lab.label)))
        vecs = self.embedder.encode(texts + descs, progress=progress)
        return vecs[: len(texts)], np.asarray(owner), vecs[len(texts):]

    # -- matching ----------------------------------------------------------------------------
    def match(self, source: LabelSet, rejected: set[tuple[str, str]] | None = None,
              progress: bool = False, context: str | None = None, domain: str | None = None) -> list[MatchResult]:
        """Decide one mapping (or abstention) for every mappable label of ``source``.

        ``context`` says what the labels are ("acoustic scenes"; default: the set's own
        ``context`` line), ``domain`` names the target concept they fall under ("speech");
        see :mod:`uts.mapping.context`."""
        rejected = rejected or set()
        written = source.mappable()
        if not written:
            return []
        flat = not any(source.parents(lab.id) for lab in written)
        readings = self.reader.read(written, flat) if self.config.readings else {}
        labels = apply_readings(written, readings)
        context = context or source.context
        context_scores = align_context(self, context, domain) if self.config.collective else None
        context_labels = {p for lab in labels for p in source.parents(lab.id)}
        all_labels = labels + [source.get(p) for p in sorted(context_labels) if p not in {x.id for x in labels}]
        pos = {lab.id: i for i, lab in enumerate(all_labels)}
        name_vecs, owner, desc_vecs = self.embed_source(all_labels, progress, source)
        first = np.searchsorted(owner, np.arange(len(all_labels)))
        src_label_vecs = name_vecs[first]

        results: list[MatchResult] = []
        chunk = 512
        for start in range(0, len(labels), chunk):
            block = labels[start:start + chunk]
            rows = np.flatnonzero((owner >= start) & (owner < start + len(block)))
            sims = name_vecs[rows] @ self.name_vecs.T
            per_target = np.maximum.reduceat(sims, self.group_starts, axis=1)  # max over synonyms
            local_owner = owner[rows] - start
            per_pair = np.maximum.reduceat(per_target, np.searchsorted(local_owner, np.arange(len(block))), axis=0)
            desc = desc_vecs[start:start + len(block)] @ self.desc_vecs.T
            retrieval = per_pair + 0.5 * desc
            k = min(self.config.retrieve, len(self.ids))
            top = np.argpartition(-retrieval, k - 1, axis=1)[:, :k]
            for j, lab in enumerate(block):
                parent_rows = np.flatnonzero(np.isin(owner, [pos[p] for p in source.parents(lab.id) if p in pos]))
                ctx_sims = name_vecs[parent_rows] @ self.label_vecs.T if len(parent_rows) else None
                kid_rows = [pos[c] for c in source.children(lab.id) if c in pos]
                kid_sims = src_label_vecs[kid_rows] @ self.label_vecs.T if kid_rows else None
                results.append(self._decide(lab, top[j], per_pair[j], desc[j], ctx_sims, rejected, kid_sims))
        if self.config.collective:
            flat = not context_labels
            self._collective(results, context_scores, context, (name_vecs, owner, desc_vecs) if flat else None, rejected)
        for r in results:
            del r.candidates[max(self.config.candidates, 1):]
        if self.config.repair:
            self._repair(results, source)
        self._calibrate(results)
        spoken = spoken_word_set(written) if self.config.readings else None
        for r in results if spoken else ():  # a recorded cross-reference still stands
            if r.decided is None or r.decided.justification != BACKGROUND:
                best = r.decided or (r.candidates[0] if r.candidates else None)
                r.decided, r.comment = None, None
                r.reason = spoken + (f" (best candidate: {best.object_label} {best.probability:.2f})" if best else "")
        for r, lab in zip(results, written):  # the label as written; the comment says how it was read
            if lab.id in readings:
                r.subject = lab
                note = readings[lab.id].note
                if r.decided:
                    r.comment = f"{note}; {r.comment}" if r.comment else note
                else:
                    r.reason = f"{r.reason}; {note}"
        return results

    def _calibrate(self, results: list[MatchResult]) -> None:
        """Reranker probabilities become calibrated probabilities that the mapping is right
        (a monotone map: no decision changes); recorded cross-references keep theirs."""
        for r in results:
            for c in r.candidates:
                if c.justification != BACKGROUND:
                    c.probability = calibrated(c.probability, self.config.calibration)
            if r.decided is None and r.candidates and r.reason and r.reason.startswith("best candidate below"):
                rest = r.reason.split(")", 1)[1] if ")" in r.reason else ""
                r.reason = f"best candidate below threshold ({r.candidates[0].probability:.2f} < {self.config.accept}){rest}"

    def _collective(self, results: list[MatchResult], context_scores, context: str | None,
                    source_vecs, rejected) -> None:
        """Second pass with set-level evidence (:mod:`uts.mapping.context`): the concepts of the
        favoured branches join each label's candidates (flat sources), then every candidate's
        probability is recomputed from its first-pass logit plus the set's profile and the
        stated context, and decisions are settled again."""
        profile = infer_profile(results, self)
        fit_ctx = context_fit(self, context_scores) if clear_context(context_scores) else None
        if profile.n < MIN_VOTES and fit_ctx is None:
            return
        if source_vecs is not None:
            branch = profile.branch(self)
            if fit_ctx is not None:
                branch = np.union1d(branch, aligned_members(self, context_scores))
            if len(branch):
                self._add_candidates(results, branch, *source_vecs, rejected)
        note = explain(profile, self, context, fit_ctx, context_scores)
        weights = self.config.collective_weights
        for r in results:
            if not r.candidates:
                continue
            before = r.decided
            named = {cid for cid, _ in self.preferred.lookup(r.subject.label, lemmas=False)}
            words = core_tokens(self.segment(r.subject.label))
            feats = set_features(profile, fit_ctx, self, r.subject.id, [self.index[c.object_id] for c in r.candidates],
                                 [c.features["emb"] for c in r.candidates],
                                 [c.object_id in named for c in r.candidates],
                                 [completes(words, self.core[self.index[c.object_id]][0]) for c in r.candidates])
            for c, f in zip(r.candidates, feats):
                c.features.setdefault("base", c.probability)
                c.features.update(f)
                if c.justification == BACKGROUND:
                    continue  # a recorded cross-reference stands
                c.probability = float(_sigmoid(collective_logit(c.features["base"], f, weights)))
                if c.predicate in (CLOSE, RELATED):
                    c.predicate = RELATED if c.probability < self.config.related_below else CLOSE
            r.candidates.sort(key=lambda c: (c.justification != BACKGROUND, -c.probability))
            self._settle(r)
            if (before and before.object_id) != (r.decided and r.decided.object_id):
                was = f"{before.object_label} {before.features['base']:.2f}" if before else "abstained"
                if r.decided:
                    r.comment = f"{note}; first pass without set evidence: {was}"
                else:  # the unmapped report says why
                    r.reason = f"{r.reason}; {note}; first pass without set evidence: {was}"
            elif r.decided:
                r.comment = note

    def _xref_hits(self, lab: Label) -> set[int]:
        """Targets that name the source label in their xrefs, or that the source label names."""
        hits = set(self.xref.get(lab.id, ()))
        hits.update(self.index[x] for x in lab.xrefs if x in self.index)
        return hits

    def _lexical_hits(self, lab: Label) -> tuple[set[int], set[int], set[int]]:
        """Target indices the label's names hit in the three lexicons (strictest tier first)."""
        exact, variant, short = set(), set(), set()

        def hits(lexicon: Lexicon, text: str) -> list[int]:
            return [self.index[cid] for cid, _ in lexicon.lookup(text, lemmas=False)]

        for t in lab.texts():
            for text in {t, self.segment(t)}:
                exact.update(hits(self.lexicon, text))
                variant.update(hits(self.variants, " ".join(core_tokens(text))))
            if 2 <= len(normalize_label(t)) <= 5 and " " not in t.strip():
                short.update(hits(self.acronyms, t))
        return exact, variant, short

    def _heads(self, toks: tuple[str, ...]):
        return compound_heads(toks)

    def context(self, t: int, ctx_sims) -> float:
        if ctx_sims is None or not len(self.near[t]):
            return 0.0
        return float(ctx_sims[:, self.near[t]].max())

    def _source_parts(self, texts: tuple[str, ...]) -> list[tuple[set[str], tuple, tuple]]:
        """Per name of a source label: its core tokens, head and modifier words (computed once
        per label, not once per candidate)."""
        parts = self._source_cache.get(texts)
        if parts is None:
            if len(self._source_cache) > 100_000:
                self._source_cache.clear()
            parts = []
            for x in texts:
                sc = core_tokens(self.segment(x))
                parts.append((set(sc), *self._heads(sc)))
            self._source_cache[texts] = parts
        return parts

    def _target_parts(self, t: int) -> list[tuple[tuple[str, ...], set[str], tuple]]:
        """Per name of target concept ``t``: core tokens (as tuple and set) and head words."""
        parts = self._target_cache.get(t)
        if parts is None:
            parts = self._target_cache[t] = [(tc, set(tc), self._heads(tc)[0] or tc) for tc in self.core[t]]
        return parts

    def features(self, lab: Label, t: int, name_sim: float, desc_sim: float, ctx_sims,
                 exact: set[int], variant: set[int], short: set[int], best_sim: float,
                 best_ctx: float = 0.0, kid_sims=None) -> dict[str, float]:
        tok, src_more, tgt_more, head, modifier_only = 0.0, 0.0, 0.0, 0.0, 0.0
        for s, heads, modifiers in self._source_parts(tuple(lab.texts())):
            for tc, tset, tgt_heads in self._target_parts(t):
                union = s | tset
                if union:
                    tok = max(tok, len(s & tset) / len(union))
                if tset and tset < s:
                    src_more = 1.0
                if s and s < tset:
                    tgt_more = 1.0
                # English compounds put the head last: a "door knock" is a knock, not a door;
                # in an event description the -ing word is the sound ("crackling fire").
                # Heads are compared with the candidate's own head: "Drum roll" is a roll.
                if any(same_word(h, w) for h in heads for w in tgt_heads):
                    head = 1.0
                elif modifiers and any(same_word(m, w) for m in modifiers for w in tgt_heads) \
                        and not any(same_word(h, w) for h in heads for w in tc):
                    modifier_only = 1.0  # named after a modifier only ("Door" for "door knock",
                    # but not "Alarm clock" for "clock alarm", which names the head too)
        ctx = self.context(t, ctx_sims)
        kids = 0.0  # how well the candidate's subtree covers the source label's children
        if kid_sims is not None and len(self.below[t]):
            kids = float(kid_sims[:, self.below[t]].max(axis=1).mean())
        return {
            "emb": float(name_sim), "desc": float(desc_sim), "gap": float(name_sim - best_sim), "tok": tok,
            "lex": 1.0 if t in exact else 0.0, "variant": 1.0 if t in variant else 0.0,
            "acronym": 1.0 if t in short else 0.0,
            "ctx": ctx, "ctx_gap": ctx - best_ctx if ctx_sims is not None else 0.0,
            "has_ctx": 1.0 if ctx_sims is not None else 0.0,
            "src_more": src_more, "tgt_more": tgt_more, "head": head, "modifier_only": modifier_only,
            "kids": kids, "has_kids": 1.0 if kid_sims is not None else 0.0,
        }

    def probability(self, feats: dict[str, float]) -> float:
        z = self.config.bias
        for f, w in self.config.weights.items():  # (the loop over weights, not FEATURES: per-candidate hot path)
            if w and f in _FEATURE_SET:
                z += w * feats[f]
        return float(_sigmoid(z))

    def _decide(self, lab: Label, top, name_row, desc_row, ctx_sims, rejected, kid_sims=None) -> MatchResult:
        exact, variant, short = self._lexical_hits(lab)
        xref = self._xref_hits(lab)
        pool = list(dict.fromkeys([*sorted(xref), *sorted(exact), *sorted(variant), *sorted(short), *top.tolist()]))
        best_sim = float(name_row[pool].max())
        best_ctx = max((self.context(t, ctx_sims) for t in pool), default=0.0)
        negated, empty = polarity_negative(lab.label), non_content(lab.label)
        cands = []
        for t in pool:
            cid = self.ids[t]
            if (lab.id, cid) in rejected:
                continue
            if t in xref:  # a cross-reference recorded in either label set is taken as given
                feats = self.features(lab, t, name_row[t], desc_row[t], ctx_sims, exact, variant, short,
                                      best_sim, best_ctx, kid_sims)
                cands.append(Candidate(cid, self.target.get(cid).label, XREF_CONFIDENCE, feats, EXACT, BACKGROUND))
                continue
            if (negated or empty) and t not in exact:
                continue  # guard: a negated/non-content label maps only to its literal twin
            if self.negative[t] and not negated:
                continue
            feats = self.features(lab, t, name_row[t], desc_row[t], ctx_sims, exact, variant, short,
                                  best_sim, best_ctx, kid_sims)
            cands.append(self._candidate(t, feats))
        # A recorded cross-reference outranks any computed guess, even a lexical one scored above
        # XREF_CONFIDENCE (AudioSet "Mouse" is the animal its xref names, not "computer mouse").
        cands.sort(key=lambda c: (c.justification != BACKGROUND, -c.probability))
        # keep a few more than asked for: set-level evidence may promote one of them
        cands = cands[: max(self.config.candidates, 10 if self.config.collective else 1)]
        result = MatchResult(lab, cands, reason=("negated label" if negated else "non-content label" if empty
                                                 else "no candidate"))
        self._settle(result)
        return result

    def _add_candidates(self, results: list[MatchResult], branch: np.ndarray, name_vecs, owner, desc_vecs,
                        rejected) -> None:
        """Add each label's :data:`CONTEXT_POOL` nearest concepts of ``branch`` to its candidates
        (a scene list's *car* meets *car interior*; a flat source, labels in ``results`` order)."""
        rows = np.concatenate([np.arange(self.group_starts[t], self.group_starts[t + 1] if t + 1 < len(self.ids)
                                         else len(self.name_owner)) for t in branch])
        starts = np.searchsorted(self.name_owner[rows], branch)
        bounds = np.searchsorted(owner, np.arange(len(results) + 1))  # owner is sorted
        branch_names = self.name_vecs[rows].T
        for i, r in enumerate(results):
            if r.reason in ("negated label", "non-content label"):
                continue
            mine = name_vecs[bounds[i]:bounds[i + 1]]
            sims = np.maximum.reduceat((mine @ branch_names).max(axis=0), starts)
            score = sims + 0.5 * (desc_vecs[i] @ self.desc_vecs[branch].T)
            have = {c.object_id for c in r.candidates}
            best_sim = max([c.features["emb"] for c in r.candidates] + [float(sims.max())])
            exact, variant, short = self._lexical_hits(r.subject)
            for k in np.argsort(-score)[:CONTEXT_POOL]:
                t = int(branch[k])
                if self.ids[t] in have or (r.subject.id, self.ids[t]) in rejected or self.negative[t]:
                    continue
                feats = self.features(r.subject, t, sims[k], float(desc_vecs[i] @ self.desc_vecs[t]), None,
                                      exact, variant, short, best_sim)
                r.candidates.append(self._candidate(t, feats))

    def _settle(self, result: MatchResult) -> None:
        """Decide the best candidate, or abstain below ``accept``."""
        cands = result.candidates
        result.decided = None
        if not cands:
            return
        if cands[0].probability < self.config.raw_accept:
            result.reason = f"best candidate below threshold ({cands[0].probability:.2f} < {self.config.raw_accept:.2f})"
        else:
            result.decided, result.reason = cands[0], None

    def _candidate(self, t: int, feats: dict[str, float]) -> Candidate:
        lexical = feats["lex"] or feats["variant"] or feats["acronym"]
        if feats["lex"] or ((feats["variant"] or feats["acronym"]) and not feats["src_more"]):
            predicate = EXACT
        elif feats["src_more"]:
            predicate = BROAD
        elif feats["emb"] >= self.config.exact_similarity:
            predicate = EXACT
        else:
            predicate = CLOSE
        probability = self.probability(feats)
        if predicate == CLOSE and probability < self.config.related_below:
            predicate = RELATED  # a weak semantic guess: kept for review, not applied by default
        return Candidate(self.ids[t], self.target.get(self.ids[t]).label, probability, feats,
                         predicate, LEXICAL if lexical else SEMANTIC)

    # -- hierarchy repair ------------------------------------------------------------------
    def _repair(self, results: list[MatchResult], source: LabelSet) -> None:
        by_id = {r.subject.id: r for r in results}
        for r in results:
            if not r.decided:
                continue
            for p in source.parents(r.subject.id):
                parent = by_id.get(p)
                if not parent or not parent.decided:
                    continue
                tp, tc = self.index[parent.decided.object_id], self.index[r.decided.object_id]
                if tp in self.ancestors[tc]:  # child's target at or below parent's: consistent
                    if tp == tc and r.decided.predicate == EXACT and parent.decided.predicate == EXACT:
                        r.decided = replace(r.decided, predicate=BROAD)
                        r.comment = "child and parent share a target; child mapped broad"
                    continue
                fitting = [c for c in r.candidates
                           if tp in self.ancestors[self.index[c.object_id]]
                           and c.probability >= max(self.config.raw_accept, r.decided.probability - self.config.repair_margin)]
                if fitting:
                    r.comment = (f"hierarchy repair: {r.decided.object_id} replaced by {fitting[0].object_id} "
                                 f"to sit under the parent's target {parent.decided.object_id}")
                    r.decided = fitting[0]
                else:
                    r.comment = (f"hierarchy conflict: parent {p} maps to {parent.decided.object_id}, "
                                 f"which is not an ancestor of {r.decided.object_id}")
                    r.decided = replace(r.decided, probability=r.decided.probability * 0.8)


def completes(words: tuple[str, ...], name: tuple[str, ...]) -> bool:
    """A name that is the label's words and a head after them (*bus interior* for "bus"; not
    *vocal non-speech sound* for "speech")."""
    return len(name) > len(words) > 0 and name[:len(words)] == words


def _described(lab: Label, name: str | None = None) -> str:
    name = name or lab.label
    if lab.description:
        return f"{name}: {lab.description[:300]}"
    return name


# -- SSSOM output ----------------------------------------------------------------------------
def _mapping(r: MatchResult, c: Candidate, source: LabelSet, target: LabelSet, today: str,
             comment: str | None = None, score: bool = False) -> Mapping:
    return Mapping(
        subject_id=r.subject.id, subject_label=r.subject.label, predicate_id=c.predicate,
        object_id=c.object_id, object_label=c.object_label, mapping_justification=c.justification,
        confidence=round(c.probability, 4),
        similarity_score=round(c.features["emb"], 4) if score else None,
        similarity_measure="cosine similarity of sentence embeddings (label and synonyms)" if score else None,
        mapping_tool=TOOL, mapping_tool_version=__version__, mapping_date=today, comment=comment,
    )


def _metadata(kind: str, source: LabelSet, target: LabelSet, model: str | None) -> dict:
    curie_map = {**target.curie_map, **source.curie_map}
    desc = f"{kind} from {source.name} to {target.name}, made by {TOOL} {__version__}"
    if model:
        desc += f" with embedding model {model}"
    return default_metadata(
        f"https://w3id.org/uts/mappings/{source.name}-to-{target.name}{'-candidates' if 'andidate' in kind else ''}.sssom.tsv",
        curie_map, mapping_set_description=desc,
    )


def to_mapping_set(results: list[MatchResult], source: LabelSet, target: LabelSet,
                   model: str | None = None) -> MappingSet:
    """One row per decided source label (abstentions are left out; see :func:`unmapped`)."""
    today = date.today().isoformat()
    rows = [_mapping(r, r.decided, source, target, today, r.comment) for r in results if r.decided]
    return MappingSet(rows, _metadata("Mappings", source, target, model))


def candidates_set(results: list[MatchResult], source: LabelSet, target: LabelSet, k: int = 5,
                   model: str | None = None) -> MappingSet:
    """The top-``k`` candidates per source label with their scores, best first."""
    today = date.today().isoformat()
    rows = [_mapping(r, c, source, target, today, f"rank {i + 1}", score=True)
            for r in results for i, c in enumerate(r.candidates[:k])]
    return MappingSet(rows, _metadata("Candidate mappings", source, target, model))


def unmapped(results: list[MatchResult]) -> list[tuple[str, str, str]]:
    """(subject_id, subject_label, reason) for every label left without a mapping."""
    return [(r.subject.id, r.subject.label, r.reason or "") for r in results if not r.decided]
