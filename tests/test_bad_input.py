"""The error contract, table-driven (issue 14): every ``uts`` command, for every file or folder it
reads, fed the same malformed inputs, answers exit 1 (2 for usage), ONE ``error:`` line on stderr
naming the file (and the line where there is one), no traceback, and nothing written at its
output path.

:data:`CASES` is keyed by (command, parameter). :func:`test_the_table_covers_every_file_parameter`
walks the typer app and fails when a command grows a path parameter that is neither in the table
nor listed in :data:`NOT_READ` (outputs, with the reason), so a new command cannot skip the table.

Inputs are tiny and every one fails before a model is trained, so the table stays fast."""

from __future__ import annotations

import gzip
import json
import re
import shutil
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from uts.cli.main import app

from _training_helpers import tiny_corpus, tiny_ontology, tiny_overrides, write_ontology

REPO = Path(__file__).resolve().parents[1]
SSSOM = str(REPO / "mapping" / "audioset.sssom.tsv")

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
    # good rows and one row deep in the file whose tags are a number (polars: "failed to determine
    # supertype"; the error must name line 12)
    "one_bad_type": "".join((GOOD_JSONL if i != 11 else GOOD_JSONL.replace('["dog"]', "7")).replace('"a"', f'"c{i}"')
                            for i in range(15)).encode(),
    # good rows and one whose label lists are nested (polars reads [["dog"]] as the label '["dog"]')
    "nested_labels": "".join((GOOD_JSONL if i != 4 else GOOD_JSONL.replace('["dog"]', '[["dog", "cat"]]')
                              .replace('["UTS:0000001"]', '[{"id": "UTS:0000001"}]')).replace('"a"', f'"c{i}"')
                             for i in range(8)).encode(),
    # good rows, line 7 repeating line 3's id (every later step keys clips by id)
    "repeated_id": "".join(GOOD_JSONL.replace('"a"', f'"c{i if i != 6 else 2}"') for i in range(8)).encode(),
    # written under a .jsonl.gz name (GZ_INPUTS): a gzip cut mid-stream, and a plain file
    "truncated_gz": gzip.compress("".join(GOOD_JSONL.replace('"a"', f'"c{i}"') for i in range(300)).encode(),
                                  mtime=0)[:400],
    "not_gzip": GOOD_JSONL.encode() * 3,
}
GZ_INPUTS = ("truncated_gz", "not_gzip")


@dataclass
class Env:
    """Good inputs for the parameters a case does not make bad."""

    root: Path
    onto: Path  # a small, valid ontology
    manifest: Path  # a clip manifest with real audio, labelled in ``onto``
    run: Path  # a run folder (config.json + model.safetensors) over ``onto``, never trained
    tags: Path  # tagged clips (what vocab build/filter/propose read)
    vocab: Path  # concepts_<size>.json built from ``tags`` over ``onto``

    def copy_run(self, tmp: Path) -> Path:
        return Path(shutil.copytree(self.run, tmp / "run"))

    def copy_onto(self, tmp: Path) -> Path:
        return Path(shutil.copy(self.onto, tmp / "good.ttl"))


@pytest.fixture(scope="module")
def env(tmp_path_factory) -> Env:
    from safetensors.torch import save_file

    from uts.ontology.export import hierarchy_edges
    from uts.training.config import load_config
    from uts.training.encoders import build_model

    root = tmp_path_factory.mktemp("good")
    onto = write_ontology(root)
    manifest = tiny_corpus(root, n=4)
    run = root / "run"
    run.mkdir()
    cfg = load_config(None, tiny_overrides(root, manifest, run, onto))
    labels = sorted(c.id for c in tiny_ontology().active())
    model = build_model(cfg, len(labels))
    save_file({k: v.contiguous() for k, v in model.weights().items()}, str(run / "model.safetensors"))
    edges = [list(e) for e in hierarchy_edges(tiny_ontology(), labels)]
    (run / "config.json").write_text(json.dumps({"config": cfg, "labels": labels, "hierarchy": edges}))
    tags = root / "tags.jsonl"
    tags.write_text("".join(json.dumps({"id": f"c{i}", "tags": ["dog", "rain", "piano"][: i % 3 + 1]}) + "\n"
                            for i in range(12)), encoding="utf-8")
    res = CliRunner().invoke(app, ["vocab", "build", str(tags), "-o", str(root / "vocab"), "--sizes", "3",
                                   "--unit", "concept", "-O", str(onto), "--no-plot"])
    assert res.exit_code == 0, res.output
    return Env(root, onto, manifest, run, tags, root / "vocab" / "concepts_3.json")


@dataclass(frozen=True)
class Case:
    """``argv(bad, out, env)``; ``at(tmp, env)`` is where the malformed file goes (default: a
    file of its own; for a folder parameter, the file inside the folder the command reads, and
    "missing" then means the folder is not there)."""

    argv: Callable[[str, str, Env], list[str]]
    at: Callable[[Path, Env], tuple[Path, Path]] | None = None  # -> (file to make bad, path to pass)
    copied: bool = False  # the folder is a good one copied: "missing" is the file, not the folder
    report: bool = False  # the command's answer is its validation report: ERROR lines, not one error:
    kinds: tuple[str, ...] = tuple(BAD_INPUTS)  # fewer only where a third-party reader gets the file


def inside(folder: str, name: str, copy: Callable[[Env, Path], Path] | None = None):
    """A folder parameter: the bad file is ``folder/name`` (in a copy of a good folder when ``copy``)."""
    def at(tmp: Path, env: Env) -> tuple[Path, Path]:
        base = copy(env, tmp) if copy else tmp / folder
        base.mkdir(parents=True, exist_ok=True)
        target = base / name
        if target.exists():
            target.unlink()
        return target, base
    return at


def _sssom_copy(o: str) -> str:
    """A mapping file of the test's own (``map review --decisions`` rewrites it in place)."""
    return str(shutil.copy(SSSOM, Path(o).parent.parent / "m.sssom.tsv"))


def _pick_table(o: str, picked: str = "UTS:0000062") -> str:
    """A review table (what ``map review --export`` writes, trimmed) whose line 2 picks ``picked``
    for a subject of the AudioSet mapping."""
    path = Path(o).parent.parent / "picks.tsv"
    path.write_text(f"subject_id\tdecision\tnew_object_id\nAudioSet:/m/02zsn\tpick\t{picked}\n", encoding="utf-8")
    return str(path)


def png(o: str) -> str:
    """A plot path beside the output (the contract: neither is written)."""
    return str(Path(o).with_suffix(".png"))


RUN = lambda env, tmp: env.copy_run(tmp)  # noqa: E731
O = lambda f, o, e: str(e.onto)  # noqa: E731,E741  (a good ontology where the case is about another file)

