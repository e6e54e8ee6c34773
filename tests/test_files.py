"""uts.ontology.files: the one atomic write, gzip-aware open and table-format rule."""

from __future__ import annotations

import gzip
import os
import subprocess
import sys

import pytest

from uts.ontology.files import (CorruptFileError, atomic_write_bytes, atomic_write_text, atomic_write_with,
                                first_bad_json_line, is_parquet, iter_jsonl, open_text, read_bytes, table_format,
                                table_stem)


@pytest.mark.parametrize("name, fmt", [
    ("clips.jsonl", "jsonl"), ("clips.ndjson", "jsonl"), ("clips.jsonl.gz", "jsonl"), ("CLIPS.JSONL.GZ", "jsonl"),
    ("clips.json", "json"), ("clips.parquet", "parquet"), ("clips.pq", "parquet"), ("Clips.PQ", "parquet"),
    ("clips.tsv", "tsv"), ("clips.csv", "csv"), ("clips.csv.gz", "csv"),
    ("clips.txt", None), ("clips.gz", None), ("parquet", None), ("clips.parquet.bak", None),
])
def test_table_format(name, fmt):
    assert table_format(name) == fmt
    assert is_parquet(name) == (fmt == "parquet")


def test_gz_round_trip(tmp_path):
    path = tmp_path / "x.jsonl.gz"
    text = '{"tag": "rain on roof"}\n{"tag": "café"}\n'
    with open_text(path, "wt") as fh:
        fh.write(text)
    assert gzip.decompress(path.read_bytes()).decode("utf-8") == text  # really compressed
    with open_text(path) as fh:
        assert fh.read() == text
    assert read_bytes(path) == text.encode("utf-8")
    atomic_write_bytes(path, b"abc\n")
    assert read_bytes(path) == b"abc\n" and path.read_bytes()[:2] == b"\x1f\x8b"
    plain = tmp_path / "x.jsonl"
    atomic_write_bytes(plain, b"abc\n")
    assert plain.read_bytes() == b"abc\n" and read_bytes(plain) == b"abc\n"


def test_gzip_output_is_reproducible(tmp_path):
    a, b = tmp_path / "a.jsonl.gz", tmp_path / "b.jsonl.gz"
    atomic_write_bytes(a, b"same\n")
    atomic_write_bytes(b, b"same\n")
    assert a.read_bytes() == b.read_bytes()  # no timestamp in the header


def test_failed_write_keeps_old_file_and_leaves_no_temp(tmp_path):
    path = tmp_path / "table.parquet"
    path.write_text("old\n")

    def half_then_fail(tmp):
        with open(tmp, "w") as fh:
            fh.write("half")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        atomic_write_with(path, half_then_fail)
    assert path.read_text() == "old\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["table.parquet"]


def test_failed_rename_keeps_old_file(tmp_path, monkeypatch):
    path = tmp_path / "notes.txt"
    atomic_write_text(path, "old\n")

    def failing(src, dst):
        raise OSError("rename failed")

    monkeypatch.setattr(os, "replace", failing)
    with pytest.raises(OSError, match="rename failed"):
        atomic_write_text(path, "new\n")
    assert path.read_text() == "old\n"
    assert [p.name for p in tmp_path.iterdir()] == ["notes.txt"]


def test_a_full_disk_names_the_file_asked_for_not_the_temp(tmp_path):
    import errno

    path = tmp_path / "o.jsonl"

    def no_space(tmp):
        open(tmp, "w").write("half")
        raise OSError(errno.ENOSPC, "No space left on device", tmp)

    with pytest.raises(OSError) as err:
        atomic_write_with(path, no_space)
    assert err.value.filename == str(path) and err.value.errno == errno.ENOSPC
    assert list(tmp_path.iterdir()) == []


def test_the_next_write_removes_what_a_killed_writer_left(tmp_path):
    """SIGKILL/SIGTERM run no cleanup: a dead writer's temp goes on the next write of that file;
    a live writer's, and other files' temps, stay."""
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                          text=True, check=True).stdout.strip()
    path = tmp_path / "o.jsonl"
    stale = tmp_path / f".o.jsonl.{dead}.abc123.tmp"
    live = tmp_path / f".o.jsonl.{os.getppid()}.def456.tmp"
    other = tmp_path / f".p.jsonl.{dead}.abc123.tmp"
    for p in (stale, live, other):
        p.write_text("half")
    atomic_write_text(path, "new\n")
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([path.name, live.name, other.name])


def test_temp_name_carries_pid_and_mode_is_kept(tmp_path):
    path = tmp_path / "sub" / "notes.txt"
    seen = []
    atomic_write_with(path, lambda tmp: (seen.append(os.path.basename(tmp)), open(tmp, "w").write("x")))
    assert seen[0].startswith(f".notes.txt.{os.getpid()}.") and seen[0].endswith(".tmp")
    os.chmod(path, 0o640)
    atomic_write_text(path, "y\n")
    assert path.read_text() == "y\n" and (path.stat().st_mode & 0o777) == 0o640


