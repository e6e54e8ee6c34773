"""File plumbing shared by every package: atomic writes, gzip-aware opening, table-format
detection and JSON Lines line-by-line reading (for FILE:LINE errors). One place for each rule, so that (say) ``.pq`` counts as Parquet everywhere.

It lives in :mod:`uts.ontology` only because that package is the bottom layer: it may import
nothing else of ``uts`` (tests/test_layering.py), while every other package may import it. The
module itself knows nothing about ontologies and imports only the standard library.
"""

from __future__ import annotations

import csv
import glob
import gzip
import io
import json
import math
import os
import re
import tempfile
import zlib
from collections.abc import Callable, Collection, Iterator
from pathlib import Path
from typing import IO

#: Suffixes (lower case) of the table formats the toolkit reads and writes.
PARQUET_SUFFIXES = (".parquet", ".pq")
JSONL_SUFFIXES = (".jsonl", ".ndjson")


def is_gzip(path: str | os.PathLike) -> bool:
    return Path(path).name.lower().endswith(".gz")


def table_format(path: str | os.PathLike) -> str | None:
    """``"parquet"``, ``"jsonl"``, ``"json"``, ``"tsv"`` or ``"csv"`` from the file name (a
    trailing ``.gz`` is looked through: ``x.jsonl.gz`` is ``"jsonl"``); ``None`` if unknown."""
    name = Path(path).name.lower()
    if name.endswith(".gz"):
        name = name[:-3]
    suffix = Path(name).suffix
    if suffix in PARQUET_SUFFIXES:
        return "parquet"
    if suffix in JSONL_SUFFIXES:
        return "jsonl"
    return {".json": "json", ".tsv": "tsv", ".csv": "csv"}.get(suffix)


def table_stem(path: str | os.PathLike) -> str:
    """The file name without its table suffix and a trailing ``.gz``: ``eval_segments.csv`` and
    ``clips.jsonl.gz`` give ``eval_segments`` and ``clips``; an unknown suffix is kept."""
    name = Path(path).name
    if is_gzip(name):
        name = name[:-3]
    if table_format(name) is not None:
        name = name[: -len(Path(name).suffix)]
    return name


def is_parquet(path: str | os.PathLike) -> bool:
    return table_format(path) == "parquet"


class CorruptFileError(ValueError):
    """A file that cannot be decoded as its name says: a truncated or corrupt ``.gz``, or a plain
    file named ``.gz``. The message names the file (a user error: one line, exit 1)."""


#: What :mod:`gzip` raises on a truncated stream (EOFError), a file that is no gzip
#: (BadGzipFile) and a corrupt deflate stream or checksum (zlib.error).
_GZIP_ERRORS = (EOFError, gzip.BadGzipFile, zlib.error)


def corrupt_gzip(path: str | os.PathLike, exc: BaseException) -> CorruptFileError:
    reason = str(exc).strip() or type(exc).__name__
    return CorruptFileError(f"{path}: truncated or corrupt gzip ({reason})")


class _CheckedGzipFile(gzip.GzipFile):
    """A gzip reader whose decoding errors (raised lazily, on the first read that meets them)
    become :class:`CorruptFileError` naming the file, whoever reads it."""

    def __init__(self, path: str | os.PathLike):
        super().__init__(path, "rb")
        self._path = path

    def _checked(name: str):
        def method(self, *args, **kwargs):
            try:
                return getattr(gzip.GzipFile, name)(self, *args, **kwargs)
            except _GZIP_ERRORS as exc:
                raise corrupt_gzip(self._path, exc) from None
        method.__name__ = name
        return method

    read, read1, readinto, readline, peek = map(_checked, ("read", "read1", "readinto", "readline", "peek"))
    del _checked


#: What JSON Lines readers open with: plain UTF-8, so a BOM is a JSON error at line 1:1 (naming it)
#: as in polars, not silently skipped by one reader and refused by the next.
JSONL_ENCODING = "utf-8"


