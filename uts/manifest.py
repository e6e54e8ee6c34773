"""THE clip manifest: the one schema every command that writes clips writes (``uts map apply``,
``uts synth``, the demo) and every command that reads them reads (``uts train``, ``uts eval``),
with read, write and validate.

Schema (:data:`FLAT_COLUMNS`), JSON Lines (optionally gzipped) or Parquet:

``id``             unique clip id
``audio_path``     audio file; a relative path is resolved against the manifest's folder
``start``          seconds into the file (default 0)
``duration``       seconds (default: the rest of the file, filled by :func:`validate_manifest`)
``labels``         UTS concept ids the source annotates (after mapping)
``inferred``       ancestors closure adds (:func:`uts.ontology.graph.inferred`), minus ``labels``
``caption``        free-text caption, when the source has one
``source_labels``  the source's own tags as it wrote them (provenance; never resolved again)
``unmapped_tags``  labels that are no concept id (reported by :func:`validate_manifest`)

Other columns are passed through. Once a manifest carries UTS ids nothing downstream turns them
back into text: reading only follows deprecated ids to their replacements.
:func:`validate_manifest` checks each entry cheaply (``soundfile.info``) and returns the good rows
plus a :class:`BadEntryReport`; bad entries are skipped with a reason, never silently kept.
"""

from __future__ import annotations

import io
import json
import math
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl
import soundfile as sf
from rich.progress import track

from uts.inputs import Skipped
from uts.ontology import Ontology
from uts.ontology.files import (JSONL_ENCODING, OPENS_LIKE_JSON, atomic_write_bytes, atomic_write_with, first_bad_json_line, is_parquet,
                               jsonl_line_numbers, open_text, read_bytes)

FLAT_COLUMNS = {
    "id": pl.Utf8, "audio_path": pl.Utf8, "start": pl.Float64, "duration": pl.Float64,
    "labels": pl.List(pl.Utf8), "inferred": pl.List(pl.Utf8), "caption": pl.Utf8,
    "source_labels": pl.List(pl.Utf8), "unmapped_tags": pl.List(pl.Utf8),
}
# Per-clip fields besides id and the label lists, in the order `uts map apply` writes them.
OPTIONAL_COLUMNS = ("audio_path", "start", "duration", "caption")
REQUIRED_COLUMNS = ("id", "audio_path")
# Alternative spellings accepted for the flat form's columns.
COLUMN_ALIASES = {"path": "audio_path", "audio_filepath": "audio_path", "uts_labels": "labels",
                  "audio_tag": "source_labels"}

# Reasons an entry is rejected (keys of BadEntryReport.counts).
MISSING_FILE = "missing_file"
UNREADABLE = "unreadable"
ZERO_LENGTH = "zero_length"
OUT_OF_RANGE = "out_of_range"
NON_FINITE = "non_finite"


class ManifestError(ValueError):
    """A manifest cannot be read: unknown format, missing required columns, bad values."""


@dataclass
class BadEntry:
    id: str
    audio_path: str | None
    reason: str
    detail: str = ""


