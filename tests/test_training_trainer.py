"""Recipes and overrides, a full (tiny) training run, and clear failures."""

import json

import pytest
import yaml
from safetensors import safe_open
from typer.testing import CliRunner

from _training_helpers import tiny_corpus, tiny_overrides, write_ontology
from uts.cli.main import app
from uts.training.config import DEFAULTS, ConfigError, load_config, parse_override
from uts.training.trainer import TrainError, train


def test_overrides_parse_as_yaml_and_nest():
    assert parse_override("optim.lr=3e-4") == {"optim": {"lr": 3e-4}}
    assert parse_override("model.encoder_args={channels: [8, 16]}") == {"model": {"encoder_args": {"channels": [8, 16]}}}
    assert parse_override("data.max_seconds=null") == {"data": {"max_seconds": None}}
    with pytest.raises(ConfigError, match="key=value"):
        parse_override("optim.lr")


def test_recipe_then_overrides_and_relative_paths(tmp_path):
    recipe = tmp_path / "r.yaml"
    recipe.write_text(yaml.safe_dump({"data": {"train": "corpus/m.jsonl", "batch_size": 8},
                                      "optim": {"lr": 0.01}}))
    cfg = load_config(recipe, ["optim.lr=0.002", "objective.name=flat"])
    assert cfg["data"]["train"] == str((tmp_path / "corpus/m.jsonl").resolve())
    assert cfg["data"]["batch_size"] == 8 and cfg["optim"]["lr"] == 0.002
    assert cfg["objective"]["name"] == "flat" and cfg["model"] == DEFAULTS["model"]


@pytest.mark.parametrize("override,message", [
    ("optim.lrr=1", "unknown config key 'optim.lrr'"),
    ("optim.lr=fast", "optim.lr: expected float"),
    ("run.amp=3", "run.amp: expected bool"),
    ("model.encoder=resnet", "model.encoder 'resnet' unknown"),
    ("objective.ancestors=maybe", "objective.ancestors must be one of"),
    ("data.max_seconds=10", "exactly one of data.batch_size and data.max_seconds"),
    ("optim=1", "expected a section"),
])
def test_bad_configs_are_rejected(override, message):
    with pytest.raises(ConfigError, match=message):
        load_config(None, [override])


def test_shipped_recipes_load(repo):
    recipes = sorted((repo / "training").glob("*.yaml"))
    assert {"demo.yaml", "base.yaml"} <= {r.name for r in recipes}
    for recipe in recipes:
        cfg = load_config(recipe)
        assert cfg["model"]["encoder"] in ("cnn6", "cnn10", "transformer")


def test_tiny_run_writes_everything(tmp_path):
    onto = write_ontology(tmp_path)
    manifest = tiny_corpus(tmp_path, n=16)
    cfg = load_config(None, tiny_overrides(tmp_path, manifest, tmp_path / "run", onto, **{
        "data.val": str(manifest), "run.tensorboard": True, "optim.epochs": 2}))
    run = train(cfg)
    saved = json.loads((run / "config.json").read_text())
    assert saved["config"]["objective"]["name"] == "hier" and saved["world_size"] == 1
    # the label space holds the annotated leaves and their ancestors, parents before children
    assert "UTS:0000001" in saved["labels"] or "UTS:0000020" in saved["labels"]
    with safe_open(str(run / "model.safetensors"), "pt") as f:
        keys = list(f.keys())
        meta = f.metadata()
    assert "frontend.mel_fb" in keys and json.loads(meta["config"])["features"]["n_mels"] == 16
    rows = (run / "metrics.csv").read_text().splitlines()
    assert rows[0].startswith("step,epoch,split,loss") and any(",val," in r for r in rows)
    assert list((run / "tensorboard").glob("events.*"))
    assert (run / "curves.png").stat().st_size > 1000
    assert json.loads((run / "data_report.json").read_text())["skipped"] == 0


def test_bad_clips_are_skipped_and_counted(tmp_path, capsys):
    onto = write_ontology(tmp_path)
    manifest = tiny_corpus(tmp_path, n=8)
    lines = manifest.read_text().splitlines()
    broken = json.loads(lines[0])
    broken.update(id="gone", audio_path="audio/nowhere.wav")
    manifest.write_text("\n".join(lines + [json.dumps(broken)]) + "\n")
    run = train(load_config(None, tiny_overrides(tmp_path, manifest, tmp_path / "run", onto, **{"optim.epochs": 1})))
    report = json.loads((run / "data_report.json").read_text())
    assert report["skipped"] == 1 and report["counts"] == {"missing_file": 1}
    # labels that are no UTS id alone are said on the console too, not only in data_report.json
    rows = [json.loads(line) for line in lines]
    rows[0]["labels"] = list(rows[0]["labels"]) + ["not-a-concept"]
    manifest.write_text("".join(json.dumps(r) + "\n" for r in rows))
    capsys.readouterr()
    train(load_config(None, tiny_overrides(tmp_path, manifest, tmp_path / "run2", onto, **{"optim.epochs": 1})))
    assert "data: skipped 0 of 8 entries; 1 tags (1 distinct) resolved to no UTS concept" in capsys.readouterr().out


