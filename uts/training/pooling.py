"""Training and evaluating on pooled datasets: the glue between a manifest's sources sidecar
(:mod:`uts.pool`) and the objectives (:mod:`uts.training.masking`).

A manifest with a sidecar (everything ``uts map apply`` and ``uts pool`` write) gives each clip a
source; each source's annotated concepts become one 0/1 row over the model's label space. The
trainer hands the rows of a batch's clips to the objective, which masks the rest out of the loss
(``objective.mask_unannotated``, on by default), and draws clips by the sources' sampling weights
(``data.source_weights``). A manifest without a sidecar trains exactly as before.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from uts.pool import SOURCE_COLUMN, Sources, clip_weights, read_sources, read_sources_file, sources_path

from .hierarchy import Hierarchy
from .metrics import hierarchical_report

RUN_SOURCES = "sources.json"  # the training sidecar, copied into the run folder


@dataclass
class PooledSources:
    """Sources of the clips of one (validated) manifest, over one label space."""

    sources: Sources
    index: np.ndarray  # (clips,) source index of each clip
    annotated: torch.Tensor  # (sources, classes) 0/1: what each source annotates

    @property
    def ids(self) -> list[str]:
        return [s.id for s in self.sources.sources]

    def rows(self, source_index: torch.Tensor) -> torch.Tensor:
        """The annotated rows of a batch's clips (``source_index``: LongTensor[B])."""
        return self.annotated.to(source_index.device)[source_index]

    def clip_weights(self) -> list[float]:
        """Per-clip draw probabilities from the sources' sampling weights."""
        ids = self.ids
        return clip_weights([ids[i] for i in self.index.tolist()], self.sources)

    def to_dict(self) -> dict:
        return {s.id: {"clips": int((self.index == i).sum()), "weight": s.weight,
                       "annotated_in_space": int(self.annotated[i].sum())}
                for i, s in enumerate(self.sources.sources)}


def annotated_rows(sources: Sources, label_ids: list[str]) -> torch.Tensor:
    """(sources, classes): 1 where the source annotates the class."""
    pos = {cid: i for i, cid in enumerate(label_ids)}
    out = torch.zeros(len(sources.sources), len(label_ids))
    for row, s in enumerate(sources.sources):
        cols = [pos[c] for c in s.annotated if c in pos]
        out[row, cols] = 1.0
    return out


def pooled_sources(manifest: str | Path, df, label_ids: list[str], sources: Sources | None = None) -> PooledSources | None:
    """The sources of ``df`` (read from ``manifest``; its sidecar unless ``sources`` is given),
    or None when the manifest has no sidecar. Raises ValueError naming the first clip whose
    source the sidecar does not list."""
    sources = sources if sources is not None else read_sources(manifest)
    if sources is None:
        return None
    ids = {s.id: i for i, s in enumerate(sources.sources)}
    if SOURCE_COLUMN in df.columns:
        names = df[SOURCE_COLUMN].cast(str).to_list()
        missing = next((n for n in names if n not in ids), None)
        if missing is not None:
            raise ValueError(f"{manifest}: clip source {missing!r} is not in its sidecar")
        index = np.array([ids[n] for n in names], dtype=np.int64)
    elif len(ids) == 1:
        index = np.zeros(df.height, dtype=np.int64)
    else:
        raise ValueError(f"{manifest}: its sidecar lists {len(ids)} sources but the clips have no "
                         f"'{SOURCE_COLUMN}' column")
    return PooledSources(sources, index, annotated_rows(sources, label_ids))


def save_run_sources(manifest: str | Path, run_dir: Path) -> None:
    """Keep the training sidecar with the run (``uts eval`` scores each source's space)."""
    src = sources_path(manifest)
    if src.is_file():
        shutil.copyfile(src, run_dir / RUN_SOURCES)


def run_sources(run_dir: Path) -> Sources | None:
    """The sources a run was trained on (None for unpooled runs)."""
    path = Path(run_dir) / RUN_SOURCES
    return read_sources_file(path) if path.is_file() else None


def per_source_report(scores, truth, label_ids: list[str], sources: Sources, clip_index: np.ndarray | None,
                      onto, threshold: float) -> dict:
    """Each source scored on its own label space: the classes it annotates (and, when
    ``clip_index`` gives each evaluated clip's source, only its clips; None = every clip, for a
    fully labelled test set). Figures as :func:`uts.training.metrics.hierarchical_report`,
    without the per-class table."""
    scores = np.asarray(scores)
    truth = np.asarray(truth)
    out = {}
    for i, s in enumerate(sources.sources):
        ann = set(s.annotated)
        cols = [j for j, cid in enumerate(label_ids) if cid in ann]
        rows = np.arange(len(scores)) if clip_index is None else np.flatnonzero(clip_index == i)
        if not cols or not len(rows):
            out[s.id] = {"skipped": "no class of its space in the model" if not cols else "no clip"}
            continue
        sub = [label_ids[j] for j in cols]
        rep = hierarchical_report(scores[np.ix_(rows, cols)], truth[np.ix_(rows, cols)],
                                  Hierarchy.from_ontology(onto, sub), threshold)
        rep.pop("per_class_ap", None)
        out[s.id] = rep
    return out
