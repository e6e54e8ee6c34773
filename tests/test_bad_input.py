"""The error contract, table-driven (issue 14): every ``uts`` command that reads a file, fed the
same malformed inputs, answers exit 1 (2 for usage), ONE ``error:`` line on stderr naming the
file (and the line where there is one), no traceback, and nothing written at its output path.

Inputs are tiny and every one fails before a model is loaded, so the table stays fast."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from uts.cli.main import app

# name -> how to write it (None: not written at all); each a different way for a file to be wrong
GOOD_JSONL = '{"id": "a", "tags": ["dog"], "caption": "a dog barks", "labels": ["UTS:0000001"]}\n'
BAD_INPUTS = {
    "missing": None,
    "empty": b"",
    "directory": "DIR",
    "non_utf8": b"\xff\xfe\x00bad \xc3\x28 bytes\n" * 3,
    "truncated": GOOD_JSONL.encode() * 3 + b'{"id": "d", "tags": ["ca',
    "broken_line": (GOOD_JSONL * 10 + '{"id": "k", tags: [\n' + GOOD_JSONL * 3).encode(),
    "wrong_format": b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(200)),
    "missing_column": b'{"nothing": 1}\n{"nothing": 2}\n',
    "wrong_types": b'{"id": 5, "tags": 7, "caption": 3, "labels": 9}\n{"id": 6, "tags": 8, "caption": 1, "labels": 2}\n',
}

# command -> argv builder (bad file, output path). The output path must not exist afterwards.
COMMANDS = {
    "ontology validate": lambda f, o: ["ontology", "validate", f],
    "ontology show -O": lambda f, o: ["ontology", "show", "UTS:0000001", "-O", f],
    "ontology stats": lambda f, o: ["ontology", "stats", f, "--plot", o],
    "ontology diff": lambda f, o: ["ontology", "diff", f, f, "--migration", o],
    "ontology apply -O": lambda f, o: ["ontology", "apply", f, "-O", f],
    "ontology site -O": lambda f, o: ["ontology", "site", o, "-O", f],
    "map match": lambda f, o: ["map", "match", f, "-o", o],
    "map apply": lambda f, o: ["map", "apply", f, "-m", f, "-o", o],
    "map review": lambda f, o: ["map", "review", f, "--export", o, "--reviewer", "orcid:0000-0002-1825-0097"],
    "map evaluate": lambda f, o: ["map", "evaluate", f, f, "--plot", o],
    "map upgrade": lambda f, o: ["map", "upgrade", f, "--dry-run"],
    "vocab extract": lambda f, o: ["vocab", "extract", f, "-o", o],
    "vocab build": lambda f, o: ["vocab", "build", f, "-o", o],
    "vocab filter": lambda f, o: ["vocab", "filter", f, "--vocab", f, "-o", o],
    "vocab propose": lambda f, o: ["vocab", "propose", f, "-o", o],
    "pool": lambda f, o: ["pool", f, "-o", o],
    "shar export": lambda f, o: ["shar", "export", f, "--out", o],
    "train recipe": lambda f, o: ["train", f, "-o", o],
    "train manifest": lambda f, o: ["train", "--set", f"data.train={f}", "-o", o],
}

# (command, input) pairs where the input is not malformed for that command, with the reason.
NOT_BAD = {
    # a plain text label list: any UTF-8 line is a label
    ("map match", "missing_column"): "JSON text is a valid plain label",
    ("map match", "wrong_types"): "JSON text is a valid plain label",
    ("map match", "truncated"): "JSON text is a valid plain label",
    ("map match", "broken_line"): "JSON text is a valid plain label",
    ("train recipe", "empty"): "an empty recipe means the built-in defaults",
}


def _write(tmp_path, kind: str):
    path = tmp_path / f"in_{kind}.jsonl"
    spec = BAD_INPUTS[kind]
    if spec == "DIR":
        path.mkdir()
    elif spec is not None:
        path.write_bytes(spec)
    return path


def _assert_contract(res, bad, out, allow_usage=False):
    text = res.output  # CliRunner mixes stdout and stderr
    assert "Traceback" not in text, text
    assert res.exit_code in ((1, 2) if allow_usage else (1,)), (res.exit_code, text)
    errors = [line for line in text.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, text
    assert "(run with --debug" not in errors[0], errors[0]  # a bug's message, not a user error
    assert bad.name in errors[0], errors[0]
    assert not out.exists(), f"{out} was written"


@pytest.mark.parametrize("kind", sorted(BAD_INPUTS))
@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_every_file_reading_command_refuses_bad_input_in_one_line(command, kind, tmp_path, monkeypatch):
    if (command, kind) in NOT_BAD:
        pytest.skip(NOT_BAD[(command, kind)])
    monkeypatch.delenv("UTS_DEBUG", raising=False)
    monkeypatch.chdir(tmp_path)
    bad = _write(tmp_path, kind)
    out = tmp_path / "out" / "result.jsonl"
    argv = COMMANDS[command](str(bad), str(out))
    res = CliRunner().invoke(app, argv)
    _assert_contract(res, bad, out)


def test_a_broken_line_is_named_by_its_number(tmp_path):
    bad = _write(tmp_path, "broken_line")
    mapping = str(Path(__file__).parents[1] / "mapping" / "audioset.sssom.tsv")
    for argv in (["map", "apply", str(bad), "-m", mapping, "-o", str(tmp_path / "o.jsonl")],
                 ["vocab", "build", str(bad), "-o", str(tmp_path / "o")]):
        res = CliRunner().invoke(app, argv)
        assert res.exit_code == 1 and re.search(r"(:|line )11\b", res.output), res.output


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(junk=st.text(min_size=1, max_size=40).filter(lambda s: "\n" not in s and not s.strip().startswith("{")))
def test_any_junk_line_in_a_manifest_is_one_error(junk, tmp_path):
    bad = tmp_path / "m.jsonl"
    bad.write_text(GOOD_JSONL * 3 + junk + "\n" + GOOD_JSONL, encoding="utf-8")
    if not junk.strip():
        return  # a blank line is allowed in JSON Lines
    out = tmp_path / "o.jsonl"
    mapping = str(Path(__file__).parents[1] / "mapping" / "audioset.sssom.tsv")
    res = CliRunner().invoke(app, ["map", "apply", str(bad), "-m", mapping, "-o", str(out)])
    _assert_contract(res, bad, out)