# (command, parameter) -> Case. The output path (o) must not exist afterwards.
CASES: dict[tuple[str, str], Case] = {
    # -- ontology: the working copy (-O) of every command that reads one, and its other files
    **{("ontology " + cmd, "ontology"): Case(lambda f, o, e, a=argv: ["ontology", *a, "-O", f])
       for cmd, argv in {
           "lookup": ["lookup", "dog"], "show": ["show", "UTS:0000001"], "tree": ["tree"],
           "add": ["add", "new thing", "--parent", "UTS:0000001"], "relabel": ["relabel", "UTS:0000001", "x"],
           "synonym": ["synonym", "add", "UTS:0000001", "x"], "define": ["define", "UTS:0000001", "x"],
           "move": ["move", "UTS:0000003", "--to", "UTS:0000001"],
           "add-parent": ["add-parent", "UTS:0000003", "UTS:0000001"],
           "remove-parent": ["remove-parent", "UTS:0000003", "UTS:0000002"],
           "link": ["link", "add", "UTS:0000003", "related", "UTS:0000001"],
           "merge": ["merge", "UTS:0000003", "UTS:0000004"], "split": ["split", "UTS:0000003", "--into", "a", "--into", "b"],
           "deprecate": ["deprecate", "UTS:0000003", "--reason", "x"], "release": ["release", "--dry-run"],
           "export": ["export", "table", "out/x.tsv"],
           "demo": ["demo", "--out", "out/demo"], "site": ["site", "out/site"],
       }.items()},
    ("ontology apply", "ontology"): Case(lambda f, o, e: ["ontology", "apply", f, "-O", f]),
    ("ontology diff", "ontology"): Case(lambda f, o, e: ["ontology", "diff", O(f, o, e), "--migration", o, "-O", f]),
    ("ontology upgrade", "ontology"): Case(lambda f, o, e: ["ontology", "upgrade", "dog", "--from", O(f, o, e), "-O", f]),
    ("ontology lookup", "file"): Case(lambda f, o, e: ["ontology", "lookup", "--file", f, "-O", O(f, o, e)]),
    ("ontology validate", "path"): Case(lambda f, o, e: ["ontology", "validate", f]),
    ("ontology validate", "releases"): Case(lambda f, o, e: ["ontology", "validate", O(f, o, e), "--releases", f],
                                            inside("rel", "uts-9.0.0.ttl"), report=True),
    ("ontology stats", "path"): Case(lambda f, o, e: ["ontology", "stats", f, "--plot", png(o)]),
    ("ontology diff", "old"): Case(lambda f, o, e: ["ontology", "diff", f, O(f, o, e), "--migration", o]),
    ("ontology diff", "new"): Case(lambda f, o, e: ["ontology", "diff", O(f, o, e), f, "--migration", o]),
    ("ontology diff", "releases"): Case(lambda f, o, e: ["ontology", "diff", "9.0.0", "--releases", f, "-O", O(f, o, e)],
                                        inside("rel", "uts-9.0.0.ttl")),
    ("ontology upgrade", "file"): Case(lambda f, o, e: ["ontology", "upgrade", "--from", O(f, o, e), "--file", f,
                                                        "-O", O(f, o, e)]),
    ("ontology upgrade", "releases"): Case(lambda f, o, e: ["ontology", "upgrade", "dog", "--from", "9.0.0",
                                                            "--releases", f, "-O", O(f, o, e)],
                                           inside("rel", "uts-9.0.0.ttl")),
    ("ontology apply", "edits"): Case(lambda f, o, e: ["ontology", "apply", f, "-O", O(f, o, e), "--dry-run"]),
    ("ontology release", "releases"): Case(lambda f, o, e: ["ontology", "release", "--dry-run", "-O", O(f, o, e),
                                                            "--releases", f], inside("rel", "uts-9.0.0.ttl")),
    ("ontology release", "changelog"): Case(lambda f, o, e: ["ontology", "release", "--dry-run", "-O", O(f, o, e),
                                                             "--changelog", f]),
    ("ontology site", "mappings"): Case(lambda f, o, e: ["ontology", "site", o, "-m", f, "-O", O(f, o, e)],
                                        inside("maps", "x.sssom.tsv")),
    # -- mapping
    ("map match", "source"): Case(lambda f, o, e: ["map", "match", f, "-o", o]),
    ("map match", "target"): Case(lambda f, o, e: ["map", "match", str(REPO / "mapping/gold/esc50.txt"),
                                                   "--target", f, "-o", o]),
    ("map match", "model"): Case(lambda f, o, e: ["map", "match", str(REPO / "mapping/gold/esc50.txt"),
                                                  "--model", f, "-o", o], inside("model", "config.json"),
                                  kinds=("missing", "directory", "broken_line")),  # sentence-transformers reads it
    ("map review", "mapping"): Case(lambda f, o, e: ["map", "review", f, "--export", o,
                                                     "--reviewer", "orcid:0000-0002-1825-0097"]),
    ("map review", "candidates"): Case(lambda f, o, e: ["map", "review", SSSOM, "--candidates", f, "--export", o,
                                                        "--reviewer", "orcid:0000-0002-1825-0097"]),
    ("map review", "decisions"): Case(lambda f, o, e: ["map", "review", _sssom_copy(o),
                                                       "--decisions", f, "--reviewer", "orcid:0000-0002-1825-0097"]),
    ("map review", "target"): Case(lambda f, o, e: ["map", "review", _sssom_copy(o), "--decisions", _pick_table(o),
                                                    "--target", f, "--reviewer", "orcid:0000-0002-1825-0097"]),
    ("map evaluate", "prediction"): Case(lambda f, o, e: ["map", "evaluate", f, str(REPO / "mapping/gold/esc50_audioset.tsv"),
                                                          "--plot", png(o)]),
    ("map evaluate", "gold"): Case(lambda f, o, e: ["map", "evaluate", SSSOM, f, "--plot", png(o)]),
    ("map evaluate", "candidates"): Case(lambda f, o, e: ["map", "evaluate", SSSOM, str(REPO / "mapping/gold/esc50_audioset.tsv"),
                                                          "--candidates", f, "--plot", png(o)]),
    ("map apply", "annotations"): Case(lambda f, o, e: ["map", "apply", f, "-m", SSSOM, "-o", o]),
    ("map apply", "mapping"): Case(lambda f, o, e: ["map", "apply", str(e.manifest), "-m", f, "-o", o]),
    ("map apply", "target"): Case(lambda f, o, e: ["map", "apply", str(e.manifest), "-m", SSSOM, "--target", f, "-o", o]),
    ("map upgrade", "mappings"): Case(lambda f, o, e: ["map", "upgrade", f, "--dry-run"]),
    ("map upgrade", "ontology"): Case(lambda f, o, e: ["map", "upgrade", SSSOM, "-O", f, "--dry-run"]),
    # -- vocabularies
    ("vocab extract", "input"): Case(lambda f, o, e: ["vocab", "extract", f, "-o", o, "-O", O(f, o, e), "--no-embed"]),
    ("vocab extract", "ontology"): Case(lambda f, o, e: ["vocab", "extract", str(e.manifest), "-o", o, "-O", f]),
    ("vocab build", "input"): Case(lambda f, o, e: ["vocab", "build", f, "-o", o]),
    ("vocab build", "ontology"): Case(lambda f, o, e: ["vocab", "build", str(e.tags), "-o", o, "-O", f]),
    ("vocab build", "alignment"): Case(lambda f, o, e: ["vocab", "build", str(e.tags), "-o", o, "--alignment", f]),
    ("vocab filter", "input"): Case(lambda f, o, e: ["vocab", "filter", f, "--vocab", f, "-o", o]),
    ("vocab filter", "vocab"): Case(lambda f, o, e: ["vocab", "filter", str(e.tags), "--vocab", f, "-o", o]),
    ("vocab filter", "ontology"): Case(lambda f, o, e: ["vocab", "filter", str(e.tags), "--vocab",
                                                        str(e.vocab), "-o", o, "-O", f]),
    ("vocab filter", "alignment"): Case(lambda f, o, e: ["vocab", "filter", str(e.tags), "--vocab",
                                                         str(e.vocab), "-o", o, "-O", O(f, o, e), "--alignment", f]),
    ("vocab propose", "input"): Case(lambda f, o, e: ["vocab", "propose", f, "-o", o, "-O", O(f, o, e)]),
    ("vocab propose", "ontology"): Case(lambda f, o, e: ["vocab", "propose", str(e.tags), "-o", o, "-O", f]),
    # -- pooling, corpus, training
    ("pool", "manifests"): Case(lambda f, o, e: ["pool", f, "-o", o]),
    ("shar export", "manifest"): Case(lambda f, o, e: ["shar", "export", f, "--out", o]),
    ("shar export", "ontology"): Case(lambda f, o, e: ["shar", "export", str(e.manifest), "--out", o,
                                                      "--ontology", f]),
    ("pool", "ontology"): Case(lambda f, o, e: ["pool", str(e.manifest), "-o", o, "--ontology", f]),
    ("synth", "ontology"): Case(lambda f, o, e: ["synth", "-o", str(Path(o).parent), "-n", "2", "--ontology", f]),
    ("train", "recipe"): Case(lambda f, o, e: ["train", f, "-o", o]),
    ("train", "set_"): Case(lambda f, o, e: ["train", "--set", f"data.train={f}", "-o", o]),
    ("train", "resume"): Case(lambda f, o, e: ["train", "--resume", f],
                              inside("run", "checkpoints/step_00000004.safetensors", RUN), copied=True),
    ("train", "resume/config"): Case(lambda f, o, e: ["train", "--resume", f], inside("run", "config.json", RUN), copied=True),
    ("eval", "run"): Case(lambda f, o, e: ["eval", f, str(e.manifest), "-o", o], inside("run", "model.safetensors", RUN), copied=True),
    ("eval", "run/config"): Case(lambda f, o, e: ["eval", f, str(e.manifest), "-o", o], inside("run", "config.json", RUN), copied=True),
    ("eval", "manifest"): Case(lambda f, o, e: ["eval", str(e.run), f, "-o", o]),
    ("eval", "probe_manifest"): Case(lambda f, o, e: ["eval", str(e.run), str(e.manifest), "--probe-train", f, "-o", o]),
    ("demo", "recipe"): Case(lambda f, o, e: ["demo", "--recipe", f, "-o", o]),
    ("serve", "ontology"): Case(lambda f, o, e: ["serve", "-O", f]),
    ("serve", "mappings"): Case(lambda f, o, e: ["serve", "-O", O(f, o, e), "-m", f], inside("maps", "x.sssom.tsv")),
}

