"""SSSOM TSV reading and writing (https://mapping-commons.github.io/sssom/).

A file is a YAML metadata block (every line prefixed with ``#``: ``curie_map``, ``mapping_set_id``,
``license``, ...) followed by a TSV table, one mapping per row. We write only the columns that
carry a value in some row (plus the required ones) in the schema's order, so files stay small and
diffs stay readable; files we write pass ``sssom validate``.

Conventions used across the toolkit:

- a decided mapping has ``predicate_id`` skos:exactMatch / closeMatch / broadMatch / narrowMatch
  (``subject broadMatch object`` means the object is the broader concept);
- a rejected pair is kept as a row with ``predicate_modifier: Not`` so it stays rejected;
- a row decided by a person carries ``reviewer_id`` and ``mapping_date``;
- candidate lists (``--candidates K``) are SSSOM too, with ``similarity_score`` per row.
"""

from __future__ import annotations

import csv
import io
import logging
import warnings
from dataclasses import dataclass, field, fields
from pathlib import Path

import yaml

from uts.ontology.files import atomic_write_text

SKOS = "http://www.w3.org/2004/02/skos/core#"
EXACT, CLOSE, BROAD, NARROW, RELATED = (
    "skos:exactMatch", "skos:closeMatch", "skos:broadMatch", "skos:narrowMatch", "skos:relatedMatch",
)
PREDICATES = (EXACT, CLOSE, BROAD, NARROW, RELATED)
# The rows under which a source label may be given the object as a label: exact and close
# matches, and broadMatch (a clip tagged "acid jazz" is a Jazz clip). narrowMatch (a clip tagged
# "drum" is not necessarily a snare-drum clip) and relatedMatch (weak guesses, for review) would
# claim more than the tag says. The one definition; apply and curated_labels use it.
APPLY_PREDICATES = (EXACT, CLOSE, BROAD)


def parse_predicates(text: str) -> tuple[str, ...]:
    """``"exact,close,broad"`` (shorthand, ``skos:`` CURIEs or ``closeMatch``) -> SKOS CURIEs."""
    preds = tuple(f"skos:{p.strip().removeprefix('skos:').removesuffix('Match')}Match" for p in text.split(","))
    unknown = [p for p in preds if p not in PREDICATES]
    if unknown:
        raise SSSOMError(f"unknown predicate(s) {', '.join(unknown)}; use exact, close, broad, narrow, related")
    return preds
LEXICAL = "semapv:LexicalMatching"
SEMANTIC = "semapv:SemanticSimilarityThresholdMatching"
MANUAL = "semapv:ManualMappingCuration"
BACKGROUND = "semapv:BackgroundKnowledgeBasedMatching"
UNSPECIFIED = "semapv:UnspecifiedMatching"
NO_TERM_FOUND = "sssom:NoTermFound"

DEFAULT_CURIE_MAP: dict[str, str] = {
    "UTS": "https://w3id.org/uts/UTS_",
    "skos": SKOS,
    "semapv": "https://w3id.org/semapv/vocab/",
    "sssom": "https://w3id.org/sssom/",
    "owl": "http://www.w3.org/2002/07/owl#",
    "rdfs": "http://www.w3.org/2000/01/rdf-schema#",
    "orcid": "https://orcid.org/",
    # AudioSet class ids are Freebase/Knowledge Graph mids such as "/m/09x0r": AudioSet:/m/09x0r
    "AudioSet": "https://research.google.com/audioset/ontology/index.html#",
    "MTGJamendo": "https://mtg.github.io/mtg-jamendo-dataset/tags#",
    "UTSpaper": "https://github.com/AudenAI/Auden/tree/main/examples/uts#",
}

# Column order of the SSSOM schema (the subset we use).
COLUMNS = (
    "subject_id", "subject_label", "subject_source", "predicate_id", "predicate_modifier",
    "object_id", "object_label", "object_source", "mapping_justification", "confidence",
    "similarity_score", "similarity_measure", "mapping_tool", "mapping_tool_version",
    "reviewer_id", "mapping_date", "curation_rule_text", "comment",
)
REQUIRED_COLUMNS = ("subject_id", "predicate_id", "object_id", "mapping_justification")
_FLOAT_COLUMNS = {"confidence", "similarity_score"}


class SSSOMError(ValueError):
    """A mapping file is malformed."""


@dataclass
class Mapping:
    """One SSSOM row."""

    subject_id: str
    predicate_id: str
    object_id: str
    mapping_justification: str = UNSPECIFIED
    subject_label: str | None = None
    subject_source: str | None = None
    predicate_modifier: str | None = None  # "Not" for a rejected pair
    object_label: str | None = None
    object_source: str | None = None
    confidence: float | None = None
    similarity_score: float | None = None
    similarity_measure: str | None = None
    mapping_tool: str | None = None
    mapping_tool_version: str | None = None
    reviewer_id: str | None = None
    mapping_date: str | None = None
    curation_rule_text: str | None = None
    comment: str | None = None

    @property
    def negated(self) -> bool:
        return self.predicate_modifier == "Not"

    @property
    def reviewed(self) -> bool:
        return bool(self.reviewer_id)

    @property
    def pair(self) -> tuple[str, str]:
        return (self.subject_id, self.object_id)