def open_text(path: str | os.PathLike, mode: str = "rt", *, gz: bool | None = None, **kwargs) -> IO[str]:
    """Open a text file for reading (``"rt"``) or writing (``"wt"``), gunzipping/gzipping when
    ``gz`` (default: the name ends in ``.gz``; pass it when writing a temporary file for a
    ``.gz`` target). UTF-8 unless ``encoding`` says otherwise; reading drops a leading UTF-8 BOM
    (what Windows editors save as "UTF-8 with BOM"), which would otherwise become part of the
    first label or header. JSON Lines readers pass ``encoding=JSONL_ENCODING``: there a BOM is
    refused at line 1, as polars, which reads the bulk of those files, refuses it. Reading a
    broken ``.gz`` raises :class:`CorruptFileError`."""
    kwargs.setdefault("encoding", "utf-8-sig" if "r" in mode else "utf-8")
    if is_gzip(path) if gz is None else gz:
        if "r" in mode:
            return io.TextIOWrapper(_CheckedGzipFile(path), **kwargs)
        return gzip.open(path, mode if "t" in mode else mode + "t", **kwargs)
    return open(path, mode.replace("t", ""), **kwargs)


def iter_jsonl(path: str | os.PathLike) -> Iterator[tuple[int, str, dict | None]]:
    """``(line number, raw line, parsed object or None when it is not a JSON object)`` for each
    non-blank line of a JSON Lines file (gzipped by name). Raises ``UnicodeDecodeError`` on bytes
    that are not UTF-8."""
    with open_text(path, encoding=JSONL_ENCODING) as fh:
        for lineno, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                obj = loads_strict(line)
            except ValueError:  # JSONDecodeError is one
                obj = None
            yield lineno, line, obj if isinstance(obj, dict) else None


class NotJsonNumber(ValueError):
    """``NaN``, ``Infinity`` or a number too large for a float: Python's :mod:`json` accepts them,
    JSON (and polars) do not."""


def _no_constant(token: str):
    raise NotJsonNumber(f"{token} is not a JSON number")


def _finite_float(text: str) -> float:
    value = float(text)
    if math.isinf(value):
        raise NotJsonNumber(f"{text} is beyond a float's range")
    return value


def loads_strict(text: str):
    """``json.loads`` as JSON itself (and polars) reads: ``NaN``, ``Infinity`` and ``1e999`` raise
    :class:`NotJsonNumber` instead of becoming floats no other reader accepts."""
    return json.loads(text, parse_constant=_no_constant, parse_float=_finite_float)


def first_bad_json_line(path: str | os.PathLike, lists_of_strings: Collection[str] = ()) -> str | None:
    """One line saying where a JSON Lines file is broken, else None (also for Parquet or a missing
    file): ``"FILE:LINE[:COL]: not a JSON object ..."`` for the first line that is not a JSON
    object (``NaN`` included: :func:`loads_strict`); failing that, ``"FILE:LINE: column 'c'
    expected a number, got "long""`` for the first row whose value is of another JSON type than
    that column holds elsewhere, or, for a column in ``lists_of_strings``, is anything but a list of strings or null
    (:func:`_first_mistyped_row`); or a line saying the file is not UTF-8 or is a broken gzip.
    Read line by line in Python, so only on the error path: polars' own errors name neither file
    nor line (and polars reads ``[["a"]]`` as the string '["a"]'), so readers call this when
    polars fails or a label looks like such a string."""
    path = Path(path)
    if not path.is_file() or is_parquet(path):
        return None
    kinds: dict[str, dict[str, tuple[int, object]]] = {}  # column -> kind -> (first line, value)
    counts: dict[str, dict[str, int]] = {}
    try:
        for lineno, line, obj in iter_jsonl(path):
            if obj is None:
                text = line.rstrip("\r\n")  # else an error at the line's end is "column 1" of the next
                try:  # parsed again, once, for the column polars' message lacks
                    loads_strict(text)
                except json.JSONDecodeError as exc:
                    return f"{path}:{lineno}:{exc.colno}: not a JSON object ({exc.msg}): {text.strip()[:60]!r}"
                except NotJsonNumber as exc:
                    return f"{path}:{lineno}: not JSON: {exc} (write null for a missing value)"
                return f"{path}:{lineno}: not a JSON object: {text.strip()[:60]!r}"
            for column, value in obj.items():
                kind = _json_kind(value)
                if kind is not None:
                    kinds.setdefault(column, {}).setdefault(kind, (lineno, value))
                    column_counts = counts.setdefault(column, {})
                    column_counts[kind] = column_counts.get(kind, 0) + 1
    except UnicodeDecodeError as exc:
        return f"{path}: not UTF-8 text (bad byte at offset {exc.start}); JSON Lines is expected"
    except CorruptFileError as exc:
        return str(exc)
    except OSError as exc:
        return f"{path}: cannot read: {exc}"
    return _first_mistyped_row(path, kinds, counts, lists_of_strings)