# Parameters typed str that can name a file (a release version or a file; --set data.train=FILE).
STR_FILE_PARAMETERS = {("ontology diff", "old"), ("ontology diff", "new"), ("train", "set_")}

# Path parameters that are written, not read (or read only after being written), with why.
NOT_READ = {
    ("synth", "out"): "output folder", ("train", "out"): "run folder to write",
    ("eval", "out"): "output folder", ("demo", "out"): "output folder",
    ("pool", "output"): "output manifest", ("pool", "report"): "output", ("pool", "plot"): "output",
    ("ontology stats", "plot"): "output", ("ontology diff", "migration"): "output",
    ("ontology export", "out"): "output", ("ontology site", "out"): "output folder",
    ("ontology demo", "out"): "output folder", ("map match", "output"): "output (an existing one is "
    "read to keep its reviews: a bad one is the 'map review' mapping case)",
    ("map review", "export"): "output", ("map evaluate", "plot"): "output",
    ("map apply", "output"): "output", ("map apply", "report_path"): "output",
    ("vocab extract", "out"): "output (read to resume: the same reader as 'vocab filter' input)",
    ("vocab extract", "report"): "output", ("vocab build", "out"): "output folder", ("vocab filter", "out"): "output",
    ("vocab filter", "report"): "output", ("vocab propose", "out"): "output",
    ("shar export", "out"): "output folder (an earlier export there is refused unless --overwrite)",
}

# (case, input) pairs where the input is not malformed for that parameter, with the reason.
NOT_BAD = {
    # a plain text label list: any UTF-8 line is a label
    **{(("map match", p), k): "JSON text is a valid plain label list"
       for p in ("source", "target")
       for k in ("missing_column", "wrong_types", "truncated", "broken_line", "one_bad_type", "nested_labels",
                 "repeated_id")},
    **{(("ontology lookup", "file"), k): "any UTF-8 line is a tag to look up"
       for k in ("empty", "missing_column", "wrong_types", "truncated", "broken_line", "one_bad_type", "nested_labels",
                 "repeated_id")},
    **{(("ontology upgrade", "file"), k): "any UTF-8 line is a tag to upgrade"
       for k in ("empty", "missing_column", "wrong_types", "truncated", "broken_line", "one_bad_type", "nested_labels",
                 "repeated_id")},
    **{(case, "not_gzip"): "read as plain text whatever its name (any UTF-8 line is a tag / release notes)"
       for case in (("ontology lookup", "file"), ("ontology upgrade", "file"), ("ontology release", "changelog"))},
    **{(("vocab extract", "input"), k): "extract reads id and caption only: the bad tags are not its input"
       for k in ("one_bad_type", "nested_labels")},
    **{(("vocab " + cmd, "input"), "repeated_id"): "counts tag lists per line (the paper's df); ids are not read"
       for cmd in ("build", "propose")},
    (("train", "recipe"), "empty"): "an empty recipe means the built-in defaults",
    (("demo", "recipe"), "empty"): "an empty recipe means the built-in defaults",
    (("ontology release", "releases"), "missing"): "a first release creates the releases folder",
    (("ontology validate", "releases"), "missing"): "no releases folder: nothing released yet (the demo relies on it)",
    (("train", "resume"), "missing"): "a run killed before its first checkpoint starts from step 0",
    **{(("ontology release", "changelog"), k): "any UTF-8 text is Markdown release notes to extend"
       for k in ("missing", "empty", "missing_column", "wrong_types", "truncated", "broken_line", "one_bad_type",
                 "nested_labels", "repeated_id")},
}


