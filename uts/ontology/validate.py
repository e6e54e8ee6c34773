"""Validation of a UTS ontology: structural errors that make it unusable, warnings about quality.

Errors: cycles, dangling parents, duplicate ids, two active concepts sharing a normalised label or
synonym, deprecated concepts used as parents, missing preferred labels, malformed ids, unknown
domains, replacements that point nowhere or never reach an active concept, release files whose
checksum no longer matches. Warnings: missing definitions, orphans that are not declared roots,
deprecated concepts without a replacement, and style (stray spaces, underscores, casing).

:func:`validate` checks an in-memory :class:`Ontology`; :func:`validate_path` also checks what only
the file shows (an id declared twice) and the checksums of the releases beside it.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
from dataclasses import asdict, dataclass, field
from pathlib import Path

import networkx as nx

from .model import DOMAINS, ID_PATTERN, Ontology
from .normalize import normalize_label


@dataclass(frozen=True)
class Issue:
    severity: str  # "error" | "warning"
    code: str  # stable machine-readable kind, e.g. "cycle", "label_collision"
    message: str
    ids: tuple[str, ...] = ()

    @property
    def key(self) -> tuple:
        return (self.code, self.ids)


@dataclass
class Report:
    """The outcome of validation; ``ok`` is False when there is at least one error."""

    issues: list[Issue] = field(default_factory=list)
    source: str | None = None
    concepts: int = 0
    notes: list[str] = field(default_factory=list)  # e.g. "reasoner skipped: java not found"

    @property
    def errors(self) -> list[Issue]:
        return [i for i in self.issues if i.severity == "error"]

    @property
    def warnings(self) -> list[Issue]:
        return [i for i in self.issues if i.severity == "warning"]

    @property
    def ok(self) -> bool:
        return not self.errors

    def summary(self) -> str:
        return (f"{self.source or 'ontology'}: {self.concepts} concepts, "
                f"{len(self.errors)} error(s), {len(self.warnings)} warning(s)")

    def as_dict(self) -> dict:
        return {"source": self.source, "concepts": self.concepts, "ok": self.ok,
                "errors": [_issue_dict(i) for i in self.errors],
                "warnings": [_issue_dict(i) for i in self.warnings], "notes": self.notes}

    def to_json(self) -> str:
        return json.dumps(self.as_dict(), indent=2, ensure_ascii=False)

    def to_text(self) -> str:
        lines = [self.summary()]
        for i in self.errors + self.warnings:
            lines.append(f"  {i.severity.upper():7} {i.code}: {i.message}")
        lines.extend(f"  NOTE    {n}" for n in self.notes)
        return "\n".join(lines)

    def to_markdown(self) -> str:
        lines = [f"# Validation report", "", f"**{self.summary()}**", ""]
        for title, items in (("Errors", self.errors), ("Warnings", self.warnings)):
            lines += [f"## {title} ({len(items)})", ""]
            if items:
                lines += ["| code | ids | message |", "|---|---|---|"]
                lines += [f"| {i.code} | {' '.join(i.ids)} | {i.message.replace('|', '/')} |"
                          for i in items]
            else:
                lines.append("none")
            lines.append("")
        if self.notes:
            lines += ["## Notes", ""] + [f"- {n}" for n in self.notes] + [""]
        return "\n".join(lines)


def _issue_dict(i: Issue) -> dict:
    d = asdict(i)
    d["ids"] = list(i.ids)
    return d


def validate(onto: Ontology) -> Report:
    """All errors and warnings of ``onto`` (deterministic order)."""
    issues: list[Issue] = []
    err = lambda code, msg, *ids: issues.append(Issue("error", code, msg, tuple(ids)))  # noqa: E731
    warn = lambda code, msg, *ids: issues.append(Issue("warning", code, msg, tuple(ids)))  # noqa: E731
    concepts = onto.concepts

    for code, cid, msg in onto.load_issues:
        err(code, msg, cid)

    for cid in sorted(concepts):
        c = concepts[cid]
        if not ID_PATTERN.match(cid):
            err("bad_id", f"{cid!r} is not of the form UTS:nnnnnnn (7 digits)", cid)
        if not c.label.strip():
            err("missing_label", f"{cid} has no preferred label", cid)
        if c.domain is not None and c.domain not in DOMAINS:
            err("bad_domain", f"{cid} has domain {c.domain!r}; expected one of {', '.join(DOMAINS)}", cid)
        for p in c.parents:
            if p not in concepts:
                err("dangling_parent", f"{cid} ({c.label}) has parent {p}, which does not exist", cid, p)
            elif p == cid:
                pass  # reported as a cycle
            elif concepts[p].deprecated and not c.deprecated:
                err("deprecated_parent",
                    f"{cid} ({c.label}) has deprecated parent {p} ({concepts[p].label})", cid, p)
        for r in c.replaced_by:
            if r not in concepts:
                err("dangling_replacement", f"{cid} ({c.label}) is replaced by {r}, which does not exist", cid, r)
        if c.deprecated:
            if c.replaced_by and all(r in concepts for r in c.replaced_by) and not onto.current_ids(cid):
                err("replacement_dead_end",
                    f"deprecated {cid} ({c.label}) is replaced only by deprecated concepts that lead "
                    "to no active concept", cid)
            if not c.replaced_by:
                warn("no_replacement", f"deprecated {cid} ({c.label}) has no replacement (flagged obsolete)", cid)
            continue
        # -- active concepts only below --
        if c.replaced_by:
            warn("active_with_replacement", f"{cid} ({c.label}) is active but has a replacement", cid)
        if not c.parents and not c.root:
            warn("orphan", f"{cid} ({c.label}) has no parent and is not declared a root", cid)
        if c.root and c.parents:
            warn("root_with_parents", f"{cid} ({c.label}) is declared a root but has parents", cid)
        if not (c.definition or "").strip():
            warn("missing_definition", f"{cid} ({c.label}) has no definition", cid)
        for text in c.all_labels():
            problem = _style_problem(text)
            if problem:
                warn("style", f"{cid}: {text!r} {problem}", cid)

    _check_cycles(onto, err)
    _check_label_collisions(onto, err)
    return Report(issues=issues, concepts=len(concepts))


def _check_cycles(onto: Ontology, err) -> None:
    g = onto.graph
    if nx.is_directed_acyclic_graph(g):
        return
    for comp in nx.strongly_connected_components(g):
        if len(comp) > 1 or any(g.has_edge(n, n) for n in comp):
            ids = sorted(comp)
            names = ", ".join(f"{i} ({onto.concepts[i].label})" for i in ids)
            err("cycle", f"subClassOf cycle through {names}", *ids)


def _check_label_collisions(onto: Ontology, err) -> None:
    owners: dict[str, dict[str, str]] = {}  # key -> {id: the text that produced it}
    for c in onto.active():
        for text in c.all_labels():
            key = normalize_label(text)
            if key:
                owners.setdefault(key, {}).setdefault(c.id, text)
    for key in sorted(owners):
        ids = owners[key]
        if len(ids) > 1:
            names = ", ".join(f"{i} ({t!r})" for i, t in sorted(ids.items()))
            err("label_collision", f"active concepts share the normalised label {key!r}: {names}",
                *sorted(ids))


_CAMEL = re.compile(r"[a-z][A-Z]")


def _style_problem(text: str) -> str | None:
    if text != text.strip():
        return "has leading or trailing spaces"
    if "  " in text:
        return "has repeated spaces"
    if "_" in text:
        return "uses underscores; write words separated by spaces"
    if _CAMEL.search(text):
        return "uses camelCase; labels are lower case words"
    # Shouting = a word of five or more letters, all capitals; model names such as "TR-808" are fine.
    if any(sum(ch.isalpha() for ch in w) > 4 and w.isupper() for w in text.split()):
        return "has an all-capitals word; labels are lower case except acronyms and proper nouns"
    return None


# -- files and releases ----------------------------------------------------------------------
def file_sha256(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def read_checksum(release_file: str | Path) -> str | None:
    p = Path(str(release_file) + ".sha256")
    if not p.exists():
        return None
    text = p.read_text(encoding="utf-8").split()
    return text[0] if text else None


def validate_path(path: str | Path | None = None, releases_dir: str | Path | None = None,
                  reason: bool = False) -> Report:
    """Load and validate a file; also verify release checksums (``releases/`` beside the file by
    default) and, with ``reason``, run the OWL reasoner (see :func:`reasoner_check`)."""
    from .io import default_ontology_path, load

    path = Path(path) if path is not None else default_ontology_path()
    onto = load(path)
    report = validate(onto)
    report.source = str(path)
    releases = Path(releases_dir) if releases_dir is not None else path.parent / "releases"
    if releases.is_dir():
        report.issues.extend(check_release_checksums(releases))
    if reason:
        issues, note = reasoner_check(onto)
        report.issues.extend(issues)
        report.notes.append(note)
    return report


def check_release_checksums(releases_dir: str | Path) -> list[Issue]:
    """An error for each release file without a checksum or whose bytes changed since release."""
    issues = []
    for ttl in sorted(Path(releases_dir).glob("uts-*.ttl")):
        expected = read_checksum(ttl)
        if expected is None:
            issues.append(Issue("error", "release_checksum_missing",
                                f"release {ttl.name} has no checksum file {ttl.name}.sha256", (ttl.name,)))
        elif file_sha256(ttl) != expected:
            issues.append(Issue("error", "release_modified",
                                f"release {ttl.name} does not match its checksum: releases are immutable",
                                (ttl.name,)))
    return issues


def reasoner_check(onto: Ontology) -> tuple[list[Issue], str]:
    """OWL consistency through owlready2 + HermiT. Needs ``java``; returns (issues, note).

    ``owl:imports`` are dropped before handing the ontology over, so nothing is fetched.
    """
    if shutil.which("java") is None:
        return [], "reasoner skipped: java not found on PATH (install a JRE to run HermiT)"
    import tempfile

    import owlready2

    from .export import write_owl

    with tempfile.TemporaryDirectory() as tmp:
        owl_path = Path(tmp) / "uts.owl"
        write_owl(onto, owl_path, drop_imports=True)
        world = owlready2.World()
        ontology = world.get_ontology(owl_path.as_uri()).load()
        try:
            with ontology:
                owlready2.sync_reasoner_hermit(world, infer_property_values=False, debug=0)
        except owlready2.OwlReadyInconsistentOntologyError:
            return [Issue("error", "inconsistent", "HermiT: the ontology is inconsistent")], \
                "reasoner: HermiT found the ontology inconsistent"
        unsat = sorted(str(c.iri) for c in world.inconsistent_classes() if c is not owlready2.Nothing)
        issues = [Issue("error", "unsatisfiable", f"HermiT: class {iri} is unsatisfiable", (iri,))
                  for iri in unsat]
        world.close()
    return issues, f"reasoner: HermiT checked {len(onto)} classes, {len(unsat)} unsatisfiable"