def test_training_failures_are_clear(tmp_path):
    onto = write_ontology(tmp_path)
    with pytest.raises(TrainError, match="no training manifest"):
        train(load_config(None, [f"labels.ontology={onto}"]))
    with pytest.raises(TrainError, match="manifest not found"):
        train(load_config(None, [f"data.train={tmp_path}/nope.jsonl", f"labels.ontology={onto}"]))
    empty = tmp_path / "empty.jsonl"
    empty.write_text(json.dumps({"id": "x", "audio_path": "missing.wav", "labels": ["UTS:0000003"]}) + "\n")
    with pytest.raises(TrainError, match="no usable clips"):
        train(load_config(None, [f"data.train={empty}", f"labels.ontology={onto}"]))
    assert not (tmp_path / "runs").exists()
    # labels written as text, not UTS ids: said so (it was "the training manifest has no labels")
    manifest = tiny_corpus(tmp_path, n=4)
    rows = [dict(json.loads(line), labels=["piano", "dog"]) for line in manifest.read_text().splitlines()]
    rows = [{k: v for k, v in r.items() if k != "labels_complete"} for r in rows]
    manifest.write_text("".join(json.dumps(r) + "\n" for r in rows))
    with pytest.raises(TrainError, match=rf"{manifest}: no label is a UTS concept id \('(piano|dog)'.*uts map apply"):
        train(load_config(None, tiny_overrides(tmp_path, manifest, tmp_path / "run", onto)))


def test_cli_train_and_eval(tmp_path):
    onto = write_ontology(tmp_path)
    manifest = tiny_corpus(tmp_path, n=12)
    args = ["train"] + [a for o in tiny_overrides(tmp_path, manifest, tmp_path / "run", onto, **{"optim.epochs": 1})
                        for a in ("--set", o)]
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 0, res.output
    assert "run finished" in res.output
    res = CliRunner().invoke(app, ["eval", str(tmp_path / "run"), str(manifest), "--out", str(tmp_path / "ev")])
    assert res.exit_code == 0, res.output
    assert "macro_map=" in res.output and (tmp_path / "ev" / "report.md").exists()
    bad = CliRunner().invoke(app, ["train", "--set", "optim.lrr=1"])
    assert bad.exit_code == 1 and "unknown config key" in bad.output and "Traceback" not in bad.output
    bad = CliRunner().invoke(app, ["eval", str(tmp_path), str(manifest)])
    assert bad.exit_code == 1 and "not a training run" in bad.output


def test_a_folder_holding_a_run_is_refused_unless_overwrite(tmp_path):
    """Training into a finished run's folder replaced its model and kept its later checkpoints,
    so --resume brought back the old weights under the new config."""
    onto = write_ontology(tmp_path)
    manifest = tiny_corpus(tmp_path, n=8)
    run = tmp_path / "run"

    def argv(epochs, *extra):
        return ["train", *extra] + [a for o in tiny_overrides(tmp_path, manifest, run, onto, **{"optim.epochs": epochs})
                                    for a in ("--set", o)]
    assert CliRunner().invoke(app, argv(4)).exit_code == 0
    old_steps = sorted(p.name for p in (run / "checkpoints").iterdir())
    model = (run / "model.safetensors").read_bytes()
    res = CliRunner().invoke(app, argv(1))
    assert res.exit_code == 1 and f"error: {run} already holds a run; continue it with `uts train --resume" in res.output
    assert (run / "model.safetensors").read_bytes() == model
    res = CliRunner().invoke(app, argv(1, "--overwrite"))
    assert res.exit_code == 0, res.output
    new_steps = sorted(p.name for p in (run / "checkpoints").iterdir())
    assert new_steps and new_steps[-1] < old_steps[-1]  # the old run's later checkpoints are gone
    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "todo.txt").write_text("mine")
    res = CliRunner().invoke(app, argv(1, "--overwrite", "--out", str(notes)))
    assert res.exit_code == 1 and "is not empty and holds no run" in res.output
    assert (notes / "todo.txt").read_text() == "mine" and len(list(notes.iterdir())) == 1


@pytest.mark.parametrize("extra", [
    {"objective.name": "hier", "objective.ancestors": "unknown"},
    {"objective.name": "flat", "objective.ancestors": "positive"},
    {"model.encoder": "transformer", "model.encoder_args": "{dim: 16, depth: 1, heads: 2, patch: [8, 8]}"},
])
def test_other_objectives_and_encoders_train(tmp_path, extra):
    from uts.training.evaluate import load_run

    onto = write_ontology(tmp_path)
    manifest = tiny_corpus(tmp_path, n=8)
    run = train(load_config(None, tiny_overrides(tmp_path, manifest, tmp_path / "run", onto,
                                                 **{"optim.epochs": 1, **extra})))
    loaded = load_run(run)
    assert loaded.objective.ancestors == extra.get("objective.ancestors", "positive")
    assert loaded.cfg["model"]["encoder"] == extra.get("model.encoder", "cnn6")
