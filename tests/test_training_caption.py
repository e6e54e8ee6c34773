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


# tiny transformers backbones for 1 s clips at 16 kHz (the rate they all expect)
HF_TINY = {
    "ast": {"hidden_size": 16, "num_hidden_layers": 1, "num_attention_heads": 2, "intermediate_size": 32,
            "num_mel_bins": 32, "max_length": 100},
    "whisper": {"d_model": 16, "encoder_layers": 1, "encoder_attention_heads": 2, "encoder_ffn_dim": 32,
                "decoder_layers": 1, "decoder_attention_heads": 2, "decoder_ffn_dim": 32,
                "num_mel_bins": 80, "max_source_positions": 50},
    "hubert": {"hidden_size": 16, "num_hidden_layers": 1, "num_attention_heads": 2, "intermediate_size": 32,
               "conv_dim": [16, 16], "conv_stride": [5, 4], "conv_kernel": [10, 8],
               "num_conv_pos_embeddings": 16, "num_conv_pos_embedding_groups": 2},
}


@pytest.fixture(scope="module")
def text_model(tmp_path_factory):
    from _contrastive_helpers import tiny_text_model

    return tiny_text_model(tmp_path_factory.mktemp("text"))


@pytest.mark.parametrize("kind", sorted(HF_TINY))
@pytest.mark.parametrize("objective", ["flat", "hier", "contrastive", "caption", "hier+contrastive", "hier+caption",
                                       "hier+contrastive+caption"])
def test_hf_backbone_trains_under_every_objective(tmp_path, kind, objective, text_model):
    # every objective name the recipes accept; hier+contrastive+caption runs every loss in one model
    onto = write_ontology(tmp_path)
    manifest = tiny_corpus(tmp_path, n=4)
    extra = {"objective.name": objective, "optim.max_steps": 2, "data.sample_rate": 16000,
             "model.encoder": "hf", "model.encoder_args": json.dumps({"kind": kind, "config": HF_TINY[kind]}),
             "text.model": str(text_model), "text.max_length": 16, "contrastive.embed_dim": 8, **CAPTION}
    run = train(load_config(None, tiny_overrides(tmp_path, manifest, tmp_path / "r", onto, **extra)))
    weights = load_file(run / "model.safetensors")
    assert any(k.startswith("encoder.model.") for k in weights)
    assert ("decoder.embed.weight" in weights) == ("caption" in objective)
    rows = (run / "metrics.csv").read_text().splitlines()
    assert len(rows) == 2 and math.isfinite(float(rows[1].split(",")[3]))  # header + step 2
    from uts.training.evaluate import evaluate

    ev = evaluate(run, manifest, probe=False)  # the saved run rebuilds the same backbone
    assert math.isfinite(ev["macro_map"])
