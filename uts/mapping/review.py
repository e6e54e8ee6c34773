"""Human review of mappings: accept, reject, pick another candidate, change the predicate.

Decisions are written into the mapping file itself, in SSSOM terms:

- a reviewed row carries ``reviewer_id`` and ``mapping_date`` (the review date);
- a rejected pair stays in the file as a row with ``predicate_modifier: Not``, so re-running the
  matcher never proposes it again;
- a target picked by the reviewer is a new row with ``mapping_justification``
  ``semapv:ManualMappingCuration`` (the pair it replaced is kept as rejected).

Re-running the matcher (:func:`merge_reviewed`) keeps every reviewed row as it is and only fills
in subjects nobody has decided yet.

Two ways to review: :func:`export_review_table` writes a TSV with an empty ``decision`` column to
fill in (``accept``, ``reject``, ``pick`` + ``new_object_id``, ``predicate`` + ``new_predicate_id``)
and :func:`read_decisions` / :func:`apply_decisions` bring it back; :func:`review_interactively`
asks in the terminal, saving after every decision.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

from uts.ontology.files import atomic_write_text

from .sssom import MANUAL, NO_TERM_FOUND, PREDICATES, Mapping, MappingSet

if TYPE_CHECKING:  # rdflib loads only where a target is read
    from .labelsets import LabelSet

ACTIONS = ("accept", "reject", "pick", "predicate", "skip")
REVIEW_COLUMNS = ("subject_id", "subject_label", "predicate_id", "object_id", "object_label", "confidence",
                  "alternatives", "decision", "new_object_id", "new_predicate_id", "comment")


class ReviewError(ValueError):
    """A review decision cannot be applied."""


@dataclass
class Decision:
    subject_id: str
    action: str
    object_id: str | None = None  # for "pick"
    predicate_id: str | None = None  # for "predicate" (or with "pick")
    comment: str | None = None
    where: str | None = None  # FILE:LINE of the review table row, named in errors

    @property
    def at(self) -> str:
        """Where an error about this decision points: the table row, and the subject."""
        return f"{self.where}: {self.subject_id}" if self.where else self.subject_id


KEYS_HELP = "[a]ccept [r]eject [1-9] pick [e/c/b/n] exact/close/broad/narrow [s]kip [q]uit"


def decision_for_key(row: dict, answer: str) -> Decision | None:
    """What a reviewer's keystroke means for one row of :func:`review_interactively` (``None``:
    quit). Anything unknown, or accept/reject/predicate on a row without a target, is a skip."""
    answer = answer.strip().lower()
    if answer == "q":
        return None
    if answer == "a" and row["object_id"]:
        return Decision(row["subject_id"], "accept")
    if answer == "r" and row["object_id"]:
        return Decision(row["subject_id"], "reject")
    if answer.isdigit() and 1 <= int(answer) <= len(row["alternatives"]):
        alt = row["alternatives"][int(answer) - 1]
        if alt.object_id == row["object_id"]:
            return Decision(row["subject_id"], "accept")
        return Decision(row["subject_id"], "pick", alt.object_id, alt.predicate_id)
    if answer in ("e", "c", "b", "n") and row["object_id"]:
        pred = {"e": "exact", "c": "close", "b": "broad", "n": "narrow"}[answer]
        return Decision(row["subject_id"], "predicate", predicate_id=pred)
    return Decision(row["subject_id"], "skip")


def count_decisions(decisions: list[Decision]) -> int:
    """How many of ``decisions`` change something (skips left out)."""
    return sum(d.action != "skip" for d in decisions)


def _today() -> str:
    return date.today().isoformat()


def _expand_predicate(pred: str | None) -> str | None:
    if not pred:
        return None
    pred = pred.strip()
    if ":" not in pred:
        short = pred.lower().removesuffix("match")
        pred = {"exact": "skos:exactMatch", "close": "skos:closeMatch", "broad": "skos:broadMatch",
                "narrow": "skos:narrowMatch", "related": "skos:relatedMatch"}.get(short, pred)
    if pred not in PREDICATES:
        raise ReviewError(f"unknown predicate {pred!r}; use one of {', '.join(PREDICATES)}")
    return pred


def needs_target(decisions: list[Decision]) -> bool:
    """Whether any decision picks or accepts a target id (only then is the target read, to check
    that the id is in it: map apply refuses a whole mapping for one id its target lacks)."""
    return any(d.action in ("pick", "accept") for d in decisions)


def apply_decisions(mset: MappingSet, decisions: list[Decision], reviewer_id: str,
                    candidates: MappingSet | None = None, labels: dict[str, str] | None = None,
                    today: str | None = None, target: LabelSet | None = None) -> MappingSet:
    """A new mapping set with the decisions applied (``mset`` is not modified).

    ``candidates`` (and ``labels``, id -> label of the target) supply labels for picked targets
    and the subjects of labels the matcher left unmapped. With ``target``, a pick of an id it
    lacks is refused (else every later ``map apply`` of the file fails on it)."""
    if not reviewer_id or ":" not in reviewer_id:
        raise ReviewError("reviewer_id must be a CURIE such as orcid:0000-0002-1825-0097")
    today = today or _today()
    labels = dict(labels or {})
    subject_labels: dict[str, str] = {}
    for m in (candidates.mappings if candidates else []) + mset.mappings:
        if m.object_label:
            labels.setdefault(m.object_id, m.object_label)
        if m.subject_label:
            subject_labels.setdefault(m.subject_id, m.subject_label)
    rows = [replace(m) for m in mset.mappings]
    for d in decisions:
        if d.action not in ACTIONS:
            raise ReviewError(f"{d.at}: unknown action {d.action!r}; use one of {', '.join(ACTIONS)}")
        if d.action == "skip":
            continue
        current = next((m for m in rows if m.subject_id == d.subject_id and not m.negated
                        and m.object_id != NO_TERM_FOUND), None)
        if d.action in ("accept", "reject", "predicate") and current is None:
            raise ReviewError(f"{d.at}: no mapping to {d.action}")
        if d.action == "accept":
            if target is not None and current.object_id not in target:  # map apply would refuse the file
                raise ReviewError(f"{d.at}: its object {current.object_id} is not in the target "
                                  f"{target.name}; pick another (pick + new_object_id) or reject it")
            current.reviewer_id, current.mapping_date = reviewer_id, today
            current.comment = d.comment or current.comment
        elif d.action == "reject":
            current.predicate_modifier = "Not"
            current.reviewer_id, current.mapping_date = reviewer_id, today
            current.comment = d.comment or "rejected by reviewer"
        elif d.action == "predicate":
            pred = _expand_predicate(d.predicate_id)
            if pred is None:
                raise ReviewError(f"{d.at}: 'predicate' needs new_predicate_id")
            current.predicate_id = pred
            current.reviewer_id, current.mapping_date = reviewer_id, today
            current.comment = d.comment or current.comment
        elif d.action == "pick":
            if not d.object_id:
                raise ReviewError(f"{d.at}: 'pick' needs new_object_id")
            if target is not None and d.object_id not in target:
                raise ReviewError(f"{d.at}: picked {d.object_id} is not in the target {target.name}; pick one of "
                                  "its ids (or pass the mapping's target with --target)")
            if current is not None:
                if current.object_id == d.object_id:
                    raise ReviewError(f"{d.at}: {d.object_id} is already the mapping; use accept")
                current.predicate_modifier = "Not"
                current.reviewer_id, current.mapping_date = reviewer_id, today
                current.comment = f"replaced by reviewer with {d.object_id}"
            rows.append(Mapping(
                subject_id=d.subject_id,
                subject_label=subject_labels.get(d.subject_id),
                predicate_id=_expand_predicate(d.predicate_id) or "skos:exactMatch",
                object_id=d.object_id,
                object_label=labels.get(d.object_id) or (target.get(d.object_id).label if target is not None else None),
                mapping_justification=MANUAL, reviewer_id=reviewer_id, mapping_date=today,
                comment=d.comment,
            ))
    return MappingSet(_ordered(rows), dict(mset.metadata))


def _ordered(rows: list[Mapping]) -> list[Mapping]:
    """Rows grouped by subject (first appearance order), positive mapping before rejections."""
    order: dict[str, int] = {}
    for m in rows:
        order.setdefault(m.subject_id, len(order))
    return sorted(rows, key=lambda m: (order[m.subject_id], m.negated))


def merge_reviewed(new: MappingSet, previous: MappingSet | None) -> MappingSet:
    """New matcher output merged with an earlier, partly reviewed file: reviewed rows win,
    rejected pairs stay, unreviewed earlier rows are replaced by the new ones."""
    if previous is None:
        return new
    kept = [m for m in previous.mappings if m.reviewed or m.negated]
    decided = {m.subject_id for m in kept if not m.negated}
    rejected = {m.pair for m in kept if m.negated}
    fresh = [m for m in new.mappings if m.subject_id not in decided and m.pair not in rejected]
    order = {}
    for m in new.mappings + kept:
        order.setdefault(m.subject_id, len(order))
    rows = sorted(kept + fresh, key=lambda m: (order[m.subject_id], m.negated))
    metadata = dict(new.metadata)  # kept rows may use prefixes only the old header declared
    metadata["curie_map"] = {**(previous.metadata.get("curie_map") or {}), **(new.metadata.get("curie_map") or {})}
    return MappingSet(rows, metadata)


# -- the review table ------------------------------------------------------------------------
def _alternatives(candidates: MappingSet | None, subject_id: str, k: int = 5) -> list[Mapping]:
    if candidates is None:
        return []
    rows = [m for m in candidates.mappings if m.subject_id == subject_id]
    return sorted(rows, key=lambda m: -(m.confidence or 0.0))[:k]


def review_rows(mset: MappingSet, candidates: MappingSet | None = None,
                include_reviewed: bool = False) -> list[dict]:
    """Rows to review: every undecided mapping, least confident first, then labels the matcher
    left unmapped (those that have candidates)."""
    out = []
    mapped = set()
    for m in sorted(mset.mappings, key=lambda m: (m.confidence if m.confidence is not None else 1.0)):
        if m.negated:
            continue
        mapped.add(m.subject_id)
        if m.reviewed and not include_reviewed:
            continue
        out.append({"subject_id": m.subject_id, "subject_label": m.subject_label or "",
                    "predicate_id": m.predicate_id, "object_id": m.object_id,
                    "object_label": m.object_label or "", "confidence": m.confidence,
                    "alternatives": _alternatives(candidates, m.subject_id)})
    rejected = mset.rejected_pairs()
    if candidates is not None:
        seen = set()
        for m in candidates.mappings:
            if m.subject_id in mapped or m.subject_id in seen:
                continue
            seen.add(m.subject_id)
            alts = [a for a in _alternatives(candidates, m.subject_id) if a.pair not in rejected]
            out.append({"subject_id": m.subject_id, "subject_label": m.subject_label or "",
                        "predicate_id": "", "object_id": "", "object_label": "(unmapped)",
                        "confidence": None, "alternatives": alts})
    return out


def export_review_table(mset: MappingSet, path: str | Path, candidates: MappingSet | None = None,
                        include_reviewed: bool = False) -> int:
    """Write the TSV to edit; returns the number of rows."""
    buf = io.StringIO()
    writer = csv.writer(buf, delimiter="\t", lineterminator="\n")
    writer.writerow(REVIEW_COLUMNS)
    rows = review_rows(mset, candidates, include_reviewed)
    for r in rows:
        alts = " | ".join(f"{a.object_id} {a.object_label or ''} ({(a.confidence or 0):.2f})" for a in r["alternatives"])
        conf = "" if r["confidence"] is None else f"{r['confidence']:.3f}"
        writer.writerow([r["subject_id"], r["subject_label"], r["predicate_id"], r["object_id"],
                         r["object_label"], conf, alts, "", "", "", ""])
    atomic_write_text(path, buf.getvalue())
    return len(rows)


def read_decisions(path: str | Path) -> list[Decision]:
    """Decisions from an edited review table (rows with an empty ``decision`` are skipped)."""
    path = Path(path)
    if not path.is_file():
        raise ReviewError(f"no review table at {path}")
    try:
        text = path.read_text(encoding="utf-8-sig")  # a spreadsheet's BOM is not part of 'subject_id'
    except UnicodeDecodeError as exc:
        raise ReviewError(f"{path}: not UTF-8 text (bad byte at offset {exc.start}); the review table "
                          "(TSV) that --export writes is expected") from None
    reader = csv.DictReader(text.splitlines(), delimiter="\t")
    if not reader.fieldnames or not {"subject_id", "decision"} <= set(reader.fieldnames):
        raise ReviewError(f"{path}: needs subject_id and decision columns (write one with --export)")
    out, first_line = [], {}
    for lineno, row in enumerate(reader, 2):
        action = (row.get("decision") or "").strip().lower()
        if not action:
            continue
        subject = (row.get("subject_id") or "").strip()
        if subject in first_line:  # two decisions for one pair: the later silently won
            raise ReviewError(f"{path}:{lineno}: a second decision for {subject} (line {first_line[subject]} "
                              "decided it already); keep one")
        first_line[subject] = lineno
        aliases = {"a": "accept", "r": "reject", "p": "pick", "yes": "accept", "no": "reject", "s": "skip"}
        action = aliases.get(action, action)
        if action not in ACTIONS:
            raise ReviewError(f"{path}:{lineno}: decision {action!r} is not one of {', '.join(ACTIONS)}")
        new_obj = (row.get("new_object_id") or "").strip() or None
        new_pred = (row.get("new_predicate_id") or "").strip() or None
        if action == "pick" and not new_obj:
            raise ReviewError(f"{path}:{lineno}: 'pick' needs new_object_id")
        if action == "predicate" and not new_pred:
            raise ReviewError(f"{path}:{lineno}: 'predicate' needs new_predicate_id")
        try:
            new_pred = _expand_predicate(new_pred)
        except ReviewError as exc:
            raise ReviewError(f"{path}:{lineno}: {exc}") from None
        out.append(Decision(row["subject_id"].strip(), action, new_obj, new_pred,
                            (row.get("comment") or "").strip() or None, where=f"{path}:{lineno}"))
    return out


def review_interactively(mset: MappingSet, reviewer_id: str, ask: Callable[[dict], Decision | None],
                         save: Callable[[MappingSet], None], candidates: MappingSet | None = None,
                         labels: dict[str, str] | None = None) -> tuple[MappingSet, int]:
    """Walk the review rows; ``ask(row)`` returns a decision (``None`` to stop). Every decision
    is saved at once through ``save`` so quitting loses nothing. Returns the set and the count."""
    done = 0
    for row in review_rows(mset, candidates):
        decision = ask(row)
        if decision is None:
            break
        if decision.action == "skip":
            continue
        mset = apply_decisions(mset, [decision], reviewer_id, candidates, labels)
        save(mset)
        done += 1
    return mset, done
