"""Step 2 of the paper's pipeline: captions -> tags, with each tag resolved to UTS concepts.

Two extractors share one interface, ``extract(captions) -> list[dict]`` (one record per caption
with ``tags`` and the parallel ``concept_ids``; ``error`` instead when a caption failed):

- :class:`OntologyExtractor` (default, offline, deterministic): the concepts a caption mentions,
  found lexically by :class:`~uts.ontology.resolve.Resolver`, then the leftover content words
  matched by embeddings (optional); words nothing matched stay as unresolved tags.
- :class:`~uts.vocab.llm.LLMExtractor`: the paper's approach, a local causal LM prompted with the
  paper's rules; its tags are resolved to concepts afterwards.

:func:`run_extraction` drives either over a caption file in batches, appending to the output so an
interrupted run resumes where it stopped.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

from rich.progress import (BarColumn, MofNCompleteColumn, Progress, ProgressColumn, TextColumn,
                           TimeElapsedColumn, TimeRemainingColumn)
from rich.text import Text

from uts.ontology.files import atomic_write_text, iter_jsonl
from uts.ontology.model import Ontology
from uts.ontology.normalize import singular
from uts.ontology.resolve import Mention, Resolver, surface

from .io import VocabError
from .resolve import EmbeddingMatcher


class Extractor(Protocol):
    def extract(self, captions: Sequence[str]) -> list[dict]: ...


def _record(mentions: list[Mention]) -> dict:
    """Tags (first occurrence wins) and their concept ids, in caption order."""
    tags: dict[str, tuple[str, ...]] = {}
    for m in mentions:
        if m.tag and m.tag not in tags:
            tags[m.tag] = m.concept_ids
    return {"tags": list(tags), "concept_ids": [list(ids) for ids in tags.values()]}


class OntologyExtractor:
    """Tags = the UTS concepts a caption mentions, plus its unmatched content words.

    ``embed_threshold=None`` keeps matching purely lexical (no model load at all).
    """

    def __init__(self, onto: Ontology, embed_threshold: float | None = 0.8, model: str | None = None,
                 embed_min_words: int = 2):
        self.resolver = Resolver(onto)
        self.matcher = (EmbeddingMatcher(onto, embed_threshold, model, min_words=embed_min_words)
                        if embed_threshold is not None else None)

    def extract(self, captions: Sequence[str]) -> list[dict]:
        found = [self.resolver.mentions(c) for c in captions]
        matched: dict[str, tuple[str, float] | None] = {}
        if self.matcher is not None:
            phrases = []
            for _, runs in found:
                for run in runs:
                    phrases.append(surface(run))
                    if len(run) > 1:
                        phrases.extend(singular(w) for w in run)
            matched = self.matcher.match(phrases)
        records = []
        for mentions, runs in found:
            mentions = list(mentions)
            for run in runs:
                hit = matched.get(surface(run))
                if hit:
                    mentions.append(Mention(surface(run), (hit[0],), "embedding"))
                    continue
                for word in run:
                    tag = singular(word)
                    hit = matched.get(tag)
                    mentions.append(Mention(tag, (hit[0],) if hit else (), "embedding" if hit else "unresolved"))
            records.append(_record(mentions))
        return records


def _load_done(out: Path, retry_failed: bool) -> set[str]:
    """Ids already in a previous (possibly interrupted) output. A torn last line, and failed
    records when ``retry_failed``, are removed so the run redoes exactly those."""
    if not out.exists():
        return set()
    done: set[str] = set()
    keep: list[str] = []
    dirty = False
    for _, line, obj in iter_jsonl(out):
        if obj is None or "id" not in obj or (retry_failed and obj.get("error")):
            dirty = True
            continue
        done.add(str(obj["id"]))
        keep.append(line if line.endswith("\n") else line + "\n")
    if dirty:
        atomic_write_text(out, "".join(keep))
    return done


def _restore_input_order(out: Path, ids: Sequence[str]) -> None:
    """Rewrite ``out`` (atomically) with its records in input order, so a run that was interrupted
    and resumed ends with the same file as one that never stopped. Ids not in the input (from an
    earlier captions file) keep their place after the others."""
    position = {clip_id: n for n, clip_id in enumerate(ids)}
    lines = [(position.get(str(obj["id"]), len(position)), n, line if line.endswith("\n") else line + "\n")
             for n, (_, line, obj) in enumerate(iter_jsonl(out)) if obj is not None]
    if any(a[:2] > b[:2] for a, b in zip(lines, lines[1:])):
        atomic_write_text(out, "".join(line for *_, line in sorted(lines)))


def settings_path(out: str | os.PathLike) -> Path:
    """``OUT.settings.json`` beside an extraction's output."""
    out = Path(out)
    return out.with_name(f"{out.name}.settings.json")


