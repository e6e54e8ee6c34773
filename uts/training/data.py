"""Data for training: label spaces, a clip dataset, duration-bucketed batching and the loader.

Typical use::

    from uts.training.data import (read_manifest, validate_manifest, LabelSpace,
                                   ClipDataset, make_loader)
    df = read_manifest("corpus/manifest.jsonl")
    df, report = validate_manifest(df)          # bad entries skipped, with counts
    print(report.summary())
    space = LabelSpace.from_manifest(df, onto)  # annotated + inferred labels and their ancestors
    ds = ClipDataset(df, space, sample_rate=16000, clip_seconds=2.0, train=True, seed=0)
    for batch in make_loader(ds, batch_size=32, num_workers=2, seed=0, epoch=0):
        batch["waveform"]  # FloatTensor[B, T]
        batch["targets"]   # FloatTensor[B, C], annotated labels only (no closure)
        batch["dropped"]   # [(id, reason)] clips that turned out bad when decoded

Determinism: batch order depends only on ``(seed, epoch)``; a training crop depends only on
``(seed, epoch, item index)`` — not on worker count or process — so a run resumed at batch
``k`` of an epoch (``start_batch=k``) sees exactly the data an uninterrupted run would.
"""

from __future__ import annotations

import itertools
import json
import math
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl
import torch
from lhotse import CutSet
from lhotse.dataset import DynamicBucketingSampler, IterableDatasetWrapper, make_worker_init_fn
from torch.utils.data import DataLoader, Dataset, Sampler

from uts.cuts import ManifestFormatError, is_shar, read_shar_manifest, shar_shards
from uts.manifest import (FLAT_COLUMNS, UNREADABLE, BadEntry, BadEntryReport, ManifestError, conform,
                          is_lhotse, validate_manifest, write_manifest)
from uts.manifest import read_manifest as read_flat_manifest
from uts.mapping.apply import map_annotations
from uts.ontology import Ontology, load
from uts.ontology.model import UnknownConceptError

from .audio import AudioError, checked, crop_or_pad, read_segment, resample

__all__ = [
    "FLAT_COLUMNS", "AudioError", "BadEntry", "BadEntryReport", "BadItem", "ClipDataset",
    "DurationBatchSampler", "LabelSpace", "ManifestError", "SharBatches", "collate_clips", "crop_or_pad",
    "is_shar", "make_loader", "make_shar_loader", "read_manifest", "read_segment", "read_shar", "resample",
    "shar_batches_per_epoch", "validate_manifest", "write_manifest",
]


# -- label space -----------------------------------------------------------------------------
def read_manifest(path: str | Path, onto: Ontology | None = None,
                  alignment: str | Path | None = None) -> pl.DataFrame:
    """What training reads: a manifest (:func:`uts.manifest.read_manifest`), or Lhotse cuts
    labelled by the mapping engine with the reviewed SSSOM ``alignment``
    (:func:`uts.mapping.apply.map_annotations`), exactly as ``uts map apply`` would label them.
    Training resolves no text itself."""
    path = Path(path)
    if is_shar(path):
        raise ManifestError(f"{path}: a Lhotse Shar folder streams audio for uts train only (data.train); "
                            "give the flat manifest it was exported from")
    if path.is_file() and alignment is not None and is_lhotse(path):
        mapped = map_annotations(path, alignment, onto if onto is not None else load(), format="lhotse")
        return conform(mapped.rename({"unmapped": "unmapped_tags"}), path)
    return read_flat_manifest(path, onto)


def read_shar(path: str | Path, onto: Ontology | None = None) -> pl.DataFrame:
    """The clips of a Lhotse Shar folder (cut metadata only, no audio: :func:`uts.cuts.read_shar_manifest`)
    in the manifest schema, labels from the cuts' custom fields; with ``onto``, deprecated ids
    follow their replacements. Its audio is streamed by :func:`make_shar_loader`."""
    try:
        return conform(read_shar_manifest(path), path, onto)
    except ManifestFormatError as exc:
        raise ManifestError(str(exc)) from None


