"""torchrun with 2 CPU processes (gloo): batches are sharded, every rank's RNG is checkpointed."""

import json
import os
import subprocess
import sys

import torch

from _training_helpers import tiny_corpus, tiny_overrides, write_ontology
from uts.training.trainer import load_checkpoint


def test_two_process_ddp_run_on_cpu(tmp_path, repo):
    onto = write_ontology(tmp_path)
    manifest = tiny_corpus(tmp_path, n=16)  # 4 batches of 4 per epoch -> 2 per rank
    overrides = tiny_overrides(tmp_path, manifest, tmp_path / "run", onto,
                               **{"run.threads": 1, "run.device": "cpu", "run.ckpt_every": 2})
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
           "-m", "uts.cli.main", "train"] + [a for o in overrides for a in ("--set", o)]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(repo)}
    proc = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert proc.stdout.count("run finished") == 1  # rank 0 reports
    run = tmp_path / "run"
    assert json.loads((run / "config.json").read_text())["world_size"] == 2
    last = load_checkpoint(sorted((run / "checkpoints").glob("*.safetensors"))[-1])
    # 2 epochs x 2 batches per rank: half the steps of a single process
    assert last["position"] == {"step": 4, "epoch": 2, "batch": 0, "world_size": 2}
    assert len(last["rng"]) == 2
    assert not torch.equal(last["rng"][0]["torch"], last["rng"][1]["torch"])  # own augmentation streams
    assert (run / "model.safetensors").exists()