def _check_settings(out: Path, settings: dict) -> None:
    """Refuse to resume ``out`` under settings other than those it was started with; record them
    for a new output. An output from before settings were kept resumes as it always did."""
    path = settings_path(out)
    if out.exists() and path.is_file():
        before = json.loads(path.read_text(encoding="utf-8"))
        changed = [f"{k}: {before.get(k)!r} -> {v!r}" for k, v in settings.items() if before.get(k) != v]
        if changed:
            raise VocabError(f"{out} was started with other settings ({'; '.join(changed)}); its clips would keep "
                             "the old tags: choose another --out, or delete it to start over")
        return
    atomic_write_text(path, json.dumps(settings, indent=2, sort_keys=True) + "\n")


def _progress(enabled: bool):
    """A progress bar with clips done, rate and time left (on stderr; off when not wanted)."""
    class Rate(ProgressColumn):
        def render(self, task):
            return Text(f"{task.speed:.1f} clips/s" if task.speed else "-- clips/s")

    return Progress(TextColumn("extracting tags"), BarColumn(), MofNCompleteColumn(), Rate(),
                    TimeElapsedColumn(), TimeRemainingColumn(), disable=not enabled, transient=True)


def run_extraction(
    items: Sequence[tuple[str, str]],
    extractor: Extractor,
    out: str | os.PathLike,
    batch_size: int = 64,
    resume: bool = True,
    retry_failed: bool = False,
    progress: bool = True,
    settings: dict | None = None,
) -> dict:
    """Extract tags for ``(id, caption)`` items into the JSON Lines file ``out``, in input order.

    Each finished batch is appended, flushed and fsync'ed, so an interrupted run (even killed with
    SIGKILL) loses at most the batch in flight; with ``resume`` the ids already in ``out`` are
    skipped (a torn last line is redone), and the file is put back in input order at the end.
    ``settings`` (what decides the tags: input, extractor, model, thresholds) are kept beside
    ``out`` (:func:`settings_path`); resuming under other settings is refused, since the clips
    already done would keep the old run's tags. Returns counts for the report.
    """
    out = Path(out)
    if out.exists() and not resume:
        raise VocabError(f"{out} exists; pass --resume to continue it or choose another --out")
    ids = [i for i, _ in items]
    if len(set(ids)) != len(ids):
        raise VocabError("caption ids are not unique; every clip needs its own id")
    if settings is not None:
        _check_settings(out, settings)
    done = _load_done(out, retry_failed) if resume else set()
    todo = [(i, c) for i, c in items if i not in done]
    stats = {"captions": len(items), "skipped": len(items) - len(todo), "written": 0, "failed": 0,
             "tags": 0, "unresolved_tags": 0}
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out, "a", encoding="utf-8") as fh, _progress(progress) as bar:
        task = bar.add_task("extract", total=len(todo))
        for start in range(0, len(todo), batch_size):
            batch = todo[start:start + batch_size]
            results = extractor.extract([c for _, c in batch])
            if len(results) != len(batch):
                raise RuntimeError(f"extractor returned {len(results)} records for {len(batch)} captions")
            fh.write("".join(json.dumps({"id": clip_id, **result}, ensure_ascii=False) + "\n"
                             for (clip_id, _), result in zip(batch, results)))
            fh.flush()
            os.fsync(fh.fileno())
            for result in results:
                stats["written"] += 1
                if result.get("error"):
                    stats["failed"] += 1
                    stats.setdefault("first_error", str(result["error"])[:200])
                stats["tags"] += len(result.get("tags", []))
                stats["unresolved_tags"] += sum(1 for ids in result.get("concept_ids", []) if not ids)
            bar.advance(task, len(batch))
    if done and todo:
        _restore_input_order(out, ids)
    if stats["written"] and stats["failed"] == stats["written"]:  # a pipeline must not go on with nothing
        raise VocabError(f"{out}: all {stats['written']} clips failed (first: {stats['first_error']}); their "
                         "records are kept: rerun with --retry-failed once the extractor works")
    return stats
