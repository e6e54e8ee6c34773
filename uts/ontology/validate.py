"""Validation of a UTS ontology: structural errors that make it unusable, warnings about quality.

Errors: cycles, dangling parents, duplicate ids, two active concepts sharing a normalised label or
synonym, deprecated concepts used as parents, missing preferred labels, malformed ids, unknown
domains, replacements that point nowhere or never reach an active concept, release files whose
checksum no longer matches, concept ids of the latest release or the change log missing from
the working copy (ids are never deleted: this catches a truncated file). Warnings: missing
definitions, orphans that are not declared roots, deprecated concepts without a replacement, and
style (stray spaces, underscores, casing).
Taxonomy warnings (docs/taxonomy-rules.md, heuristics that point a reviewer at likely breaches
of the closure rule): a synonym that names another concept once qualifiers are set aside
in the same branch (``synonym_names_other``), three or more parents none of which subsumes another
(``unrelated_parents``), a speech, music or sound domain that none of the concept's roots has
(``domain_mismatch``). Informational notes (severity ``info``, counted but listed only in the
JSON and Markdown reports): a definition that names neither a parent nor anything above it
(``definition_ignores_parent``); UTS definitions are short and rarely restate their genus, so this
one is a reviewing aid, not a defect. A heuristic warning a reviewer has judged and kept (oratorio
really is classical music, a choral work and a musical form) is listed with its reason in
``<name>.accepted.tsv`` beside the ontology file; :func:`validate_path` then reports it as
accepted instead of warning, and warns about entries that no longer match anything.

:func:`validate` checks an in-memory :class:`Ontology`; :func:`validate_path` also checks what only
the file shows (an id declared twice), the checksums of the releases beside it and that no id of
the latest release or the change log has vanished.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import tempfile
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from pathlib import Path

import networkx as nx

from .changelog import read_changelog
from .graph import cycles
from .io import OntologyFormatError, default_ontology_path, load
from .model import DOMAINS, ID_PATTERN, Ontology
from .normalize import normalize_label, singular, tokens


@dataclass(frozen=True)
class Issue:
    severity: str  # "error" | "warning" | "info" | "accepted" (a reviewed warning, see accepted_path)
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
    def infos(self) -> list[Issue]:
        return [i for i in self.issues if i.severity == "info"]

    @property
    def accepted(self) -> list[Issue]:
        return [i for i in self.issues if i.severity == "accepted"]

    @property
    def ok(self) -> bool:
        return not self.errors

    def summary(self) -> str:
        return (f"{self.source or 'ontology'}: {self.concepts} concepts, "
                f"{len(self.errors)} error(s), {len(self.warnings)} warning(s)")

    def info_line(self) -> str | None:
        """One line counting the informational notes by kind (None when there are none)."""
        if not self.infos:
            return None
        kinds: dict[str, int] = {}
        for i in self.infos:
            kinds[i.code] = kinds.get(i.code, 0) + 1
        return ("informational (heuristic; listed by --format json or md): "
                + ", ".join(f"{n} {k}" for k, n in sorted(kinds.items())))

    def as_dict(self) -> dict:
        return {"source": self.source, "concepts": self.concepts, "ok": self.ok,
                "errors": [_issue_dict(i) for i in self.errors],
                "warnings": [_issue_dict(i) for i in self.warnings],
                "info": [_issue_dict(i) for i in self.infos],
                "accepted": [_issue_dict(i) for i in self.accepted], "notes": self.notes}

    def to_json(self) -> str:
        return json.dumps(self.as_dict(), indent=2, ensure_ascii=False)

    def to_text(self) -> str:
        lines = [self.summary()]
        for i in self.errors + self.warnings:
            lines.append(f"  {i.severity.upper():7} {i.code}: {i.message}")
        if self.info_line():
            lines.append(f"  INFO    {self.info_line()}")
        lines.extend(f"  NOTE    {n}" for n in self.notes)
        return "\n".join(lines)

    def to_markdown(self) -> str:
        lines = [f"# Validation report", "", f"**{self.summary()}**", ""]
        for title, items in (("Errors", self.errors), ("Warnings", self.warnings),
                             ("Informational (heuristic)", self.infos), ("Accepted after review", self.accepted)):
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
    info = lambda code, msg, *ids: issues.append(Issue("info", code, msg, tuple(ids)))  # noqa: E731
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
    if not any(i.code == "cycle" for i in issues):
        check_taxonomy(onto, warn, info)
    return Report(issues=issues, concepts=len(concepts))


# -- taxonomy heuristics (docs/taxonomy-rules.md) ---------------------------------------------
_QUALIFIER = re.compile(r"\s*\([^()]*\)")
# Words too general to show that a definition "mentions" its parent.
_WEAK_WORDS = frozenset("""a an the of and or in on for to by with from as at its it is are be
    that which who any one other some such this very sound noise audio made make making produced
    produce used use using often usually typically kind type form piece part person people
    something thing like when where while into their there than more most less can may""".split())


def _loose_key(text: str) -> str:
    """normalize_label without parenthesised qualifiers: 'drum (membranophone)' -> 'drum'."""
    return normalize_label(_QUALIFIER.sub("", text)) or normalize_label(text)


_WORD = re.compile(r"[^\W_]+")


@lru_cache(maxsize=262_144)
def _stems(text: str) -> frozenset[str]:
    """Content words cut to five letters, so 'laugh' meets 'laughter' and 'vocal' 'vocalist'.
    (ASCII text skips the accent folding of :func:`tokens`; validation calls this ~100k times.)"""
    text = _QUALIFIER.sub("", text)
    words = _WORD.findall(text.lower()) if text.isascii() else tokens(text)
    return frozenset(singular(w)[:5] for w in words if w not in _WEAK_WORDS)


def check_taxonomy(onto: Ontology, warn, info) -> None:
    """The closure-rule heuristics; each warning names the concepts involved."""
    active = {c.id: c for c in onto.active()}
    g = onto.graph
    tops = set(onto.roots())
    above: dict[str, set[str]] = {}  # id -> ancestors, filled lazily (shared by the checks)

    def ancestors(cid: str) -> set[str]:
        if cid not in above:
            above[cid] = nx.ancestors(g, cid)
        return above[cid]

    lineage = lambda cid: (ancestors(cid) | {cid}) - tops  # noqa: E731
    stems_of: dict[str, set[str]] = {}

    def name_stems(cid: str) -> set[str]:
        if cid not in stems_of:
            stems_of[cid] = {w for t in active[cid].all_labels() for w in _stems(t)}
        return stems_of[cid]

    # The roots above every concept, computed once parents-first (a BFS per concept is quadratic
    # on deep multi-parent hierarchies).
    roots_above: dict[str, frozenset[str]] = {}
    for cid in nx.topological_sort(g):
        roots_above[cid] = frozenset({cid} & tops).union(*(roots_above[p] for p in g.predecessors(cid)))
    near: dict[str, frozenset[str]] = {}

    def stems_near(cid: str) -> frozenset[str]:
        """Name stems of ``cid`` and of what is up to three steps above it (a definition names
        its genus, rarely a far ancestor), plus the roots above it."""
        if cid not in near:
            level, seen = {cid}, {cid}
            for _ in range(3):
                level = {p for x in level for p in g.predecessors(x)} - seen
                seen |= level
            near[cid] = frozenset().union(*(name_stems(x) for x in seen | roots_above[cid] if x in active))
        return near[cid]
    # 1. A synonym that is another concept's name once qualifiers are set aside ("drum" on drum
    # kit while "drum (membranophone)" exists), the two in one branch (below the same non-root
    # concept): a broader, narrower or sibling idea. Across branches a bare word given to one
    # sense and a qualified label on the other ("rock" music, "rock (stone)") is deliberate.
    # Two concepts with the same normalised name are already a label_collision error.
    loose: dict[str, set[str]] = {}
    for c in active.values():
        for text in c.all_labels():
            loose.setdefault(_loose_key(text), set()).add(c.id)
    for c in active.values():
        for syn in c.synonyms:
            others = sorted(o for o in loose.get(_loose_key(syn), set()) - {c.id}
                            if lineage(o) & lineage(c.id))
            if others:
                names = ", ".join(f"{o} ({active[o].label})" for o in others)
                warn("synonym_names_other", f"{c.id} ({c.label}) has synonym {syn!r}, which also names "
                     f"{names}", c.id, *others)
    # 4. The domain says speech, music or sound but no root above the concept is of that domain
    # (laughter kept domain "speech" after leaving the speech root).
    for c in active.values():
        if c.domain in ("speech", "music", "sound") and not c.root:
            domains = {active[r].domain for r in roots_above[c.id] - {c.id} if r in active}
            if domains and c.domain not in domains:
                warn("domain_mismatch", f"{c.id} ({c.label}) has domain {c.domain!r} but sits only under "
                     f"{', '.join(sorted(d or '-' for d in domains))} roots", c.id)
    for c in active.values():
        parents = [p for p in c.parents if p in active]
        # 2. Three or more parents none of which subsumes another: usually several sources or a
        # part-of posing as is-a (growling under dog, cat, bear and lion).
        if len(parents) >= 3:
            unrelated = [p for p in parents
                         if not any(q != p and (q in ancestors(p) or p in ancestors(q))
                                    for q in parents)]
            if len(unrelated) >= 3:
                names = ", ".join(f"{p} ({active[p].label})" for p in sorted(unrelated))
                warn("unrelated_parents", f"{c.id} ({c.label}) has {len(unrelated)} parents from unrelated "
                     f"branches: {names}; does every one hold for every clip?", c.id, *sorted(unrelated))
        # 3. A definition that names neither the parent (label, synonyms, own definition) nor
        # what is above it (three steps, and the roots): sometimes a part-of, source-of or
        # thematic edge posing as is-a.
        if c.definition and parents:
            said = _stems(c.definition) | name_stems(c.id)
            for p in parents:
                if said.isdisjoint(stems_near(p)) and said.isdisjoint(_stems(active[p].definition or "")):
                    info("definition_ignores_parent", f"{c.id} ({c.label}): the definition mentions "
                         f"nothing of its parent {p} ({active[p].label}) or above", c.id, p)


def _check_cycles(onto: Ontology, err) -> None:
    for ids in cycles(onto.graph):
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
    path = Path(path) if path is not None else default_ontology_path()
    onto = load(path)
    report = validate(onto)
    report.source = str(path)
    apply_acceptances(report, accepted_path(path))
    releases = Path(releases_dir) if releases_dir is not None else path.parent / "releases"
    if releases.is_dir():
        report.issues.extend(check_release_checksums(releases))
    report.issues[:0] = check_no_lost_ids(onto, path, releases)  # first: it explains the rest
    if reason:
        issues, note = reasoner_check(onto)
        report.issues.extend(issues)
        report.notes.append(note)
    return report


def check_no_lost_ids(onto: Ontology, path: str | Path, releases_dir: str | Path | None = None,
                      examples: int = 5) -> list[Issue]:
    """An error when a concept id of the latest release, or one named in the change log, is
    missing from the working copy ``onto`` (read from ``path``). Ids are never deleted, only
    deprecated (OBO practice), so a missing id means a lost concept, e.g. a truncated file."""
    path = Path(path)
    issues = []
    releases = Path(releases_dir) if releases_dir is not None else path.parent / "releases"
    versions = list_releases(releases) if releases.is_dir() else []
    if versions:
        latest = release_path(releases, versions[-1])
        try:
            released = load(latest)
        except (OntologyFormatError, OSError) as exc:  # said, never skipped: lost ids go unchecked
            issues.append(Issue("error", "release_unreadable", f"latest release {latest} cannot be read, so "
                                f"lost ids are not checked against it: {exc}", (latest.name,)))
            released = Ontology()
        lost = sorted(set(released.concepts) - set(onto.concepts))
        if lost:
            issues.append(_lost_issue(lost, f"of the latest release {latest.name}", path, released, examples))
    logged: set[str] = set()
    for entry in read_changelog(path):
        _collect_ids(entry.get("what"), logged)
    lost = sorted(logged - set(onto.concepts))
    if lost:
        issues.append(_lost_issue(lost, f"named in the change log {path.stem}.changes.jsonl", path, None,
                                  examples))
    return issues


def _lost_issue(lost: list[str], where: str, path: Path, named_by: Ontology | None, k: int) -> Issue:
    shown = ", ".join(f"{i} ({named_by.concepts[i].label})" if named_by else i for i in lost[:k])
    more = f" and {len(lost) - k} more" if len(lost) > k else ""
    return Issue("error", "missing_concept",
                 f"{len(lost)} concept id(s) {where} are missing from {path.name}, e.g. {shown}{more}: "
                 "ids are never deleted, only deprecated (truncated or overwritten file?)", tuple(lost))


def _collect_ids(value, into: set[str]) -> None:
    """Every concept id mentioned anywhere in a change-log record."""
    if isinstance(value, str):
        if ID_PATTERN.match(value):
            into.add(value)
    elif isinstance(value, dict):
        for v in value.values():
            _collect_ids(v, into)
    elif isinstance(value, list):
        for v in value:
            _collect_ids(v, into)


def accepted_path(ontology_path: str | Path) -> Path:
    """``uts.ttl`` -> ``uts.accepted.tsv``: reviewed warnings that stay, with their reasons."""
    ontology_path = Path(ontology_path)
    return ontology_path.with_name(ontology_path.stem + ".accepted.tsv")


def read_acceptances(path: str | Path) -> list[tuple[str, tuple[str, ...], str]]:
    """Rows ``code<TAB>ids (space-separated)<TAB>reason``; ``#`` lines and blank lines skipped.
    A row without a reason is refused: accepting a warning is a judgement that must be written."""
    rows = []
    for n, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        parts = line.split("\t")
        if len(parts) != 3 or not all(p.strip() for p in parts):
            raise ValueError(f"{path}:{n}: expected code<TAB>ids<TAB>reason, got {line[:80]!r}")
        rows.append((parts[0].strip(), tuple(parts[1].split()), parts[2].strip()))
    return rows


def apply_acceptances(report: Report, path: Path) -> None:
    """Turn warnings listed in ``path`` into severity ``accepted``; warn about stale entries."""
    if not path.exists():
        return
    accepted = {(code, ids): reason for code, ids, reason in read_acceptances(path)}
    used = set()
    for n, issue in enumerate(report.issues):
        if issue.severity == "warning" and issue.key in accepted:
            report.issues[n] = Issue("accepted", issue.code, f"{issue.message} [accepted: {accepted[issue.key]}]",
                                     issue.ids)
            used.add(issue.key)
    for code, ids in sorted(accepted.keys() - used):
        report.issues.append(Issue("warning", "stale_acceptance", f"{path.name} accepts {code} for "
                                   f"{' '.join(ids)}, which no longer occurs; remove the row", ids))
    n_accepted = len(used)
    if n_accepted:
        report.notes.append(f"{n_accepted} reviewed warning(s) accepted in {path.name}")


VERSION = re.compile(r"^(\d+)\.(\d+)\.(\d+)$")  # a release version, X.Y.Z


def release_path(releases_dir: str | Path, version: str) -> Path:
    return Path(releases_dir) / f"uts-{version}.ttl"


def list_releases(releases_dir: str | Path) -> list[str]:
    """Released versions in ``releases_dir``, oldest first."""
    found = [(tuple(map(int, m.groups())), m.group(0)) for p in Path(releases_dir).glob("uts-*.ttl")
             if (m := VERSION.match(p.name[4:-4]))]
    return [v for _, v in sorted(found)]


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
    if shutil.which("java") is None:  # asked for and not run: an error, so a CI job cannot pass without it
        return [Issue("error", "reasoner_unavailable", "--reason asked for HermiT, but java is not on PATH "
                      "(install a JRE, e.g. apt install default-jre-headless)")], "reasoner not run: java not found"
    # lazy: only --reason needs owlready2 and the OWL export (numpy, scipy): ~0.3 s off every validate
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
