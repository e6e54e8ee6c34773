"""Caption-contrastive pieces: InfoNCE against a hand-computed reference, hierarchy-aware soft
targets and masks, captions written from UTS labels, the text tower, config validation, and a
tiny end-to-end hier+contrastive run (train, resume, eval through the CLI)."""

import json
import math

import pytest
import torch
from safetensors.torch import load_file
from typer.testing import CliRunner

from _contrastive_helpers import contrastive_overrides, tiny_text_model
from _training_helpers import tiny_corpus, tiny_ontology, tiny_overrides, uid, write_ontology
from uts.cli.main import app
from uts.training.config import ConfigError, load_config
from uts.training.contrastive import info_nce, label_overlap, soft_targets
from uts.training.hierarchy import Hierarchy
from uts.training.objectives import Objective
from uts.training.text import TEMPLATES, TextTower, caption_from_labels, concept_prompts, fill_captions
from uts.training.trainer import train


@pytest.fixture(scope="session")
def text_model(tmp_path_factory):
    return tiny_text_model(tmp_path_factory.mktemp("text"))


# -- InfoNCE -----------------------------------------------------------------------------------
def _log_softmax_row(row, i):
    return row[i] - math.log(sum(math.exp(v) for v in row))


def test_info_nce_matches_hand_computed_reference():
    a = torch.tensor([[1.0, 0.0], [0.6, 0.8]])  # unit rows
    t = torch.tensor([[0.8, 0.6], [0.0, 1.0]])
    scale = 2.0
    # logits[i][j] = scale * a_i . t_j
    L = [[2 * 0.8, 2 * 0.0], [2 * (0.48 + 0.48), 2 * 0.8]]
    a2t = -(_log_softmax_row(L[0], 0) + _log_softmax_row(L[1], 1)) / 2
    cols = [[L[0][0], L[1][0]], [L[0][1], L[1][1]]]
    t2a = -(_log_softmax_row(cols[0], 0) + _log_softmax_row(cols[1], 1)) / 2
    expected = (a2t + t2a) / 2
    got = info_nce(a, t, torch.tensor(math.log(scale)))
    assert got.item() == pytest.approx(expected, rel=1e-6)


def test_info_nce_gradient_reaches_the_temperature():
    scale = torch.tensor(math.log(1 / 0.07), requires_grad=True)
    a = torch.nn.functional.normalize(torch.randn(6, 4), dim=-1)
    loss = info_nce(a, a.clone(), scale)  # perfectly aligned pairs: a sharper softmax helps
    loss.backward()
    assert scale.grad is not None and scale.grad.item() < 0


def test_info_nce_rejects_unknown_modes_and_missing_labels():
    a = torch.eye(2)
    with pytest.raises(ValueError, match="targets must be one of"):
        info_nce(a, a, torch.tensor(0.0), targets="fuzzy")
    with pytest.raises(ValueError, match="need the clips' labels"):
        info_nce(a, a, torch.tensor(0.0), targets="soft")


# -- hierarchy-aware targets -------------------------------------------------------------------
def test_soft_targets_from_ancestor_closed_label_overlap():
    # classes: 0 music, 1 drum, 2 snare, 3 kick, 4 sound, 5 rain  (rows already ancestor-closed)
    y = torch.tensor([[1, 1, 1, 0, 0, 0],   # snare drum
                      [1, 1, 0, 1, 0, 0],   # kick drum
                      [0, 0, 0, 0, 1, 1]], dtype=torch.float)  # rain
    jac = label_overlap(y)
    assert jac[0, 1].item() == pytest.approx(2 / 4)  # {music, drum} of {music, drum, snare, kick}
    assert jac[0, 2].item() == 0 and jac[2, 2].item() == 1
    t = soft_targets(y)
    assert torch.allclose(t[0], torch.tensor([2 / 3, 1 / 3, 0.0]))
    assert torch.allclose(t[2], torch.tensor([0.0, 0.0, 1.0]))
    assert torch.allclose(t.sum(1), torch.ones(3))


