"""Typed differences between two versions of UTS, the version bump they call for, and the
migration of labels made with an older release.

Change kinds: ``added``, ``deprecated`` (no or new replacement), ``merged`` (replaced by one
concept that already existed), ``split`` (replaced by several), ``undeprecated``, ``removed``
(an id vanished: never allowed, ids are permanent), ``relabelled``, ``synonyms_changed``,
``moved`` (parents changed), ``definition_changed``, ``recategorised`` (domain or facet),
``links_changed`` (typed non-is-a links; closure never follows them, so they never break a label).

Version rule (semantic versioning, see docs/ontology.md):
* **major** — anything that can make an annotation made with the old release mean something
  else or resolve differently: deprecations, merges, splits, removals, a name (label or synonym)
  that no longer resolves to its concept, a move that takes an ancestor away;
* **minor** — additions: new concepts, new synonyms, new parents (ancestors only grow),
  domain/facet changes, un-deprecations;
* **patch** — text only: definitions, a relabel that keeps the old label as a synonym.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

from .files import atomic_write_text
from .model import Ontology
from .normalize import normalize_label

KIND_ORDER = ["removed", "merged", "split", "deprecated", "undeprecated", "added", "moved",
              "relabelled", "synonyms_changed", "definition_changed", "recategorised", "links_changed"]
BUMPS = ("patch", "minor", "major")


@dataclass
class Change:
    kind: str
    id: str
    label: str
    detail: dict = field(default_factory=dict)
    bump: str = "patch"  # what this change alone requires

    def describe(self) -> str:
        d = self.detail
        head = f"{self.id} ({self.label})"
        if self.kind == "added":
            return f"{head} added under {', '.join(d.get('parents', [])) or '(root)'}"
        if self.kind in ("merged", "split", "deprecated"):
            repl = ", ".join(f"{i} ({l})" for i, l in zip(d.get("replaced_by", []), d.get("replaced_by_labels", [])))
            verb = {"merged": "merged into", "split": "split into", "deprecated": "deprecated"}[self.kind]
            return f"{head} {verb} {repl}" if repl and self.kind != "deprecated" else \
                f"{head} deprecated" + (f", replaced by {repl}" if repl else " without replacement")
        if self.kind == "relabelled":
            return f"{self.id} relabelled {d['old']!r} -> {d['new']!r}"
        if self.kind == "synonyms_changed":
            parts = [f"+{s!r}" for s in d.get("added", [])] + [f"-{s!r}" for s in d.get("removed", [])]
            return f"{head} synonyms {' '.join(parts)}"
        if self.kind == "moved":
            return f"{head} parents {', '.join(d['old']) or '-'} -> {', '.join(d['new']) or '-'}"
        if self.kind == "definition_changed":
            return f"{head} definition changed"
        if self.kind == "links_changed":
            parts = [f"+{r} {t}" for r, t in d.get("added", [])] + [f"-{r} {t}" for r, t in d.get("removed", [])]
            return f"{head} links {', '.join(parts)}"
        if self.kind == "recategorised":
            return f"{head} " + ", ".join(f"{k} {v[0]!r} -> {v[1]!r}" for k, v in d.items())
        return f"{head} {self.kind}"


@dataclass
class OntologyDiff:
    old_version: str | None
    new_version: str | None
    changes: list[Change]

    @property
    def bump(self) -> str | None:
        """The smallest version bump that honestly describes the changes (None: no change)."""
        if not self.changes:
            return None
        return max((c.bump for c in self.changes), key=BUMPS.index)

    def by_kind(self) -> dict[str, list[Change]]:
        out: dict[str, list[Change]] = {}
        for c in self.changes:
            out.setdefault(c.kind, []).append(c)
        return {k: out[k] for k in KIND_ORDER if k in out}

    def as_dict(self) -> dict:
        return {"old_version": self.old_version, "new_version": self.new_version,
                "bump": self.bump, "counts": {k: len(v) for k, v in self.by_kind().items()},
                "changes": [asdict(c) for c in self.changes]}

    def to_json(self) -> str:
        return json.dumps(self.as_dict(), indent=2, ensure_ascii=False)

    def to_markdown(self, heading_level: int = 2, title: bool = True) -> str:
        h = "#" * heading_level
        lines = []
        if title:
            lines += [f"{h} Changes {self.old_version or 'old'} -> {self.new_version or 'new'}", ""]
        if not self.changes:
            return "\n".join(lines + ["No changes.", ""])
        lines += [f"Required version bump: **{self.bump}**.", ""]
        for kind, items in self.by_kind().items():
            lines += [f"{h}# {kind.replace('_', ' ').capitalize()} ({len(items)})", ""]
            lines += [f"- {c.describe()}" for c in items]
            lines.append("")
        return "\n".join(lines)


def diff(old: Ontology, new: Ontology) -> OntologyDiff:
    """Typed changes from ``old`` to ``new``, in id order within each kind."""
    changes: list[Change] = []
    oc, nc = old.concepts, new.concepts
    label = lambda cid: nc[cid].label if cid in nc else (oc[cid].label if cid in oc else "?")  # noqa: E731
    for cid in sorted(oc.keys() - nc.keys()):
        changes.append(Change("removed", cid, oc[cid].label, {}, "major"))
    for cid in sorted(nc.keys() - oc.keys()):
        c = nc[cid]
        if c.deprecated:  # born deprecated: nothing to migrate
            continue
        changes.append(Change("added", cid, c.label, {"parents": c.parents}, "minor"))
    old_ancestors_cache: dict[str, set[str]] = {}
    for cid in sorted(oc.keys() & nc.keys()):
        a, b = oc[cid], nc[cid]
        if a == b:
            continue
        if b.deprecated and not a.deprecated:
            repl = list(b.replaced_by)
            detail = {"replaced_by": repl, "replaced_by_labels": [label(r) for r in repl]}
            if len(repl) > 1:
                kind = "split"
            elif len(repl) == 1 and repl[0] in oc and not oc[repl[0]].deprecated:
                kind = "merged"
            else:
                kind = "deprecated"
            changes.append(Change(kind, cid, a.label, detail, "major"))
            continue
        if a.deprecated and not b.deprecated:
            changes.append(Change("undeprecated", cid, b.label, {}, "minor"))
        if b.deprecated:  # edits to the text of obsolete concepts are bookkeeping
            if a.label != b.label or a.definition != b.definition:
                changes.append(Change("definition_changed", cid, b.label, {}, "patch"))
            continue
        if a.label != b.label:
            kept = normalize_label(a.label) in {normalize_label(t) for t in b.all_labels()}
            changes.append(Change("relabelled", cid, b.label, {"old": a.label, "new": b.label,
                                                              "old_label_kept": kept},
                                  "patch" if kept else "major"))
        old_syn, new_syn = set(a.synonyms) - {b.label}, set(b.synonyms) - {a.label}
        if old_syn != new_syn:
            lost = {normalize_label(t) for t in a.all_labels()} - {normalize_label(t) for t in b.all_labels()}
            changes.append(Change("synonyms_changed", cid, b.label,
                                  {"added": sorted(new_syn - old_syn), "removed": sorted(old_syn - new_syn)},
                                  "major" if lost else "minor"))
        if sorted(a.parents) != sorted(b.parents):
            if cid not in old_ancestors_cache:
                old_ancestors_cache[cid] = _ancestors(old, cid)
            lost_anc = old_ancestors_cache[cid] - _ancestors(new, cid)
            changes.append(Change("moved", cid, b.label,
                                  {"old": sorted(a.parents), "new": sorted(b.parents),
                                   "ancestors_lost": sorted(lost_anc)},
                                  "major" if lost_anc else "minor"))
        if (a.definition or "") != (b.definition or ""):
            changes.append(Change("definition_changed", cid, b.label,
                                  {"old": a.definition, "new": b.definition}, "patch"))
        recat = {k: (getattr(a, k), getattr(b, k)) for k in ("domain", "facet")
                 if getattr(a, k) != getattr(b, k)}
        if recat:
            changes.append(Change("recategorised", cid, b.label, recat, "minor"))
        if set(a.links) != set(b.links):
            changes.append(Change("links_changed", cid, b.label,
                                  {"added": sorted(set(b.links) - set(a.links)),
                                   "removed": sorted(set(a.links) - set(b.links))}, "patch"))
    changes.sort(key=lambda c: (KIND_ORDER.index(c.kind), c.id))
    return OntologyDiff(old.meta.version, new.meta.version, changes)


def _ancestors(onto: Ontology, cid: str) -> set[str]:
    # Ancestors that still exist as active concepts; a deprecated ancestor replaced by another
    # counts through its replacement so a merge higher up is not reported twice.
    out = set()
    for a in onto.ancestors(cid):
        out.update(onto.current_ids(a) if onto.concepts[a].deprecated else [a])
    return out


# -- migration -------------------------------------------------------------------------------
@dataclass
class Migration:
    old_id: str
    old_label: str
    status: str  # unchanged | deprecated | merged | split | removed | obsolete
    current_ids: list[str]
    current_labels: list[str]


def migration_table(old: Ontology, new: Ontology) -> list[Migration]:
    """For every id of ``old``: the active concept(s) of ``new`` that now carry its meaning."""
    rows = []
    for cid in sorted(old.concepts):
        o = old.concepts[cid]
        if cid not in new.concepts:
            rows.append(Migration(cid, o.label, "removed", [], []))
            continue
        current = new.current_ids(cid)
        n = new.concepts[cid]
        if not n.deprecated:
            status = "unchanged"
        elif not current:
            status = "obsolete"
        elif len(current) > 1:
            status = "split"
        else:
            status = "merged" if current[0] in old.concepts else "deprecated"
        rows.append(Migration(cid, o.label, status, current, [new.concepts[i].label for i in current]))
    return rows


def write_migration_tsv(rows: list[Migration], path: str | Path) -> Path:
    """TSV: old_id, old_label, status, current_ids, current_labels (lists joined by '|')."""
    buf = io.StringIO()
    w = csv.writer(buf, delimiter="\t", lineterminator="\n")
    w.writerow(["old_id", "old_label", "status", "current_ids", "current_labels"])
    for r in rows:
        w.writerow([r.old_id, r.old_label, r.status, "|".join(r.current_ids), "|".join(r.current_labels)])
    atomic_write_text(path, buf.getvalue())
    return Path(path)


@dataclass
class Upgrade:
    input: str
    old_id: str | None
    current_ids: list[str]


def format_upgrades(upgrades: list[Upgrade], as_json: bool = False) -> str:
    """``uts ontology upgrade``'s output: JSON, or one ``input<TAB>old id<TAB>current ids`` line each."""
    if as_json:
        return json.dumps([asdict(u) for u in upgrades], indent=2, ensure_ascii=False)
    return "\n".join(f"{u.input}\t{u.old_id or '-'}\t{' '.join(u.current_ids) or 'no current concept'}"
                     for u in upgrades)


def upgrade_labels(labels: list[str], new: Ontology, old: Ontology | None = None) -> list[Upgrade]:
    """Upgrade tags made with an older release (ids or label texts) to ``new``'s active ids.

    With ``old``, a text is resolved the way the old release understood it, then followed
    through the new release's replacements; without it, the new release's lookup (which also
    follows replacements) is used. Unresolvable inputs get an empty ``current_ids``.
    """
    out = []
    for text in labels:
        ref = old if old is not None else new
        matches = ref.lookup(text, include_deprecated=True)
        if len(matches) != 1:
            # ambiguous or unknown in the reference release: take what the new release says
            hits = new.lookup(text)
            out.append(Upgrade(text, None, sorted({m.id for m in hits})))
            continue
        old_id = matches[0].id
        current = new.current_ids(old_id) if old_id in new.concepts else []
        out.append(Upgrade(text, old_id, current))
    return out
