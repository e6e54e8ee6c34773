"""The captioning objective end to end: uts train with caption / hier+caption, the saved id
space, uts eval's caption figures (loss, perplexity, BLEU/ROUGE-L/CIDEr-D, generated captions)
and zero-shot/retrieval by decoder likelihood; HF backbones under every objective."""

import json
import math

import pytest
import torch
from safetensors.torch import load_file
from typer.testing import CliRunner

from _training_helpers import tiny_corpus, tiny_overrides, write_ontology
from uts.cli.main import app
from uts.training.config import ConfigError, load_config
from uts.training.trainer import train

CAPTION = {"caption.dim": 16, "caption.depth": 1, "caption.heads": 2, "caption.max_length": 24}


@pytest.fixture(autouse=True)
def one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def test_caption_run_saves_its_vocabulary_and_evaluates(tmp_path):
    onto = write_ontology(tmp_path)
    manifest = tiny_corpus(tmp_path, n=12)
    run = train(load_config(None, tiny_overrides(tmp_path, manifest, tmp_path / "cap", onto, **CAPTION, **{
        "objective.name": "caption", "optim.epochs": 1, "data.val": str(manifest)})))
    saved = json.loads((run / "config.json").read_text())["config"]
    pieces = saved["caption"]["pieces"]
    assert pieces[:4] == ["[PAD]", "[UNK]", "[CLS]", "[SEP]"] and 10 < len(pieces) < 400
    weights = load_file(run / "model.safetensors")
    assert weights["decoder.embed.weight"].shape == (len(pieces), 16)

    result = CliRunner().invoke(app, ["eval", str(run), str(manifest), "--no-probe"])
    assert result.exit_code == 0, result.output
    assert "no tagging objective" in result.output and "captioning caption_loss=" in result.output
    ev = json.loads((run / "eval" / "eval.json").read_text())
    assert ev["zero_shot_from"] == "caption decoder" and ev["scores_from"] == "zero-shot"
    assert ev["macro_map"] == ev["zero_shot"]["macro_map"]
    assert ev["zero_shot"]["violation_rate"] == 0.0
    cap = ev["caption"]
    assert cap["perplexity"] == pytest.approx(math.exp(cap["caption_loss"]), rel=1e-6)
    assert cap["unknown_token_rate"] == 0.0  # evaluated on its own training captions
    gen = cap["generated"]
    assert len(gen["examples"]) == 12 and all(0 <= gen[k] for k in ("bleu_4", "rouge_l", "cider_d"))
    assert ev["retrieval"]["clips"] == 12 and 0 <= ev["retrieval"]["t2a_R@1"] <= 1
    report = (run / "eval" / "report.md").read_text()
    assert "## Captioning" in report and "| clip | generated | reference |" in report


def test_hier_plus_caption_trains_both_parts_and_reports_tagging_from_the_head(tmp_path):
    onto = write_ontology(tmp_path)
    manifest = tiny_corpus(tmp_path, n=8)
    run = train(load_config(None, tiny_overrides(tmp_path, manifest, tmp_path / "hc", onto, **CAPTION, **{
        "objective.name": "hier+caption", "objective.caption_weight": 0.5, "optim.epochs": 1,
        "caption.captions": "tags"})))
    from uts.training.evaluate import evaluate

    ev = evaluate(run, manifest, probe=False)
    assert ev["scores_from"] == "head" and ev["zero_shot_from"] == "caption decoder"
    assert ev["caption"]["generated"]["beam_size"] == 3
    # weak captions: every training caption is the one template over the flat tags
    assert json.loads((run / "data_report.json").read_text())["captions_from_labels"] == 8


def test_bad_caption_settings_are_refused(tmp_path):
    with pytest.raises(ConfigError, match="caption.captions must be one of"):
        load_config(None, ["objective.name=caption", "caption.captions=rich"])
    with pytest.raises(ConfigError, match="multiple of heads"):
        load_config(None, ["objective.name=caption", "caption.dim=30", "caption.heads=4"])
    with pytest.raises(ConfigError, match="caption.vocab_file"):
        load_config(None, ["objective.name=caption", f"caption.vocab_file={tmp_path / 'none.txt'}"])
    with pytest.raises(ConfigError, match="objective.name must be one of"):
        load_config(None, ["objective.name=caption+hier"])
