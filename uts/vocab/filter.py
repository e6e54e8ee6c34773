"""Step 4 of the paper's pipeline: apply a vocabulary to tagged clips — each clip keeps only its
in-vocabulary tags, clips left with none are dropped — and write the result as THE clip manifest
(:mod:`uts.manifest`), which ``uts train`` and ``uts eval`` read as it is.

Two kinds of vocabulary:

- ``label_<size>.json`` (the paper's id2label): a tag is kept when its cleaned string is in it;
  with an ontology, the kept tags' concepts become the clip's ``labels``;
- ``concepts_<size>.json`` (UTS concepts): a tag is kept when it names a concept of the
  vocabulary, and the clip's ``labels`` are those concepts, so ``drums``/``drumming`` are both
  *drum*.

A tag's concepts are what the reviewed alignment (``--alignment``) decides for it, when it
decides the tag; else the record's own ``concept_ids`` when it has them (``uts vocab extract``
writes them; deprecated ids follow their replacements); else what the one resolver
(:class:`uts.ontology.resolve.Resolver`) says for the tag. The alignment winning over the
record's ids keeps one answer per tag: ``map apply`` and ``vocab build`` give the same. ``inferred`` is the closure over ancestors (:func:`uts.ontology.graph.inferred`),
``source_labels`` the kept tags as the source wrote them, ``unmapped_tags`` kept tags with no
concept. Inputs: tag files (JSON Lines or Parquet with ``id`` and ``tags``; ``audio_path``,
``start``, ``duration``, ``caption`` and other fields are carried over) or Lhotse cuts.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import polars as pl

from uts.cuts import ManifestFormatError, iter_cuts
from uts.inputs import refuse_clashing_outputs
from uts.manifest import FLAT_COLUMNS, write_manifest
from uts.ontology.files import is_parquet, iter_jsonl
from uts.ontology.graph import inferred
from uts.ontology.model import Ontology
from uts.ontology.resolve import Resolver

from .io import VocabError, detect_kind

# What a tag file's record may carry besides its tags (the manifest's own per-clip fields).
_CLIP_TYPES = {"audio_path": (str,), "start": (float, int), "duration": (float, int), "caption": (str,)}
_CLIP_FIELDS = tuple(_CLIP_TYPES)
_NOT_PASSED_ON = {"id", "tags", "concept_ids", "labels", "inferred", "source_labels", "unmapped_tags",
                  *_CLIP_FIELDS}


class Vocabulary:
    """Decides, per clip, which tags stay and which concepts they give."""

    def __init__(self, path: str | os.PathLike, onto: Ontology | None = None, curated: dict | None = None):
        path = Path(path)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise VocabError(f"cannot read vocabulary {path}: {exc}") from None
        self.path, self.onto = path, onto
        self.concepts: set[str] | None = None
        self.labels: set[str] = set()
        if isinstance(data, dict) and isinstance(data.get("concepts"), list):
            if onto is None:
                raise VocabError("a concept vocabulary needs an ontology to resolve tags (not --ontology none)")
            # a vocabulary built before a merge names the retired id: follow it, as tags' ids are
            # followed, or the merged concept's clips would be dropped as "no tag left"
            self.concepts = {cur for e in data["concepts"] if isinstance(e, dict) and "id" in e
                             for cur in (onto.current_ids(e["id"]) or [e["id"]])}
        elif isinstance(data, dict) and data and all(isinstance(v, str) for v in data.values()):
            self.labels = {v.strip().lower() for v in data.values()}
        else:
            raise VocabError(f"{path} is neither an id2label vocabulary nor a concepts file")
        self.resolver = Resolver(onto, curated) if onto is not None else None
        self._ancestors: dict[tuple[str, ...], list[str]] = {}

    def _ids(self, tag: str, given: list | None, where: str) -> list[str]:
        """The concepts a tag names: the reviewed alignment's decision when it has one, else the
        record's own ids (replacements followed), else the resolver's."""
        if self.onto is None:
            return []
        if given is None:
            return list(self.resolver.ids(tag.strip().lower()))
        if not isinstance(given, list) or not all(isinstance(c, str) for c in given):
            raise VocabError(f"{where}: 'concept_ids' must hold one list of ids per tag")
        unknown = [c for c in given if c not in self.onto.concepts]
        if unknown:
            raise VocabError(f"{where}: concept id {unknown[0]} is not in the ontology "
                             f"(were the tags extracted against another ontology? pass it with --ontology)")
        decided = self.resolver.decided(tag.strip().lower())
        if decided is not None:
            return list(decided)
        return [cur for c in given for cur in self.onto.current_ids(c)]

    def keep(self, tags: list, concept_ids: list | None = None, where: str = "input") -> dict:
        """One clip's manifest fields: ``labels``, ``inferred``, ``source_labels`` (the kept tags
        as written) and ``unmapped_tags`` (kept tags with no concept). ``where`` names the record
        in errors (``FILE:LINE``)."""
        if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
            raise VocabError(f"{where}: 'tags' must be a list of strings")
        if concept_ids is not None and (not isinstance(concept_ids, list) or len(concept_ids) != len(tags)):
            raise VocabError(f"{where}: 'concept_ids' must hold one list of ids per tag")
        labels, kept, unmapped = {}, {}, {}
        for i, tag in enumerate(tags):
            clean = tag.strip().lower()
            if self.concepts is None and clean not in self.labels:
                continue
            ids = self._ids(tag, None if concept_ids is None else concept_ids[i], where)
            if self.concepts is not None:
                ids = [c for c in ids if c in self.concepts]
                if not ids:
                    continue
            elif not ids and self.onto is not None:
                unmapped[tag.strip()] = None
            kept[tag.strip()] = None
            labels.update(dict.fromkeys(ids))
        return {"labels": list(labels), "inferred": self._inferred(tuple(labels)),
                "source_labels": list(kept), "unmapped_tags": list(unmapped)}

    def _inferred(self, labels: tuple[str, ...]) -> list[str]:
        """The closure's additions, once per label combination (data sets repeat them)."""
        if self.onto is None or not labels:
            return []
        if labels not in self._ancestors:
            self._ancestors[labels] = inferred(self.onto.graph, labels)
        return self._ancestors[labels]


