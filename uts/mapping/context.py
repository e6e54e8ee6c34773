"""Set-level evidence: read a label set as a whole before deciding its ambiguous labels.

A person mapping a label list reads all of it first: in a music tag set *female* is a female
singer and *pop* a genre; in a list of acoustic scenes *bus* is the inside of a bus, not the
vehicle's sound. The matcher does the same in two steps (collective matching):

1. **Profile.** The labels it maps confidently in a first pass (probability >= ``confident``)
   vote for every target concept at or above their target: a music tag set's confident labels
   sit under *music*, a scene list's under *acoustic scene*. A candidate's *profile fit* is the
   largest share of the set's other confident labels that sits under one of its ancestors (or
   itself); leave-one-out, so a label never votes for itself. Siblings of one set thus pull each
   other into compatible branches.
2. **Stated context.** What the user says the labels are (``--context "acoustic scenes"``, a
   ``# context: ...`` line in the label file, or ``--domain`` naming a target concept) is embedded
   and compared with every target concept's name and description; a candidate's *context fit*
   is the best similarity among its ancestors-or-self. The concepts under the best-aligned ones
   also join every label's candidates, so *cafe* in a list of scenes meets *Inside, public space*.
   A context that names no branch of the target clearly (its best-aligned concept less alike
   than :data:`CONTEXT_CLEAR`: "sound events for localisation" against *event* at 0.66) is not
   used, and the comment says so: a vague sentence's nearest concept is noise, and the weight a
   stated context carries turned such noise into wrong decisions.

Both enter the decision as features of a small second-stage logistic model on top of the
reranker's logit (:data:`COLLECTIVE_FEATURES`); without a profile or a stated context they are
all zero and the first-stage probability is unchanged. The features are relative to the best
candidate of the same label (does this candidate fit the set less well than another one?) and
absolute (does anything fit at all?), so the same evidence can change a decision or turn it into
an abstention (spoken command words are not sound classes).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

COLLECTIVE_FEATURES = ("prof_gap", "prof_fit", "has_prof", "ctx_gap", "ctx_fit", "has_ctx")
# Chosen by F1 of the decisions on the tunable gold (old tune split + mapping/gold/dev, with and
# without stated context): benchmarks/mapping_bench.py --fit-collective. Leave-one-label-set-out
# F1 0.825 against 0.817 with the stage off, in-sample 0.849; the grid also offered prof_fit and
# has_prof, and F1 chose 0 for both.
DEFAULT_COLLECTIVE = {"prof_gap": 20.0, "prof_fit": 0.0, "has_prof": 0.0,
                      "ctx_gap": 40.0, "ctx_fit": 10.0, "has_ctx": -5.0}
CONFIDENT = 0.9  # first-pass probability at which a label votes for the set's profile
MIN_VOTES = 3  # fewer confident labels than this: no profile
DOMINANT = 0.5  # a branch must hold more than this share of the confident labels to count
CONTEXT_POOL = 5  # concepts under the aligned branch added to each label's candidates
ALIGN_MARGIN = 0.05
CONTEXT_CLEAR = 0.8  # a stated context must be at least this alike to some target concept to be used
SENSE_SIMILARITY = 0.5  # name similarity at which a candidate counts as a sense of the label  # concepts this close to the best-aligned one count as aligned too


@dataclass
class SetProfile:
    """Confident first-pass decisions of one label set, counted at every ancestor."""

    counts: np.ndarray  # per target concept: confident labels whose target is at or below it
    votes: dict[str, int]  # source label id -> its confident target's index
    n: int
    _own: np.ndarray | None = field(default=None, init=False, repr=False)
    _own_mark: np.ndarray | None = field(default=None, init=False, repr=False)

    def fit(self, label_id: str, ancestors: np.ndarray, own: np.ndarray | None) -> float:
        """Largest leave-one-out share of the set's confident labels under ``ancestors``."""
        if self.n - (own is not None) < MIN_VOTES:
            return 0.0
        counts = self.counts[ancestors]
        if own is not None:  # leave the label's own vote out (own: its target and ancestors)
            counts = counts - self._mark(own)[ancestors]
        share = float(counts.max()) / (self.n - (own is not None))
        # only a branch holding most of the set says something: a mixed set (ESC-50's animals,
        # nature, people and things) has no profile to lean on
        return float(max(0.0, share - DOMINANT) / (1.0 - DOMINANT))

    def _mark(self, own: np.ndarray) -> np.ndarray:
        """``own`` as a 0/1 array over the target (cached for the label being scored: the same
        ``own`` comes for each of its candidates)."""
        if self._own is not own:
            self._own = own
            self._own_mark = np.zeros(len(self.counts), dtype=self.counts.dtype)
            self._own_mark[own] = 1
        return self._own_mark

    def branch(self, matcher) -> np.ndarray:
        """Concepts under the deepest concept(s) holding more than :data:`DOMINANT` of the set's
        confident labels (empty without such a branch): candidates the profile would favour."""
        if self.n < MIN_VOTES:
            return np.array([], dtype=int)
        held = np.flatnonzero(self.counts > DOMINANT * self.n)
        if not len(held):
            return np.array([], dtype=int)
        depth = np.array([len(matcher.ancestors[i]) for i in held])
        return under(matcher, held[depth == depth.max()])

    def top(self, matcher, k: int = 2) -> list[tuple[str, float]]:
        """The most-shared concepts below the roots (for explanations), with their share."""
        order = np.argsort(-self.counts)
        out = []
        for i in order[: 4 * k]:
            if self.counts[i] and matcher.target.parents(matcher.ids[i]):
                out.append((matcher.target.get(matcher.ids[i]).label, float(self.counts[i] / self.n)))
        return out[:k]