class LabelSpace:
    """The ordered set of UTS ids a model predicts: index <-> id.

    Order is the order given (``from_manifest`` sorts by depth then id, so parents come before
    children). Stored with checkpoints via :meth:`to_json` / :meth:`from_json`.
    """

    def __init__(self, ids: Sequence[str]):
        self.ids: list[str] = list(ids)
        self.index: dict[str, int] = {cid: i for i, cid in enumerate(self.ids)}
        if len(self.index) != len(self.ids):
            raise ValueError("label space ids must be unique")

    def __len__(self) -> int:
        return len(self.ids)

    def __contains__(self, cid: str) -> bool:
        return cid in self.index

    def __eq__(self, other: object) -> bool:
        return isinstance(other, LabelSpace) and self.ids == other.ids

    def __repr__(self) -> str:
        return f"LabelSpace({len(self)} labels)"

    def encode(self, labels: Iterable[str], strict: bool = False) -> np.ndarray:
        """Multi-hot float32 vector of ``labels``; ids outside the space are ignored unless
        ``strict`` (then KeyError)."""
        y = np.zeros(len(self.ids), dtype=np.float32)
        for cid in labels:
            i = self.index.get(cid)
            if i is not None:
                y[i] = 1.0
            elif strict:
                raise UnknownConceptError(f"{cid!r} is not in the label space")
        return y

    def decode(self, vector: Sequence[float] | np.ndarray | torch.Tensor, threshold: float = 0.5) -> list[str]:
        """Ids whose score is at least ``threshold``."""
        v = np.asarray(vector.detach().cpu() if isinstance(vector, torch.Tensor) else vector)
        return [self.ids[i] for i in np.flatnonzero(v >= threshold)]

    @classmethod
    def from_manifest(cls, df: pl.DataFrame, onto: Ontology | None = None,
                      include_ancestors: bool = True, min_count: int = 1) -> "LabelSpace":
        """Every id in ``labels`` (and ``inferred``) seen at least ``min_count`` times, plus —
        with an ontology and ``include_ancestors`` — all their ancestors, so the hierarchy is
        closed within the space. Sorted by (depth, id) when an ontology is given, else by id."""
        counts: dict[str, int] = {}
        for col in ("labels", "inferred"):
            if col in df.columns:
                for labels in df[col].to_list():
                    for cid in labels or []:
                        counts[cid] = counts.get(cid, 0) + 1
        ids = {cid for cid, n in counts.items() if n >= min_count}
        if onto is not None:
            unknown = sorted(cid for cid in ids if cid not in onto)
            if unknown:
                raise ManifestError(f"{len(unknown)} manifest label(s) are not ontology ids: "
                                    f"{', '.join(unknown[:10])}")
            if include_ancestors:
                for cid in list(ids):
                    ids |= onto.ancestors(cid)
            return cls(sorted(ids, key=lambda c: (onto.depth(c), c)))
        return cls(sorted(ids))

    @classmethod
    def from_ontology(cls, onto: Ontology) -> "LabelSpace":
        """All active concepts, sorted by (depth, id)."""
        return cls(sorted((c.id for c in onto.active()), key=lambda c: (onto.depth(c), c)))

    def to_json(self) -> str:
        return json.dumps({"ids": self.ids})

    @classmethod
    def from_json(cls, text: str) -> "LabelSpace":
        return cls(json.loads(text)["ids"])

    def save(self, path: str | Path) -> None:
        Path(path).write_text(self.to_json() + "\n", encoding="utf-8")

    @classmethod
    def load(cls, path: str | Path) -> "LabelSpace":
        return cls.from_json(Path(path).read_text(encoding="utf-8"))


# -- dataset ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class BadItem:
    """Returned by :class:`ClipDataset` for a clip that failed to decode; dropped by collate."""

    id: str
    reason: str
    detail: str = ""