def _names(t, prefix=()):
    for c in t.registered_commands:
        yield " ".join(prefix + (c.name or c.callback.__name__,)), c.callback
    for g in t.registered_groups:
        yield from _names(g.typer_instance, prefix + (g.name,))


def _file_parameters() -> set[tuple[str, str]]:
    """(command, parameter) for every parameter typed as a path, plus the vocabulary commands'
    ``--ontology`` (a path or 'none') and ``vocab build``'s INPUT (a str for its extra sizes)."""
    out = set()
    for name, callback in _names(app):
        for param, hint in typing.get_type_hints(callback).items():
            if "Path" in str(hint) or (name.startswith("vocab") and param in ("ontology", "input")):
                out.add((name, param))
    return out


def test_the_table_covers_every_file_parameter():
    found = _file_parameters()
    table = {(cmd, param.split("/")[0]) for cmd, param in CASES} | set(NOT_READ)
    assert not found - table, f"file parameters missing from the bad-input table: {sorted(found - table)}"
    gone = table - found - STR_FILE_PARAMETERS
    assert not gone, f"table rows for parameters that are gone: {sorted(gone)}"


def _write(path: Path, kind: str) -> None:
    spec = BAD_INPUTS[kind]
    path.parent.mkdir(parents=True, exist_ok=True)
    if spec == "DIR":
        path.mkdir()
    elif spec is not None:
        path.write_bytes(spec)


def _assert_contract(res, bad, out, allow_usage=False, report=False):
    text = res.output  # CliRunner mixes stdout and stderr
    assert "Traceback" not in text, text
    assert res.exit_code in ((1, 2) if allow_usage else (1,)), (res.exit_code, text)
    lines = text.splitlines()
    errors = [line for line in lines if line.startswith("error:")]
    if report and not errors:  # `uts ontology validate`: exit 1 and an ERROR line of its report names it
        errors = [line for line in lines if line.strip().startswith("ERROR") and bad.name in line][:1]
    assert len(errors) == 1, text
    assert "(run with --debug" not in errors[0], errors[0]  # a bug's message, not a user error
    assert bad.name in errors[0], errors[0]
    for written in (out, out.with_suffix(".png")):
        assert not written.exists(), f"{written} was written"


@pytest.fixture
def no_server(monkeypatch):
    """``uts serve`` must refuse bad input before it starts serving."""
    import uvicorn

    def started(*a, **k):
        raise AssertionError("uts serve started a server on bad input")
    monkeypatch.setattr(uvicorn, "run", started)


@pytest.mark.parametrize("kind", sorted(BAD_INPUTS))
@pytest.mark.parametrize("case", sorted(CASES), ids=" ".join)
def test_every_file_reading_command_refuses_bad_input_in_one_line(case, kind, env, tmp_path, monkeypatch, no_server):
    c = CASES[case]
    if (case, kind) in NOT_BAD or kind not in c.kinds:
        pytest.skip(NOT_BAD.get((case, kind), "the same third-party reader as the kinds tested"))
    monkeypatch.delenv("UTS_DEBUG", raising=False)
    monkeypatch.setenv("UTS_ONTOLOGY", str(env.onto))  # the small ontology where a command loads the default: fast
    monkeypatch.chdir(tmp_path)
    if kind in GZ_INPUTS and c.at:
        pytest.skip("the file inside the folder has a fixed name that is no .gz (its broken bytes are the other kinds)")
    name = f"in_{kind}.jsonl" + (".gz" if kind in GZ_INPUTS else "")
    bad, given = c.at(tmp_path, env) if c.at else (tmp_path / name,) * 2
    if kind == "missing" and c.at and not c.copied:
        shutil.rmtree(given)  # a folder parameter: the folder itself is not there
        bad = given
    _write(bad, kind)
    out = tmp_path / "out" / "result.jsonl"
    res = CliRunner().invoke(app, c.argv(str(given), str(out), env))
    _assert_contract(res, bad, out, report=c.report)