def infer_profile(results, matcher, confident: float = CONFIDENT) -> SetProfile:
    counts = np.zeros(len(matcher.ids), dtype=np.int64)
    votes = {}
    for r in results:
        if r.decided is not None and r.decided.probability >= confident:
            t = matcher.index[r.decided.object_id]
            votes[r.subject.id] = t
            counts[matcher.ancestors[t]] += 1
    return SetProfile(counts, votes, len(votes))


def align_context(matcher, text: str | None, domain: str | None = None) -> np.ndarray | None:
    """Per target concept, how well it names what the labels are: cosine similarity of the stated
    context to the concept's names and description (the better of the two); with ``domain``, 1
    for the target concept of that name and 0 elsewhere. None without either."""
    if domain:
        hits = [matcher.index[cid] for cid, _ in matcher.lexicon.lookup(domain, lemmas=False)]
        if not hits:
            raise ValueError(f"--domain {domain!r} names no concept of {matcher.target.name} "
                             "(give a concept's label, e.g. a root such as 'speech' or 'music')")
        scores = np.zeros(len(matcher.ids))
        scores[hits] = 1.0
        return scores
    if not text:
        return None
    vec = matcher.embedder.encode([text])[0]
    names = np.maximum.reduceat(matcher.name_vecs @ vec, matcher.group_starts)
    return np.maximum(names, matcher.desc_vecs @ vec)


def clear_context(scores: np.ndarray | None) -> bool:
    """Whether a stated context names some target concept clearly enough to be used."""
    return scores is not None and float(scores.max()) >= CONTEXT_CLEAR


def context_fit(matcher, scores: np.ndarray) -> np.ndarray:
    """Per target concept: the best context score among its ancestors-or-self."""
    return np.array([scores[a].max() for a in matcher.ancestors])


def aligned_members(matcher, scores: np.ndarray) -> np.ndarray:
    """Concepts at or below the best-aligned ones (within :data:`ALIGN_MARGIN` of the best)."""
    return under(matcher, np.flatnonzero(scores >= scores.max() - ALIGN_MARGIN))


def under(matcher, nodes: np.ndarray) -> np.ndarray:
    """Target indices at or below any of ``nodes``."""
    return np.array([i for i, a in enumerate(matcher.ancestors) if np.isin(a, nodes).any()], dtype=int)


def set_features(profile: SetProfile | None, fit_ctx: np.ndarray | None, matcher, label_id: str,
                 targets: list[int], sims: list[float], named: list[bool],
                 completes: list[bool] | None = None) -> list[dict[str, float]]:
    """Collective features of one label's candidates (``targets``, target indices). A candidate
    whose own preferred label is the source label (``named``: *speech* for "Speech") is not
    demoted by the inferred profile, only by a stated context: the profile overrides synonym
    hits and semantic guesses, the weaker senses of a word, not the concept named outright -
    unless another candidate's name *completes* the label (``completes``: its words and a head
    after them, *bus interior* for "Bus") and fits the profile better: in a list of scenes the bare *bus*
    is the bus interior the set's other labels point to."""
    own = matcher.ancestors[profile.votes[label_id]] if profile and label_id in profile.votes else None
    prof = [profile.fit(label_id, matcher.ancestors[t], own) for t in targets] if profile else [0.0] * len(targets)
    has_prof = 1.0 if profile and profile.n - (own is not None) >= MIN_VOTES else 0.0
    ctx = [float(fit_ctx[t]) for t in targets] if fit_ctx is not None else [0.0] * len(targets)
    # compared with the best-fitting *sense* of the label: a candidate at least SENSE_SIMILARITY
    # alike by name ("female singing" for "female"), not any concept of the favoured branch
    if completes is not None and has_prof:
        named = [n and not any(done and q > p for done, q in zip(completes, prof)) for n, p in zip(named, prof)]
    senses = [k for k, s in enumerate(sims) if s >= SENSE_SIMILARITY] or list(range(len(targets)))
    best_prof, best_ctx = max(prof[k] for k in senses), max(ctx[k] for k in senses)
    return [{"prof_gap": 0.0 if own_name else min(0.0, p - best_prof) * has_prof, "prof_fit": p * has_prof, "has_prof": has_prof,
             "ctx_gap": min(0.0, c - best_ctx) if fit_ctx is not None else 0.0, "ctx_fit": c,
             "has_ctx": 1.0 if fit_ctx is not None else 0.0} for p, c, own_name in zip(prof, ctx, named)]


def collective_logit(base_probability: float, feats: dict[str, float], weights: dict[str, float]) -> float:
    p = min(max(base_probability, 1e-6), 1 - 1e-6)
    return float(np.log(p / (1 - p)) + sum(weights.get(f, 0.0) * feats[f] for f in COLLECTIVE_FEATURES))


def explain(profile: SetProfile | None, matcher, context: str | None, fit_ctx: np.ndarray | None,
            scores: np.ndarray | None) -> str:
    """One line naming the set-level evidence (for the SSSOM comment)."""
    parts = []
    if profile is not None and profile.n >= MIN_VOTES:
        top = ", ".join(f"{name} {share:.2f}" for name, share in profile.top(matcher))
        parts.append(f"set profile from {profile.n} confident labels: {top}")
    if scores is not None:
        best = int(scores.argmax())
        parts.append(f"stated context {context!r} ~ {matcher.target.get(matcher.ids[best]).label} ({scores[best]:.2f})"
                     + ("" if clear_context(scores) else f", not clear enough to use (< {CONTEXT_CLEAR})"))
    return "; ".join(parts)
