"""A run killed mid-way and resumed ends with exactly the weights of an uninterrupted run."""

import csv

import pytest
import torch
from safetensors.torch import load_file

from _training_helpers import tiny_corpus, tiny_overrides, write_ontology
from uts.training.config import load_config
from uts.training.trainer import TrainError, load_checkpoint, train


class Killed(Exception):
    pass


def _kill_at(step):
    def hook(s):
        if s == step:
            raise Killed(f"simulated crash after step {s}")
    return hook


CAPTION = {"caption.dim": 16, "caption.depth": 1, "caption.heads": 2, "caption.max_length": 16}


@pytest.mark.parametrize("objective", ["hier", "flat", "caption", "hier+caption"])
def test_killed_and_resumed_run_matches_uninterrupted(tmp_path, objective):
    onto = write_ontology(tmp_path)
    manifest = tiny_corpus(tmp_path, n=22)  # 6 batches of <= 4 per epoch, 2 epochs = 12 steps
    common = {"objective.name": objective, **(CAPTION if "caption" in objective else {})}
    straight = train(load_config(None, tiny_overrides(tmp_path, manifest, tmp_path / "a", onto, **common)))
    # Crash at step 7: the last checkpoint is step 4 (mid-epoch 0); the resumed run must replay
    # batches 5-6 of epoch 0 with the same crops, masks and dropout. Use a worker this time:
    # crops must not depend on the worker count.
    cfg_b = load_config(None, tiny_overrides(tmp_path, manifest, tmp_path / "b", onto,
                                             **common, **{"data.num_workers": 1}))
    with pytest.raises(Killed):
        train(cfg_b, on_step=_kill_at(7))
    run_b = tmp_path / "b"
    assert not (run_b / "model.safetensors").exists()
    assert load_checkpoint(run_b / "checkpoints" / "step_00000004.safetensors")["position"] == \
        {"step": 4, "epoch": 0, "batch": 4, "world_size": 1}
    train(resume=run_b)
    a, b = load_file(straight / "model.safetensors"), load_file(run_b / "model.safetensors")
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k
    # the log has each step once, as if the run had never stopped
    with open(run_b / "metrics.csv") as fh:
        steps = [int(r["step"]) for r in csv.DictReader(fh) if r["split"] == "train"]
    assert steps == [2, 4, 6, 8, 10, 12]


def test_resume_restores_optimizer_and_scheduler_state(tmp_path):
    onto = write_ontology(tmp_path)
    manifest = tiny_corpus(tmp_path, n=12)
    run = train(load_config(None, tiny_overrides(tmp_path, manifest, tmp_path / "r", onto, **{"optim.epochs": 1})))
    state = load_checkpoint(sorted((run / "checkpoints").glob("*.safetensors"))[-1])
    assert state["position"]["step"] == 3 and state["position"]["epoch"] == 1
    assert state["scheduler"]["last_epoch"] == 3
    assert {"step", "exp_avg", "exp_avg_sq"} <= set(state["optimizer"]["state"][0])
    assert len(state["rng"]) == 1 and state["rng"][0]["torch"].dtype == torch.uint8
    # extending the run: resume with more epochs continues from step 3
    train(resume=run, overrides=("optim.epochs=2",))
    assert load_checkpoint(sorted((run / "checkpoints").glob("*.safetensors"))[-1])["position"]["step"] == 6


def test_resume_errors_are_clear(tmp_path):
    with pytest.raises(TrainError, match="nothing to resume"):
        train(resume=tmp_path / "missing")
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"not a checkpoint")
    with pytest.raises(TrainError, match="cannot read checkpoint"):
        load_checkpoint(bad)
