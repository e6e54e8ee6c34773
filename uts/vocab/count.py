"""Document frequencies of tags for :mod:`.build`, fast, in bounded memory.

``df(t)`` is the number of clips whose tag list holds ``t`` at least once. The general path is a
polars lazy query (see :func:`uts.vocab.build.count_tags`); this module is the fast path for the
two common inputs, plain JSON Lines and Parquet files with a ``tags`` list of strings:

- JSON Lines are read in batches of lines by polars' CSV reader (one column: a raw JSON line can
  hold no control character, so ``\\x01`` never splits one) and each line is decoded by
  ``str.json_decode`` with the ``tags`` field's type given up front, about half the CPU time of
  polars' NDJSON reader on the same lines. Lines whose text lacks ``"tags":[`` (a missing or null
  ``tags``, a string instead of a list, spaces around the colon, blank lines) are read by the
  NDJSON reader itself, so they behave exactly as on the general path; any decoding error makes
  the caller fall back to that path for the whole file, which gives the documented error.
- Tags are mapped to integer codes (a polars ``Categorical`` with its own category table, shared
  by all batches), each clip's codes are de-duplicated by sorting the clip's row of a padded code
  matrix and keeping the first of each run, and ``numpy.bincount`` adds them up. No per-clip hash
  set, no global (clip, tag) table.
- Batches are counted on a small thread pool (polars and numpy release the GIL), at most two per
  worker in flight, so memory is bounded by the batch size, not by the file.

The result is exact: the same counts as ``Counter`` over each clip's ``set`` of normalised tags
(stripped, lowercased, empty ones dropped), in one pass (see :class:`DocumentFrequency`).
"""

from __future__ import annotations

import os
import threading
from collections import deque
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import polars as pl

BATCH_ROWS = 100_000  # clips per chunk: a few tens of MB each, whatever the size of the file
_TAGS = pl.List(pl.Utf8)
_LINE = pl.Struct({"tags": _TAGS})
_LITERAL = '"tags":['


class FastPathUnavailable(Exception):
    """The file is not one the fast path reads; use the general query."""


def _workers() -> int:
    return max(1, min(4, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1))


def is_plain_jsonl(path: Path) -> bool:
    """An uncompressed file (the fast JSON Lines reader does not decompress)."""
    with open(path, "rb") as fh:
        return fh.read(2) != b"\x1f\x8b"


def scan_lines(path: Path) -> pl.LazyFrame:
    """The lines of a text file as one string column ``l`` (empty lines are null)."""
    return pl.scan_csv(path, has_header=False, separator="\x01", quote_char=None, new_columns=["l"],
                       infer_schema=False, raise_if_empty=False)


def decode_tags(lines: pl.DataFrame) -> pl.Series:
    """The ``tags`` of every non-blank line of ``lines`` (a list, or null where a line has none)."""
    if lines["l"].null_count():  # empty lines
        lines = lines.drop_nulls()
    if lines.height == 0:
        return pl.Series("tags", [], dtype=_TAGS)
    plain = lines["l"].str.contains(_LITERAL, literal=True)
    if plain.all():
        return lines.select(pl.col("l").str.json_decode(_LINE).struct.field("tags"))["tags"]
    fast = lines.filter(plain).select(pl.col("l").str.json_decode(_LINE).struct.field("tags"))["tags"]
    rest = lines.filter(~plain)["l"]
    if rest.str.strip_chars().str.len_bytes().max() == 0:  # only blank lines
        return fast
    other = pl.read_ndjson("\n".join(rest.to_list()).encode(), schema={"tags": _TAGS})["tags"]
    return pl.concat([fast, other])


