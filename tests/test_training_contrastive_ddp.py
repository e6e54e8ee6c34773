"""Negatives gathered across 2 CPU processes (gloo): the loss and the DDP-averaged gradients
equal those of one process holding the whole batch; and a hier+contrastive run under torchrun."""

import json
import os
import subprocess
import sys

import pytest
import torch

from _contrastive_ddp_worker import problem
from _contrastive_helpers import contrastive_overrides, tiny_text_model
from _training_helpers import tiny_corpus, tiny_overrides, write_ontology
from uts.training.contrastive import contrastive_loss


def _torchrun(args, cwd, repo, timeout=300):
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2", *args]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": f"{repo}:{repo / 'tests'}"}
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc


@pytest.mark.parametrize("targets", ["hard", "soft"])
def test_gathered_loss_and_gradients_equal_the_single_process_ones(tmp_path, repo, targets):
    out = tmp_path / "grads.json"
    _torchrun([str(repo / "tests" / "_contrastive_ddp_worker.py"), str(out), targets], tmp_path, repo)
    got = json.loads(out.read_text())
    x, z, wa, wt, scale, labels = problem()
    params = [p.clone().requires_grad_(True) for p in (wa, wt, scale)]
    loss = contrastive_loss(x @ params[0], z @ params[1], params[2], labels, targets)  # no process group
    loss.backward()
    assert got["loss"] == pytest.approx(loss.item(), rel=1e-5)
    for g, p in zip(got["grads"], params):
        assert torch.allclose(torch.tensor(g), p.grad, atol=1e-5), (g, p.grad)


def test_two_process_hier_contrastive_run(tmp_path, repo):
    onto = write_ontology(tmp_path)
    manifest = tiny_corpus(tmp_path, n=14)  # 4 batches (the last one of 2 clips): 2 per rank
    text_model = tiny_text_model(tmp_path)
    overrides = tiny_overrides(tmp_path, manifest, tmp_path / "run", onto, **contrastive_overrides(
        text_model, **{"run.threads": 1, "run.device": "cpu", "optim.epochs": 1}))
    proc = _torchrun(["-m", "uts.cli.main", "train"] + [a for o in overrides for a in ("--set", o)], tmp_path, repo)
    assert proc.stdout.count("run finished") == 1
    assert (tmp_path / "run" / "model.safetensors").exists()
