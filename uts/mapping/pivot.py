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
"""

from __future__ import annotations

from dataclasses import replace

from .match import Candidate, MatchResult, Matcher
from .sssom import BROAD, CLOSE, EXACT

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


def match_via_uts(matcher: Matcher, uts: Matcher, source, rejected: set[tuple[str, str]] | None = None,
                  progress: bool = False, **context) -> list[MatchResult]:
    """Match ``source`` onto ``matcher``'s target directly and through UTS, and combine."""
    rejected = rejected or set()
    direct = matcher.match(source, rejected=rejected, progress=progress, **context)
    chained = chain(uts.match(source, progress=progress, **context), uts, set(matcher.ids))
    chained = {k: v for k, v in chained.items() if (k, v[0].object_id) not in rejected}
    return combine(direct, chained, matcher.target, uts, matcher.config.accept)


def combine(direct: list[MatchResult], chained: dict[str, tuple[Candidate, str, str]], target, uts: Matcher,
            accept: float, rule: str = RULE) -> list[MatchResult]:
    """Direct results with chained mappings filled in where ``rule`` says so (in place)."""
    for r in direct:
        c, start, via = chained.get(r.subject.id, (None, "", ""))
        if c is None or c.probability < accept or r.reason in ("negated label", "non-content label"):
            continue
        if r.decided and (rule == "fill" or r.decided.probability >= c.probability or r.decided.object_id == c.object_id
                          or (via != start and r.decided.probability + BROAD_MARGIN > c.probability)):
            continue  # a chain through an ancestor (broader) must be clearly more probable: *doorslam*
            # keeps its direct Slam (0.84) against UTS door slam -> door -> AudioSet Door (0.86),
            # while *tuba* takes Brass instrument (0.89) over a direct Trombone (0.54)
        c = replace(c, object_label=target.get(c.object_id).label)
        was = f"{r.decided.object_label} {r.decided.probability:.2f}" if r.decided else "abstained"
        steps = uts.target.get(start).label + ("" if via == start else f" -> {uts.target.get(via).label}")
        r.comment = f"via UTS: {start} {steps} (cross-reference); direct match: {was}"
        r.decided, r.reason = c, None
        r.candidates.insert(0, c)
    return direct
