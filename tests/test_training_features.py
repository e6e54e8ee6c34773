"""Mel filterbank against the HTK formula and a loop-by-loop reference; log-mel and SpecAugment."""

import math

import numpy as np
import pytest
import torch

from uts.training.features import (FeatureConfig, LogMel, SpecAugment, SpecAugmentConfig,
                                   hz_to_mel, mel_filterbank, mel_to_hz)


def test_htk_mel_scale_known_values():
    # 2595 * log10(1 + f / 700): 700 Hz -> 2595 log10 2, 1000 Hz -> ~1000 mel (the scale's anchor)
    assert float(hz_to_mel(700.0)) == pytest.approx(2595 * math.log10(2), rel=1e-12)
    assert float(hz_to_mel(1000.0)) == pytest.approx(999.9855, abs=1e-3)
    assert float(hz_to_mel(0.0)) == 0.0
    freqs = torch.tensor([0.0, 50.0, 440.0, 4000.0, 8000.0], dtype=torch.float64)
    assert torch.allclose(mel_to_hz(hz_to_mel(freqs)), freqs, atol=1e-9)


def _reference_filterbank(n_freqs, n_mels, sr, fmin, fmax):
    """Textbook construction, one bin and one filter at a time (independent of the vectorised code)."""
    mel = lambda f: 2595.0 * math.log10(1.0 + f / 700.0)  # noqa: E731
    hz = lambda m: 700.0 * (10 ** (m / 2595.0) - 1.0)  # noqa: E731
    lo, hi = mel(fmin), mel(fmax)
    pts = [hz(lo + (hi - lo) * i / (n_mels + 1)) for i in range(n_mels + 2)]
    fb = np.zeros((n_freqs, n_mels))
    for k in range(n_freqs):
        f = k * (sr / 2) / (n_freqs - 1)
        for m in range(n_mels):
            left, centre, right = pts[m], pts[m + 1], pts[m + 2]
            if left <= f <= centre:
                fb[k, m] = (f - left) / (centre - left)
            elif centre < f <= right:
                fb[k, m] = (right - f) / (right - centre)
    return fb


@pytest.mark.parametrize("n_fft,n_mels,sr,fmin,fmax", [(512, 64, 16000, 50.0, 8000.0),
                                                        (1024, 40, 22050, 0.0, 11025.0),
                                                        (400, 128, 16000, 20.0, 7600.0)])
def test_filterbank_matches_reference(n_fft, n_mels, sr, fmin, fmax):
    fb = mel_filterbank(n_fft // 2 + 1, n_mels, sr, fmin, fmax)
    ref = _reference_filterbank(n_fft // 2 + 1, n_mels, sr, fmin, fmax)
    assert fb.shape == (n_fft // 2 + 1, n_mels)
    np.testing.assert_allclose(fb.numpy(), ref, atol=1e-6)


def test_slaney_norm_gives_unit_area_filters():
    # On a fine frequency grid each normalised triangle integrates to 1 (area per Hz).
    n_freqs, sr = 80001, 16000
    fb = mel_filterbank(n_freqs, 20, sr, 100.0, 7000.0, norm="slaney").double()
    area = fb.sum(0) * (sr / 2) / (n_freqs - 1)
    assert torch.allclose(area, torch.ones(20, dtype=torch.float64), atol=1e-3)


def test_filterbank_rejects_bad_ranges():
    with pytest.raises(ValueError, match="f_min"):
        mel_filterbank(257, 64, 16000, 9000.0, 8000.0)
    with pytest.raises(ValueError, match="norm"):
        mel_filterbank(257, 64, 16000, norm="area")


def test_logmel_puts_a_tone_in_the_right_band():
    cfg = FeatureConfig()
    front = LogMel(cfg)
    t = torch.arange(cfg.sample_rate) / cfg.sample_rate
    wave = torch.sin(2 * math.pi * 1000.0 * t).unsqueeze(0)
    mel = front(wave)
    assert mel.shape == (1, front.num_frames(cfg.sample_rate), cfg.n_mels)
    centres = mel_to_hz(torch.linspace(float(hz_to_mel(cfg.f_min)), float(hz_to_mel(cfg.f_max)), cfg.n_mels + 2))[1:-1]
    expected = int(torch.argmin((centres - 1000.0).abs()))
    assert int(mel[0, 10:-10].mean(0).argmax()) == expected
    # the filterbank is a saved buffer so checkpoints carry it
    assert "mel_fb" in front.state_dict()


def test_logmel_power_matches_numpy_framing():
    cfg = FeatureConfig(n_fft=256, win_length=256, hop_length=128, n_mels=16, f_min=0.0, f_max=8000.0)
    front = LogMel(cfg)
    wave = torch.randn(1, 2048, generator=torch.Generator().manual_seed(0))
    x = np.pad(wave[0].numpy().astype(np.float64), 128, mode="reflect")
    win = np.hanning(257)[:-1]  # periodic Hann, as torch.hann_window
    frames = np.stack([x[i * 128: i * 128 + 256] * win for i in range(2048 // 128 + 1)])
    power = np.abs(np.fft.rfft(frames, axis=1)) ** 2
    ref = np.log(power @ front.mel_fb.numpy().astype(np.float64) + cfg.log_offset)
    np.testing.assert_allclose(front(wave)[0].numpy(), ref, rtol=1e-4, atol=1e-4)


def test_specaugment_masks_only_in_training_and_within_limits():
    torch.manual_seed(0)
    aug = SpecAugment(SpecAugmentConfig(time_masks=2, time_width=5, freq_masks=1, freq_width=3))
    x = torch.randn(4, 50, 16)
    aug.eval()
    assert torch.equal(aug(x), x)
    aug.train()
    y = aug(x)
    changed = y != x
    assert changed.any()
    # a frequency mask covers at most 3 bins for every frame; time masks at most 2 x 5 frames
    full_rows = changed.all(dim=2).sum(dim=1)
    assert (full_rows <= 10).all()
    # reproducible from the global RNG state (what checkpoints save)
    torch.manual_seed(1)
    a = aug(x)
    torch.manual_seed(1)
    assert torch.equal(a, aug(x))