def test_soft_targets_are_the_identity_when_no_labels_are_shared():
    y = torch.tensor([[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 1], [0, 0, 0, 0]], dtype=torch.float)
    assert torch.equal(soft_targets(y), torch.eye(4))
    a = torch.nn.functional.normalize(torch.randn(4, 3), dim=-1)
    t = torch.nn.functional.normalize(torch.randn(4, 3), dim=-1)
    s = torch.tensor(1.5)
    assert info_nce(a, t, s, y, "soft").item() == pytest.approx(info_nce(a, t, s).item(), rel=1e-6)
    assert info_nce(a, t, s, y, "mask").item() == pytest.approx(info_nce(a, t, s).item(), rel=1e-6)


def test_soft_targets_do_not_punish_confusing_same_label_clips():
    y = torch.tensor([[1, 1, 0], [1, 1, 0], [0, 0, 1]], dtype=torch.float)  # clips 0 and 1 alike
    t = torch.tensor([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0]])
    aligned, swapped = t.clone(), t[[1, 0, 2]]  # swapped: clips 0 and 1 match each other's caption
    s = torch.tensor(math.log(10.0))
    assert info_nce(swapped, t, s, y, "hard") > info_nce(aligned, t, s, y, "hard") + 5
    assert info_nce(swapped, t, s, y, "soft").item() == pytest.approx(info_nce(aligned, t, s, y, "soft").item(), rel=1e-5)


def test_mask_removes_same_label_pairs_from_the_softmax():
    y = torch.tensor([[1, 1, 0], [1, 1, 0], [0, 0, 1]], dtype=torch.float)
    a = torch.nn.functional.normalize(torch.randn(3, 4, generator=torch.Generator().manual_seed(0)), dim=-1)
    t = torch.nn.functional.normalize(torch.randn(3, 4, generator=torch.Generator().manual_seed(1)), dim=-1)
    s = torch.tensor(0.7)
    L = (s.exp() * a @ t.T).tolist()
    # clip 0 never sees caption 1 as a negative (and vice versa); clip 2 sees everything
    rows = [[L[0][0], L[0][2]], [L[1][1], L[1][2]], L[2]]
    a2t = -(_log_softmax_row(rows[0], 0) + _log_softmax_row(rows[1], 0) + _log_softmax_row(rows[2], 2)) / 3
    cols = [[L[0][0], L[2][0]], [L[1][1], L[2][1]], [L[0][2], L[1][2], L[2][2]]]
    t2a = -(_log_softmax_row(cols[0], 0) + _log_softmax_row(cols[1], 0) + _log_softmax_row(cols[2], 2)) / 3
    assert info_nce(a, t, s, y, "mask").item() == pytest.approx((a2t + t2a) / 2, rel=1e-5)
    # a threshold above the overlap of partly shared sets keeps them as negatives
    y2 = torch.tensor([[1, 1, 0, 0], [1, 0, 1, 0], [0, 0, 0, 1]], dtype=torch.float)  # 0~1: 1/3
    assert info_nce(a, t, s, y2, "mask", mask_threshold=0.5).item() == pytest.approx(info_nce(a, t, s).item())
    assert info_nce(a, t, s, y2, "mask", mask_threshold=0.3).item() != pytest.approx(info_nce(a, t, s).item())


def test_objective_weights_combine_tagging_and_contrastive_losses():
    h = Hierarchy(["a", "b"], [(1, 0)])
    out = {"logits": torch.tensor([[0.3, -0.2], [1.0, 0.5]]),
           "audio": torch.tensor([[1.0, 0.0], [0.0, 1.0]]), "text": torch.tensor([[0.9, 0.1], [0.2, 0.8]]),
           "logit_scale": torch.tensor(1.0)}
    labels = torch.tensor([[0.0, 1.0], [1.0, 0.0]])
    one = Objective("hier+contrastive", h)
    total, parts = one.total_loss(out, labels)
    assert total.item() == pytest.approx(parts["tagging"] + parts["contrastive"], rel=1e-6)
    assert parts["tagging"] == pytest.approx(Objective("hier", h).loss(out["logits"], labels).item())
    weighted = Objective("hier+contrastive", h, tagging_weight=0.25, contrastive_weight=2.0)
    total_w, _ = weighted.total_loss(out, labels)
    assert total_w.item() == pytest.approx(0.25 * parts["tagging"] + 2.0 * parts["contrastive"], rel=1e-6)
    only, only_parts = Objective("contrastive", h).total_loss(out, labels)
    assert set(only_parts) == {"contrastive"}
    with pytest.raises(ValueError, match="no tagging loss"):
        Objective("contrastive", h).loss(out["logits"], labels)