def _json_kind(value: object) -> str | None:
    """What a JSON value is, in the words of an error message (None for null: always allowed)."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true or false"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        odd = next((v for v in value if not isinstance(v, str)), "")
        if isinstance(odd, str):
            return "a list of strings"
        if isinstance(odd, (list, dict)):
            return "a list of lists" if isinstance(odd, list) else "a list of objects"
        return "a list holding null" if odd is None else f"a list holding {_json_kind(odd)}"
    return "an object"


LIST_OF_STRINGS = "a list of strings"
#: A regex for a string in a list-of-strings column that polars made from a nested value: it reads
#: ``[["a", "b"]]`` or ``[{"id": "a"}]`` as the text '["a", "b"]' without complaint. A reader that
#: finds one calls :func:`first_bad_json_line` with the column in ``lists_of_strings``, which
#: tells a nested list (an error at its line) from a label that merely starts with a bracket.
OPENS_LIKE_JSON = r"^\s*[\[{]"


def _first_mistyped_row(path: Path, kinds: dict[str, dict[str, tuple[int, object]]],
                        counts: dict[str, dict[str, int]], lists_of_strings: Collection[str] = ()) -> str | None:
    """The earliest row holding, in some column, another kind of value than most rows do there
    (the earlier kind wins a tie), or than a list of strings for a column of ``lists_of_strings``:
    that is the row polars failed on ("failed to determine supertype", "conversion from str to
    f64 failed") or turned into text."""
    found = []
    for column, by_kind in kinds.items():
        if column in lists_of_strings:
            expected = LIST_OF_STRINGS
        elif len(by_kind) < 2:
            continue
        else:
            expected = max(counts[column], key=counts[column].__getitem__)  # first of the most common
        for kind, (lineno, value) in by_kind.items():
            if kind != expected:
                found.append((lineno, column, expected, kind, value))
    if not found:
        return None
    lineno, column, expected, kind, value = min(found, key=lambda f: f[0])
    shown = json.dumps(value, ensure_ascii=False)
    shown = shown if len(shown) <= 40 else shown[:37] + "..."
    if kind.startswith("a list "):  # '[1]' reads like '["1"]' at a glance: say what is wrong with it
        shown = f"{kind} ({shown})"
    return f"{path}:{lineno}: column {column!r} expected {expected}, got {shown}"


def first_bad_csv_line(path: str | os.PathLike, separator: str = ",") -> str | None:
    """One line saying where a CSV/TSV file is broken, else None: the line of the first byte that
    is not UTF-8, or the first row with more fields than its header (what polars refuses with
    "found more fields than defined in 'Schema'", naming no line). Only on the error path."""
    raw = read_bytes(path)
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        return (f"{path}:{line}: not UTF-8 text (byte 0x{raw[exc.start]:02x} at offset {exc.start}); "
                "save it as UTF-8")
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=separator)
    header = next(reader, None) or []
    for row in reader:
        if len(row) > len(header):
            return (f"{path}:{reader.line_num}: {len(row)} fields where the header has {len(header)} "
                    f"(an unquoted {separator!r} inside a value?)")
    return None


