"""Grow UTS from data: frequent tags that resolve to no concept become candidate concepts, with
suggested parents, written as an edit file (a YAML list of ``add`` operations) that a person
reviews and the ontology engine's batch edit applies (``uts ontology apply`` /
:func:`uts.ontology.edit.apply_ops`).

Variants of one candidate (``chirp``/``chirps``/``chirping``: one lemma key) are merged into one
``add`` with the rarer spellings as synonyms. The suggested parent comes from the nearest existing
concept by sentence embedding: a tag is most often a *sibling* of its nearest concept
(``saxophone`` is nearest to ``piano``), so the nearest concept's parents are suggested; the
nearest concept itself when the tag names a kind of it (``acid jazz`` -> ``jazz``) or when it is
a root.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from uts.ontology.model import Ontology
from uts.ontology.normalize import normalize_label, tokens

from .build import _tag_mapping, count_tags
from .io import VocabError, scan_tags
from .resolve import STOPWORDS, ConceptResolver, EmbeddingMatcher, lemma_key


WEAK_MATCH = 0.5  # below this cosine the nearest concept says little about where a tag belongs


@dataclass
class Proposal:
    label: str
    df: int
    synonyms: list[str] = field(default_factory=list)
    parents: list[str] = field(default_factory=list)
    nearest: list[tuple[str, float]] = field(default_factory=list)

    def op(self) -> dict:
        op = {"op": "add", "label": self.label, "parents": self.parents}
        if self.synonyms:
            op["synonyms"] = self.synonyms
        return op


def unresolved_tags(input_path: str | os.PathLike, onto: Ontology) -> pl.DataFrame:
    """``frame[tag, df]`` of the tags that resolve to no concept, most frequent first."""
    lf = scan_tags(input_path)
    has_ids = "concept_ids" in lf.collect_schema().names()
    _, _, tags = count_tags(lf, input_path)
    mapping = _tag_mapping(lf, tags["tag"], ConceptResolver(onto), has_ids)
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
            matcher: EmbeddingMatcher | None = None) -> list[Proposal]:
    """Candidate concepts for the ``top`` most frequent unresolved tags seen in ``min_df`` clips."""
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
    if proposals:
        matcher = matcher or EmbeddingMatcher(onto)
        for p, near in zip(proposals, matcher.nearest([p.label for p in proposals], k=3)):
            p.nearest = near
            p.parents = _suggest_parents(onto, p.label, near)
    return proposals


def write_proposals(path: str | os.PathLike, proposals: list[Proposal], onto: Ontology, source: str) -> Path:
    """The edit file: YAML, one ``add`` per candidate, with the evidence as comments."""
    from uts.ontology.io import atomic_write_text

    if not proposals:
        raise VocabError("no unresolved tag is frequent enough to propose (lower --min-df?)")
    q = json.dumps  # a JSON string is a valid YAML scalar, whatever characters it holds
    lines = [
        f"# Candidate UTS concepts proposed by `uts vocab propose` from {source}.",
        "# Review every entry: fix labels and parents, delete what should not be a concept,",
        "# then apply the list with the ontology engine's batch edit.",
    ]
    for p in proposals:
        near = ", ".join(f"{onto.concepts[c].label} ({s:.2f})" for c, s in p.nearest)
        lines += ["", f"# in {p.df} clips; nearest concepts: {near or 'none'}"]
        if p.nearest and p.nearest[0][1] < WEAK_MATCH:
            lines.append(f"# weak match (best cosine {p.nearest[0][1]:.2f} < {WEAK_MATCH}): check the parent,"
                         " or whether this is a concept at all")
        lines += ["- op: add", f"  label: {q(p.label)}"]
        parents = ", ".join(q(c) for c in p.parents)
        named = ", ".join(onto.concepts[c].label for c in p.parents)
        lines.append(f"  parents: [{parents}]" + (f"  # {named}" if named else "  # TODO: choose a parent"))
        if p.synonyms:
            lines.append(f"  synonyms: [{', '.join(q(s) for s in p.synonyms)}]")
    atomic_write_text(path, "\n".join(lines) + "\n")
    return Path(path)
