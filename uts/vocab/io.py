"""Inputs of the vocabulary pipeline and how they are told apart.

Three kinds of file, as JSON Lines (optionally gzipped) or Parquet:

- ``captions``: ``{"id": ..., "caption": "..."}`` (what a captioner wrote);
- ``tags``: ``{"id": ..., "tags": [...]}`` (the paper's step-2 output, or ``uts vocab extract``'s,
  which adds ``concept_ids``: one list of UTS ids per tag, empty when the tag resolved to nothing);
- ``lhotse``: Lhotse ``MonoCut`` manifests, caption and ``audio_tag`` in
  ``supervisions[0].custom``. Captions are read by :mod:`uts.cuts` (lhotse); tag counting streams
  only ``id`` and ``audio_tag`` with polars (:func:`scan_tags`), since lhotse parses every cut
  and loads torch, and a test pins that both give the same tags.

The kind is detected from the first record. Tag tables are read lazily with polars so counting
streams over files far larger than memory.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import polars as pl

from uts.cuts import ManifestFormatError, iter_cuts
from uts.inputs import Skipped
from uts.ontology.files import JSONL_ENCODING, atomic_write_text, is_parquet, open_text


class VocabError(ValueError):
    """A user-facing problem with vocabulary inputs or options (bad file, wrong kind, ...)."""


TAGS_SCHEMA = {"id": pl.Utf8, "tags": pl.List(pl.Utf8)}


def first_record(path: Path) -> dict:
    """The first JSON object of a JSON Lines file (clear error if there is none)."""
    try:
        with open_text(path, encoding=JSONL_ENCODING) as fh:
            for lineno, line in enumerate(fh, 1):
                if line.strip():
                    try:
                        record = json.loads(line)
                    except json.JSONDecodeError as exc:
                        raise VocabError(f"{path}:{lineno}: not JSON ({exc.msg})") from None
                    if not isinstance(record, dict):
                        raise VocabError(f"{path}:{lineno}: expected a JSON object per line")
                    return record
    except (OSError, UnicodeDecodeError, EOFError) as exc:
        raise VocabError(f"cannot read {path}: {exc}") from None
    raise VocabError(f"{path} is empty")


def columns_of(path: str | os.PathLike) -> set[str]:
    """Column names of a Parquet file, or the keys of a JSON Lines file's first record."""
    path = Path(path)
    if not path.is_file():
        raise VocabError(f"input file not found: {path}")
    if is_parquet(path):
        try:
            return set(pl.read_parquet_schema(path))
        except Exception as exc:  # noqa: BLE001 - polars raises several types for bad files
            raise VocabError(f"cannot read {path} as Parquet: {exc}") from None
    return set(first_record(path))


def detect_kind(path: str | os.PathLike) -> str:
    """``captions``, ``tags`` or ``lhotse`` — what the file at ``path`` holds (a flat manifest
    with both ``tags`` and ``caption`` counts as ``tags``; :func:`read_captions` still reads it)."""
    columns = columns_of(path)
    if "supervisions" in columns or "recording" in columns:
        return "lhotse"
    if "tags" in columns:
        return "tags"
    if "caption" in columns:
        return "captions"
    raise VocabError(
        f"{path}: cannot tell what it holds (columns {sorted(columns)}); expected 'id' with "
        "'caption' (captions), 'tags' (tagged clips) or a Lhotse cut ('supervisions')"
    )


def _require_id(columns, path: Path) -> None:
    if "id" not in columns:
        raise VocabError(f"{path}: records need an 'id' field")


def read_captions(path: str | os.PathLike, skipped: Skipped | None = None) -> list[tuple[str, str]]:
    """``(id, caption)`` pairs from a captions file or a Lhotse manifest. Clips without a caption
    (missing, null or blank) are left out and counted in ``skipped`` (reason ``no caption``)."""
    path = Path(path)
    skipped = skipped if skipped is not None else Skipped("clips")
    kind = detect_kind(path)
    if kind == "lhotse":
        try:
            pairs = [(c["id"], c.get("caption")) for c in iter_cuts(path)]
        except ManifestFormatError as exc:
            raise VocabError(str(exc)) from None
        return _with_captions(pairs, skipped, path)
    if kind != "captions" and "caption" not in columns_of(path):
        raise VocabError(f"{path} holds {kind}, not captions")
    if is_parquet(path):
        frame = pl.read_parquet(path)
        _require_id(frame.columns, path)
        frame = frame.select(pl.col("id").cast(pl.Utf8), pl.col("caption").cast(pl.Utf8))
        return _with_captions(frame.iter_rows(), skipped, path)
    out, lines = [], []
    with open_text(path, encoding=JSONL_ENCODING) as fh:
        for lineno, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
                out.append((str(record["id"]), record.get("caption")))
                lines.append(lineno)
            except (json.JSONDecodeError, KeyError, TypeError) as exc:
                raise VocabError(f"{path}:{lineno}: not a caption record ({exc})") from None
            if not isinstance(out[-1][1], (str, type(None))):  # a number or list is a broken file, not "no caption"
                raise VocabError(f"{path}:{lineno}: 'caption' must be a string, "
                                 f"found {type(out[-1][1]).__name__}")
    return _with_captions(out, skipped, path, lines)


