"""UTS as background knowledge when the target is another label set (source -> UTS -> target).

UTS carries curated synonyms, definitions and cross-references to AudioSet classes
(``xrefs``). A label that the matcher cannot place on, say, AudioSet directly may be easy to place
on UTS (its synonyms know that *metro* is a subway train and *cafe* an indoor public space),
and the UTS concept's cross-reference then names the target class; where the concept itself
has none, its nearest ancestor that has one gives a broader target (*cafe* -> *indoor public
space* -> AudioSet *Inside, public space*). The chain is written as
``semapv:MappingChaining`` with the UTS concept in the comment.

How a chained mapping combines with the direct one (:data:`RULE`) was chosen on the dev label
sets only (``benchmarks/mapping_bench.py --part unseen`` reports it as "ours+UTS"); UTS itself was curated with
AudioSet, MTG-Jamendo, the paper's vocabulary and the speech label sets in view, so gains on
those sets would not count.

UTS also says when a direct match is *another concept* than the label (:func:`other_sense`): the
label's UTS reading has no counterpart in the target, and the direct target's UTS twin is neither
that reading nor broader than it (*anger*, an emotion, against AudioSet *Angry music*, whose twin
narrows it into music; IRMAS-style *va*, read by UTS as *viola*, against a direct *Vibraphone*).
A narrowing, or a sibling sense in another domain (*angry* read as *angry speech* in a list of
speech emotions, matched as AudioSet *Angry music*), is withdrawn whatever the direct match's
confidence (it comes from the shared word); another concept is withdrawn if UTS is at least as
sure of its reading as the direct matcher is of its guess. Once it is withdrawn, the chain (a broader target: viola ->
*Bowed string instrument*) takes the label if it clears the threshold; otherwise the label abstains, with the reason written.
"""

from __future__ import annotations

from dataclasses import replace

from .match import Candidate, MatchResult, Matcher
from .sssom import BROAD, CLOSE, EXACT
from .text import core_tokens, tokens

CHAINING = "semapv:MappingChaining"
HOP = 0.9  # confidence kept per step up the UTS hierarchy to reach a cross-referenced ancestor
# "fill": chain only where the direct match abstains; "better": also where the chain is more
# probable. On the dev sets onto AudioSet: direct 0.769, fill 0.846, better 0.846 (no stated
# context); 0.811, 0.857, 0.895 with it.
RULE = "better"
BROAD_MARGIN = 0.1  # how much more probable a chain through an ancestor must be than a direct match


def chain(uts_results: list[MatchResult], uts: Matcher, target_ids: set[str]) -> dict[str, tuple[Candidate, str, str]]:
    """Per source label id: the target class its UTS mapping leads to, as a candidate, with the
    UTS concept and the (possibly ancestor) concept whose cross-reference was followed."""
    out = {}
    for r in uts_results:
        if not r.decided:
            continue
        start = r.decided.object_id
        frontier, hops, seen = [start], 0, {start}
        while frontier:
            hits = [(x, cid) for cid in frontier for x in uts.target.get(cid).xrefs if x in target_ids]
            if hits:
                x, via = sorted(hits)[0]
                predicate = (EXACT if r.decided.predicate == EXACT else CLOSE) if hops == 0 else BROAD
                cand = Candidate(x, "", r.decided.probability * HOP ** hops, dict(r.decided.features), predicate, CHAINING)
                out[r.subject.id] = (cand, start, via)
                break
            nxt = []
            for cid in frontier:
                nxt += [p for p in uts.target.parents(cid) if p not in seen]
            seen.update(nxt)
            frontier, hops = nxt, hops + 1
    return out


def roots(uts: Matcher, i: int) -> set[int]:
    """The top-level UTS concepts (no parents) at or above concept index ``i``."""
    return {a for a in uts.ancestors[i].tolist() if not uts.target.parents(uts.ids[a])}


