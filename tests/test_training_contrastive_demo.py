"""`uts demo --with-contrastive` at toy size: a third run, zero-shot and retrieval in the report."""

import json

import yaml
from rich.console import Console

from _contrastive_helpers import tiny_text_model
from _training_helpers import tiny_ontology
from uts.training.demo import run_demo


def test_demo_with_contrastive_adds_a_third_run(tmp_path):
    recipe = tmp_path / "tiny.yaml"
    recipe.write_text(yaml.safe_dump({
        "data": {"sample_rate": 8000, "clip_seconds": 1.0, "batch_size": 8, "num_workers": 0},
        "features": {"n_fft": 256, "win_length": 200, "hop_length": 100, "n_mels": 16, "f_max": 4000.0},
        "model": {"encoder": "cnn6", "encoder_args": {"channels": [4, 8]}},
        "optim": {"epochs": 1, "max_steps": 4, "warmup_steps": 1},
        "contrastive": {"embed_dim": 8},
        "text": {"model": str(tiny_text_model(tmp_path)), "max_length": 16},
        "run": {"progress": False, "tensorboard": False, "log_every": 2, "ckpt_every": 4},
    }))
    out = tmp_path / "demo"
    report = run_demo(out, clips=16, recipe=recipe, onto=tiny_ontology(), console=Console(quiet=True),
                      with_contrastive=True)
    text = report.read_text()
    assert "| metric | flat | hier | hier+contrastive |" in text
    assert "zero-shot macro mAP" in text and "t2a R@1" in text
    res = json.loads((out / "summary.json").read_text())["results"]
    assert "zero_shot" not in res["hier"] and res["hier+contrastive"]["retrieval"]["captions"] > 0
    assert (out / "hier_contrastive" / "eval" / "report.md").exists()
