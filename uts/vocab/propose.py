"""Grow UTS from data: frequent tags that resolve to no concept become candidate concepts, with
suggested parents, written as an edit file (a YAML list of ``add`` operations) that a person
reviews and the ontology engine's batch edit applies (``uts ontology apply`` /
:func:`uts.ontology.edit.apply_ops`).

Variants of one candidate (``chirp``/``chirps``/``chirping``: one lemma key) are merged into one
``add`` with the rarer spellings as synonyms. The suggested parent comes from the nearest existing
concept by sentence embedding: a tag is most often a *sibling* of its nearest concept
(``saxophone`` is nearest to ``piano``), so the nearest concept's parents are suggested; the
nearest concept itself when the tag names a kind of it (``acid jazz`` -> ``jazz``) or when it is
a root. When :mod:`uts.mapping` is available its matcher is asked first: it also recognises a tag
that is a kind of a concept (broadMatch), whose parent is then that concept, and one that is the
same as a concept (exactMatch), proposed as that concept's synonym (``add_synonym``) instead.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from uts.mapping.labelsets import from_ontology, from_texts
from uts.mapping.match import Matcher
from uts.mapping.sssom import BROAD, EXACT
from uts.ontology.files import atomic_write_text
from uts.ontology.model import Ontology
from uts.ontology.normalize import normalize_label, tokens
from uts.ontology.resolve import STOPWORDS, Resolver, lemma_key

from .build import tag_mapping, count_tags
from .io import VocabError, scan_tags
from .resolve import EmbeddingMatcher


WEAK_MATCH = 0.5  # below this cosine the nearest concept says little about where a tag belongs


@dataclass
class Proposal:
    label: str
    df: int
    synonyms: list[str] = field(default_factory=list)
    parents: list[str] = field(default_factory=list)
    nearest: list[tuple[str, float]] = field(default_factory=list)  # (concept id, score), best first
    evidence: str = ""  # one line for the reviewer: how the parent was found
    weak: bool = True  # the suggestion rests on a poor match
    synonym_of: str | None = None  # the mapping engine judged the tag the same as this concept

    def ops(self) -> list[dict]:
        if self.synonym_of:
            return [{"op": "add_synonym", "id": self.synonym_of, "synonym": t} for t in [self.label, *self.synonyms]]
        op = {"op": "add", "label": self.label, "parents": self.parents}
        if self.synonyms:
            op["synonyms"] = self.synonyms
        return [op]


def unresolved_tags(input_path: str | os.PathLike, onto: Ontology) -> pl.DataFrame:
    """``frame[tag, df]`` of the tags that resolve to no concept, most frequent first."""
    lf = scan_tags(input_path)
    has_ids = "concept_ids" in lf.collect_schema().names()
    _, _, tags = count_tags(lf, input_path)
    mapping = tag_mapping(lf, tags["tag"], Resolver(onto), has_ids)
    return (tags.join(mapping.select("tag").unique(), on="tag", how="anti")
            .sort(["df", "tag"], descending=[True, False]))


def _suggest_parents(onto: Ontology, label: str, nearest: list[tuple[str, float]]) -> list[str]:
    if not nearest:
        return []
    best = nearest[0][0]
    concept = onto.concepts[best]
    names = [tokens(t) for t in concept.all_labels()]
    words = tokens(label)
    names_kind = any(n and words[-len(n):] == n and len(words) > len(n) for n in names)
    if names_kind:
        return [best]
    return [p for p in concept.parents if p in onto.concepts and not onto.concepts[p].deprecated] or [best]


def propose(input_path: str | os.PathLike, onto: Ontology, min_df: int = 2, top: int = 50,
            matcher: EmbeddingMatcher | None = None, suggest: str = "auto") -> list[Proposal]:
    """Candidate concepts for the ``top`` most frequent unresolved tags seen in ``min_df`` clips.

    Parents are suggested by the mapping engine (``suggest="mapping"``), by plain embedding
    neighbours (``"embedding"``, or whenever ``matcher`` is given), or the first that works
    (``"auto"``)."""
    if suggest not in ("auto", "mapping", "embedding"):
        raise VocabError(f"suggest must be auto, mapping or embedding, not {suggest!r}")
    table = unresolved_tags(input_path, onto).filter(pl.col("df") >= min_df)
    groups: dict[str, Proposal] = {}
    for tag, df in table.iter_rows():
        if not tokens(tag) or tag in STOPWORDS:
            continue
        key = lemma_key(tag)
        if key in groups:
            p = groups[key]
            p.df += df  # an upper bound on clips: variants may share a clip
            if normalize_label(tag) not in {normalize_label(t) for t in [p.label, *p.synonyms]}:
                p.synonyms.append(tag)
        elif len(groups) < top:
            groups[key] = Proposal(tag, df)
    proposals = list(groups.values())
    if not proposals:
        return proposals
    if matcher is None and suggest in ("auto", "mapping"):
        _suggest_by_mapping(onto, proposals)
        return proposals
    _suggest_by_embedding(onto, proposals, matcher or EmbeddingMatcher(onto))
    return proposals


def _suggest_by_embedding(onto: Ontology, proposals: list[Proposal], matcher) -> None:
    for p, near in zip(proposals, matcher.nearest([p.label for p in proposals], k=3)):
        p.nearest = near
        p.parents = _suggest_parents(onto, p.label, near)
        p.evidence = "nearest concepts (cosine): " + (
            ", ".join(f"{onto.concepts[c].label} ({s:.2f})" for c, s in near) or "none")
        p.weak = not near or near[0][1] < WEAK_MATCH


def _suggest_by_mapping(onto: Ontology, proposals: list[Proposal]) -> None:
    """Ask the mapping engine (:mod:`uts.mapping`), whose calibrated reranker also tells a kind of
    a concept (broadMatch: ``acid jazz`` -> jazz, which is then the parent) from a near one."""
    results = Matcher(from_ontology(onto)).match(from_texts([p.label for p in proposals], "vocab-tags"))
    by_label = {r.subject.label: r for r in results}
    for p in proposals:
        r = by_label.get(p.label)
        candidates = r.candidates[:3] if r is not None else []
        p.nearest = [(c.object_id, float(c.probability)) for c in candidates]
        if r is not None and r.decided is not None and r.decided.predicate == EXACT:
            p.synonym_of = r.decided.object_id
        if r is not None and r.decided is not None and r.decided.predicate == BROAD:
            p.parents = [r.decided.object_id]
        else:
            p.parents = _suggest_parents(onto, p.label, p.nearest)
        p.evidence = "mapping engine: " + (", ".join(
            f"{onto.concepts[c.object_id].label} ({c.predicate.split(':')[-1]}, p={c.probability:.2f})"
            for c in candidates) or "no candidate")
        p.weak = r is None or r.decided is None


def write_proposals(path: str | os.PathLike, proposals: list[Proposal], onto: Ontology, source: str) -> Path:
    """The edit file: YAML, one ``add`` per candidate, with the evidence as comments."""
    if not proposals:
        raise VocabError("no unresolved tag is frequent enough to propose (lower --min-df?)")
    q = json.dumps  # a JSON string is a valid YAML scalar, whatever characters it holds
    lines = [
        f"# Candidate UTS concepts proposed by `uts vocab propose` from {source}.",
        "# Review every entry: fix labels and parents, delete what should not be a concept,",
        "# then apply the list with the ontology engine's batch edit.",
    ]
    for p in proposals:
        lines += ["", f"# in {p.df} clip{'s' if p.df != 1 else ''}; {p.evidence}"]
        if p.weak:
            lines.append("# weak match: check the parent, or whether this is a concept at all")
        if p.synonym_of:
            target = onto.concepts[p.synonym_of].label
            lines.append(f"# the mapping engine finds it the same as {target!r}: proposed as a synonym;"
                         f" to make it a concept instead use: - {{op: add, label: {q(p.label)}, parents: [...]}}")
        for op in p.ops():
            lines.append(f"- op: {op['op']}")
            for key, value in op.items():
                if key == "op":
                    continue
                if isinstance(value, list):
                    text = f"  {key}: [{', '.join(q(v) for v in value)}]"
                    if key == "parents":
                        named = ", ".join(onto.concepts[c].label for c in value)
                        text += f"  # {named}" if named else "  # TODO: choose a parent"
                else:
                    text = f"  {key}: {q(value)}"
                    if key == "id":
                        text += f"  # {onto.concepts[value].label}"
                lines.append(text)
    atomic_write_text(path, "\n".join(lines) + "\n")
    return Path(path)
