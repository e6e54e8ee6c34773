"""`uts demo` end to end at toy size (the real demo is the same code with the demo recipe)."""

import json

import pytest
from rich.console import Console
from typer.testing import CliRunner

from _training_helpers import tiny_demo_recipe, tiny_ontology
from uts.cli.main import app
from uts.training.demo import DemoError, run_demo


def test_demo_trains_both_objectives_and_writes_a_comparison(tmp_path):
    onto = tiny_ontology()
    out = tmp_path / "demo"
    report = run_demo(out, clips=16, recipe=tiny_demo_recipe(tmp_path), onto=onto, console=Console(quiet=True))
    assert report == out / "report.md"
    text = report.read_text()
    assert "| metric | flat | hier |" in text and "parent mAP" in text and "(per_level.png)" in text
    assert (out / "per_level.png").exists() and (out / "curves.png").exists()
    summary = json.loads((out / "summary.json").read_text())
    assert summary["mapping"]["train"]["unmapped"] == 0 and summary["mapping"]["train"]["changed"] == 0
    res = summary["results"]
    assert res["hier"]["violation_rate"] == 0.0  # consistent by construction
    assert res["flat"]["objective"] == "flat" and res["hier"]["objective"] == "hier"
    for name in ("flat", "hier"):
        assert (out / name / "model.safetensors").exists() and (out / name / "eval" / "eval.json").exists()
    # running again replaces the earlier demo (make demo twice works) ...
    (out / "flat" / "stale.txt").write_text("from an earlier run")
    run_demo(out, clips=16, recipe=tiny_demo_recipe(tmp_path), onto=onto, console=Console(quiet=True))
    assert not (out / "flat" / "stale.txt").exists() and (out / "report.md").exists()
    # ... but a folder with other content is never clobbered
    other = tmp_path / "mine"
    other.mkdir()
    (other / "thesis.tex").write_text("precious")
    with pytest.raises(DemoError, match="not written by uts demo"):
        run_demo(other, clips=16, recipe=tiny_demo_recipe(tmp_path), onto=onto, console=Console(quiet=True))
    assert (other / "thesis.tex").read_text() == "precious" and len(list(other.iterdir())) == 1


def test_demo_cli_rejects_bad_options(tmp_path):
    res = CliRunner().invoke(app, ["demo", "--out", str(tmp_path / "d"), "--clips", "3"])
    assert res.exit_code == 1 and "at least 16" in res.output
    assert not (tmp_path / "d").exists()
