"""The mapping files a site shows and the web app reviews, and the one rule for file parameters.

Mapping files are read with the toolkit's SSSOM reader (:mod:`uts.mapping.sssom`). A file
parameter coming from a browser is always a path *relative to a served folder*; :func:`served_file`
refuses anything that would leave it (``..``, absolute paths, symlinks pointing out).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from uts.mapping.sssom import NO_TERM_FOUND, MappingSet, read_sssom

SUFFIX = ".sssom.tsv"
CANDIDATES_SUFFIX = ".candidates.sssom.tsv"


class ServeError(ValueError):
    """A request or a setting the web tools refuse (one line, shown to the user)."""


def default_mapping_dir(ontology_path: Path) -> Path | None:
    """The shipped ``mapping/`` folder: beside the ontology's folder (``ontology/uts.ttl``) or
    one level further up (a release, ``ontology/releases/uts-1.0.0.ttl``), when it exists."""
    here = Path(ontology_path).resolve()
    for folder in here.parents[1:3]:
        if (folder / "mapping").is_dir():
            return folder / "mapping"
    return None


def mapping_files(roots: list[Path]) -> list[tuple[Path, str]]:
    """Every SSSOM mapping file under the roots (candidate lists left out), as
    (absolute path, path relative to its root) sorted by the relative path."""
    out = []
    for root in roots:
        root = Path(root).resolve()
        for p in sorted(root.rglob(f"*{SUFFIX}")):
            if not p.name.endswith(CANDIDATES_SUFFIX) and p.resolve().is_relative_to(root):
                out.append((p, p.relative_to(root).as_posix()))
    return out


def served_file(roots: list[Path], relative: str) -> Path:
    """The file ``relative`` names inside one of the served folders; refused when it would
    leave them, is not an SSSOM file or does not exist."""
    if not relative or "\x00" in relative or Path(relative).is_absolute():
        raise ServeError(f"refused: {relative!r} is not a path inside the served folders")
    if not relative.endswith(SUFFIX) or relative.endswith(CANDIDATES_SUFFIX):
        raise ServeError(f"refused: {relative!r} is not an SSSOM mapping file (*{SUFFIX})")
    outside = False
    for root in roots:
        root = Path(root).resolve()
        target = (root / relative).resolve()  # follows symlinks, so a link pointing out is caught
        if not target.is_relative_to(root):
            outside = True
        elif target.is_file():
            return target
    if outside:
        raise ServeError(f"refused: {relative!r} leaves the served folders")
    raise ServeError(f"no mapping file {relative!r} in the served folders")


def candidates_for(path: Path) -> Path:
    """``x.sssom.tsv`` -> ``x.candidates.sssom.tsv`` (what ``uts map --candidates`` writes)."""
    return path.with_name(path.name[: -len(SUFFIX)] + CANDIDATES_SUFFIX)


def set_name(path: Path) -> str:
    return path.name[: -len(SUFFIX)]


@dataclass(frozen=True)
class DatasetLabel:
    """A dataset label aligned to a UTS concept by a shipped mapping file."""

    dataset: str  # the mapping file's set name, e.g. "audioset"
    subject_id: str
    subject_label: str
    predicate: str  # short form: exact, close, broad, narrow, related
    reviewed: bool


def dataset_labels(roots: list[Path]) -> dict[str, list[DatasetLabel]]:
    """UTS concept id -> the dataset labels that map to it (decided rows, rejections left out)."""
    out: dict[str, list[DatasetLabel]] = {}
    for path, _rel in mapping_files(roots):
        mset = read_sssom(path)
        for m in mset.mappings:
            if m.negated or m.object_id == NO_TERM_FOUND or not m.object_id.startswith("UTS:"):
                continue
            short = m.predicate_id.split(":")[-1].removesuffix("Match")
            out.setdefault(m.object_id, []).append(
                DatasetLabel(set_name(path), m.subject_id, m.subject_label or m.subject_id, short, m.reviewed))
    return out


def subject_version(mset: MappingSet, subject_id: str) -> str:
    """A short hash of every row about one subject: the review form carries it so a decision
    made on a stale page (someone decided this label meanwhile) is refused."""
    rows = [repr(sorted(vars(m).items())) for m in mset.mappings if m.subject_id == subject_id]
    return hashlib.sha256("\n".join(rows).encode()).hexdigest()[:16]


def mapping_roots(ontology_path: Path, given: list[Path] | None = None) -> list[Path]:
    """The folders whose SSSOM files are shown and reviewed: those given, else the shipped
    ``mapping/`` beside the ontology folder (none when the ontology lives elsewhere)."""
    if given:
        missing = [str(p) for p in given if not Path(p).is_dir()]
        if missing:
            raise ServeError(f"no mapping folder at {', '.join(missing)}")
        return [Path(p) for p in given]
    default = default_mapping_dir(ontology_path)
    return [default] if default else []