def _with_captions(pairs, skipped: Skipped, path: Path, lines: list[int] | None = None) -> list[tuple[str, str]]:
    """The pairs that have a caption; the others are counted in ``skipped``. An id given twice is
    refused here, where the file (and, for JSON Lines, both lines) can still be named."""
    kept, first_seen = [], {}
    for n, (clip_id, caption) in enumerate(pairs):
        where = lines[n] if lines else n + 1
        if clip_id in first_seen:
            at, unit = (f"{path}:{where}", "line") if lines else (f"{path}: record {where}", "record")
            raise VocabError(f"{at}: id {clip_id!r} already used on {unit} {first_seen[clip_id]}; "
                             "every clip needs its own id")
        first_seen[clip_id] = where
        skipped.of += 1
        if isinstance(caption, str) and caption.strip():
            kept.append((clip_id, caption))
        else:
            skipped.add("no caption", clip_id)
    return kept


def _lhotse_tags_are_lists(path: Path) -> bool:
    """Whether the manifest writes ``audio_tag`` as a JSON list (judged by its first cut)."""
    sups = first_record(path).get("supervisions") or [{}]
    custom = (sups[0] or {}).get("custom") or {}
    return not isinstance(custom.get("audio_tag"), str)


def scan_tags(path: str | os.PathLike) -> pl.LazyFrame:
    """A lazy ``id, tags[, concept_ids]`` frame over a tags file or Lhotse manifest. Tags are
    stripped and lowercased; empty tags and missing lists are dropped later by the counters."""
    path = Path(path)
    kind = detect_kind(path)
    if kind == "captions":
        raise VocabError(
            f"{path} holds captions, not tags: run `uts vocab extract {path} --out tags.jsonl` first"
        )
    if kind == "lhotse":
        if is_parquet(path):
            raise VocabError(f"{path}: Lhotse cut manifests are read as JSON Lines (.jsonl or .jsonl.gz)")
        # Streamed like any tag file: only id and supervisions[0].custom.audio_tag are parsed.
        # audio_tag is a JSON list or a comma-separated string; the first cut tells which.
        as_list = _lhotse_tags_are_lists(path)
        tag_type = TAGS_SCHEMA["tags"] if as_list else pl.Utf8
        schema = {"id": pl.Utf8, "supervisions": pl.List(pl.Struct({"custom": pl.Struct({"audio_tag": tag_type})}))}
        tags = pl.col("supervisions").list.first().struct.field("custom").struct.field("audio_tag")
        if not as_list:
            tags = tags.str.split(",").list.eval(pl.element().str.strip_chars()).list.eval(
                pl.element().filter(pl.element() != ""))
        return pl.scan_ndjson(path, schema=schema).select("id", tags.alias("tags"))
    if is_parquet(path):
        lf = pl.scan_parquet(path)
        names = lf.collect_schema().names()
    else:
        names = list(first_record(path))
        schema = dict(TAGS_SCHEMA)
        if "concept_ids" in names:
            schema["concept_ids"] = pl.List(pl.List(pl.Utf8))
        lf = pl.scan_ndjson(path, schema=schema)
    _require_id(names, path)
    cols = [pl.col("id").cast(pl.Utf8), pl.col("tags")]
    if "concept_ids" in names:
        cols.append(pl.col("concept_ids"))
    return lf.select(cols)


def write_json(path: Path, data) -> None:
    """Write JSON atomically (a reader never sees half a file)."""
    atomic_write_text(path, json.dumps(data, ensure_ascii=False, indent=2) + "\n")


def size_name(size: int) -> str:
    """The paper's file naming: 800 -> ``800``, 1000 -> ``1k``, 1500 -> ``1.5k``."""
    if size >= 1000 and size % 100 == 0:
        return f"{size / 1000:g}k"
    return str(size)
