"""Reading Lhotse ``MonoCut`` manifests as published for the paper's data, without depending on
lhotse itself: one JSON object per line (optionally gzipped), the caption and tags in
``supervisions[0].custom`` (``caption``, ``audio_tag``)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import polars as pl

from uts.ontology.files import open_text

CUT_SCHEMA = {
    "id": pl.Utf8, "audio_path": pl.Utf8, "start": pl.Float64, "duration": pl.Float64,
    "caption": pl.Utf8, "audio_tag": pl.List(pl.Utf8),
}


class ManifestFormatError(ValueError):
    """A manifest line is not a readable cut."""


def _flatten(cut: dict) -> dict:
    sups = cut.get("supervisions") or [{}]
    custom = (sups[0] or {}).get("custom") or {}
    sources = (cut.get("recording") or {}).get("sources") or [{}]
    tags = custom.get("audio_tag") or []
    if isinstance(tags, str):
        tags = [t.strip() for t in tags.split(",") if t.strip()]
    return {
        "id": str(cut["id"]),
        "audio_path": sources[0].get("source"),
        "start": float(cut.get("start", 0.0)),
        "duration": float(cut["duration"]) if cut.get("duration") is not None else None,
        "caption": custom.get("caption") or (sups[0] or {}).get("text"),
        "audio_tag": [str(t) for t in tags],
    }


def iter_cuts(path: str | Path) -> Iterator[dict]:
    """Yield flattened cuts: ``id, audio_path, start, duration, caption, audio_tag``."""
    path = Path(path)
    with open_text(path) as fh:
        for lineno, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                yield _flatten(json.loads(line))
            except (json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
                raise ManifestFormatError(f"{path}:{lineno}: not a Lhotse cut ({exc})") from exc


def read_cuts(path: str | Path) -> pl.DataFrame:
    """All cuts of a Lhotse manifest as a polars frame with :data:`CUT_SCHEMA`."""
    return pl.DataFrame(list(iter_cuts(path)), schema=CUT_SCHEMA)