@pytest.mark.parametrize("name, stem", [
    ("eval_segments.csv", "eval_segments"), ("clips.jsonl.gz", "clips"), ("clips.PQ", "clips"),
    ("a.b.parquet", "a.b"), ("notes.txt", "notes.txt"), ("clips.gz", "clips"),
])
def test_table_stem(name, stem):
    assert table_stem(name) == stem


def test_jsonl_lines_and_the_first_bad_one(tmp_path):
    path = tmp_path / "x.jsonl.gz"
    with open_text(path, "wt") as fh:
        fh.write('{"id": 1}\n\n[1, 2]\nnot json\n')
    assert [(n, obj) for n, _, obj in iter_jsonl(path)] == [(1, {"id": 1}), (3, None), (4, None)]
    assert first_bad_json_line(path) == f"{path}:3: not a JSON object: '[1, 2]'"
    good = tmp_path / "good.jsonl"
    good.write_text('{"id": 1}\n')
    assert first_bad_json_line(good) is None
    assert first_bad_json_line(tmp_path / "missing.jsonl") is None
    latin = tmp_path / "latin.jsonl"
    latin.write_bytes('{"tag": "caf\u00e9"}\n'.encode("latin-1"))
    assert first_bad_json_line(latin).startswith(f"{latin}: not UTF-8 text (bad byte at offset 12)")


def test_an_error_at_a_lines_end_is_named_by_its_column(tmp_path):
    path = tmp_path / "x.jsonl"
    # line 2 is 28 characters without its newline: column 29 is its end (not "2:1" or "3:1")
    path.write_text('{"id": "a"}\n{"id": "k", "tags": ["dog", \n{"id": "b"}\n', encoding="utf-8")
    assert first_bad_json_line(path).startswith(f"{path}:2:29: not a JSON object (Expecting value)")


def test_the_first_row_of_another_type_than_its_column_is_named(tmp_path):
    path = tmp_path / "x.jsonl"
    rows = ['{"id": "c%d", "duration": %s, "tags": ["dog"], "caption": null}' % (i, 1.5 if i % 2 else 2)
            for i in range(12)]
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    assert first_bad_json_line(path) is None  # ints and floats are all numbers; null is allowed anywhere
    rows[7] = rows[7].replace('"duration": 1.5', '"duration": "long"')
    rows[10] = rows[10].replace('["dog"]', '"dog"')
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    assert first_bad_json_line(path) == f'{path}:8: column \'duration\' expected a number, got "long"'
    rows[7] = rows[7].replace('"long"', "3")
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    assert first_bad_json_line(path) == f'{path}:11: column \'tags\' expected a list of strings, got "dog"'
    path.write_text('{"tags": ["a"]}\n{"tags": [1, 2]}\n', encoding="utf-8")  # a tie: the first kind is expected
    assert first_bad_json_line(path) == f"{path}:2: column 'tags' expected a list of strings, got a list holding a number ([1, 2])"
    # a column that must hold lists of strings: a nested list is wrong even when every row has one
    path.write_text('{"tags": [["a", "b"]]}\n{"tags": [["c"]]}\n', encoding="utf-8")
    assert first_bad_json_line(path) is None
    assert first_bad_json_line(path, lists_of_strings=["tags"]) == \
        f'{path}:1: column \'tags\' expected a list of strings, got a list of lists ([["a", "b"]])'
    path.write_text('{"tags": ["a"], "duration": 1}\n{"tags": ["b"], "duration": NaN}\n', encoding="utf-8")
    assert first_bad_json_line(path) == f"{path}:2: not JSON: NaN is not a JSON number (write null for a missing value)"


@pytest.mark.parametrize("broken", ["truncated", "plain", "bad_crc"])
def test_a_broken_gzip_is_one_error_naming_the_file(tmp_path, broken):
    data = "".join('{"id": "c%d", "tags": ["dog"]}\n' % i for i in range(500)).encode()
    packed = gzip.compress(data, mtime=0)
    path = tmp_path / "x.jsonl.gz"
    path.write_bytes({"truncated": packed[: len(packed) // 2], "plain": data,
                      "bad_crc": packed[:-8] + bytes(8)}[broken])
    with pytest.raises(CorruptFileError, match=rf"^{path}: truncated or corrupt gzip \("):
        read_bytes(path)
    with pytest.raises(CorruptFileError, match=rf"^{path}: truncated or corrupt gzip \("):
        with open_text(path) as fh:
            for _ in fh:
                pass
    assert first_bad_json_line(path).startswith(f"{path}: truncated or corrupt gzip (")


def test_file_plumbing_does_not_load_the_ontology_stack():
    """Every package imports this module; a plain-string vocabulary build must not pay for rdflib."""
    code = ("import sys, uts.ontology.files, uts.vocab.build; "
            "print(sorted(m for m in ('rdflib', 'networkx') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
