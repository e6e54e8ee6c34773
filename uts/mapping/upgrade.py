"""Bring an alignment made for an older UTS release up to a newer one.

An SSSOM row whose object was deprecated is pointed at the concept that now carries its meaning
(its single replacement, followed through chains of replacements); object labels are refreshed
where a concept was relabelled. A row whose object was split into several concepts, or retired
without a replacement, cannot be upgraded by rule: it is refused by name so a person decides.
Every changed row says what happened in its ``comment``; nothing else in the file changes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from uts.ontology import Ontology

from .sssom import NO_TERM_FOUND, MappingSet, read_sssom, write_sssom


class UpgradeError(ValueError):
    """Some rows cannot be upgraded by rule; nothing was changed."""


@dataclass
class RowChange:
    subject_id: str
    old_object: str
    new_object: str
    old_label: str | None
    new_label: str
    kind: str  # "replaced" | "relabelled"


def upgrade_mapping(mset: MappingSet, onto: Ontology, version: str | None = None) -> tuple[MappingSet, list[RowChange]]:
    """The upgraded mapping set and what changed. ``version`` (e.g. "1.1.0") is recorded as the
    set's ``object_source_version`` and replaces "UTS X.Y" in its description."""
    rows, changes, stuck = [], [], []
    for m in mset.mappings:
        obj = m.object_id
        if obj == NO_TERM_FOUND or not obj.startswith("UTS:"):
            rows.append(m)
            continue
        if obj not in onto.concepts:  # a typo, or an id from another copy: no rule can place it
            stuck.append(f"{m.subject_id} -> {obj}: not a concept of this UTS at all")
            rows.append(m)
            continue
        current = onto.current_ids(obj)
        if len(current) != 1:
            how = "split into " + ", ".join(current) if current else "retired without a replacement"
            stuck.append(f"{m.subject_id} -> {obj} ({onto.concepts[obj].label}): {how}")
            rows.append(m)
            continue
        new_id = current[0]
        new_label = onto.concepts[new_id].label
        if new_id == obj and m.object_label == new_label:
            rows.append(m)
            continue
        kind = "replaced" if new_id != obj else "relabelled"
        note = (f"upgraded to UTS {version or 'current'}: {obj} ({m.object_label}) deprecated, replaced by {new_id}"
                if kind == "replaced" else
                f"upgraded to UTS {version or 'current'}: object relabelled {m.object_label!r} -> {new_label!r}")
        comment = f"{m.comment}; {note}" if m.comment else note
        rows.append(replace(m, object_id=new_id, object_label=new_label, comment=comment))
        changes.append(RowChange(m.subject_id, obj, new_id, m.object_label, new_label, kind))
    if stuck:
        where = f"{mset.source}: " if mset.source else ""
        raise UpgradeError(f"{where}{len(stuck)} row(s) need a person, not a rule: " + "; ".join(stuck[:5]))
    meta = dict(mset.metadata)
    if version:
        meta["object_source_version"] = version
        short = ".".join(version.split(".")[:2])
        if isinstance(meta.get("mapping_set_description"), str):
            meta["mapping_set_description"] = re.sub(r"UTS \d+\.\d+(\.\d+)?", f"UTS {short}",
                                                     meta["mapping_set_description"])
    return MappingSet(rows, meta), changes


def upgrade_files(paths, onto: Ontology, dry_run: bool = False) -> list[str]:
    """Upgrade SSSOM files in place to ``onto``'s release; returns what changed, a line per file
    and per row. Every file is upgraded in memory first, so one refused row leaves all untouched."""
    version = onto.meta.version
    originals = [read_sssom(path) for path in paths]
    results = [(path, mset, *upgrade_mapping(mset, onto, version)) for path, mset in zip(paths, originals)]
    lines = []
    for path, original, upgraded, changes in results:
        replaced = sum(c.kind == "replaced" for c in changes)
        lines.append(f"{path}: {replaced} object(s) replaced, {len(changes) - replaced} relabelled")
        lines += [f"  {c.subject_id}: {c.old_object} {c.old_label!r} -> {c.new_object} {c.new_label!r}"
                  for c in changes]
        if (changes or upgraded.metadata != original.metadata) and not dry_run:
            write_sssom(path, upgraded)  # the header records the release it is aligned to
    return lines