def _tag_records(path: Path) -> Iterator[tuple[str, dict]]:
    """``(where, record)`` for each clip of a tag file (``where`` = ``FILE:LINE`` or ``FILE row N``)."""
    if is_parquet(path):
        for n, record in enumerate(pl.read_parquet(path).iter_rows(named=True), 1):
            yield f"{path} row {n}", record
        return
    try:
        for lineno, _, record in iter_jsonl(path):
            if record is None:
                raise VocabError(f"{path}:{lineno}: not a JSON object")
            yield f"{path}:{lineno}", record
    except UnicodeDecodeError as exc:
        raise VocabError(f"{path}: not UTF-8 text (bad byte at offset {exc.start})") from None


def _cut_records(path: Path) -> Iterator[tuple[str, dict]]:
    try:
        for n, cut in enumerate(iter_cuts(path), 1):
            yield f"{path} cut {n}", {**cut, "tags": cut.pop("audio_tag")}
    except ManifestFormatError as exc:
        raise VocabError(str(exc)) from None
    except UnicodeDecodeError as exc:
        raise VocabError(f"{path}: not UTF-8 text (bad byte at offset {exc.start})") from None


def _rebase(audio_path, source_dir: Path, out_dir: Path):
    """A relative audio path is read against its manifest's folder: keep it pointing at the same
    file from the output's folder."""
    if not isinstance(audio_path, str) or os.path.isabs(audio_path) or source_dir == out_dir:
        return audio_path
    return os.path.relpath(source_dir / audio_path, out_dir)


def filter_manifest(input_path: str | os.PathLike, vocab: Vocabulary, out: str | os.PathLike) -> dict:
    """Filter one tag file or Lhotse manifest into the clip manifest ``out`` (Parquet for
    ``.parquet``/``.pq``, else JSON Lines, gzipped for ``.gz``; written atomically, nothing on
    error); returns counts (clips kept/removed, tags kept/dropped, clips with concepts)."""
    input_path, out = Path(input_path), Path(out)
    refuse_clashing_outputs({"the input": input_path}, {"the output": out})
    kind = detect_kind(input_path)
    if kind == "captions":
        raise VocabError(f"{input_path} holds captions without tags: extract tags first")
    source_dir, out_dir = input_path.resolve().parent, out.resolve().parent
    stats = {"clips": 0, "kept": 0, "removed": 0, "tags_in": 0, "tags_kept": 0, "with_concepts": 0}
    rows: list[dict] = []
    seen: dict[str, str] = {}  # id -> where it was first seen
    records = _cut_records(input_path) if kind == "lhotse" else _tag_records(input_path)
    for where, record in records:
        stats["clips"] += 1
        if not isinstance(record.get("id"), (str, int)):
            raise VocabError(f"{where}: 'id' must be a string or a number")
        clip_id = str(record["id"])
        if clip_id in seen:
            raise VocabError(f"{where}: id {clip_id!r} again (first at {seen[clip_id]}); ids must be unique")
        seen[clip_id] = where
        tags = record.get("tags")
        fields = vocab.keep([] if tags is None else tags, record.get("concept_ids"), where)
        stats["tags_in"] += len(tags or [])
        if not fields["source_labels"]:
            stats["removed"] += 1
            continue
        stats["kept"] += 1
        stats["tags_kept"] += len(fields["source_labels"])
        stats["with_concepts"] += bool(fields["labels"])
        clip = {c: record.get(c) for c in _CLIP_FIELDS}
        wrong = next((c for c, types in _CLIP_TYPES.items() if not isinstance(clip[c], (type(None), *types))), None)
        if wrong:
            raise VocabError(f"{where}: {wrong!r} must be a {_CLIP_TYPES[wrong][0].__name__}, "
                             f"found {type(clip[wrong]).__name__}")
        if kind == "tags":
            clip["audio_path"] = _rebase(clip["audio_path"], source_dir, out_dir)
            clip.update((k, v) for k, v in record.items() if k not in _NOT_PASSED_ON)
        rows.append({"id": clip_id, **clip, **fields})
    frame = pl.DataFrame(schema=FLAT_COLUMNS)
    if rows:
        try:
            frame = pl.DataFrame(rows, schema_overrides=FLAT_COLUMNS, infer_schema_length=None)
        except (pl.exceptions.PolarsError, TypeError, ValueError) as exc:  # an extra field of mixed types
            raise VocabError(f"{input_path}: fields of mixed types ({str(exc).splitlines()[0]})") from None
        frame = frame.select(*FLAT_COLUMNS, *[c for c in frame.columns if c not in FLAT_COLUMNS])
    write_manifest(frame, out)
    return stats