def test_a_broken_line_is_named_by_its_number(tmp_path):
    bad = tmp_path / "m.jsonl"
    _write(bad, "broken_line")
    for argv in (["map", "apply", str(bad), "-m", SSSOM, "-o", str(tmp_path / "o.jsonl")],
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
    res = CliRunner().invoke(app, ["map", "apply", str(bad), "-m", SSSOM, "-o", str(out)])
    _assert_contract(res, bad, out)


# -- line numbers ----------------------------------------------------------------------------
@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(before=st.integers(0, 40), after=st.integers(0, 5),
       junk=st.text(min_size=1, max_size=30).filter(lambda s: s.strip() and "\n" not in s and "\r" not in s))
def test_the_manifest_reader_names_the_line_of_any_junk(before, after, junk, tmp_path):
    """What train and eval read: a junk line anywhere is refused as FILE:LINE."""
    from uts.manifest import ManifestError, read_manifest

    try:
        if isinstance(json.loads(junk), dict):
            return  # a JSON object is a record, not junk
    except ValueError:
        pass
    good = '{"id": "c%d", "audio_path": "a.wav", "labels": ["UTS:0000001"]}\n'
    path = tmp_path / "m.jsonl"
    path.write_text("".join(good % i for i in range(before)) + junk + "\n"
                    + "".join(good % (100 + i) for i in range(after)), encoding="utf-8")
    with pytest.raises(ManifestError, match=rf"m\.jsonl:{before + 1}\b"):
        read_manifest(path)


def test_train_and_eval_name_line_11_of_a_manifest(env, tmp_path):
    bad = tmp_path / "m.jsonl"
    _write(bad, "broken_line")
    for argv in (["train", "--set", f"data.train={bad}", "-o", str(tmp_path / "run")],
                 ["eval", str(env.run), str(bad), "-o", str(tmp_path / "ev")]):
        res = CliRunner().invoke(app, argv)
        assert res.exit_code == 1 and f"{bad}:11:" in res.output, res.output
        assert not (tmp_path / "run").exists() and not (tmp_path / "ev").exists()


def test_one_wrongly_typed_row_is_named_by_its_line(env, tmp_path):
    """polars says "failed to determine supertype" or pastes a 5-line cast error; the error names
    the row. A tags file (line 12's tags a number) and a manifest (line 8's duration a word)."""
    tags = tmp_path / "tags.jsonl"
    _write(tags, "one_bad_type")
    rows = [json.loads(line) for _ in range(3) for line in env.manifest.read_text(encoding="utf-8").splitlines()]
    for i, row in enumerate(rows):
        row.update(id=f"c{i}", duration=1.0 if i != 7 else "long")
    manifest = env.manifest.with_name("one_bad_type.jsonl")  # beside the audio: relative paths resolve
    manifest.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    run = tmp_path / "run"
    out = tmp_path / "out" / "o.jsonl"
    for bad, line, argv in [
        (tags, f"{tags}:12: column 'tags' expected a list of strings, got 7",
         ["vocab", "build", str(tags), "-o", str(out)]),
        (tags, f"{tags}:12: column 'tags' expected a list of strings, got 7",
         ["map", "apply", str(tags), "-m", SSSOM, "--target", str(env.onto), "-o", str(out)]),
        (manifest, f'{manifest}:8: column \'duration\' expected a number, got "long"',
         ["map", "apply", str(manifest), "--tags-column", "labels", "-m", SSSOM, "-o", str(out)]),
        (manifest, f'{manifest}:8: column \'duration\' expected a number, got "long"',
         ["eval", str(env.run), str(manifest), "-o", str(out)]),
        (manifest, f'{manifest}:8: column \'duration\' expected a number, got "long"',
         ["train", *[a for kv in tiny_overrides(tmp_path, manifest, run, env.onto) for a in ("--set", kv)]]),
        (manifest, f'{manifest}:8: column \'duration\' expected a number, got "long"',
         ["shar", "export", str(manifest), "--out", str(out)]),
        (manifest, f'{manifest}:8: column \'duration\' expected a number, got "long"',
         ["pool", str(manifest), "-o", str(out)]),
    ]:
        res = CliRunner().invoke(app, argv)
        _assert_contract(res, bad, out)
        assert line in res.output, (argv[:2], res.output)
        assert not run.exists()


@pytest.mark.parametrize("number", ["NaN", "Infinity", "-Infinity", "1e999"])
def test_a_number_json_lacks_is_named_by_its_line(number, env, tmp_path):
    """numpy/pandas exporters write NaN; Python's json reads it (and 1e999 as inf), polars does
    not and says "TapeError at character 89": the readers name the line."""
    rows = [json.loads(line) for line in env.manifest.read_text(encoding="utf-8").splitlines()]
    manifest = env.manifest.with_name("nan.jsonl")
    manifest.write_text("".join(json.dumps(dict(r, tags=["dog"], duration=1.0 if i == 2 else 0.5)).replace("1.0", number)
                                + "\n" for i, r in enumerate(rows)), encoding="utf-8")
    out = tmp_path / "out" / "o.jsonl"
    for argv in (["pool", str(manifest), "-o", str(out)], ["eval", str(env.run), str(manifest), "-o", str(out)],
                 ["shar", "export", str(manifest), "--out", str(out)],
                 ["vocab", "build", str(manifest), "-o", str(out), "--no-plot"],
                 ["map", "apply", str(manifest), "-m", SSSOM, "-o", str(out)]):
        res = CliRunner().invoke(app, argv)
        _assert_contract(res, manifest, out)
        assert f"{manifest}:3: not JSON: {number} is " in res.output, (argv[:2], res.output)


@pytest.mark.parametrize("given, expected", [
    ({2: None}, ":4: no 'id' (null or missing; 1 such clip(s)); every clip needs its own id"),
    ({0: 1, 3: "1"}, ":5: id '1' already used on line 1 (1 repeat(s)); every clip needs its own id"),
])
def test_a_missing_or_repeated_clip_id_is_named_by_its_line(given, expected, env, tmp_path):
    """A null id was accepted (pool wrote "id": null) and `map apply` wrote repeated ids that
    train then refused naming the derived file, with no line. ``1`` and ``"1"`` are one id (ids
    are text)."""
    rows = [json.loads(line) for line in env.manifest.read_text(encoding="utf-8").splitlines()]
    manifest = env.manifest.with_name("ids.jsonl")  # beside the audio: relative paths resolve
    manifest.write_text("".join(json.dumps(dict(r, id=given.get(i, r["id"]), tags=["Dog"])) + "\n\n"[: 1 + (i == 0)]
                                for i, r in enumerate(rows)), encoding="utf-8")  # a blank line 2: line = row + 2
    out = tmp_path / "out" / "o.jsonl"
    run = tmp_path / "run"
    for argv in (["pool", str(manifest), "-o", str(out)], ["eval", str(env.run), str(manifest), "-o", str(out)],
                 ["shar", "export", str(manifest), "--out", str(out)],
                 ["train", *[a for kv in tiny_overrides(tmp_path, manifest, run, env.onto) for a in ("--set", kv)]],
                 ["map", "apply", str(manifest), "-m", SSSOM, "-o", str(out)]):
        res = CliRunner().invoke(app, argv)
        _assert_contract(res, manifest, out)
        assert f"error: {manifest}{expected}" in res.output, (argv[:2], res.output)
        assert not run.exists()


def test_a_nested_label_list_is_named_by_its_line(env, tmp_path):
    """polars reads ``[["a", "b"]]`` in a list-of-strings column as the one label '["a", "b"]':
    pool wrote it on, eval scored the clip unlabelled, vocab build ranked it as a tag. Each
    reader names the line instead, whether the inner values are lists or objects."""
    rows = [json.loads(line) for line in env.manifest.read_text(encoding="utf-8").splitlines()]
    out = tmp_path / "out" / "o.jsonl"
    run = tmp_path / "run"
    for inner, kind in ((["UTS:0000003", "UTS:0000004"], "a list of lists"), ({"id": "UTS:0000003"}, "a list of objects")):
        nested = [dict(r, labels=[inner] if i == 2 else r["labels"], tags=[inner] if i == 2 else ["dog"])
                  for i, r in enumerate(rows)]
        manifest = env.manifest.with_name("nested.jsonl")  # beside the audio: relative paths resolve
        manifest.write_text("".join(json.dumps(r) + "\n" for r in nested), encoding="utf-8")
        for argv in (["pool", str(manifest), "-o", str(out)], ["eval", str(env.run), str(manifest), "-o", str(out)],
                     ["shar", "export", str(manifest), "--out", str(out)],
                     ["train", *[a for kv in tiny_overrides(tmp_path, manifest, run, env.onto) for a in ("--set", kv)]],
                     ["vocab", "build", str(manifest), "-o", str(out), "--no-plot"],
                     ["map", "apply", str(manifest), "-m", SSSOM, "-o", str(out)]):
            res = CliRunner().invoke(app, argv)
            _assert_contract(res, manifest, out)
            assert re.search(rf"{re.escape(str(manifest))}:3: column '(labels|tags)' expected a list of strings, "
                             rf"got {kind} \(", res.output), (argv[:2], res.output)
            assert not run.exists()


@pytest.mark.parametrize("setting, expected", [
    ("data.batch_size=0", "data.batch_size must be >= 1 (got 0)"),
    ("data.sample_rate=0", "data.sample_rate must be >= 1 (got 0)"),
    ("features.n_fft=0", "features.n_fft must be >= 1 (got 0)"),
    ("features.hop_length=0", "features.hop_length must be >= 1 (got 0)"),
    ("features.n_mels=0", "features.n_mels must be >= 1 (got 0)"),
    ("data.clip_seconds=-1", "data.clip_seconds must be > 0 (got -1.0)"),
    ("optim.lr=-1", "optim.lr must be > 0 (got -1.0)"),
    ("data.num_workers=-2", "data.num_workers must be >= 0 (got -2)"),
    ("model.encoder_args={channels: [0]}", "model.encoder_args.channels must hold sizes >= 1 (got [0])"),
    ("run.threshold=1.5", "run.threshold must be in [0, 1] (got 1.5)"),
    ("features.f_max=9000", "features: need f_min < f_max <= data.sample_rate / 2 (got f_min 50, f_max 9000, "
                            "sample_rate 8000)"),
])
def test_a_bad_training_setting_is_one_line_naming_the_key(setting, expected, env, tmp_path):
    """Ordinary bad settings were 'unexpected ValueError ... (run with --debug)' from torch mid-run,
    and four left config.json, labels.json and metrics.csv behind: refused before anything is
    written, naming the key and its range (one table, uts.training.config.RANGES)."""
    run = tmp_path / "run"
    argv = ["train", *[a for kv in [*tiny_overrides(tmp_path, env.manifest, run, env.onto), setting] for a in ("--set", kv)]]
    res = CliRunner().invoke(app, argv)
    assert res.exit_code == 1 and res.output.splitlines() == [f"error: {expected}"], res.output
    assert not run.exists()


@pytest.mark.parametrize("argv, option", [
    (lambda e, o: ["eval", str(e.run), str(e.manifest), "--threshold", "1.5", "-o", o], "'--threshold'"),
    (lambda e, o: ["eval", str(e.run), str(e.manifest), "--threshold", "-0.5", "-o", o], "'--threshold'"),
    (lambda e, o: ["vocab", "build", str(e.tags), "--sizes", "0", "-o", o], "'--sizes'"),
    (lambda e, o: ["vocab", "build", str(e.tags), str(e.tags), "-o", o], "'INPUT'"),
    (lambda e, o: ["pool", str(e.manifest), "-T", "0", "-o", o], "'--temperature'"),
    (lambda e, o: ["synth", "-n", "0", "-o", o], "'--clips'"),
])
def test_a_bad_option_value_is_a_usage_error_naming_it(argv, option, env, tmp_path):
    """A threshold of 1.5 was accepted (meaningless F1); sizes, temperature and clip counts out of
    range were exit 1 without the option's name: exit 2 with click's message, nothing written."""
    out = tmp_path / "out"
    res = CliRunner().invoke(app, argv(env, str(out)))
    assert res.exit_code == 2 and "Invalid value for" in res.output and option in res.output, res.output
    assert not out.exists()


def test_a_review_decision_is_refused_at_its_row(tmp_path):
    """A pick of an id the target lacks was applied (rc=0) and broke every later `map apply` of
    the mapping, naming neither file nor row; a decision for a subject the mapping lacks named no
    file either. Both name the review table's line, and the mapping stays as it was."""
    out = str(tmp_path / "out" / "x")
    mapping = _sssom_copy(out)
    before = Path(mapping).read_bytes()
    rejected = tmp_path / "reject.tsv"
    rejected.write_text("subject_id\tdecision\nAudioSet:/m/02zsn\taccept\nAudioSet:/m/NOPE\treject\n", encoding="utf-8")
    for table, expected in ((_pick_table(out, "UTS:9999999"), ":2: AudioSet:/m/02zsn: picked UTS:9999999 is not in "
                                                              "the target UTS"),
                            (str(rejected), ":3: AudioSet:/m/NOPE: no mapping to reject")):
        res = CliRunner().invoke(app, ["map", "review", mapping, "--decisions", table, "-r", "orcid:0000-0002-1825-0097"])
        _assert_contract(res, Path(table), Path(out))
        assert f"error: {table}{expected}" in res.output, res.output
        assert Path(mapping).read_bytes() == before


def test_a_utf8_bom_is_dropped_from_text_inputs_and_named_in_json_lines(env, tmp_path):
    """What a Windows editor saves as "UTF-8 with BOM": a label list baked the BOM into the first
    subject id (l:%EF%BB%BFdog), Turtle was "expected directive or statement" at a line that
    looks fine, an MTG-Jamendo TSV lost its format ("no tags column"), lookup echoed it. Text
    inputs drop it (the shared opener); JSON Lines refuses it at 1:1, as polars does."""
    bom = b"\xef\xbb\xbf"
    labels = tmp_path / "l.txt"
    labels.write_bytes(bom + b"dog\ncat\n")
    res = CliRunner().invoke(app, ["map", "match", str(labels), "--target", str(env.onto), "-o", str(tmp_path / "m.sssom.tsv")])
    assert res.exit_code == 0, res.output
    text = (tmp_path / "m.sssom.tsv").read_text(encoding="utf-8")
    assert "l:dog\t" in text and "%EF%BB%BF" not in text and "\ufeff" not in text
    turtle = tmp_path / "bom.ttl"
    turtle.write_bytes(bom + env.onto.read_bytes())
    res = CliRunner().invoke(app, ["ontology", "tree", "-O", str(turtle)])
    assert res.exit_code == 0 and "music" in res.output, res.output
    res = CliRunner().invoke(app, ["ontology", "lookup", "--file", str(labels), "-O", str(env.onto)])
    assert res.exit_code == 0 and res.output.startswith("dog"), res.output
    mtg = tmp_path / "mtg.tsv"
    mtg.write_bytes(bom + b"TRACK_ID\tARTIST_ID\tALBUM_ID\tPATH\tDURATION\tTAGS\n"
                          b"track_1\tartist_1\talbum_1\t00/1.mp3\t212.0\tgenre---rock\tmood/theme---happy\n")
    res = CliRunner().invoke(app, ["map", "apply", str(mtg), "-m", SSSOM, "-o", str(tmp_path / "mtg.jsonl")])
    assert res.exit_code == 0 and "1 clips written" in res.output, res.output
    decisions, mapping = tmp_path / "todo.tsv", _sssom_copy(str(tmp_path / "out" / "x"))
    decisions.write_bytes(bom + b"subject_id\tdecision\nAudioSet:/m/02zsn\taccept\n")  # as a spreadsheet saves it
    res = CliRunner().invoke(app, ["map", "review", mapping, "--decisions", str(decisions), "-r", "orcid:0000-0002-1825-0097"])
    assert res.exit_code == 0 and "1 decisions applied" in res.output, res.output
    manifest = tmp_path / "bom.jsonl"
    manifest.write_bytes(bom + GOOD_JSONL.encode() * 2)
    out = tmp_path / "o.jsonl"
    res = CliRunner().invoke(app, ["map", "apply", str(manifest), "-m", SSSOM, "-o", str(out)])
    _assert_contract(res, manifest, out)
    assert f"{manifest}:1:1: " in res.output and "BOM" in res.output, res.output


def test_a_refused_edit_names_the_edit_file_and_its_line(env, tmp_path):
    """'operation 3 of 4 (add) refused' named neither the edit file nor where in it (op 3,000 of
    a long YAML file); a YAML syntax error was 5-8 lines quoting the file. Both are one line with
    the file and line now, and the ontology is untouched."""
    onto = env.copy_onto(tmp_path)
    before = onto.read_bytes()
    edits = tmp_path / "edits.yaml"
    edits.write_text("# reviewed edits\n- {op: add, label: a1, parents: [music]}\n- op: add\n  label: a2\n"
                     "  parents: [music]\n\n- {op: add, label: a3, parents: [no such parent]}\n"
                     "- {op: add, label: a4, parents: [music]}\n", encoding="utf-8")
    as_json = tmp_path / "edits.json"
    as_json.write_text('[\n{"op": "add", "label": "b1", "parents": ["music"]},\n'
                       '{"op": "add", "label": "b2", "colour": "red"}\n]\n', encoding="utf-8")
    broken = tmp_path / "broken.yaml"
    broken.write_text("- {op: add, label: c1, parents: [music]}\n- {op: add, label: c2\n- {op: add, label: c3}\n",
                      encoding="utf-8")
    for bad, expected in ((edits, ":7: operation 3 of 4 (add) refused: parent: no concept matches 'no such parent'"),
                          (as_json, ":3: operation 2 of 2 (add) refused: add: got an unexpected keyword argument"),
                          (broken, ":3:3: not YAML (expected ',' or '}', but got '{'; while parsing a flow mapping "
                                   "at line 2)")):
        res = CliRunner().invoke(app, ["ontology", "apply", str(bad), "-O", str(onto)])
        _assert_contract(res, bad, tmp_path / "out" / "none")
        assert f"{bad}{expected}" in res.output, res.output
        assert onto.read_bytes() == before


def test_tree_and_stats_refuse_a_cyclic_hierarchy_naming_the_cycle(tmp_path):
    """music -> instrument -> piano -> music: no root reaches the branch, so `tree` showed half
    the taxonomy and `stats` counted without it, both exit 0 and silent."""
    from uts.ontology import load, save

    onto = load(write_ontology(tmp_path))
    onto.concepts["UTS:0000001"].parents.append("UTS:0000003")
    onto.concepts["UTS:0000001"].root = False
    cyclic = tmp_path / "cyclic.ttl"
    save(onto, cyclic)
    out = tmp_path / "out" / "stats.png"
    for argv in (["ontology", "tree", "-O", str(cyclic)], ["ontology", "stats", str(cyclic), "--plot", str(out)]):
        res = CliRunner().invoke(app, argv)
        _assert_contract(res, cyclic, out)
        assert "subClassOf cycle through UTS:0000001 (music), UTS:0000002 (" in res.output, res.output


@pytest.mark.parametrize("kind", GZ_INPUTS)
def test_a_broken_gzip_says_so(kind, env, tmp_path):
    bad = tmp_path / "clips.jsonl.gz"
    _write(bad, kind)
    out = tmp_path / "out" / "o.jsonl"
    for argv in (["map", "apply", str(bad), "-m", SSSOM, "-o", str(out)], ["vocab", "build", str(bad), "-o", str(out)],
                 ["vocab", "extract", str(bad), "-o", str(out), "-O", str(env.onto), "--no-embed"],
                 ["eval", str(env.run), str(bad), "-o", str(out)], ["pool", str(bad), "-o", str(out)]):
        res = CliRunner().invoke(app, argv)
        _assert_contract(res, bad, out)
        assert f"error: {bad}: truncated or corrupt gzip (" in res.output, (argv[:2], res.output)


def test_map_apply_names_a_bad_line_deep_in_a_large_file(tmp_path):
    """polars reads the file in chunks; the line is still found (line 50,000 of 100,000)."""
    path = tmp_path / "big.jsonl"
    lines = ['{"id": "c%d", "tags": ["Dog", "Bark"]}' % i for i in range(100_000)]
    lines[49_999] = '{"id": "k", tags: ["Dog"]}'
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    out = tmp_path / "o.jsonl"
    res = CliRunner().invoke(app, ["map", "apply", str(path), "-m", SSSOM, "-o", str(out)])
    _assert_contract(res, path, out)
    assert f"{path}:50000:" in res.output, res.output


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(cut=st.floats(0.02, 0.98))
def test_a_truncated_turtle_file_is_refused_with_its_line_or_caught_as_lost_ids(cut, tmp_path):
    """Cut anywhere: a parse error names the file and the line; a cut at a statement boundary
    parses, and validation against the release it came from reports the lost concepts."""
    import hashlib

    from uts.ontology import load
    from uts.ontology.io import OntologyFormatError
    from uts.ontology.validate import validate_path

    full = write_ontology(tmp_path).read_bytes()
    rel = tmp_path / "releases"
    rel.mkdir(exist_ok=True)
    (rel / "uts-1.0.0.ttl").write_bytes(full)
    (rel / "uts-1.0.0.ttl.sha256").write_text(f"{hashlib.sha256(full).hexdigest()}  uts-1.0.0.ttl\n")
    cut_file = tmp_path / "cut.ttl"
    cut_file.write_bytes(full[: int(len(full) * cut)])
    try:
        onto = load(cut_file)
    except OntologyFormatError as exc:
        assert str(cut_file) in str(exc) and re.search(r"line \d+", str(exc)), exc
        return
    report = validate_path(cut_file, rel)
    assert len(onto.concepts) < len(tiny_ontology().concepts)
    assert any(i.code == "missing_concept" for i in report.errors), report


# -- no silent drops -------------------------------------------------------------------------
def test_skipped_counts_reasons_and_refuses_under_strict():
    from uts.inputs import Skipped, StrictError

    s = Skipped("clips", of=10)
    s.add("no caption", "c1")
    s.add("no caption", "c2", n=2)
    assert s.total == 3 and s.summary() == "skipped 3 of 10 clips (no caption: 3, e.g. c1, c2)"
    assert s.to_dict()["reasons"] == {"no caption": 3}
    s.check(False, "f")
    with pytest.raises(StrictError, match="f: skipped 3 of 10"):
        s.check(True, "f")
    Skipped().check(True, "f")  # nothing skipped: nothing to refuse


def test_vocab_extract_counts_clips_without_a_caption(env, tmp_path):
    captions = tmp_path / "c.jsonl"
    captions.write_text('{"id": "a", "caption": "a dog barks"}\n{"id": "b", "caption": null}\n'
                        '{"id": "c", "caption": "  "}\n{"id": "d"}\n', encoding="utf-8")
    out, rep = tmp_path / "t.jsonl", tmp_path / "r.json"
    base = ["vocab", "extract", str(captions), "-O", str(env.onto), "--no-embed"]
    res = CliRunner().invoke(app, [*base, "-o", str(out), "--report", str(rep)])
    assert res.exit_code == 0, res.output
    assert "skipped 3 of 4 clips (no caption: 3, e.g. b, c)" in res.output
    assert json.loads(rep.read_text())["left_out"]["reasons"] == {"no caption": 3}
    strict_out = tmp_path / "s.jsonl"
    res = CliRunner().invoke(app, [*base, "-o", str(strict_out), "--strict"])
    _assert_contract(res, captions, strict_out)


def test_map_apply_counts_lines_that_are_no_clip(tmp_path):
    seg = tmp_path / "segments.csv"
    seg.write_text('# AudioSet segments\n# YTID, start_seconds, end_seconds, positive_labels\n'
                   'aaa, 0.000, 10.000, "/m/09x0r"\n\nnot a segment line\n'
                   'bbb, 30.000, 40.000, "/m/09x0r,/m/05zppz"\n', encoding="utf-8")
    out, rep = tmp_path / "o.jsonl", tmp_path / "r.json"
    argv = ["map", "apply", str(seg), "--format", "audioset", "-m", SSSOM]
    res = CliRunner().invoke(app, [*argv, "-o", str(out), "--report", str(rep)])
    assert res.exit_code == 0, res.output
    assert f"skipped 1 of 3 lines (not a clip line: 1, e.g. {seg}:5 'not a segment line')" in res.output
    assert json.loads(rep.read_text())["skipped_input"]["skipped"] == 1
    strict_out = tmp_path / "s.jsonl"
    res = CliRunner().invoke(app, [*argv, "-o", str(strict_out), "--strict"])
    _assert_contract(res, seg, strict_out)


def test_train_strict_refuses_a_manifest_with_entries_it_would_skip(env, tmp_path):
    lines = env.manifest.read_text(encoding="utf-8").splitlines()
    broken = json.loads(lines[0])
    broken["audio_path"] = str(tmp_path / "gone.wav")
    manifest = env.manifest.with_name("one_missing.jsonl")  # beside the audio: relative paths resolve
    manifest.write_text("\n".join([json.dumps(broken), *lines[1:]]) + "\n", encoding="utf-8")
    run = tmp_path / "run"
    res = CliRunner().invoke(app, ["train", "--strict", *[a for kv in tiny_overrides(tmp_path, manifest, run, env.onto)
                                                           for a in ("--set", kv)]])
    _assert_contract(res, manifest, run)
    assert "missing_file: 1" in res.output, res.output


@pytest.mark.parametrize("content, expected", [
    (b"id,tags\na,Dog\nb,Dog,Bark,extra\nc,Dog\n", ":3: 4 fields where the header has 2"),
    ("id,tags\na,Dog\nb,Caf\u00e9 music\n".encode("cp1252"), ":3: not UTF-8 text (byte 0xe9 at offset 19)"),
    (b"id,tags\n", ": no clips to map (no rows after the header)"),
])
def test_map_apply_names_the_line_of_a_broken_csv_and_refuses_an_empty_one(content, expected, tmp_path):
    """polars said "found more fields than defined in 'Schema'" / "invalid utf-8 sequence" with no
    line (and left the output's folder behind); a header-only table wrote an empty manifest."""
    table = tmp_path / "clips.csv"
    table.write_bytes(content)
    out = tmp_path / "out" / "o.jsonl"
    res = CliRunner().invoke(app, ["map", "apply", str(table), "-m", SSSOM, "-o", str(out)])
    _assert_contract(res, table, out)
    assert f"error: {table}{expected}" in res.output, res.output
    assert not out.parent.exists()


def test_map_apply_counts_junk_in_a_plain_segment_csv(tmp_path):
    """The plain-CSV path (polars' parser) once turned a junk line into a clip with no id."""
    seg = tmp_path / "plain.csv"
    seg.write_text('YTID,start_seconds,end_seconds,positive_labels\naaa,0.000,10.000,"/m/09x0r"\n\n'
                   'junk here\nbbb,1.000,x,"/m/09x0r"\nccc,30.000,40.000,"/m/05zppz"\n', encoding="utf-8")
    out, rep = tmp_path / "o.jsonl", tmp_path / "r.json"
    res = CliRunner().invoke(app, ["map", "apply", str(seg), "-m", SSSOM, "-o", str(out), "--report", str(rep)])
    assert res.exit_code == 0, res.output
    assert [json.loads(x)["id"] for x in out.read_text().splitlines()] == ["aaa_0.000", "ccc_30.000"]
    skipped = json.loads(rep.read_text())["skipped_input"]
    assert skipped["skipped"] == 2 and skipped["examples"]["not a clip line"][0] == f"{seg}:4 'junk here'"


def test_an_output_that_is_an_input_is_refused_and_the_input_kept(env, tmp_path):
    """`map apply -o IN` and `pool -o IN` once replaced the file they read (exit 0); `--report` onto
    the mapping replaced the curated SSSOM; `ontology export owl` onto the working copy wrote
    RDF/XML over its Turtle."""
    tags = Path(shutil.copy(env.tags, tmp_path / "tags.jsonl"))
    manifest = Path(shutil.copy(env.manifest, env.manifest.with_name("clash.jsonl")))  # beside its audio
    sssom = Path(shutil.copy(SSSOM, tmp_path / "m.sssom.tsv"))
    onto = env.copy_onto(tmp_path)
    out = tmp_path / "o.jsonl"
    for victim, argv in [
        (tags, ["map", "apply", str(tags), "-m", str(sssom), "-o", str(tags)]),
        (sssom, ["map", "apply", str(tags), "-m", str(sssom), "-o", str(out), "--report", str(sssom)]),
        (manifest, ["pool", str(manifest), "-o", str(manifest)]),
        (onto, ["ontology", "export", "owl", str(onto), "-O", str(onto)]),
        (tags, ["vocab", "filter", str(tags), "--vocab", str(env.vocab), "-o", str(tags), "-O", str(env.onto)]),
        (tags, ["vocab", "extract", str(tags), "-o", str(out), "--report", str(tags), "--no-embed",
                "-O", str(env.onto)]),
        # a second probe: the review table over the mapping (632 rows gone), proposals over the clips
        (sssom, ["map", "review", str(sssom), "--export", str(sssom)]),
        (tags, ["vocab", "propose", str(tags), "-o", str(tags), "-O", str(env.onto)]),
    ]:
        before = victim.read_bytes()
        res = CliRunner().invoke(app, argv)
        _assert_contract(res, victim, out)
        assert "would destroy" in res.output, (argv[:2], res.output)
        assert victim.read_bytes() == before, argv[:2]


def test_option_values_out_of_range_are_usage_errors(tmp_path):
    """`serve --port 99999` was a 33-line traceback; `demo --clips 0` silently ran 320 clips."""
    res = CliRunner().invoke(app, ["serve", "--port", "99999"])
    assert res.exit_code == 2 and "Traceback" not in res.output and "--port" in res.output, res.output
    res = CliRunner().invoke(app, ["demo", "--clips", "0", "-o", str(tmp_path / "d")])
    assert res.exit_code == 1 and "error: --clips must be at least 16" in res.output, res.output
    assert not (tmp_path / "d").exists()
