"""Training manifests: reading, writing and validating them.

Two forms are read into one flat polars frame (:data:`FLAT_COLUMNS`):

* the **flat** form (what ``uts map apply`` and ``uts synth`` write): JSON Lines (optionally
  gzipped) or Parquet with ``id``, ``audio_path``, ``start`` (s, default 0), ``duration`` (s),
  ``labels`` (annotated UTS ids), optional ``inferred`` (ancestors added by closure), optional
  ``caption``; other columns are passed through;
* Lhotse ``MonoCut`` manifests as published for the paper's data, whose free-text ``audio_tag``
  strings are resolved to UTS ids through the shipped paper alignment
  (``mapping/uts-paper.sssom.tsv``) and, failing that, by ontology lookup. Tags that resolve to
  nothing are kept in ``unmapped_tags`` so that :func:`validate_manifest` can report them.

Relative audio paths are resolved against the manifest's folder, so a corpus can be moved.
:func:`validate_manifest` checks each entry cheaply (``soundfile.info``) and returns the good rows
plus a :class:`BadEntryReport`; bad entries are skipped with a reason, never silently kept.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import math
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl
import soundfile as sf

from uts.lhotse import read_cuts
from uts.ontology import Ontology, normalize_label

FLAT_COLUMNS = {
    "id": pl.Utf8, "audio_path": pl.Utf8, "start": pl.Float64, "duration": pl.Float64,
    "labels": pl.List(pl.Utf8), "inferred": pl.List(pl.Utf8), "caption": pl.Utf8,
    "unmapped_tags": pl.List(pl.Utf8),
}
REQUIRED_COLUMNS = ("id", "audio_path")
# Alternative spellings accepted for the flat form's columns.
COLUMN_ALIASES = {"path": "audio_path", "audio_filepath": "audio_path", "uts_labels": "labels"}
# SSSOM predicates under which a paper tag may be labelled with the UTS object: exact and close
# matches, and broadMatch (the tag is narrower, so the broader UTS concept is still true).
# narrowMatch/relatedMatch would claim more than the tag says, so they are not used.
USABLE_PREDICATES = {"skos:exactMatch", "skos:closeMatch", "skos:broadMatch"}
REPO_ROOT = Path(__file__).resolve().parents[2]
PAPER_ALIGNMENT = REPO_ROOT / "mapping" / "uts-paper.sssom.tsv"

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

    def to_dict(self) -> dict:
        return {
            "checked": self.checked, "skipped": self.skipped, "counts": dict(self.counts),
            "entries": [e.__dict__ for e in self.entries],
            "unmapped_tags": dict(self.unmapped_tags.most_common()),
        }


# -- reading ---------------------------------------------------------------------------------
def _is_parquet(path: Path) -> bool:
    return path.suffix == ".parquet"


def _first_json(path: Path) -> dict | None:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                try:
                    return json.loads(line)
                except json.JSONDecodeError as exc:
                    raise ManifestError(f"{path}: first line is not JSON ({exc})") from exc
    return None


def _read_jsonl(path: Path) -> pl.DataFrame:
    raw = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
    if not raw.strip():
        return pl.DataFrame(schema={k: FLAT_COLUMNS[k] for k in REQUIRED_COLUMNS})
    try:
        return pl.read_ndjson(io.BytesIO(raw), infer_schema_length=None)
    except Exception as exc:  # polars raises ComputeError and friends
        raise ManifestError(f"{path}: not a JSON Lines manifest ({exc})") from exc


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
    try:
        df = df.with_columns(
            pl.col("id").cast(pl.Utf8), pl.col("audio_path").cast(pl.Utf8),
            pl.col("start").cast(pl.Float64).fill_null(0.0), pl.col("duration").cast(pl.Float64),
            pl.col("caption").cast(pl.Utf8),
            *[pl.col(c).cast(pl.List(pl.Utf8)).fill_null([]) for c in ("labels", "inferred", "unmapped_tags")],
        )
    except Exception as exc:
        raise ManifestError(f"{source}: columns have the wrong types ({exc})") from exc
    base = source.parent.resolve()
    df = df.with_columns(pl.col("audio_path").map_elements(
        lambda p: p if Path(p).is_absolute() else str(base / p), return_dtype=pl.Utf8))
    dups = df["id"].is_duplicated().sum()
    if dups:
        raise ManifestError(f"{source}: {dups} rows share an id; ids must be unique")
    ordered = list(FLAT_COLUMNS) + [c for c in df.columns if c not in FLAT_COLUMNS]
    return df.select(ordered)


def read_alignment(path: str | Path | None = None) -> dict[str, list[str]]:
    """Paper tag (normalised label) -> UTS ids from an SSSOM TSV alignment.

    Only rows whose predicate says the UTS concept is true of the tag (:data:`USABLE_PREDICATES`)
    are used; ``#`` metadata lines are skipped. A missing default file yields an empty mapping.
    """
    path = Path(path) if path is not None else PAPER_ALIGNMENT
    if not path.exists():
        return {}
    with open(path, encoding="utf-8") as fh:
        rows = csv.DictReader((line for line in fh if not line.startswith("#")), delimiter="\t")
        if not rows.fieldnames or not {"subject_label", "object_id"} <= set(rows.fieldnames):
            raise ManifestError(f"{path}: an SSSOM alignment needs subject_label and object_id columns")
        table: dict[str, list[str]] = {}
        for row in rows:
            pred, obj = (row.get("predicate_id") or "skos:exactMatch").strip(), (row["object_id"] or "").strip()
            if pred not in USABLE_PREDICATES or not obj or obj == "sssom:NoTermFound":
                continue
            ids = table.setdefault(normalize_label(row["subject_label"] or ""), [])
            if obj not in ids:
                ids.append(obj)
    return table


class TagResolver:
    """Free-text tag -> UTS ids: the alignment first, then an unambiguous ontology lookup.
    Deprecated ids are followed to their replacements."""

    def __init__(self, onto: Ontology, alignment: dict[str, list[str]] | None = None):
        self.onto, self.alignment = onto, alignment or {}
        self._cache: dict[str, list[str]] = {}

    def __call__(self, tag: str) -> list[str]:
        if tag not in self._cache:
            ids = self.alignment.get(normalize_label(tag))
            if ids is None:
                matches = self.onto.lookup(tag)
                ids = [matches[0].id] if len(matches) == 1 else []
            out: list[str] = []
            for cid in ids:
                for cur in self.onto.current_ids(cid):
                    if cur not in out:
                        out.append(cur)
            self._cache[tag] = out
        return self._cache[tag]


def _from_cuts(path: Path, onto: Ontology | None, alignment: str | Path | None) -> pl.DataFrame:
    from uts.ontology import load

    cuts = read_cuts(path)
    resolver = TagResolver(onto if onto is not None else load(), read_alignment(alignment))
    labels, unmapped = [], []
    for tags in cuts["audio_tag"].to_list():
        got, miss = _resolve_all(tags, resolver)
        labels.append(got)
        unmapped.append(miss)
    return cuts.with_columns(pl.Series("labels", labels, dtype=pl.List(pl.Utf8)),
                             pl.Series("unmapped_tags", unmapped, dtype=pl.List(pl.Utf8)))


def _resolve_all(tags, resolve) -> tuple[list[str], list[str]]:
    """Concept ids of ``tags`` (in order, without repeats) and the tags that resolve to nothing."""
    got, missing = [], []
    for tag in tags:
        ids = resolve(tag)
        if not ids:
            missing.append(tag)
        got.extend(i for i in ids if i not in got)
    return got, missing


def _check_flat_labels(df: pl.DataFrame, onto: Ontology, alignment: str | Path | None) -> pl.DataFrame:
    """Bring a flat manifest's labels up to date with ``onto``: deprecated ids follow their
    replacements; anything that is not an id (a hand-written "piano") is resolved like a tag;
    what resolves to nothing moves to ``unmapped_tags`` (reported by :func:`validate_manifest`)."""
    resolver = TagResolver(onto, read_alignment(alignment) if alignment is not None else None)
    cache: dict[str, list[str]] = {}

    def fix(label: str) -> list[str]:
        if label not in cache:
            cache[label] = onto.current_ids(label) if label in onto else resolver(label)
        return cache[label]

    labels, inferred, unmapped = [], [], []
    for given, inf, miss in df.select("labels", "inferred", "unmapped_tags").iter_rows():
        got, lost = _resolve_all(given, fix)
        labels.append(got)
        unmapped.append(list(miss) + lost)
        inferred.append(list(dict.fromkeys(i for label in inf for i in (onto.current_ids(label) if label in onto else []))))
    return df.with_columns(pl.Series("labels", labels, dtype=pl.List(pl.Utf8)),
                           pl.Series("inferred", inferred, dtype=pl.List(pl.Utf8)),
                           pl.Series("unmapped_tags", unmapped, dtype=pl.List(pl.Utf8)))


def read_manifest(path: str | Path, onto: Ontology | None = None,
                  alignment: str | Path | None = None) -> pl.DataFrame:
    """Read a flat (JSONL, .jsonl.gz, Parquet) or Lhotse MonoCut manifest into the flat schema.

    Returns a frame whose first columns are :data:`FLAT_COLUMNS` (absolute ``audio_path``;
    ``start`` filled with 0; ``labels``/``inferred``/``unmapped_tags`` empty lists when absent),
    followed by any extra columns. For Lhotse input, ``onto`` (default: the shipped ontology)
    and ``alignment`` (default :data:`PAPER_ALIGNMENT`) resolve ``audio_tag`` strings; the
    original tags stay in ``audio_tag``. For flat input with ``onto`` given, deprecated ids are
    replaced by their successors and labels that are not ids are resolved by lookup (and the
    ``alignment``, when one is given); unresolvable labels move to ``unmapped_tags``.
    Raises :class:`ManifestError` on unreadable input.
    """
    path = Path(path)
    if not path.is_file():
        raise ManifestError(f"manifest not found: {path}")
    if not _is_parquet(path):
        first = _first_json(path)
        if first is not None and ("supervisions" in first or "recording" in first):
            return _conform(_from_cuts(path, onto, alignment), path)
        df = _read_jsonl(path)
    else:
        try:
            df = pl.read_parquet(path)
        except Exception as exc:
            raise ManifestError(f"{path}: not a Parquet manifest ({exc})") from exc
    df = _conform(df, path)
    return _check_flat_labels(df, onto, alignment) if onto is not None else df


def write_manifest(df: pl.DataFrame, path: str | Path) -> Path:
    """Write a flat manifest: Parquet for ``.parquet``, gzipped JSONL for ``.gz``, else JSONL.
    Written to a temporary file first, so a failure never leaves a half-written manifest."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    if _is_parquet(path):
        df.write_parquet(tmp)
    else:
        buf = io.BytesIO()
        df.write_ndjson(buf)
        data = buf.getvalue()
        tmp.write_bytes(gzip.compress(data, mtime=0) if path.suffix == ".gz" else data)
    tmp.replace(path)
    return path


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
    from concurrent.futures import ThreadPoolExecutor

    report = BadEntryReport(checked=df.height)
    paths = df["audio_path"].unique().to_list()
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        probed = pool.map(probe_audio, paths)
        if progress:
            from rich.progress import track

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
