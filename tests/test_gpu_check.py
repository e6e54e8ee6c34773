"""benchmarks/gpu_check.py: the no-CUDA path CI takes, and the plumbing of its measurements on CPU
at toy size (the script itself has not run on a GPU here)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "benchmarks"))

import gpu_check  # noqa: E402


def test_without_cuda_it_says_so_in_one_line_and_exits_0():
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": ""}
    proc = subprocess.run([sys.executable, str(REPO / "benchmarks" / "gpu_check.py")], env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    (line,) = proc.stdout.splitlines()
    report = json.loads(line)
    assert report["cuda"] is False and "no CUDA device" in report["skipped"]


@pytest.mark.parametrize("encoder", ["cnn10", "transformer"])
def test_throughput_measures_a_real_training_step(encoder):
    out = gpu_check.throughput(encoder, torch.device("cpu"), batch=2, steps=1, classes=40, seconds=0.5, warmup=0)
    assert out["batch"] == 2 and out["clip_seconds"] == 0.5 and out["step_s"] > 0
    assert out["clips_per_s"] == pytest.approx(2 / out["step_s"], rel=0.05, abs=0.06)  # both rounded
    assert out["parameters_m"] > 0.5  # the recipe's encoder, not a toy


def test_ddp_path_runs_with_gloo_in_spawned_processes():
    out = gpu_check.ddp_scaling(1, backend="gloo", batch=2, steps=1, classes=40, seconds=0.5, warmup=0)
    assert out["one_gpu"]["processes"] == 1 and out["one_gpu"]["step_s"] > 0 and out["one_gpu"]["clips_per_s"] > 0
    assert "no scaling to measure" in out["note"]