def jsonl_line_numbers(path: str | os.PathLike, rows: Collection[int]) -> dict[int, int] | None:
    """The line numbers of the 0-based records ``rows`` of a JSON Lines file (record ``i`` is its
    ``i``-th non-blank line, as polars reads it); None for another format. Reads the file again,
    so only on an error path."""
    if table_format(path) != "jsonl" or not Path(path).is_file():
        return None
    wanted, found, row = set(rows), {}, -1
    with open_text(path, errors="replace") as fh:
        for lineno, line in enumerate(fh, 1):
            if line.strip():
                row += 1
                if row in wanted:
                    found[row] = lineno
                    if len(found) == len(wanted):
                        break
    return found if len(found) == len(wanted) else None


def read_bytes(path: str | os.PathLike) -> bytes:
    """The file's bytes, gunzipped when the name ends in ``.gz`` (:class:`CorruptFileError` when
    that fails)."""
    raw = Path(path).read_bytes()
    if not is_gzip(path):
        return raw
    try:
        return gzip.decompress(raw)
    except _GZIP_ERRORS as exc:
        raise corrupt_gzip(path, exc) from None


_TEMP = re.compile(r"^\.(?P<name>.+)\.(?P<pid>\d+)\.[^.]+\.tmp$")  # what _temp_path names


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


def remove_dead_writers_temps(path: str | os.PathLike) -> list[Path]:
    """Remove the temporary files of ``path`` that a writer killed mid-write left beside it
    (SIGKILL and SIGTERM run no cleanup); a live writer's are left alone. Returns what went."""
    path = Path(path)
    removed = []
    for tmp in path.parent.glob(f".{glob.escape(path.name)}.*.tmp"):
        m = _TEMP.match(tmp.name)
        if m and m["name"] == path.name and int(m["pid"]) != os.getpid() and not _alive(int(m["pid"])):
            tmp.unlink(missing_ok=True)
            removed.append(tmp)
    return removed


def _temp_path(path: Path) -> str:
    # The writer's pid in the name lets the next writer clean up after a dead one only
    # (remove_dead_writers_temps matches ``.<file>.<pid>.<random>.tmp``).
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.{os.getpid()}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    # mkstemp makes 0600 files; keep the target's mode (or the usual umask-based one).
    try:
        mode = path.stat().st_mode & 0o777
    except FileNotFoundError:
        umask = os.umask(0)
        os.umask(umask)
        mode = 0o666 & ~umask
    os.chmod(tmp, mode)
    return tmp


def atomic_write_with(path: str | os.PathLike, write: Callable[[str], object]) -> Path:
    """Call ``write(temp_path)`` to fill a temporary file beside ``path``, then rename it over
    ``path``: readers never see half a file, and on any failure the old file stays as it was and
    the temporary file is removed, and so are the folders made for it (a streaming writer may
    meet a bad input row only now: nothing is left behind)."""
    path = Path(path)
    made = [d for d in path.parents if not d.exists()]  # deepest first
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_dead_writers_temps(path)
    tmp = None
    try:
        tmp = _temp_path(path)
        write(tmp)
        os.replace(tmp, path)
    except BaseException as exc:
        if tmp is not None:
            Path(tmp).unlink(missing_ok=True)
        for folder in made:
            try:
                folder.rmdir()  # only if still empty: another writer may have put files there
            except OSError:
                break
        if isinstance(exc, OSError) and exc.errno is not None:  # a full disk, a read-only folder:
            # name the file asked for, not the hidden temporary one
            raise type(exc)(exc.errno, f"cannot write: {exc.strerror}", str(path)) from exc
        raise
    return path


def atomic_write_bytes(path: str | os.PathLike, data: bytes, *, compress: bool | None = None) -> Path:
    """Atomically write ``data``; gzip it when ``compress`` (default: the name ends in ``.gz``).
    The gzip header carries no timestamp, so equal data gives equal files."""
    if compress is None:
        compress = is_gzip(path)
    payload = gzip.compress(data, mtime=0) if compress else data

    def write(tmp: str) -> None:
        with open(tmp, "wb") as fh:
            fh.write(payload)
            fh.flush()
            os.fsync(fh.fileno())

    return atomic_write_with(path, write)


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    """Atomically write ``text`` as UTF-8 with ``\\n`` line ends (never compressed: callers that
    want ``.gz`` use :func:`atomic_write_bytes`)."""
    return atomic_write_bytes(path, text.encode("utf-8"), compress=False)