@dataclass
class MappingSet:
    """Mappings plus the set-level metadata of the header (``curie_map`` included)."""

    mappings: list[Mapping] = field(default_factory=list)
    metadata: dict = field(default_factory=dict)
    source: str | None = field(default=None, compare=False)  # the file it was read from, for messages

    def decided(self) -> dict[str, Mapping]:
        """The positive mapping of each subject (first row wins), rejected rows left out."""
        out: dict[str, Mapping] = {}
        for m in self.mappings:
            if not m.negated and m.object_id != NO_TERM_FOUND:
                out.setdefault(m.subject_id, m)
        return out

    def applied(self, predicates=APPLY_PREDICATES) -> dict[str, str]:
        """subject_id -> object_id for the rows to apply: one decided mapping per subject (the
        first usable row), rejected rows (``predicate_modifier: Not``) and NoTermFound left out."""
        table: dict[str, str] = {}
        for m in self.mappings:
            if not m.negated and m.object_id != NO_TERM_FOUND and m.predicate_id in predicates:
                table.setdefault(m.subject_id, m.object_id)
        return table

    def curated_labels(self, predicates=APPLY_PREDICATES) -> dict[str, list[str]]:
        """Subject label (and subject id) -> the object ids to apply, for
        :class:`uts.ontology.resolve.Curated`: the context rule a reviewed alignment adds to
        the one resolver. A subject decided as ``sssom:NoTermFound`` maps to ``[]`` (resolves
        to nothing); one with only rejected rows is left out (no decision)."""
        applied = self.applied(predicates)
        out: dict[str, list[str]] = {}
        for m in self.mappings:
            decided_none = m.object_id == NO_TERM_FOUND and not m.negated
            if m.subject_id not in applied and not decided_none:
                continue
            ids = [applied[m.subject_id]] if m.subject_id in applied else []
            for text in dict.fromkeys(t for t in (m.subject_label, m.subject_id) if t):
                have = out.setdefault(text, [])
                have.extend(i for i in ids if i not in have)
        return out

    def rejected_pairs(self) -> set[tuple[str, str]]:
        return {m.pair for m in self.mappings if m.negated}

    def __len__(self) -> int:
        return len(self.mappings)


def default_metadata(
    mapping_set_id: str,
    curie_map: dict[str, str] | None = None,
    **extra,
) -> dict:
    """Header with the toolkit's CURIE map and a licence; ``extra`` adds slots
    such as ``subject_source``, ``object_source``, ``mapping_set_description``."""
    meta = {
        "curie_map": {**DEFAULT_CURIE_MAP, **(curie_map or {})},
        "mapping_set_id": mapping_set_id,
        "license": "https://creativecommons.org/licenses/by/4.0/",
    }
    meta.update({k: v for k, v in extra.items() if v is not None})
    return meta


def _format(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.4f}".rstrip("0").rstrip(".") if value != int(value) else f"{value:.1f}"
    return str(value).replace("\t", " ").replace("\n", " ")


def dumps_sssom(mset: MappingSet) -> str:
    """The SSSOM TSV text of a mapping set (metadata header + table)."""
    meta = dict(mset.metadata)
    if "mapping_set_id" not in meta:
        raise SSSOMError("mapping set metadata needs a mapping_set_id (a URI)")
    curie_map = dict(meta.get("curie_map") or {})
    used = {m_id.split(":", 1)[0] for m in mset.mappings
            for m_id in (m.subject_id, m.object_id, m.predicate_id, m.mapping_justification, m.reviewer_id)
            if m_id and ":" in m_id and not m_id.startswith(("http://", "https://"))}
    missing = sorted(p for p in used if p not in curie_map and p not in DEFAULT_CURIE_MAP)
    if missing:
        raise SSSOMError(f"no curie_map entry for prefix(es) {', '.join(missing)}")
    # Keep only the prefixes the file uses (sssom validate flags unused entries as noise).
    meta["curie_map"] = {p: curie_map.get(p, DEFAULT_CURIE_MAP.get(p)) for p in sorted(used | {"skos", "semapv"})
                         if p in curie_map or p in DEFAULT_CURIE_MAP}
    header = yaml.safe_dump(meta, sort_keys=False, allow_unicode=True, width=1000)
    out = io.StringIO()
    for line in header.splitlines():
        out.write(f"#{line}\n")
    columns = [c for c in COLUMNS
               if c in REQUIRED_COLUMNS or any(getattr(m, c) not in (None, "") for m in mset.mappings)]
    writer = csv.writer(out, delimiter="\t", lineterminator="\n", quoting=csv.QUOTE_MINIMAL)
    writer.writerow(columns)
    for m in mset.mappings:
        if not _supported_predicate(m.predicate_id):
            raise SSSOMError(f"{m.subject_id}: unsupported predicate {m.predicate_id!r}")
        writer.writerow([_format(getattr(m, c)) for c in columns])
    return out.getvalue()