def other_sense(r: MatchResult, reading: MatchResult | None, uts: Matcher) -> str | None:
    """Why the direct decision of ``r`` is another concept than the label's UTS reading (None if
    it is not, or UTS cannot tell). UTS can tell when the reading's concept has no
    cross-reference itself (the target has no twin of it; its broader concepts may have one).
    The direct decision is then another concept when none of its UTS twins is the reading or
    above it. Two kinds are withdrawn however sure the direct match is (that confidence comes
    from the shared word): a narrowing the label does not say (*anger* -> *angry music*) and a
    sibling sense in another domain (*angry* read as *angry speech* in a list of speech
    emotions, matched as *Angry music*: both under *anger*). Any other concept (*va* read as
    *viola*, matched as *Vibraphone*) is withdrawn only if the reading is at least as probable
    as the direct decision. A twin in another domain that the reading's names contain stays
    related: the vehicle *car* in a scene's *car interior*."""
    if r.decided is None or reading is None or reading.decided is None:
        return None
    x = reading.decided.object_id
    if uts.target.get(x).xrefs:
        return None
    twins = uts.xref.get(r.decided.object_id, [])
    if not twins:
        return None
    i = uts.index[x]
    mine = roots(uts, i)
    all_words = {w for n in uts.target.get(x).texts() for w in tokens(n)}
    above = set(uts.ancestors[i].tolist()) - mine

    def elsewhere(t: int) -> bool:
        return bool(roots(uts, t) - mine)

    def other(t: int) -> bool:
        if t in uts.ancestors[i]:
            return False  # the reading itself or a broader concept: a fair answer
        if i in uts.ancestors[t]:
            return True  # a narrowing the label does not say: anger -> angry music
        # a thing of another domain that the reading names stays related (the vehicle *car* in
        # the scene *car interior*); anything else is another concept (*angry music* against
        # *angry speech*: "music" is no word of the reading; *Vibraphone* against *viola*)
        return not (elsewhere(t) and contained(uts, t, all_words))

    def sure_anyway(t: int) -> bool:  # a narrowing, or a sibling sense in another domain
        return i in uts.ancestors[t] or (elsewhere(t) and bool(above & set(uts.ancestors[t].tolist())))

    if not all(other(t) for t in twins):
        return None
    if reading.decided.probability < r.decided.probability and not all(sure_anyway(t) for t in twins):
        return None
    return (f"UTS reads the label as {uts.target.get(x).label} ({reading.decided.probability:.2f}), "
            f"which has no counterpart here; {r.decided.object_label} is another concept")


def contained(uts: Matcher, t: int, words: set[str]) -> bool:
    """Some name of UTS concept ``t`` is made only of ``words`` (*car* of *car interior*'s; not
    *angry music* of *angry speech*'s: generic heads count here)."""
    return any(set(toks) <= words for toks in map(tokens, uts.target.get(uts.ids[t]).texts()) if toks)


def match_via_uts(matcher: Matcher, uts: Matcher, source, rejected: set[tuple[str, str]] | None = None,
                  progress: bool = False, **context) -> list[MatchResult]:
    """Match ``source`` onto ``matcher``'s target directly and through UTS, and combine."""
    rejected = rejected or set()
    direct = matcher.match(source, rejected=rejected, progress=progress, **context)
    readings = uts.match(source, progress=progress, **context)
    chained = chain(readings, uts, set(matcher.ids))
    chained = {k: v for k, v in chained.items() if (k, v[0].object_id) not in rejected}
    return combine(direct, chained, matcher.target, uts, matcher.config.accept,
                   readings={r.subject.id: r for r in readings})


def combine(direct: list[MatchResult], chained: dict[str, tuple[Candidate, str, str]], target, uts: Matcher,
            accept: float, rule: str = RULE, readings: dict[str, MatchResult] | None = None) -> list[MatchResult]:
    """Direct results with chained mappings filled in where ``rule`` says so, and direct
    decisions that UTS reads as another sense withdrawn (:func:`other_sense`; in place)."""
    for r in direct:
        c, start, via = chained.get(r.subject.id, (None, "", ""))
        sense = other_sense(r, (readings or {}).get(r.subject.id), uts)
        if sense:  # withdrawn; the (broader) chain takes the label if it is probable enough
            withdrawn, r.decided = r.decided, None
            r.reason = f"{sense} (direct match: {withdrawn.object_label} {withdrawn.probability:.2f})"
            if c is None or c.probability < accept:
                continue
        elif c is None or c.probability < accept or r.reason in ("negated label", "non-content label"):
            continue
        elif r.decided and (rule == "fill" or r.decided.probability >= c.probability or r.decided.object_id == c.object_id
                            or (via != start and r.decided.probability + BROAD_MARGIN > c.probability)):
            continue  # a chain through an ancestor (broader) must be clearly more probable: *doorslam*
            # keeps its direct Slam (0.84) against UTS door slam -> door -> AudioSet Door (0.86),
            # while *tuba* takes Brass instrument (0.89) over a direct Trombone (0.54)
        was = f"{withdrawn.object_label} {withdrawn.probability:.2f} (withdrawn: another concept)" if sense \
            else f"{r.decided.object_label} {r.decided.probability:.2f}" if r.decided else "abstained"
        c = replace(c, object_label=target.get(c.object_id).label)
        steps = uts.target.get(start).label + ("" if via == start else f" -> {uts.target.get(via).label}")
        r.comment = f"via UTS: {start} {steps} (cross-reference); direct match: {was}"
        r.decided, r.reason = c, None
        r.candidates.insert(0, c)
    return direct
