"""Immutable, checksummed releases of the working ontology and their CHANGELOG entries.

``release(version)`` validates the working copy, diffs it against the latest release, checks the
version number against the rule in :mod:`uts.ontology.diff` (a release with deprecations must be
major, additions at least minor), then writes ``releases/uts-X.Y.Z.ttl`` (with ``owl:versionIRI``
and ``owl:versionInfo``), ``releases/uts-X.Y.Z.ttl.sha256`` (``sha256sum`` format) and a new
CHANGELOG.md entry built from the diff and the change log. Release files are never overwritten.
A smaller bump than the rule asks for is possible only with a written ``justification``, which the
CHANGELOG entry and the change log then state next to the bump the rule required.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from filelock import Timeout

from .diff import BUMPS, OntologyDiff, diff
from .changelog import append_changelog, read_changelog, reconcile
from .edit import lock_for
from .files import atomic_write_text
from .io import default_ontology_path, dumps, load
from .model import Ontology
# Release files are named and checksummed in validate (it checks them; importing release there
# would be a cycle).
from .validate import (VERSION, check_release_checksums, file_sha256, list_releases, read_checksum,  # noqa: F401
                       release_path, validate)

CHANGELOG_HEADER = "# UTS ontology changelog"


class ReleaseError(ValueError):
    """A release was refused; nothing was written."""


def verified_release(releases_dir: str | Path, version: str) -> Path:
    """The file of release ``version``, refused when its bytes no longer match its checksum:
    a diff or an upgrade against an edited release compares with something never released."""
    path = release_path(releases_dir, version)
    if not path.exists():
        raise FileNotFoundError(f"no release {version} in {releases_dir}")
    expected = read_checksum(path)
    if expected is not None and file_sha256(path) != expected:
        raise ReleaseError(f"{path}: does not match its checksum {path.name}.sha256; releases are immutable "
                           "(restore it from version control)")
    return path


def parse_version(text: str) -> tuple[int, int, int]:
    m = VERSION.match(text or "")
    if not m:
        raise ReleaseError(f"version must look like X.Y.Z (e.g. 1.2.0), got {text!r}")
    return int(m.group(1)), int(m.group(2)), int(m.group(3))


def bump_version(version: str | None, bump: str) -> str:
    if version is None:
        return "1.0.0"
    major, minor, patch = parse_version(version)
    if bump == "major":
        return f"{major + 1}.0.0"
    if bump == "minor":
        return f"{major}.{minor + 1}.0"
    return f"{major}.{minor}.{patch + 1}"


def release_bump(old: str, new: str) -> str | None:
    """Which part changed from ``old`` to ``new`` (None if ``new`` is not later)."""
    a, b = parse_version(old), parse_version(new)
    if b <= a:
        return None
    return "major" if b[0] > a[0] else "minor" if b[1] > a[1] else "patch"


def version_iri(onto_iri: str, version: str) -> str:
    """``https://w3id.org/uts/uts.owl`` -> ``https://w3id.org/uts/releases/1.2.0/uts.owl``."""
    base, _, name = onto_iri.rpartition("/")
    return f"{base}/releases/{version}/{name or 'uts.owl'}"


@dataclass
class ReleaseResult:
    version: str
    path: Path
    checksum_path: Path
    changelog: Path
    previous: str | None
    diff: OntologyDiff
    required_bump: str | None
    justification: str | None = None  # set when the version is smaller than the rule requires


def _write_new(path: Path, text: str) -> None:
    """Create ``path`` atomically, failing if it exists (a hard link never replaces a file)."""
    tmp = path.with_name(f".{path.name}.tmp")
    atomic_write_text(tmp, text)
    try:
        os.link(tmp, path)
    except FileExistsError:
        raise ReleaseError(f"{path} already exists: releases are immutable") from None
    finally:
        tmp.unlink(missing_ok=True)


def release(version: str | None = None, path: str | Path | None = None,
            releases_dir: str | Path | None = None, changelog: str | Path | None = None,
            *, editor: str | None = None, dry_run: bool = False,
            justification: str | None = None) -> ReleaseResult:
    """Release the working copy ``path`` as ``version`` (default: the smallest correct bump) into
    ``releases_dir`` (default: ``releases/`` beside it), extending ``changelog`` (default:
    ``CHANGELOG.md`` beside it). Every refusal is a :class:`ReleaseError`; nothing is written.
    ``justification`` allows a smaller bump than the version rule requires, and is published."""
    try:
        return _release(version, path, releases_dir, changelog, editor=editor, dry_run=dry_run,
                        justification=justification)
    except Timeout:
        raise ReleaseError("the ontology is locked by an editor; try again in a moment") from None