def write_sssom(path: str | Path, mset: MappingSet) -> Path:
    """Write atomically (a failure leaves any previous file untouched)."""
    path = Path(path)
    text = dumps_sssom(mset)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, text)
    return path


def loads_sssom(text: str, source: str = "<text>") -> MappingSet:
    """Parse SSSOM TSV text. Anything that would change what a row means is refused with the
    file and physical line (blank lines and quoted line breaks counted): a ``predicate_modifier``
    other than ``Not`` (a typo would turn a rejected pair into an applied one), a predicate this
    toolkit does not write, a row with more fields than the header, a confidence outside 0-1."""
    if not text.strip():  # not even a column header: not a mapping file
        raise SSSOMError(f"{source}: empty file; an SSSOM TSV (a header row, then one mapping a row) is expected")
    lines = text.splitlines()
    n_header = next((i for i, line in enumerate(lines) if line.strip() and not line.startswith("#")), len(lines))
    try:  # one YAML line per file line, so YAML's line numbers are the file's
        meta = yaml.safe_load("\n".join(line[1:] for line in lines[:n_header])) or {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)  # the header starts at line 1: its line is the file's
        where = f"{source}:{mark.line + 1}:{mark.column + 1}" if mark else source
        raise SSSOMError(f"{where}: metadata header is not YAML ({getattr(exc, 'problem', None) or exc})") from None
    if not isinstance(meta, dict):
        raise SSSOMError(f"{source}: metadata header must be a YAML mapping")
    reader = csv.reader(lines[n_header:], delimiter="\t")
    columns = next((row for row in reader if row), None)
    if columns is None:
        return MappingSet([], meta, source)
    absent = [c for c in ("subject_id", "predicate_id", "object_id") if c not in columns]
    if absent:
        raise SSSOMError(f"{source}: missing column(s) {', '.join(absent)}")
    known = {f.name for f in fields(Mapping)}
    mappings = []
    for row in reader:
        if not row:
            continue
        where = f"{source}:{n_header + reader.line_num}"
        if len(row) > len(columns):
            raise SSSOMError(f"{where}: {len(row)} fields but the header names {len(columns)} "
                             "(a tab inside a value?)")
        mappings.append(_mapping_of(dict(zip(columns, row)), known, where))
    return MappingSet(mappings, meta, source)


def _mapping_of(row: dict[str, str], known: set[str], where: str) -> Mapping:
    values = {}
    for key, value in row.items():
        if key not in known or value == "":
            continue
        if key in _FLOAT_COLUMNS:
            try:
                value = float(value)
            except ValueError:
                raise SSSOMError(f"{where}: {key} {value!r} is not a number") from None
            if not 0.0 <= value <= 1.0:
                raise SSSOMError(f"{where}: {key} {value:g} is outside 0-1")
        values[key] = value
    if not all(values.get(c) for c in ("subject_id", "predicate_id", "object_id")):
        raise SSSOMError(f"{where}: subject_id, predicate_id and object_id are required")
    if values.get("predicate_modifier", "Not") != "Not":
        raise SSSOMError(f"{where}: predicate_modifier {values['predicate_modifier']!r}; SSSOM allows only 'Not' "
                         "(a rejected pair) or nothing")
    if not _supported_predicate(values["predicate_id"]):
        raise SSSOMError(f"{where}: predicate {values['predicate_id']!r} is not one of {', '.join(PREDICATES)} "
                         "(or an owl:/rdfs: property)")
    values.setdefault("mapping_justification", UNSPECIFIED)
    return Mapping(**values)


def _supported_predicate(predicate: str) -> bool:
    """The predicates read and written: the SKOS mapping relations, and OWL/RDFS properties."""
    return predicate in PREDICATES or predicate.startswith(("owl:", "rdfs:"))


def read_sssom(path: str | Path) -> MappingSet:
    path = Path(path)
    if not path.is_file():
        raise SSSOMError(f"no mapping file at {path}")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise SSSOMError(f"{path}: not UTF-8 text (bad byte at offset {exc.start}); "
                         "an SSSOM mapping is a UTF-8 TSV file") from None
    return loads_sssom(text, str(path))


def validate_sssom(path: str | Path) -> list[str]:
    """Problems reported by the ``sssom`` package's validators (empty list = valid).

    Needs the optional ``sssom`` package (a test dependency)."""
    # lazy: sssom is optional (installed with the test extra), and only this check uses it
    from sssom.parsers import parse_sssom_table
    from sssom.validators import validate

    records: list[str] = []

    class _Collect(logging.Handler):
        def emit(self, record):
            if record.levelno >= logging.ERROR:
                records.append(record.getMessage())

    handler = _Collect()
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        with warnings.catch_warnings():  # sssom's own pandas deprecation noise
            warnings.simplefilter("ignore")
            msdf = parse_sssom_table(str(path))
            validate(msdf, fail_on_error=True)
    except Exception as exc:  # noqa: BLE001 - any validator failure is a finding
        records.append(f"{type(exc).__name__}: {exc}")
    finally:
        root.removeHandler(handler)
    return records