@dataclass
class BadEntryReport:
    """Entries that were skipped, with a reason each, and tags that could not be mapped.

    ``counts`` tallies skipped entries by reason (:data:`MISSING_FILE`, :data:`UNREADABLE`,
    :data:`ZERO_LENGTH`, :data:`OUT_OF_RANGE`, :data:`NON_FINITE`); ``unmapped_tags`` tallies
    free-text tags (Lhotse input) that resolved to no UTS concept — those clips are kept with
    the labels that did resolve.
    """

    entries: list[BadEntry] = field(default_factory=list)
    unmapped_tags: Counter = field(default_factory=Counter)
    checked: int = 0

    def add(self, id: str, audio_path: str | None, reason: str, detail: str = "") -> None:
        self.entries.append(BadEntry(str(id), audio_path, reason, detail))

    @property
    def counts(self) -> Counter:
        return Counter(e.reason for e in self.entries)

    @property
    def skipped(self) -> int:
        return len(self.entries)

    def merge(self, other: "BadEntryReport") -> "BadEntryReport":
        self.entries.extend(other.entries)
        self.unmapped_tags.update(other.unmapped_tags)
        self.checked += other.checked
        return self

    def summary(self) -> str:
        """One line, e.g. ``skipped 3 of 200 entries (missing_file: 2, non_finite: 1)``."""
        parts = ", ".join(f"{k}: {v}" for k, v in sorted(self.counts.items()))
        line = f"skipped {self.skipped} of {self.checked} entries" + (f" ({parts})" if parts else "")
        if self.unmapped_tags:
            line += (f"; {sum(self.unmapped_tags.values())} tags ({len(self.unmapped_tags)} distinct)"
                     " resolved to no UTS concept")
        return line

    def as_skipped(self) -> Skipped:
        """The same counts as the one skip record every command reports (:class:`uts.inputs.Skipped`),
        labels that are no UTS id included: what ``--strict`` refuses."""
        skipped = Skipped("entries", of=self.checked)
        for e in self.entries:
            skipped.add(e.reason, e.id)
        for tag, n in self.unmapped_tags.most_common():
            skipped.add("label that is no UTS id", tag, n)
        return skipped

    def to_dict(self) -> dict:
        return {
            "checked": self.checked, "skipped": self.skipped, "counts": dict(self.counts),
            "entries": [e.__dict__ for e in self.entries],
            "unmapped_tags": dict(self.unmapped_tags.most_common()),
        }


# -- reading ---------------------------------------------------------------------------------
def _first_lines(fh):
    """Lines up to and including the first non-blank one (all _first_json looks at)."""
    for line in fh:
        yield line
        if line.strip():
            return


def _first_json(path: Path) -> dict | None:
    with open_text(path, encoding=JSONL_ENCODING) as fh:
        try:
            lines = list(_first_lines(fh))
        except UnicodeDecodeError as exc:
            raise ManifestError(f"{path}: not UTF-8 text (bad byte at offset {exc.start}); "
                                "a JSON Lines or Parquet manifest is expected") from None
        for lineno, line in enumerate(lines, 1):
            if line.strip():
                try:
                    first = json.loads(line)
                except json.JSONDecodeError as exc:
                    raise ManifestError(f"{path}:{lineno}:{exc.colno}: not JSON ({exc.msg}); "
                                        "a JSON Lines or Parquet manifest is expected") from None
                if not isinstance(first, dict):
                    raise ManifestError(f"{path}:{lineno}: not a JSON object; a JSON Lines manifest "
                                        "(one object per line) or Parquet is expected")
                return first
    return None


def _read_jsonl(path: Path) -> pl.DataFrame:
    raw = read_bytes(path)
    if not raw.strip():
        return pl.DataFrame(schema={k: FLAT_COLUMNS[k] for k in REQUIRED_COLUMNS})
    try:
        return pl.read_ndjson(io.BytesIO(raw), infer_schema_length=None)
    except Exception as exc:  # polars raises ComputeError and friends, naming no line
        where = first_bad_json_line(path)
        raise ManifestError(f"{where}; a JSON Lines manifest is expected" if where
                            else f"{path}: not a JSON Lines manifest ({_first_line(exc)})") from exc


def _first_line(exc: Exception) -> str:
    """polars' messages run to several lines (the failing expression, hints): the first says it."""
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


