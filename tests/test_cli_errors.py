"""The one error table (uts/cli/errors.py): a user's mistake is one line and exit 1, a bug is
one line saying how to see the traceback, --debug / UTS_DEBUG=1 shows it, usage errors exit 2."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from uts.cli.errors import USER_ERRORS, is_user_error, message
from uts.cli.main import app
from uts.manifest import ManifestError


def test_the_table_names_classes_that_exist():
    import importlib

    for name in USER_ERRORS:
        module, _, cls = name.rpartition(".")
        assert isinstance(getattr(importlib.import_module(module), cls), type), name


# Exceptions the library raises only to catch them itself: they never reach a user.
CAUGHT_INSIDE = {
    "uts.vocab.serving.TransientError": "a failed request worth retrying; the client retries it",
    "uts.ontology.files.NotJsonNumber": "the line finder's own signal; it becomes a FILE:LINE message",
    "uts.ontology.io._NotCanonical": "the fast Turtle reader declines; rdflib reads the text instead",
    "uts.vocab.count.FastPathUnavailable": "vocab build's fast counter declines; the general query counts",
}


def test_every_error_class_of_the_library_is_in_the_table_or_caught_inside():
    """UpgradeError, TokenizerError, HFEncoderError and AudioError were missing, so their
    messages printed as 'unexpected ... run with --debug' bugs: a new error class must say which
    it is."""
    import importlib
    import inspect
    import pkgutil

    import uts

    missing = []
    for info in pkgutil.walk_packages(uts.__path__, "uts."):
        if info.name.startswith(("uts.cli", "uts.serve.app")):
            continue
        module = importlib.import_module(info.name)
        for _, cls in inspect.getmembers(module, inspect.isclass):
            name = f"{cls.__module__}.{cls.__qualname__}"
            if (cls.__module__ == info.name and issubclass(cls, Exception)
                    and USER_ERRORS.isdisjoint(f"{c.__module__}.{c.__qualname__}" for c in cls.__mro__)
                    and name not in CAUGHT_INSIDE):
                missing.append(name)
    assert not missing, f"add to USER_ERRORS (uts/cli/errors.py) or to CAUGHT_INSIDE: {missing}"


def test_user_errors_and_bugs_are_told_apart():
    assert is_user_error(ManifestError("m.jsonl: bad")) and message(ManifestError("x")) == "x"
    from uts.ontology.model import UnknownConceptError

    assert message(UnknownConceptError("no concept matches 'zzz'")) == "no concept matches 'zzz'"
    # a bare KeyError comes from a bug (a dict lookup gone wrong), not from the user
    assert not is_user_error(KeyError("labels"))
    assert message(KeyError("labels")).startswith("unexpected KeyError: labels (run with --debug")
    # the file system's refusals are the user's to fix, named by the file, not by errno
    assert message(OSError(28, "cannot write: No space left on device", "/d/o.jsonl")) == \
        "/d/o.jsonl: cannot write: No space left on device"
    assert not is_user_error(RuntimeError("boom"))
    assert message(RuntimeError("boom")).startswith("unexpected RuntimeError: boom (run with --debug")


def test_cli_one_line_exit_1_and_debug_shows_the_traceback(tmp_path, monkeypatch):
    monkeypatch.delenv("UTS_DEBUG", raising=False)
    runner = CliRunner()
    missing = tmp_path / "nope.ttl"
    res = runner.invoke(app, ["ontology", "lookup", "drum", "--ontology", str(missing)])
    assert res.exit_code == 1
    assert "error:" in res.output and "Traceback" not in res.output and len(res.output.strip().splitlines()) == 1
    res = runner.invoke(app, ["--debug", "ontology", "lookup", "drum", "--ontology", str(missing)])
    assert res.exit_code == 1 and isinstance(res.exception, FileNotFoundError)  # raised, not reported


def test_usage_errors_exit_2():
    assert CliRunner().invoke(app, ["ontology", "lookup", "--no-such-option"]).exit_code == 2


def test_debug_lasts_one_invocation(tmp_path, monkeypatch):
    import os

    monkeypatch.delenv("UTS_DEBUG", raising=False)
    runner = CliRunner()
    missing = str(tmp_path / "nope.ttl")
    runner.invoke(app, ["--debug", "ontology", "lookup", "drum", "--ontology", missing])
    assert "UTS_DEBUG" not in os.environ
    res = runner.invoke(app, ["ontology", "lookup", "drum", "--ontology", missing])
    assert res.exit_code == 1 and "error:" in res.output and res.exception is None or isinstance(res.exception, SystemExit)


def test_plot_suffixes_are_what_matplotlib_writes():
    from matplotlib.backend_bases import FigureCanvasBase

    from uts.cli.errors import PLOT_SUFFIXES

    assert {s.lstrip(".") for s in PLOT_SUFFIXES} <= set(FigureCanvasBase.get_supported_filetypes())


@pytest.mark.parametrize("argv", [["ontology", "stats"], ["pool", "m.jsonl", "-o", "p.jsonl"]])
def test_a_plot_path_that_names_no_image_format_is_a_usage_error_before_any_work(tmp_path, argv):
    bad = tmp_path / "plot.txt"
    res = CliRunner().invoke(app, [*argv, "--plot", str(bad)])
    assert res.exit_code == 2 and "image format" in res.output
    assert list(tmp_path.iterdir()) == []  # nothing written