# -- captions from labels ----------------------------------------------------------------------
def test_caption_from_label_paths_names_leaves_with_a_parent():
    onto = tiny_ontology()
    snare, drum, music, rain = uid(10), uid(8), uid(1), uid(22)
    cap = caption_from_labels(onto, [music, drum, snare, rain], seed=3)
    assert "snare drum (a kind of drum)" in cap and "rain (a kind of weather)" in cap
    assert "music" not in cap.replace("musical", "")  # implied by snare drum: not named again
    assert cap[0].isupper() and cap.endswith(".")
    assert caption_from_labels(onto, [music], seed=0) in {t.format(items="music", Items="Music") for t in TEMPLATES}
    assert caption_from_labels(onto, [snare], seed=3) == caption_from_labels(onto, [snare], seed=3)
    assert caption_from_labels(onto, ["UTS:9999999"]) == ""


def test_fill_captions_modes():
    import polars as pl

    onto = tiny_ontology()
    df = pl.DataFrame({"id": ["a", "b"], "labels": [[uid(22)], [uid(30)]], "caption": ["Rain on a roof.", None]})
    auto, n = fill_captions(df, onto, "auto")
    assert n == 1 and auto["caption"][0] == "Rain on a roof." and "dog" in auto["caption"][1]
    labels, n = fill_captions(df, onto, "labels")
    assert n == 2 and "rain" in labels["caption"][0]
    kept, n = fill_captions(df, onto, "manifest")
    assert n == 0 and kept["caption"].to_list() == ["Rain on a roof.", ""]
    with pytest.raises(ValueError, match="caption mode"):
        fill_captions(df, onto, "llm")


def test_concept_prompts_use_synonyms_and_definition():
    from uts.ontology import Concept

    c = Concept("UTS:0000001", "hi-hat", synonyms=["hihat cymbal"], definition="A pair of cymbals.")
    prompts = concept_prompts(c)
    assert "The sound of hi-hat." in prompts and "hihat cymbal" in prompts
    assert prompts[-1] == "hi-hat: A pair of cymbals."


# -- text tower --------------------------------------------------------------------------------
def test_frozen_tower_is_cached_and_left_out_of_checkpoints(tmp_path, text_model):
    onto = write_ontology(tmp_path)
    manifest = tiny_corpus(tmp_path, n=8)
    cfg = load_config(None, tiny_overrides(tmp_path, manifest, tmp_path / "r", onto, **contrastive_overrides(text_model)))
    from uts.training.encoders import build_model

    model = build_model(cfg, 5)
    assert not any(p.requires_grad for p in model.text.parameters())
    assert not any(k.startswith("text.") for k in model.weights())
    assert {"logit_scale", "audio_proj.0.weight", "text_proj.2.weight"} <= set(model.weights())
    first = model.text(["a dog barking", "rain"])
    assert first.shape == (2, 16) and set(model.text._cache) == {"a dog barking", "rain"}
    # a caption's vector does not depend on its batch (exact resume relies on this)
    assert torch.equal(model.text(["rain", "a much longer caption about an engine"])[0], first[1])
    trainable = build_model(load_config(None, tiny_overrides(tmp_path, manifest, tmp_path / "r", onto,
                                                             **contrastive_overrides(text_model, **{"text.trainable": True}))), 5)
    assert any(k.startswith("text.model.") for k in trainable.weights())
    trainable.encode_text(["a dog barking"]).sum().backward()
    assert trainable.text.model.embeddings.word_embeddings.weight.grad is not None


def test_bundled_minilm_matches_sentence_transformers():
    """The text tower's mean pooling reproduces the sentence-transformers model it wraps."""
    from sentence_transformers import SentenceTransformer

    from uts.embedding import default_model_path

    texts = ["a dog barking in the rain", "solo piano"]
    tower = TextTower(None)
    ours = torch.nn.functional.normalize(tower(texts), dim=-1)
    ref = SentenceTransformer(str(default_model_path()), device="cpu").encode(texts, convert_to_tensor=True)
    assert tower.embed_dim == 384
    assert torch.allclose(ours, torch.nn.functional.normalize(ref.float(), dim=-1), atol=1e-4)