def _conform(df: pl.DataFrame, source: Path) -> pl.DataFrame:
    """Rename aliases, check required columns, fill optional ones, fix types, resolve paths."""
    for alias, name in COLUMN_ALIASES.items():
        if alias in df.columns:
            df = (df.with_columns(pl.coalesce(name, alias).alias(name)).drop(alias) if name in df.columns
                  else df.rename({alias: name}))
    missing = [c for c in REQUIRED_COLUMNS if c not in df.columns]
    if missing:
        raise ManifestError(f"{source}: missing required column(s) {', '.join(missing)}; "
                            f"found {', '.join(df.columns) or 'none'}")
    for name, dtype in FLAT_COLUMNS.items():
        if name not in df.columns:
            default = 0.0 if name == "start" else ([] if isinstance(dtype, pl.List) else None)
            df = df.with_columns(pl.lit(default, dtype=dtype).alias(name))
    df = typed_columns(df, source).with_columns(
        pl.col("start").fill_null(0.0),
        *[pl.col(c).fill_null([]) for c in ("labels", "inferred", "source_labels", "unmapped_tags")])
    base = source.parent.resolve()
    df = df.with_columns(pl.col("audio_path").map_elements(
        lambda p: p if Path(p).is_absolute() else str(base / p), return_dtype=pl.Utf8))
    check_ids(df, source)
    ordered = list(FLAT_COLUMNS) + [c for c in df.columns if c not in FLAT_COLUMNS]
    return df.select(ordered)


def check_ids(df: pl.DataFrame, source: str | Path, column: str = "id") -> None:
    """Refuse a clip without an id (null or absent) and an id given twice, naming the line (or
    row) of the first such clip, and for a repeat the line it repeats: every later step keys
    clips by id, and a repeat found there would name a derived file, not this one."""
    ids = df[column]
    if ids.null_count() == 0 and ids.n_unique() == ids.len():  # the usual case, in one hash pass
        return
    missing, repeated = ids.is_null(), ids.is_duplicated() & ~ids.is_first_distinct()
    row = int((missing | repeated).arg_true()[0])
    first = int((ids == ids[row]).arg_true()[0]) if repeated[row] else row
    lines = jsonl_line_numbers(source, {first, row})
    unit, number = ("line", lines.get) if lines else ("row", lambda r: r + 1)
    where = f"{source}:{lines[row]}" if lines else f"{source} row {row + 1}"
    if missing[row]:
        raise ManifestError(f"{where}: no {column!r} (null or missing; {int(missing.sum())} such clip(s)); "
                            "every clip needs its own id")
    raise ManifestError(f"{where}: {column} {ids[row]!r} already used on {unit} {number(first)} "
                        f"({int(repeated.sum())} repeat(s)); every clip needs its own id")


def typed_columns(df: pl.DataFrame, source: str | Path) -> pl.DataFrame:
    """Cast the manifest columns ``df`` has to their :data:`FLAT_COLUMNS` types. A value of
    another type (a duration "long") is a :class:`ManifestError` naming its row: polars reads a
    column holding numbers and words as text without complaint, so the cast is the check."""
    try:
        df = df.with_columns(pl.col(name).cast(dtype) for name, dtype in FLAT_COLUMNS.items() if name in df.columns)
    except Exception as exc:  # polars names the column but not the row: find it
        where = first_bad_json_line(source)
        raise ManifestError(where or f"{source}: columns have the wrong types ({_first_line(exc)})") from exc
    lists = [name for name in LABEL_COLUMNS if name in df.columns]
    if lists and df.select(pl.any_horizontal(_looks_nested(name) for name in lists)).item():
        where = first_bad_json_line(source, lists_of_strings=lists)  # only then: it reads every line
        if where:
            raise ManifestError(where)
    return df


# The manifest's list-of-concept-id columns.
LABEL_COLUMNS = tuple(name for name, dtype in FLAT_COLUMNS.items() if dtype == pl.List(pl.Utf8))


def _looks_nested(column: str) -> pl.Expr:
    """Whether a list column holds a string that opens like JSON (:data:`OPENS_LIKE_JSON`)."""
    return pl.col(column).list.eval(pl.element().str.contains(OPENS_LIKE_JSON)).list.any().any()


