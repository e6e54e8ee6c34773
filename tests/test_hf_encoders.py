"""transformers backbones (AST, Whisper encoder, HuBERT, wav2vec2) as UTS encoders: tiny
configs, local checkpoints, their own front ends; nothing is downloaded."""

import pytest
import torch

from uts.training.encoders import build_encoder
from uts.training.hf_encoders import HFEncoderError

# tiny shapes: 1 s of 16 kHz audio
TINY = {
    "ast": {"hidden_size": 32, "num_hidden_layers": 1, "num_attention_heads": 2, "intermediate_size": 64,
            "num_mel_bins": 64, "max_length": 100},
    "whisper": {"d_model": 32, "encoder_layers": 1, "encoder_attention_heads": 2, "encoder_ffn_dim": 64,
                "decoder_layers": 1, "decoder_attention_heads": 2, "decoder_ffn_dim": 64,
                "num_mel_bins": 80, "max_source_positions": 50},
    "hubert": {"hidden_size": 32, "num_hidden_layers": 1, "num_attention_heads": 2, "intermediate_size": 64,
               "conv_dim": [32, 32], "conv_stride": [5, 4], "conv_kernel": [10, 8],
               "num_conv_pos_embeddings": 16, "num_conv_pos_embedding_groups": 2},
}
TINY["wav2vec2"] = dict(TINY["hubert"])


@pytest.fixture(autouse=True)
def one_thread(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.mark.parametrize("kind", sorted(TINY))
def test_backbone_from_config_gives_frames_and_pooled_embedding(kind):
    enc = build_encoder("hf", n_mels=64, kind=kind, config=TINY[kind]).eval()  # no dropout
    front = enc.feature_frontend()
    wave = torch.randn(2, 16000)
    feats = front(wave)
    frames, pooled = enc.encode(feats)
    assert frames.shape[0] == 2 and frames.shape[2] == enc.frame_dim and frames.shape[1] > 1
    assert pooled.shape == (2, enc.embed_dim) and torch.isfinite(pooled).all()
    assert torch.equal(enc(feats), pooled)
    pooled.sum().backward()
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in enc.parameters())


def test_front_ends_are_the_ones_each_backbone_expects():
    wave = torch.randn(1, 16000) * 0.1 + 0.5
    ast = build_encoder("hf", n_mels=64, kind="ast", config=TINY["ast"]).feature_frontend()(wave)
    assert ast.shape == (1, 100, 64)  # Kaldi fbank frames padded/cut to max_length, 64 bins
    whisper = build_encoder("hf", n_mels=64, kind="whisper", config=TINY["whisper"]).feature_frontend()(wave)
    assert whisper.shape == (1, 100, 80)  # 2 * max_source_positions frames of 10 ms
    raw = build_encoder("hf", n_mels=64, kind="hubert", config=TINY["hubert"]).feature_frontend()(wave)
    assert raw.shape == (1, 16000)
    assert abs(float(raw.mean())) < 1e-3 and abs(float(raw.std()) - 1) < 1e-2  # zero mean, unit variance


@pytest.mark.parametrize("kind", ["ast", "whisper", "hubert"])
def test_backbone_loads_from_a_local_checkpoint_folder(kind, tmp_path):
    built = build_encoder("hf", n_mels=64, kind=kind, config=TINY[kind])
    built.model.save_pretrained(tmp_path / kind)
    loaded = build_encoder("hf", n_mels=64, path=str(tmp_path / kind))
    assert loaded.kind == kind
    for (k, a), (_, b) in zip(sorted(built.model.state_dict().items()), sorted(loaded.model.state_dict().items())):
        assert torch.equal(a, b), k
    built.eval(), loaded.eval()
    feats = built.feature_frontend()(torch.randn(1, 16000))
    assert torch.allclose(built(feats), loaded(feats), atol=1e-5)


def test_a_checkpoint_that_does_not_fit_is_refused_not_left_random(tmp_path):
    built = build_encoder("hf", n_mels=64, kind="hubert", config=TINY["hubert"])
    built.model.save_pretrained(tmp_path / "h")
    from safetensors.torch import load_file, save_file

    weights = load_file(tmp_path / "h" / "model.safetensors")
    save_file({f"other.{k}": v for k, v in weights.items()}, tmp_path / "h" / "model.safetensors",
              metadata={"format": "pt"})
    with pytest.raises(ValueError, match="weights missing from the checkpoint"):
        build_encoder("hf", n_mels=64, path=str(tmp_path / "h"))


def test_bad_backbone_requests_fail_clearly(tmp_path):
    with pytest.raises(ValueError, match="exactly one of 'path'"):
        build_encoder("hf", n_mels=64, kind="ast")
    with pytest.raises(ValueError, match="kind must be one of"):
        build_encoder("hf", n_mels=64, kind="beats", config={})
    with pytest.raises(ValueError, match="no config.json"):
        build_encoder("hf", n_mels=64, path=str(tmp_path))
    (tmp_path / "config.json").write_text('{"model_type": "bert"}')
    with pytest.raises(ValueError, match="'bert' is not a supported backbone"):
        build_encoder("hf", n_mels=64, path=str(tmp_path))