class ClipDataset(Dataset):
    """Clips of a (validated) flat manifest as tensors.

    Item: ``{"waveform": FloatTensor[T], "length": int (samples of audio before zero-padding),
    "targets": FloatTensor[C], "id": str, "caption": str, "index": int}`` — mono at ``sample_rate``; ``T = clip_seconds * sample_rate`` when
    ``clip_seconds`` is set (random window when ``train``, centre window otherwise, zero-padded
    when short), else the whole segment. ``targets`` are the annotated ``labels`` only; closing
    them over ancestors is the objective's choice. A clip that fails to decode (unreadable,
    empty, NaN/inf) comes back as a :class:`BadItem`; :func:`collate_clips` drops and reports it.
    """

    def __init__(self, manifest: pl.DataFrame, label_space: LabelSpace, sample_rate: int = 16000,
                 clip_seconds: float | None = 2.0, train: bool = True, seed: int = 0,
                 source_index: Sequence[int] | None = None):
        missing = [c for c in ("id", "audio_path", "start", "duration", "labels") if c not in manifest.columns]
        if missing:
            raise ManifestError(f"manifest lacks column(s) {', '.join(missing)}; "
                                "read it with read_manifest and validate_manifest first")
        if manifest["duration"].null_count():
            raise ManifestError("manifest has entries without a duration; run validate_manifest first")
        self.label_space = label_space
        self.sample_rate, self.clip_seconds, self.train, self.seed = int(sample_rate), clip_seconds, train, seed
        self.epoch = 0
        self.ids: list[str] = manifest["id"].to_list()
        self.paths: list[str] = manifest["audio_path"].to_list()
        self.starts: list[float] = manifest["start"].to_list()
        self.durations: list[float] = manifest["duration"].to_list()
        self.captions: list[str] = [c or "" for c in (manifest["caption"].to_list()
                                                       if "caption" in manifest.columns else [None] * manifest.height)]
        # Label indices per clip (not a dense N x C matrix: a million clips x 3,000 classes
        # would not fit in memory); the multi-hot vector is built per item.
        self.label_indices: list[np.ndarray] = [
            np.array(sorted({label_space.index[c] for c in (ls or []) if c in label_space}), dtype=np.int64)
            for ls in manifest["labels"].to_list()]
        # pooled data: each clip's source (an index into the run's sources; 0 without any)
        self.source_index = [0] * manifest.height if source_index is None else [int(i) for i in source_index]
        self.unknown_labels = sorted({cid for ls in manifest["labels"].to_list() for cid in (ls or [])
                                      if cid not in label_space})

    def __len__(self) -> int:
        return len(self.ids)

    def targets(self, index: int) -> torch.Tensor:
        """Multi-hot FloatTensor[C] of item ``index``'s annotated labels."""
        y = torch.zeros(len(self.label_space))
        y[torch.from_numpy(self.label_indices[index])] = 1.0
        return y

    def set_epoch(self, epoch: int) -> None:
        """Crops depend on (seed, epoch, index); set before building the epoch's loader."""
        self.epoch = int(epoch)

    def item_seconds(self) -> list[float]:
        """Seconds of audio each item yields (what batching by duration should count)."""
        if self.clip_seconds is None:
            return list(self.durations)
        return [float(self.clip_seconds)] * len(self.durations)

    def window(self, index: int) -> tuple[float, float]:
        """``(offset, seconds)`` of item ``index``'s segment to read: the whole segment, or a
        ``clip_seconds`` window (random given (seed, epoch, index) when training, else centred)."""
        duration = self.durations[index]
        if self.clip_seconds is None or duration <= self.clip_seconds:
            return 0.0, duration
        slack = duration - self.clip_seconds
        if not self.train:
            return slack / 2, self.clip_seconds
        return float(np.random.default_rng([self.seed, self.epoch, index]).uniform(0, slack)), self.clip_seconds

    def __getitem__(self, index: int) -> dict | BadItem:
        offset, seconds = self.window(index)
        try:
            x = read_segment(self.paths[index], self.starts[index] + offset, seconds, self.sample_rate)
        except AudioError as exc:
            return BadItem(self.ids[index], exc.reason, str(exc))
        return self.item(index, x)

    def item(self, index: int, x: np.ndarray) -> dict:
        """Item ``index`` from its decoded window ``x`` (mono, at ``sample_rate``)."""
        length = len(x)
        if self.clip_seconds is not None:
            target_len = int(round(self.clip_seconds * self.sample_rate))
            x, length = crop_or_pad(x, target_len), min(length, target_len)
        return {"waveform": torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32)), "length": length,
                "targets": self.targets(index),
                "id": self.ids[index], "caption": self.captions[index], "index": index,
                "source": self.source_index[index]}


