"""`uts demo --with-contrastive` at toy size: a third run, zero-shot and retrieval in the report."""

import json

from rich.console import Console

from _contrastive_helpers import tiny_text_model
from _training_helpers import tiny_demo_recipe, tiny_ontology
from uts.training.demo import run_demo


def test_demo_with_contrastive_adds_a_third_run(tmp_path):
    recipe = tiny_demo_recipe(tmp_path, contrastive={"embed_dim": 8},
                              text={"model": str(tiny_text_model(tmp_path)), "max_length": 16})
    out = tmp_path / "demo"
    report = run_demo(out, clips=16, recipe=recipe, onto=tiny_ontology(), console=Console(quiet=True),
                      with_contrastive=True)
    text = report.read_text()
    assert "| metric | flat | hier | hier+contrastive |" in text
    assert "zero-shot macro mAP" in text and "t2a R@1" in text
    res = json.loads((out / "summary.json").read_text())["results"]
    assert "zero_shot" not in res["hier"] and res["hier+contrastive"]["retrieval"]["captions"] > 0
    assert (out / "hier_contrastive" / "eval" / "report.md").exists()
