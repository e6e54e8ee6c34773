"""Lhotse input and output, through lhotse itself.

- **Cut manifests** as the paper's data is released (``MonoCut`` JSON Lines, optionally gzipped;
  caption and tags in ``supervisions[0].custom``: ``caption``, ``audio_tag``) are read lazily
  with ``CutSet.from_jsonl_lazy``: :func:`iter_cuts`, :func:`read_cuts`. Their free-text tags
  become UTS ids only in the mapping engine (:mod:`uts.mapping.apply`).
- **Lhotse Shar** (numbered ``cuts.NNNNNN.jsonl.gz`` + ``recording.NNNNNN.tar`` shards):
  :func:`export_shar` writes a mapped manifest (:mod:`uts.manifest`) and its audio with lhotse's
  ``SharWriter``, UTS labels in each cut's ``custom`` fields (:data:`SHAR_LIST_FIELDS`), caption
  and source tags where the paper keeps them; :func:`read_shar_manifest` reads the shards' cut
  metadata (no audio) back into the manifest schema, which is what training builds its label
  space from. Training streams the audio with :func:`uts.training.data.make_shar_loader`.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from uts.ontology.files import atomic_write_text

CUT_SCHEMA = {
    "id": pl.Utf8, "audio_path": pl.Utf8, "start": pl.Float64, "duration": pl.Float64,
    "caption": pl.Utf8, "audio_tag": pl.List(pl.Utf8),
}
# UTS label lists a Shar cut carries in ``cut.custom`` (the manifest's list columns).
SHAR_LIST_FIELDS = ("labels", "inferred", "unmapped_tags")
SHAR_AUDIO_FORMATS = ("flac", "wav")


class ManifestFormatError(ValueError):
    """A manifest line is not a readable cut, or a folder holds no Shar shards."""


def _tags(custom: dict) -> list[str]:
    tags = custom.get("audio_tag") or []
    if isinstance(tags, str):  # some releases join the tags with commas
        tags = [t.strip() for t in tags.split(",") if t.strip()]
    return [str(t) for t in tags]


def _flatten(cut) -> dict:
    sup = cut.supervisions[0] if cut.supervisions else None
    custom = (sup.custom if sup is not None else None) or {}
    recording = cut.recording if cut.has_recording else None
    return {
        "id": str(cut.id),
        "audio_path": recording.sources[0].source if recording is not None and recording.sources else None,
        "start": float(cut.start),
        "duration": float(cut.duration),
        "caption": custom.get("caption") or (sup.text if sup is not None else None),
        "audio_tag": _tags(custom),
    }


def iter_cuts(path: str | Path) -> Iterator[dict]:
    """Yield the cuts of a Lhotse manifest, flattened: ``id, audio_path, start, duration,
    caption, audio_tag``. Lazy (one cut in memory at a time). A line lhotse cannot read raises
    :class:`ManifestFormatError` naming the file and line."""
    from lhotse import CutSet  # lazy: lhotse imports torch (seconds) and vocab commands import this module

    path = Path(path)
    lineno = 0
    try:
        for lineno, cut in enumerate(CutSet.from_jsonl_lazy(path), 1):
            yield _flatten(cut)
    except (ValueError, KeyError, TypeError, AttributeError, IndexError, AssertionError) as exc:
        # lhotse reads line by line, so the failing cut is the line after the last good one
        detail = str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
        raise ManifestFormatError(f"{path}:{lineno + 1}: not a Lhotse cut (a MonoCut record: type, id, "
                                  f"start, duration, channel, recording, supervisions; lhotse: {detail})") from None


def read_cuts(path: str | Path) -> pl.DataFrame:
    """All cuts of a Lhotse manifest as a polars frame with :data:`CUT_SCHEMA`."""
    return pl.DataFrame(list(iter_cuts(path)), schema=CUT_SCHEMA)


# -- Shar --------------------------------------------------------------------------------------
def shar_shards(path: str | Path) -> list[Path]:
    """The cut shards (``cuts.NNNNNN.jsonl[.gz]``) of a Shar folder, in order; empty when
    ``path`` is no such folder."""
    path = Path(path)
    if not path.is_dir():
        return []
    return sorted(p for p in path.iterdir() if p.name.startswith("cuts.") and ".jsonl" in p.name)


def is_shar(path: str | Path) -> bool:
    """Whether ``path`` is a Lhotse Shar folder."""
    return bool(shar_shards(path))


def read_shar_manifest(path: str | Path) -> pl.DataFrame:
    """The cuts of a Shar folder (metadata only: the tar files are not opened) as manifest rows:
    ``id``, ``audio_path`` (the cut shard the clip is in), ``start`` 0, ``duration``, the UTS
    label lists from ``cut.custom``, ``caption`` and ``source_labels`` (``audio_tag``) from the
    supervision, and any other custom field as its own column."""
    from lhotse import CutSet  # lazy: lhotse imports torch (seconds)

    shards = shar_shards(path)
    if not shards:
        raise ManifestFormatError(f"{path}: not a Lhotse Shar folder (no cuts.NNNNNN.jsonl.gz shards)")
    rows = []
    for shard in shards:
        lineno = 0
        try:
            for lineno, cut in enumerate(CutSet.from_jsonl_lazy(shard), 1):
                flat = _flatten(cut)
                custom = dict(cut.custom or {})
                rows.append({"id": flat["id"], "audio_path": str(shard.resolve()), "start": 0.0,
                             "duration": flat["duration"], "caption": flat["caption"],
                             "source_labels": flat["audio_tag"],
                             **{k: list(custom.pop(k, None) or []) for k in SHAR_LIST_FIELDS}, **custom})
        except (ValueError, KeyError, TypeError, AttributeError, IndexError, AssertionError, OSError, EOFError) as exc:
            detail = str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
            raise ManifestFormatError(f"{shard}:{lineno + 1}: not a Shar cut ({detail})") from None
    return pl.DataFrame(rows, infer_schema_length=None)


@dataclass
class SharExport:
    """What :func:`export_shar` wrote and skipped."""

    out: Path
    clips: int = 0
    shards: int = 0
    seconds: float = 0.0
    bytes: int = 0
    skipped: dict = field(default_factory=dict)  # reason -> count (uts.manifest reasons)
    skipped_examples: dict = field(default_factory=dict)  # reason -> a few clip ids

    def summary(self) -> str:
        hours = self.seconds / 3600  # "0.00 h" said nothing for a small export
        amount = f"{hours:.2f} h" if hours >= 1 else f"{self.seconds / 60:.1f} min" if self.seconds >= 60 else f"{self.seconds:.1f} s"
        line = (f"{self.clips} clips ({amount} of audio) in {self.shards} shard(s), "
                f"{self.bytes / 2**20:.1f} MiB -> {self.out}")
        if self.skipped:
            line += "; skipped " + ", ".join(f"{k}: {v}" for k, v in sorted(self.skipped.items()))
        return line

    def to_dict(self) -> dict:
        return {"out": str(self.out), "clips": self.clips, "shards": self.shards, "seconds": self.seconds,
                "bytes": self.bytes, "skipped": sum(self.skipped.values()), "reasons": dict(sorted(self.skipped.items())),
                "examples": self.skipped_examples}


def export_report_path(out: str | Path) -> Path:
    """``DIR/NAME.export.json`` beside the Shar folder ``DIR/NAME`` (beside, not inside: the
    folder holds only Shar's own files)."""
    out = Path(out)
    return out.with_name(f"{out.name}.export.json")


def _cut_of(row: dict, extras: list[str]):
    """One manifest row as a Lhotse cut: the audio segment, the paper's supervision fields and
    the UTS labels (plus any extra manifest column) in ``cut.custom``."""
    from lhotse import Recording, SupervisionSegment  # lazy: lhotse imports torch (seconds)

    cid = row["id"]
    recording = Recording.from_file(row["audio_path"], recording_id=cid)
    cut = recording.to_cut().truncate(offset=row["start"] or 0.0, duration=row["duration"], preserve_id=True)
    sup_custom = {"caption": row["caption"], "audio_tag": list(row["source_labels"] or [])}
    cut.supervisions = [SupervisionSegment(id=cid, recording_id=cid, start=0.0, duration=cut.duration,
                                           custom={k: v for k, v in sup_custom.items() if v})]
    cut.custom = {**{k: list(row[k] or []) for k in SHAR_LIST_FIELDS},
                  **{k: row[k] for k in extras if row[k] is not None}}
    return cut


def export_shar(manifest: str | Path, out: str | Path, shard_size: int = 1000, audio_format: str = "flac",
                onto=None, overwrite: bool = False, progress: bool = False, strict: bool = False) -> SharExport:
    """Write the clips of a mapped manifest (:func:`uts.manifest.read_manifest`) and their
    audio segments to Lhotse Shar shards in ``out`` (``shard_size`` clips per shard).

    Entries whose audio is missing or unusable are skipped and counted (the manifest's own
    validation); with ``strict`` they are refused (:class:`uts.inputs.StrictError`) before
    anything is written. What was written and skipped goes to :func:`export_report_path`. The shards are written into a temporary folder beside ``out`` and renamed at
    the end, so a failure never leaves half a Shar set. A pooled manifest's sources sidecar is
    copied beside ``out`` (``OUT.sources.json``), where training looks for it.
    """
    from lhotse.shar import SharWriter  # lazy: lhotse imports torch (seconds)

    # lazy: the manifest and pool modules load rdflib and networkx; vocab commands import this
    # module only to read cuts, and a plain-string vocab build must not pay for them
    from uts.manifest import FLAT_COLUMNS, ManifestError, read_manifest, validate_manifest
    from uts.pool import sources_path

    if shard_size < 1:
        raise ValueError("shard size must be at least 1")
    if audio_format not in SHAR_AUDIO_FORMATS:
        raise ValueError(f"audio format {audio_format!r}: choose one of {', '.join(SHAR_AUDIO_FORMATS)}")
    out = Path(out)
    if out.exists() and not (out.is_dir() and not any(out.iterdir())):
        if not (overwrite and is_shar(out)):  # never delete a folder that holds anything else
            raise FileExistsError(f"{out} exists and is not empty; choose a new folder"
                                  + (" (--overwrite replaces only a Shar folder)" if overwrite else
                                     " or pass --overwrite to replace an earlier export"))
    df, bad = validate_manifest(read_manifest(manifest, onto), progress=progress)
    skipped = bad.as_skipped()
    skipped.check(strict, manifest)
    if df.height == 0:
        raise ManifestError(f"{manifest}: no usable clips ({bad.summary()})")
    extras = [c for c in df.columns if c not in FLAT_COLUMNS]
    tmp = out.with_name(f".{out.name}.tmp-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    report = SharExport(out, skipped=dict(bad.counts), skipped_examples=skipped.to_dict()["examples"])
    rows = df.iter_rows(named=True)
    if progress:
        from rich.progress import track  # lazy: rich loads only when a bar is drawn

        rows = track(rows, total=df.height, description="writing shards")
    try:
        with SharWriter(str(tmp), fields={"recording": audio_format}, shard_size=shard_size) as writer:
            for row in rows:
                writer.write(_cut_of(row, extras))
                report.clips += 1
                report.seconds += row["duration"]
        report.shards = len(shar_shards(tmp))
        report.bytes = sum(p.stat().st_size for p in tmp.iterdir())
        if out.exists():
            shutil.rmtree(out)
        tmp.rename(out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    sidecar = sources_path(manifest)
    if sidecar.is_file():
        shutil.copyfile(sidecar, sources_path(out))
    atomic_write_text(export_report_path(out), json.dumps(report.to_dict(), indent=2) + "\n")
    return report