# -- config ------------------------------------------------------------------------------------
@pytest.mark.parametrize("override,message", [
    ("objective.name=clap", "objective.name must be one of"),
    ("contrastive.targets=fuzzy", "contrastive.targets must be one of"),
    ("contrastive.captions=llm", "contrastive.captions must be one of"),
    ("contrastive.mask_threshold=0", r"mask_threshold must be in \(0, 1\]"),
    ("contrastive.init_temperature=0", "init_temperature must be > 0"),
    ("objective.contrastive_weight=-1", "must be >= 0"),
    ("text.trainable=maybe", "text.trainable: expected bool"),
    ("text.max_length=1", "max_length must be >= 2"),
    ("text.tower=x", "unknown config key 'text.tower'"),
])
def test_bad_contrastive_configs_are_rejected(override, message):
    with pytest.raises(ConfigError, match=message):
        load_config(None, ["objective.name=hier+contrastive", override])


def test_missing_text_model_folder_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="not a transformers model folder"):
        load_config(None, ["objective.name=contrastive", f"text.model={tmp_path / 'nope'}"])
    with pytest.raises(ConfigError, match="needs a positive"):
        load_config(None, ["objective.name=hier+contrastive", "objective.tagging_weight=0",
                           "objective.contrastive_weight=0"])


# -- end to end --------------------------------------------------------------------------------
def test_tiny_hier_contrastive_run_trains_resumes_and_evaluates(tmp_path, text_model):
    onto = write_ontology(tmp_path)
    manifest = tiny_corpus(tmp_path, n=14)  # 4 batches per epoch, 2 epochs
    extra = contrastive_overrides(text_model, **{"contrastive.captions": "labels", "optim.lr": 0.01})
    straight = train(load_config(None, tiny_overrides(tmp_path, manifest, tmp_path / "a", onto, **extra)))
    cfg = json.loads((straight / "config.json").read_text())["config"]
    assert cfg["objective"]["name"] == "hier+contrastive"
    assert json.loads((straight / "data_report.json").read_text())["captions_from_labels"] == 14
    weights = load_file(straight / "model.safetensors")
    assert not any(k.startswith("text.") for k in weights)  # frozen tower: rebuilt from its path
    assert 0 <= weights["logit_scale"].item() <= math.log(100) + 1e-6
    assert weights["logit_scale"].item() != pytest.approx(math.log(1 / 0.07))  # it learned

    # killed after step 5, resumed from the step-4 checkpoint: the same weights
    def crash(step):
        if step == 5:
            raise KeyboardInterrupt
    with pytest.raises(KeyboardInterrupt):
        train(load_config(None, tiny_overrides(tmp_path, manifest, tmp_path / "b", onto, **extra)), on_step=crash)
    resumed = train(resume=tmp_path / "b")
    other = load_file(resumed / "model.safetensors")
    assert all(torch.equal(weights[k], other[k]) for k in weights)

    result = CliRunner().invoke(app, ["eval", str(straight), str(manifest), "--no-probe"])
    assert result.exit_code == 0, result.output
    assert "zero-shot macro_map=" in result.output and "t2a_R@1=" in result.output
    ev = json.loads((straight / "eval" / "eval.json").read_text())
    assert ev["scores_from"] == "head"
    ret = ev["retrieval"]
    assert ret["clips"] == ret["captions"] == 14 and ret["a2t_queries"] == 14
    assert 0 <= ret["t2a_R@1"] <= ret["t2a_R@5"] <= ret["t2a_R@10"] <= 1
    assert set(ev["zero_shot"]) >= {"macro_map", "hierarchical_f1", "violation_rate"}
    assert ev["zero_shot"]["violation_rate"] == 0.0  # the max constraint holds for zero-shot scores too
    report = (straight / "eval" / "report.md").read_text()
    assert "zero-shot macro mAP" in report and "t2a R@1" in report


def test_contrastive_only_run_reports_zero_shot_as_tagging(tmp_path, text_model):
    onto = write_ontology(tmp_path)
    manifest = tiny_corpus(tmp_path, n=8)
    run = train(load_config(None, tiny_overrides(tmp_path, manifest, tmp_path / "c", onto, **contrastive_overrides(
        text_model, name="contrastive", **{"optim.epochs": 1, "data.val": str(manifest)}))))
    from uts.training.evaluate import evaluate

    ev = evaluate(run, manifest, probe=False)
    assert ev["scores_from"] == "zero-shot" and ev["macro_map"] == ev["zero_shot"]["macro_map"]
    assert math.isnan(ev["loss"])