def _update_ids(df: pl.DataFrame, onto: Ontology) -> pl.DataFrame:
    """Bring a flat manifest's ids up to date with ``onto``: deprecated ids follow their
    replacements. Labels are never resolved again here: anything that is not a concept id (a
    hand-written "piano") moves to ``unmapped_tags`` and is reported by
    :func:`validate_manifest` (map such a file with ``uts map apply``)."""
    cache: dict[str, list[str]] = {}

    def current(label: str) -> list[str]:
        if label not in cache:
            cache[label] = onto.current_ids(label) if label in onto else []
        return cache[label]

    labels, inferred, unmapped = [], [], []
    for given, inf, miss in df.select("labels", "inferred", "unmapped_tags").iter_rows():
        labels.append(list(dict.fromkeys(i for label in given for i in current(label))))
        unmapped.append(list(miss) + [label for label in given if not current(label)])
        inferred.append(list(dict.fromkeys(i for label in inf for i in current(label))))
    return df.with_columns(pl.Series("labels", labels, dtype=pl.List(pl.Utf8)),
                           pl.Series("inferred", inferred, dtype=pl.List(pl.Utf8)),
                           pl.Series("unmapped_tags", unmapped, dtype=pl.List(pl.Utf8)))


def is_lhotse(path: str | Path) -> bool:
    """Whether a JSON Lines file holds Lhotse cuts (judged by its first record)."""
    path = Path(path)
    if is_parquet(path):
        return False
    first = _first_json(path)
    return first is not None and ("supervisions" in first or "recording" in first)


def conform(df: pl.DataFrame, source: str | Path, onto: Ontology | None = None) -> pl.DataFrame:
    """Bring a frame into the schema (aliases renamed, required columns checked, optional ones
    filled, types fixed, relative audio paths resolved against ``source``'s folder); with
    ``onto``, deprecated ids follow their replacements as in :func:`read_manifest`."""
    df = _conform(df, Path(source))
    return _update_ids(df, onto) if onto is not None else df


def read_manifest(path: str | Path, onto: Ontology | None = None) -> pl.DataFrame:
    """Read a manifest (JSONL, .jsonl.gz, Parquet) into the schema.

    Returns a frame whose first columns are :data:`FLAT_COLUMNS` (absolute ``audio_path``;
    ``start`` filled with 0; ``labels``/``inferred``/``unmapped_tags`` empty lists when absent),
    followed by any extra columns. With ``onto`` given, deprecated ids are replaced by their
    successors; labels that are not ids are not resolved but moved to ``unmapped_tags``. Lhotse
    cuts are refused with a pointer to ``uts map apply`` (training maps them itself:
    :func:`uts.training.data.read_manifest`).
    Raises :class:`ManifestError` on unreadable input.
    """
    path = Path(path)
    if not path.is_file():
        raise ManifestError(f"manifest not found: {path}")
    if not is_parquet(path):
        if is_lhotse(path):
            raise ManifestError(
                f"{path}: Lhotse cuts carry free-text tags; map them with the reviewed alignment "
                "first (uts map apply CUTS --mapping mapping/uts-paper.sssom.tsv --out manifest.jsonl) "
                "or, for uts train, name it in the recipe (data.alignment)")
        df = _read_jsonl(path)
    else:
        try:
            df = pl.read_parquet(path)
        except Exception as exc:
            raise ManifestError(f"{path}: not a Parquet manifest ({_first_line(exc)})") from exc
    df = _conform(df, path)
    return _update_ids(df, onto) if onto is not None else df


def write_manifest(df: pl.DataFrame, path: str | Path) -> Path:
    """Write a flat manifest: Parquet for ``.parquet``/``.pq``, gzipped JSONL for ``.gz``, else JSONL.
    Written to a temporary file first, so a failure never leaves a half-written manifest."""
    path = Path(path)
    if is_parquet(path):
        return atomic_write_with(path, df.write_parquet)
    buf = io.BytesIO()
    df.write_ndjson(buf)
    return atomic_write_bytes(path, buf.getvalue())