class DocumentFrequency:
    """Accumulates ``df`` of normalised tags over chunks of tag lists (:meth:`count` is thread-safe).

    Tags are counted under their normalised form (stripped, lowercased; empty ones dropped) in the
    same single pass: every distinct raw string gets a categorical code, and a small table maps
    raw codes to codes of normalised strings *before* each clip is de-duplicated, so ``Rain``,
    ``rain `` and ``rain`` in one clip count once. Real LLM output has such variants; normalising
    the distinct strings (a few tens of thousands) costs nothing, unlike normalising every tag
    or counting the file twice.
    """

    def __init__(self):
        self.categories = pl.Categories.random()
        self.dtype = pl.Categorical(self.categories)
        # Polars drops a category table no live data uses; this keeps codes stable across chunks.
        self._keepalive = pl.Series([], dtype=self.dtype)
        self._lock = threading.Lock()
        self.normalised = np.zeros(0, dtype=np.int64)  # raw code -> normalised code (-1: empty)
        self.names: list[str] = []  # normalised code -> tag
        self._code_of: dict[str, int] = {}
        self.clips = 0
        self.tagged = 0
        self.df = np.zeros(0, dtype=np.int64)

    def _normalised_codes(self, raw: np.ndarray) -> np.ndarray:
        """The normalised code of every raw code, extending the table for strings not seen yet."""
        needed = int(raw.max()) + 1
        with self._lock:
            if needed > len(self.normalised):
                new = self.categories.to_series()[len(self.normalised):].str.strip_chars().str.to_lowercase()
                if new.null_count() or len(self.normalised) + len(new) < needed:  # never expected
                    raise FastPathUnavailable("incomplete category table")
                codes = [self._code_of.setdefault(t, len(self._code_of)) if t else -1 for t in new.to_list()]
                self.names.extend(list(self._code_of)[len(self.names):])
                self.normalised = np.concatenate([self.normalised, np.array(codes, dtype=np.int64)])
            table = self.normalised
        return table[raw]

    def count(self, tags: pl.Series) -> tuple[int, int, np.ndarray]:
        """``(clips, clips with a tag, df per normalised code)`` of one chunk, without touching
        the totals."""
        if tags.dtype != _TAGS:
            raise FastPathUnavailable(f"tags are {tags.dtype}, not lists of strings")
        flat = tags.explode(empty_as_null=False, keep_nulls=False)
        if flat.null_count():
            tags = tags.list.drop_nulls()
            flat = flat.drop_nulls()
        lens = tags.list.len().fill_null(0).to_numpy()
        if len(flat) == 0:
            return len(tags), 0, np.zeros(0, dtype=np.int64)
        raw = flat.cast(self.dtype).to_physical()
        if raw.null_count():  # a string without its code: never expected, but not worth a wrong count
            raise FastPathUnavailable("incomplete category codes")
        codes = self._normalised_codes(raw.to_numpy())
        empty = codes < 0
        if empty.any():  # tags that were only spaces: gone, and their clips may now have none
            lens = np.bincount(np.repeat(np.arange(len(lens)), lens)[~empty], minlength=len(lens))
            codes = codes[~empty]
        tagged = int(np.count_nonzero(lens))
        if len(codes) == 0:
            return len(tags), 0, np.zeros(0, dtype=np.int64)
        return len(tags), tagged, _distinct_per_clip_counts(codes.astype(np.uint32), lens)

    def add(self, part: tuple[int, int, np.ndarray]) -> None:
        clips, tagged, df = part
        self.clips += clips
        self.tagged += tagged
        if len(df) > len(self.df):
            self.df = np.concatenate([self.df, np.zeros(len(df) - len(self.df), dtype=np.int64)])
        self.df[:len(df)] += df

    def frame(self) -> pl.DataFrame:
        """``frame[tags, df]`` of every normalised tag seen (df > 0)."""
        n = len(self.df)
        table = pl.DataFrame({"tags": pl.Series(self.names[:n], dtype=pl.Utf8),
                              "df": pl.Series(self.df, dtype=pl.Int64)})
        return table.filter(pl.col("df") > 0)


def _distinct_per_clip_counts(codes: np.ndarray, lens: np.ndarray) -> np.ndarray:
    """``bincount`` of the codes, each counted once per clip (``lens``: codes per clip, in order)."""
    n, widest = len(lens), int(lens.max())
    if n * widest <= 4 * len(codes) + 1024:
        if int(lens.min()) == widest:  # every clip has the same number of tags: a plain reshape
            matrix = codes.reshape(n, widest).copy()
        else:  # pad each clip's row with a code that sorts last and is never counted
            matrix = np.full((n, widest), np.iinfo(np.uint32).max, dtype=np.uint32)
            starts = np.zeros(n, dtype=np.int64)
            np.cumsum(lens[:-1], out=starts[1:])
            rows = np.repeat(np.arange(n), lens)
            matrix[rows, np.arange(len(codes)) - np.repeat(starts, lens)] = codes
        matrix.sort(axis=1)
        first = np.empty(matrix.shape, dtype=bool)
        first[:, 0] = True
        np.not_equal(matrix[:, 1:], matrix[:, :-1], out=first[:, 1:])
        kept = matrix[first]
        kept = kept[kept != np.iinfo(np.uint32).max]
    else:  # a few clips with very many tags: sort (clip, code) keys instead of padding
        keys = np.repeat(np.arange(n, dtype=np.uint64), lens) << np.uint64(32) | codes.astype(np.uint64)
        keys.sort()
        first = np.empty(len(keys), dtype=bool)
        first[0] = True
        np.not_equal(keys[1:], keys[:-1], out=first[1:])
        kept = keys[first] & np.uint64(0xFFFFFFFF)
    return np.bincount(kept.astype(np.intp)).astype(np.int64)


def _run(chunks: Iterable, work, counter: DocumentFrequency) -> None:
    """``counter.add(counter.count(work(chunk)))`` for every chunk, a few at a time on threads."""
    workers = _workers()
    if workers == 1:
        for chunk in chunks:
            counter.add(counter.count(work(chunk)))
        return
    with ThreadPoolExecutor(workers) as pool:
        pending: deque = deque()
        try:
            for chunk in chunks:
                pending.append(pool.submit(lambda c: counter.count(work(c)), chunk))
                while len(pending) >= 2 * workers:
                    counter.add(pending.popleft().result())
            while pending:
                counter.add(pending.popleft().result())
        finally:
            for future in pending:
                future.cancel()


def count_jsonl(path: Path, rows: int = BATCH_ROWS) -> tuple[int, int, pl.DataFrame]:
    """``(clips, clips with a tag, frame[tags, df])`` of a plain JSON Lines tags file, tags
    normalised. Raises polars' error for a file it cannot decode (the caller then takes the
    general path)."""
    counter = DocumentFrequency()
    _run(scan_lines(path).collect_batches(chunk_size=rows), decode_tags, counter)
    return counter.clips, counter.tagged, counter.frame()


def count_parquet(path: Path, rows: int = BATCH_ROWS) -> tuple[int, int, pl.DataFrame]:
    """The same for a Parquet file whose ``tags`` column is a list of strings."""
    lf = pl.scan_parquet(path).select("tags")
    if lf.collect_schema()["tags"] != _TAGS:
        raise FastPathUnavailable("tags column is not a list of strings")
    counter = DocumentFrequency()
    batches = (frame["tags"] for frame in lf.collect_batches(chunk_size=rows))
    _run(batches, lambda s: s, counter)
    return counter.clips, counter.tagged, counter.frame()