def _release(version: str | None, path: str | Path | None, releases_dir: str | Path | None,
             changelog: str | Path | None, *, editor: str | None = None, dry_run: bool = False,
             justification: str | None = None) -> ReleaseResult:

    path = Path(path) if path is not None else default_ontology_path()
    releases_dir = Path(releases_dir) if releases_dir is not None else path.parent / "releases"
    changelog = Path(changelog) if changelog is not None else path.parent / "CHANGELOG.md"
    with lock_for(path):
        if not dry_run:
            reconcile(path)  # an interrupted edit is finished or rolled back before releasing
        onto = load(path)
        report = validate(onto)
        if not report.ok:
            raise ReleaseError(f"{path} has {len(report.errors)} validation error(s); fix them first "
                               f"(first: {report.errors[0].message})")
        if releases_dir.is_dir():
            broken = check_release_checksums(releases_dir)
            if broken:
                raise ReleaseError(f"existing releases fail their checksums ({broken[0].message}); "
                                   "restore them before releasing")
        previous = list_releases(releases_dir)[-1] if releases_dir.is_dir() and list_releases(releases_dir) else None
        prev_onto = load(release_path(releases_dir, previous)) if previous else Ontology()
        d = diff(prev_onto, onto)
        required = d.bump
        if previous and required is None:
            raise ReleaseError(f"nothing changed since release {previous}")
        if version is None:
            version = bump_version(previous, required or "minor")
        parse_version(version)
        if previous:
            given = release_bump(previous, version)
            if given is None:
                raise ReleaseError(f"version {version} is not later than the latest release {previous}")
            if justification is not None and not justification.strip():
                raise ReleaseError("a justification must say why (it is published in the CHANGELOG)")
            if BUMPS.index(given) >= BUMPS.index(required):
                justification = None  # nothing to justify
            elif not justification:
                raise ReleaseError(
                    f"{version} is a {given} release but the changes since {previous} need a {required} "
                    f"release ({bump_version(previous, required)}): "
                    + "; ".join(c.describe() for c in d.changes if c.bump == required)[:400])
        target = release_path(releases_dir, version)
        if target.exists():
            raise ReleaseError(f"{target} already exists: releases are immutable")
        released = Ontology(onto.concepts.values(), dataclasses.replace(
            onto.meta, version=version, version_iri=version_iri(onto.meta.iri, version)))
        d.old_version, d.new_version = previous, version
        result = ReleaseResult(version, target, Path(str(target) + ".sha256"), changelog, previous, d, required,
                               justification.strip() if justification else None)
        old_log = _read_changelog(changelog)  # before anything is written: a bad one changes nothing
        if dry_run:
            return result
        text = dumps(released)
        _write_new(target, text)
        digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
        atomic_write_text(result.checksum_path, f"{digest}  {target.name}\n")
        os.chmod(target, 0o444)
        entry = changelog_entry(d, version, previous, _edits_since_last_release(path), result.justification)
        _prepend_changelog(changelog, entry, old_log)
        record = {"op": "release", "version": version, "sha256": digest}
        if result.justification:
            record["version_rule"] = {"required": required, "reason": result.justification}
        append_changelog(path, [record], editor)
    return result


def _edits_since_last_release(path: Path) -> list[dict]:
    records = read_changelog(path)
    last = max((i for i, r in enumerate(records) if r.get("what", {}).get("op") == "release"), default=-1)
    return records[last + 1:]


def changelog_entry(d: OntologyDiff, version: str, previous: str | None, edits: list[dict],
                    justification: str | None = None) -> str:
    date = datetime.now(timezone.utc).date().isoformat()
    lines = [f"## {version} — {date}", ""]
    lines.append(f"Previous release: {previous or 'none (first release)'}.")
    lines.append("")
    if justification:
        n = sum(1 for c in d.changes if c.bump == d.bump)
        lines += [f"**Version rule overridden:** {n} change(s) below need a **{d.bump}** release under "
                  f"the version rule; released as {version} because: {justification}", ""]
    if previous:
        body = d.to_markdown(heading_level=2, title=False).rstrip()
        lines += [body, ""]
    else:
        lines += [f"First release: {sum(1 for c in d.changes if c.kind == 'added')} concepts.", ""]
    if edits:
        lines += [f"### Recorded edits ({len(edits)})", ""]
        for r in edits:
            what = {k: v for k, v in r.get("what", {}).items() if k != "op"}
            summary = ", ".join(f"{k}={v}" for k, v in what.items())
            lines.append(f"- {r.get('when', '?')} {r.get('who', '?')}: {r.get('what', {}).get('op')} {summary}")
        lines.append("")
    return "\n".join(lines) + "\n"


def _read_changelog(changelog: Path) -> str:
    """The release notes so far (a fresh header when there are none yet)."""
    if not changelog.exists():
        return f"{CHANGELOG_HEADER}\n\n"
    try:
        return changelog.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ReleaseError(f"{changelog}: not UTF-8 text (bad byte at offset {exc.start}); the release "
                           "notes (Markdown) are expected") from None
    except IsADirectoryError:
        raise ReleaseError(f"{changelog} is a directory; the release notes file (CHANGELOG.md) is expected") from None


def _prepend_changelog(changelog: Path, entry: str, text: str) -> None:
    head, sep, rest = text.partition("\n## ")
    new = head.rstrip("\n") + "\n\n" + entry + (("\n## " + rest) if sep else "")
    atomic_write_text(changelog, new)