# -- validation ------------------------------------------------------------------------------
@dataclass(frozen=True)
class AudioProbe:
    """What ``soundfile.info`` says about one file (``reason`` set when it is unusable)."""

    frames: int = 0
    samplerate: int = 0
    reason: str | None = None
    detail: str = ""


def probe_audio(audio_path: str | None) -> AudioProbe:
    """Cheap header check of one file: missing, unreadable or empty (no samples decoded)."""
    if not audio_path or not Path(audio_path).is_file():
        return AudioProbe(reason=MISSING_FILE, detail=f"no file at {audio_path}")
    try:
        info = sf.info(audio_path)
    except Exception as exc:  # soundfile raises LibsndfileError / RuntimeError
        return AudioProbe(reason=UNREADABLE, detail=str(exc).splitlines()[0][:200])
    if info.frames <= 0 or info.samplerate <= 0:
        return AudioProbe(info.frames, info.samplerate, ZERO_LENGTH, "file has no samples")
    return AudioProbe(info.frames, info.samplerate)


def check_segment(probe: AudioProbe, start: float, duration: float | None) -> tuple[str | None, str, float]:
    """``(reason, detail, usable_seconds)`` for a segment of a probed file; ``reason`` is None
    when good, and ``usable_seconds`` is the given duration, or the rest of the file after
    ``start`` when none was given."""
    if probe.reason:
        return probe.reason, probe.detail, 0.0
    length = probe.frames / probe.samplerate
    if duration is not None and (not math.isfinite(duration) or duration <= 0):
        return ZERO_LENGTH, f"duration is {duration}", 0.0
    if not math.isfinite(start) or start < 0 or start >= length:
        return OUT_OF_RANGE, f"start {start}s outside a {length:.3f}s file", 0.0
    available = length - start
    if duration is None:
        return None, "", available
    if duration > available + 0.05:  # tolerate rounding in published manifests
        return OUT_OF_RANGE, f"segment {start}+{duration}s runs past the {length:.3f}s file", 0.0
    return None, "", min(duration, available)


def validate_manifest(df: pl.DataFrame, progress: bool = False, workers: int = 8) -> tuple[pl.DataFrame, BadEntryReport]:
    """Split a manifest into good rows and a :class:`BadEntryReport`.

    Each distinct audio file is probed once with ``soundfile.info`` (``workers`` threads: the
    check is I/O-bound) for missing, unreadable or empty audio; then each entry's segment is
    checked against the file (zero or non-finite duration, a segment outside the file). Missing
    durations are filled from the file. Non-finite samples can only be seen when the audio is
    decoded: :class:`~uts.training.data.ClipDataset` skips such clips at load time and the
    loader reports them (see :func:`~uts.training.data.collate_clips`). Tags that resolved to no
    concept are tallied in ``report.unmapped_tags``; their clips are kept.
    """
    report = BadEntryReport(checked=df.height)
    paths = df["audio_path"].unique().to_list()
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        probed = pool.map(probe_audio, paths)
        if progress:
            probed = track(probed, total=len(paths), description="checking audio")
        probes = dict(zip(paths, list(probed)))  # list(): drain the bar to 100 % (zip stops early)
    keep, durations = [], []
    for i, (cid, path, start, duration) in enumerate(df.select("id", "audio_path", "start", "duration").iter_rows()):
        reason, detail, usable = check_segment(probes[path], start or 0.0, duration)
        if reason is None:
            keep.append(i)
            durations.append(usable)
        else:
            report.add(cid, path, reason, detail)
    if "unmapped_tags" in df.columns:
        for tags in df["unmapped_tags"].to_list():
            report.unmapped_tags.update(tags or [])
    good = df[keep].with_columns(pl.Series("duration", durations, dtype=pl.Float64)) if keep else df.clear()
    return good, report
