"""Encoder registry: shapes, parameter counts, clear errors."""

import pytest
import torch

from uts.training.encoders import ENCODERS, build_encoder, count_parameters


@pytest.mark.parametrize("name,kwargs", [("cnn6", {"channels": (8, 16)}),
                                         ("cnn10", {"channels": (8, 16, 32)}),
                                         ("transformer", {"dim": 32, "depth": 1, "heads": 2, "patch": (8, 16)})])
def test_encoders_embed_variable_length_clips(name, kwargs):
    enc = build_encoder(name, n_mels=32, **kwargs)
    enc.eval()
    for frames in (37, 101):
        out = enc(torch.randn(3, frames, 32))
        assert out.shape == (3, enc.embed_dim)
        assert torch.isfinite(out).all()
    out.sum().backward()
    assert all(p.grad is not None for p in enc.parameters() if p.requires_grad and p is not getattr(enc, "pos", None))


def test_registry_and_documented_parameter_counts():
    assert {"cnn6", "cnn10", "transformer"} <= set(ENCODERS)
    assert count_parameters(build_encoder("transformer", n_mels=64)) == 1_878_464
    # Figures quoted in docs/training.md (64 mel bins, default widths)
    assert count_parameters(build_encoder("cnn6", n_mels=64)) == 4_566_978
    assert count_parameters(build_encoder("cnn10", n_mels=64)) == 4_948_802


def test_bad_encoder_requests_fail_clearly():
    with pytest.raises(ValueError, match="unknown encoder 'resnet'"):
        build_encoder("resnet", n_mels=64)
    with pytest.raises(ValueError, match="bad arguments for encoder 'cnn6'"):
        build_encoder("cnn6", n_mels=64, widths=(1, 2))
    with pytest.raises(ValueError, match="multiple of the mel patch"):
        build_encoder("transformer", n_mels=60)
    enc = build_encoder("transformer", n_mels=32, dim=16, depth=1, heads=2, patch=(8, 16), max_frames=32)
    with pytest.raises(ValueError, match="max_frames"):
        enc(torch.randn(1, 64, 32))


@pytest.mark.parametrize("name,kwargs", [("cnn6", {"channels": (8, 16)}),
                                         ("transformer", {"dim": 32, "depth": 1, "heads": 2, "patch": (8, 16)})])
def test_encoders_give_a_frame_sequence_and_the_pooled_embedding(name, kwargs):
    enc = build_encoder(name, n_mels=32, **kwargs).eval()
    mel = torch.randn(2, 64, 32)
    frames, pooled = enc.encode(mel)
    assert frames.shape[0] == 2 and frames.shape[1] > 1 and frames.shape[2] == enc.frame_dim
    assert torch.equal(pooled, enc(mel))