def collate_clips(items: list[dict | BadItem]) -> dict:
    """Stack good items (zero-padding waveforms to the longest), drop :class:`BadItem` ones.

    Returns ``waveform`` [B, T], ``lengths`` LongTensor[B] (audio samples before any padding), ``targets``
    [B, C], ``id``/``caption``/``index`` lists and ``dropped`` — ``[(id, reason)]`` for the
    trainer to count (see :meth:`BadEntryReport.add`). B may be 0 when every item was bad.
    """
    good = [it for it in items if not isinstance(it, BadItem)]
    dropped = [(it.id, it.reason) for it in items if isinstance(it, BadItem)]
    if not good:
        return {"waveform": torch.zeros(0, 0), "lengths": torch.zeros(0, dtype=torch.long),
                "targets": torch.zeros(0, 0), "id": [], "caption": [], "index": [], "dropped": dropped,
                "source": torch.zeros(0, dtype=torch.long)}
    lengths = torch.tensor([it["length"] for it in good], dtype=torch.long)
    wave = torch.zeros(len(good), max(it["waveform"].shape[-1] for it in good))
    for row, it in enumerate(good):
        wave[row, : it["waveform"].shape[-1]] = it["waveform"]
    return {"waveform": wave, "lengths": lengths, "targets": torch.stack([it["targets"] for it in good]),
            "id": [it["id"] for it in good], "caption": [it["caption"] for it in good],
            "index": [it["index"] for it in good], "dropped": dropped,
            "source": torch.tensor([it["source"] for it in good], dtype=torch.long)}


