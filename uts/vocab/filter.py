"""Step 4 of the paper's pipeline: apply a vocabulary to manifests — each clip keeps only its
in-vocabulary tags, clips left with none are dropped.

Two kinds of vocabulary:

- ``label_<size>.json`` (the paper's id2label): a tag is kept when its cleaned string is in it;
- ``concepts_<size>.json`` (UTS concepts): a tag is kept when it resolves to a concept of the
  vocabulary, and is written as that concept's label, so ``drums``/``drumming`` both become
  ``drum`` (the record's own ``concept_ids`` are used when it has them).

Manifests are Lhotse cut files (``audio_tag`` rewritten in ``supervisions[0].custom``, every other
field kept) or tag files (JSON Lines or Parquet with ``tags``). Output is written atomically.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import polars as pl

from uts.ontology.files import atomic_write_with, is_gzip, is_parquet, iter_jsonl, open_text
from uts.ontology.model import Ontology
from uts.ontology.resolve import Resolver

from .io import VocabError, detect_kind


def needs_ontology(path: str | os.PathLike) -> bool:
    """Whether a vocabulary file is a concepts file (``{"concepts": [...]}``, resolved against
    the ontology) rather than the paper's id2label JSON (kept by string)."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError, UnicodeDecodeError):
        return False  # Vocabulary() reports the unreadable file
    return isinstance(data, dict) and isinstance(data.get("concepts"), list)


class Vocabulary:
    """Decides, per tag, whether it stays and what it is written as."""

    def __init__(self, path: str | os.PathLike, onto: Ontology | None = None, curated: dict | None = None):
        path = Path(path)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise VocabError(f"cannot read vocabulary {path}: {exc}") from None
        self.concepts: dict[str, str] | None = None
        if isinstance(data, dict) and isinstance(data.get("concepts"), list):
            self.concepts = {e["id"]: e["label"] for e in data["concepts"]}
            if onto is None:
                raise VocabError("a concept vocabulary needs an ontology to resolve tags (not --ontology none)")
            self.resolver = Resolver(onto, curated)
        elif isinstance(data, dict) and data and all(isinstance(v, str) for v in data.values()):
            self.labels = {v.strip().lower() for v in data.values()}
        else:
            raise VocabError(f"{path} is neither an id2label vocabulary nor a concepts file")
        self.path = path

    def keep(self, tags: list[str], concept_ids: list[list[str]] | None = None) -> list[str]:
        """The tags of one clip that the vocabulary keeps, as written to the output."""
        out: list[str] = []
        for i, tag in enumerate(tags):
            if not isinstance(tag, str):
                continue
            clean = tag.strip().lower()
            if self.concepts is None:
                kept = [clean] if clean in self.labels else []
            else:
                if concept_ids is not None and i < len(concept_ids):
                    # ids recorded by `extract`, perhaps against an older ontology: follow replacements
                    ids = [cur for c in concept_ids[i] or [] for cur in self.resolver.onto.current_ids(c)]
                else:
                    ids = self.resolver.ids(clean)
                kept = [self.concepts[c] for c in ids if c in self.concepts]
            out.extend(k for k in kept if k not in out)
        return out


def filter_manifest(input_path: str | os.PathLike, vocab: Vocabulary, out: str | os.PathLike) -> dict:
    """Filter one manifest into ``out``; returns counts (clips kept/removed, tags kept/dropped)."""
    input_path, out = Path(input_path), Path(out)
    if out.resolve() == input_path.resolve():
        raise VocabError("--out must differ from the input manifest")
    kind = detect_kind(input_path)
    if kind == "captions":
        raise VocabError(f"{input_path} holds captions without tags: extract tags first")
    out.parent.mkdir(parents=True, exist_ok=True)
    stats = {"clips": 0, "kept": 0, "removed": 0, "tags_in": 0, "tags_kept": 0}
    if kind == "tags" and is_parquet(input_path):
        frame = pl.read_parquet(input_path)
        ids = frame["concept_ids"].to_list() if "concept_ids" in frame.columns else [None] * frame.height
        kept = [vocab.keep(t or [], c) for t, c in zip(frame["tags"].to_list(), ids)]
        stats["clips"] = frame.height
        stats["tags_in"] = sum(len(t or []) for t in frame["tags"].to_list())
        frame = frame.with_columns(pl.Series("tags", kept, dtype=pl.List(pl.Utf8)))
        if "concept_ids" in frame.columns:
            frame = frame.drop("concept_ids")
        frame = frame.filter(pl.col("tags").list.len() > 0)
        stats["kept"], stats["tags_kept"] = frame.height, sum(len(t) for t in frame["tags"].to_list())
        stats["removed"] = stats["clips"] - stats["kept"]
        atomic_write_with(out, frame.write_parquet)
        return stats

    def write(tmp: str) -> None:
        with open_text(tmp, "wt", gz=is_gzip(out)) as fh:
            for lineno, _, record in iter_jsonl(input_path):
                if record is None:
                    raise VocabError(f"{input_path}:{lineno}: not a JSON object")
                stats["clips"] += 1
                if kind == "lhotse":
                    try:
                        custom = record["supervisions"][0].setdefault("custom", {})
                    except (KeyError, IndexError, TypeError, AttributeError):
                        raise VocabError(f"{input_path}:{lineno}: cut without supervisions") from None
                    tags = custom.get("audio_tag") or []
                    if isinstance(tags, str):
                        tags = [t.strip() for t in tags.split(",") if t.strip()]
                    kept = vocab.keep(tags)
                    custom["audio_tag"] = kept
                else:
                    tags = record.get("tags") or []
                    kept = vocab.keep(tags, record.pop("concept_ids", None))
                    record["tags"] = kept
                stats["tags_in"] += len(tags)
                if not kept:
                    stats["removed"] += 1
                    continue
                stats["kept"] += 1
                stats["tags_kept"] += len(kept)
                fh.write(json.dumps(record, ensure_ascii=False) + "\n")

    atomic_write_with(out, write)
    return stats