# -- batching --------------------------------------------------------------------------------
class DurationBatchSampler(Sampler[list[int]]):
    """Batches of indices grouped by duration, deterministic given ``(seed, epoch)``.

    Items are split into ``num_buckets`` duration quantile buckets; each bucket is shuffled
    (when ``shuffle``) and cut into batches of ``batch_size`` items, or — with ``max_seconds`` —
    as many items as keep ``len(batch) * longest_item <= max_seconds`` (the padded cost). The
    batches are then shuffled together. For DDP, rank ``r`` of ``world_size`` takes every
    ``world_size``-th batch starting at ``r``; ranks get equal counts by dropping the surplus
    batches (``drop_last``) or by repeating batches from the start (default, every item is
    seen). ``start_batch`` skips the first batches of this rank's epoch (resume).

    ``weights`` (pooled data: per-item draw probabilities) replaces "every item once" with as
    many items drawn with replacement by weight, again deterministic given ``(seed, epoch)``.
    """

    def __init__(self, durations: Sequence[float], batch_size: int | None = None,
                 max_seconds: float | None = None, seed: int = 0, epoch: int = 0,
                 shuffle: bool = True, num_buckets: int = 10, rank: int = 0, world_size: int = 1,
                 start_batch: int = 0, drop_last: bool = False, weights: Sequence[float] | None = None):
        if (batch_size is None) == (max_seconds is None):
            raise ValueError("give exactly one of batch_size or max_seconds")
        if batch_size is not None and batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        if max_seconds is not None and max_seconds <= 0:
            raise ValueError("max_seconds must be positive")
        if not 0 <= rank < world_size:
            raise ValueError(f"rank {rank} outside world_size {world_size}")
        if start_batch < 0:
            raise ValueError("start_batch must be >= 0")
        self.durations = np.asarray(durations, dtype=np.float64)
        self.batch_size, self.max_seconds = batch_size, max_seconds
        self.seed, self.epoch, self.shuffle = seed, epoch, shuffle
        self.num_buckets = max(1, num_buckets)
        self.rank, self.world_size, self.start_batch, self.drop_last = rank, world_size, start_batch, drop_last
        self.weights = None
        if weights is not None:
            w = np.asarray(weights, dtype=np.float64)
            if w.shape != self.durations.shape or (w < 0).any() or not w.sum() > 0:
                raise ValueError("weights must be one non-negative number per item, not all zero")
            self.weights = w / w.sum()

    def set_epoch(self, epoch: int, start_batch: int = 0) -> None:
        self.epoch, self.start_batch = int(epoch), int(start_batch)

    def _cut(self, order: np.ndarray) -> list[list[int]]:
        if self.batch_size is not None:
            return [order[i:i + self.batch_size].tolist() for i in range(0, len(order), self.batch_size)]
        batches, current, longest = [], [], 0.0
        for i in order.tolist():
            d = self.durations[i]
            if current and (len(current) + 1) * max(longest, d) > self.max_seconds:
                batches.append(current)
                current, longest = [], 0.0
            current.append(i)
            longest = max(longest, d)
        if current:
            batches.append(current)
        return batches

    def _bucket_edges(self) -> np.ndarray:
        """Duration quantiles splitting the items into buckets; fewer buckets when there are
        too few items to fill several batches per bucket (each bucket may end in a partial batch)."""
        n = len(self.durations)
        per_batch = self.batch_size or max(1.0, self.max_seconds / max(float(np.median(self.durations)), 1e-6))
        buckets = int(max(1, min(self.num_buckets, n // (4 * per_batch))))
        return np.unique(np.quantile(self.durations, np.linspace(0, 1, buckets + 1)[1:-1]))

    def all_batches(self) -> list[list[int]]:
        """Every batch of the epoch over all ranks, in order (before sharding)."""
        n = len(self.durations)
        if n == 0:
            return []
        rng = np.random.default_rng([self.seed, self.epoch])
        items = np.arange(n)
        if self.weights is not None:  # an epoch of n draws by weight (sorted: buckets shuffle them)
            items = np.sort(np.random.default_rng([self.seed, self.epoch, 1]).choice(n, n, p=self.weights))
        # Equal durations (e.g. fixed-length crops) always share a bucket.
        bucket_of = np.searchsorted(self._bucket_edges(), self.durations[items], side="right")
        batches: list[list[int]] = []
        for b in range(int(bucket_of.max()) + 1):
            members = items[bucket_of == b]
            if self.shuffle:
                members = rng.permutation(members)
            batches.extend(self._cut(members))
        if self.shuffle:
            batches = [batches[i] for i in rng.permutation(len(batches))]
        return batches

    def rank_batches(self) -> list[list[int]]:
        """This rank's batches for the epoch (all of them, ignoring ``start_batch``)."""
        batches = self.all_batches()
        if self.world_size > 1 and batches:
            remainder = len(batches) % self.world_size
            if remainder and self.drop_last:
                batches = batches[: len(batches) - remainder]
            elif remainder:
                extra = self.world_size - remainder
                batches = batches + [batches[i % len(batches)] for i in range(extra)]
        return batches[self.rank::self.world_size]

    def __iter__(self) -> Iterator[list[int]]:
        yield from self.rank_batches()[self.start_batch:]

    def __len__(self) -> int:
        return max(0, len(self.rank_batches()) - self.start_batch)


def make_loader(dataset: ClipDataset, batch_size: int | None = None, max_seconds: float | None = None,
                num_workers: int = 0, seed: int = 0, epoch: int = 0, rank: int = 0,
                world_size: int = 1, start_batch: int = 0, shuffle: bool | None = None,
                drop_last: bool = False, num_buckets: int = 10, pin_memory: bool = False,
                weights: Sequence[float] | None = None) -> DataLoader:
    """A DataLoader over ``dataset`` with a :class:`DurationBatchSampler` and
    :func:`collate_clips`. Build one per epoch (workers are not persistent, so the epoch's crop
    seeds reach them). ``shuffle`` defaults to ``dataset.train``. ``start_batch=k`` resumes the
    epoch at its k-th batch for this rank."""
    dataset.set_epoch(epoch)
    sampler = DurationBatchSampler(
        dataset.item_seconds(), batch_size=batch_size, max_seconds=max_seconds, seed=seed,
        epoch=epoch, shuffle=dataset.train if shuffle is None else shuffle, num_buckets=num_buckets,
        rank=rank, world_size=world_size, start_batch=start_batch, drop_last=drop_last, weights=weights)
    return DataLoader(dataset, batch_sampler=sampler, collate_fn=collate_clips, num_workers=num_workers,
                      pin_memory=pin_memory, persistent_workers=False,
                      prefetch_factor=4 if num_workers > 0 else None)


# -- Lhotse Shar -------------------------------------------------------------------------------
# Cuts the bucketing sampler holds per worker. Shar cuts carry their encoded audio in memory, so
# lhotse's default (20,000) would hold hours of audio per worker; shard shuffling keeps the order
# random across the whole set.
SHAR_BUFFER_CUTS = 2000


class SharBatches(Dataset):
    """A lhotse-style dataset for :class:`~lhotse.dataset.IterableDatasetWrapper`: a mini-batch
    of Shar cuts -> the batch :func:`collate_clips` builds. Labels, captions and crops come from
    ``clips`` (a :class:`ClipDataset` over the Shar's metadata, :func:`read_shar`), so a clip is
    cropped and labelled exactly as from a flat manifest; only the audio comes from the shards."""

    def __init__(self, clips: ClipDataset):
        self.clips = clips
        self.row = {cid: i for i, cid in enumerate(clips.ids)}

    def __getitem__(self, cuts: CutSet) -> dict:
        return collate_clips([self.load(cut) for cut in cuts])

    def load(self, cut) -> dict | BadItem:
        index = self.row[cut.id]
        offset, seconds = self.clips.window(index)
        try:
            audio = cut.load_audio()  # decoded from the bytes read out of the tar shard
        except Exception as exc:  # lhotse/soundfile decoding errors have no common base
            return BadItem(cut.id, UNREADABLE, f"{cut.id}: {str(exc)[:200]}")
        sr = cut.sampling_rate
        x = audio.mean(axis=0) if audio.ndim > 1 else audio
        x = x[int(round(offset * sr)):int(round((offset + seconds) * sr))].astype(np.float32, copy=False)
        try:
            x = checked(x, f"{cut.id} ({cut.shard_origin})")
        except AudioError as exc:
            return BadItem(cut.id, exc.reason, str(exc))
        return self.clips.item(index, resample(x, sr, self.clips.sample_rate))


def shar_batches_per_epoch(clips: ClipDataset, batch_size: int | None, max_seconds: float | None,
                           world_size: int = 1) -> int:
    """Batches per process that make one pass over a Shar set (its stream has no end: training
    counts epochs in these)."""
    if batch_size is not None:
        return max(1, math.ceil(len(clips) / (batch_size * world_size)))
    return max(1, math.ceil(sum(clips.item_seconds()) / (max_seconds * world_size)))


class SharEpoch:
    """Batches ``start`` to ``stop`` of an endless loader: one training epoch, with a length."""

    def __init__(self, loader: DataLoader, start: int, stop: int):
        self.loader, self.start, self.stop = loader, start, stop

    def __len__(self) -> int:
        return max(0, self.stop - self.start)

    def __iter__(self) -> Iterator[dict]:
        # iter() now, not at the first batch: the loader's seed draw stays where the trainer expects it
        return itertools.islice(iter(self.loader), self.start, self.stop)


def make_shar_loader(path: str | Path, clips: ClipDataset, batch_size: int | None = None,
                     max_seconds: float | None = None, num_workers: int = 0, seed: int = 0, epoch: int = 0,
                     rank: int = 0, world_size: int = 1, start_batch: int = 0, num_buckets: int = 10,
                     pin_memory: bool = False, weights: Sequence[float] | None = None,
                     endless: bool = True) -> SharEpoch | DataLoader:
    """Epoch ``epoch`` of the Shar folder ``path`` for this process, streamed in lhotse's way for
    many GPUs (the arguments are :func:`make_loader`'s).

    ``CutSet.from_shar(split_for_dataloading=True)`` gives every (process, worker) pair its own
    shards (shuffled by ``(seed, epoch)``, the same on every node), repeated without end so no
    rank runs dry before the others; lhotse's :class:`~lhotse.dataset.DynamicBucketingSampler`
    then batches by duration inside each worker (rank 0 of 1 there: the shards are already
    split). An epoch is the next :func:`shar_batches_per_epoch` batches of that stream (from
    ``start_batch``: a resumed epoch re-reads and skips the batches before it), so every rank
    takes the same number of steps. ``endless=False`` returns the DataLoader of one pass
    instead (each worker stops at the end of its shards).
    Batches hold ``batch_size`` clips, or up to ``max_seconds`` of audio (with ``clip_seconds``
    crops that is ``max_seconds // clip_seconds`` clips). Duration buckets come from the
    metadata (no pass over the audio to estimate them).
    """
    if weights is not None and np.ptp(np.asarray(weights, dtype=np.float64)) > 0:  # equal weights: no-op
        raise ManifestError(f"{path}: drawing clips by source weight needs random access, which a Shar "
                            "stream has not; set data.source_weights=false (or train on the flat manifest)")
    shards, readers = len(shar_shards(path)), world_size * max(1, num_workers)
    if shards < readers:
        raise ManifestError(f"{path}: {shards} shard(s) for {world_size} process(es) x {max(1, num_workers)} "
                            f"loader worker(s); each reads whole shards, so export with a smaller "
                            f"--shard-size (at least {readers} shards) or lower data.num_workers")
    clips.set_epoch(epoch)
    stream_seed = int(seed) * 100_003 + int(epoch)
    cuts = CutSet.from_shar(in_dir=path, split_for_dataloading=True, shuffle_shards=True,
                            stateful_shuffle=True, seed=stream_seed)
    if endless:
        cuts = cuts.repeat(preserve_id=True)
    if clips.clip_seconds is not None:  # fixed crops all cost the same: count clips
        limits = {"max_cuts": batch_size or max(1, int(max_seconds // clips.clip_seconds))}
        bins = []
    else:
        limits = {"max_cuts": batch_size} if batch_size is not None else {"max_duration": max_seconds}
        edges = np.quantile(clips.durations, np.linspace(0, 1, max(1, num_buckets) + 1)[1:-1])
        bins = sorted({float(e) for e in edges})
    sampler = DynamicBucketingSampler(
        cuts, **limits, shuffle=True, duration_bins=bins, num_buckets=len(bins) + 1,
        buffer_size=SHAR_BUFFER_CUTS, seed=stream_seed,
        rank=0, world_size=1)
    loader = DataLoader(IterableDatasetWrapper(SharBatches(clips), sampler), batch_size=None,
                        num_workers=num_workers, pin_memory=pin_memory, persistent_workers=False,
                        worker_init_fn=make_worker_init_fn(rank=rank, world_size=world_size, seed=stream_seed),
                        prefetch_factor=4 if num_workers > 0 else None)
    if not endless:
        return loader
    return SharEpoch(loader, start_batch, shar_batches_per_epoch(clips, batch_size, max_seconds, world_size))
