"""Log-mel front end and SpecAugment, in plain torch.

torchaudio does not match our pinned torch, so the mel filterbank is written here (HTK mel scale,
triangular filters, optional Slaney area normalisation, the same construction as torchaudio's
``melscale_fbanks`` and librosa's ``filters.mel(htk=True)``). The front end's parameters live in a
:class:`FeatureConfig` that is saved with every checkpoint, and the filterbank itself is a buffer
in the model's state dict, so a checkpoint computes exactly the features it was trained on.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import nn


def hz_to_mel(freq: torch.Tensor | float) -> torch.Tensor:
    """HTK mel scale: ``2595 * log10(1 + f / 700)``."""
    return 2595.0 * torch.log10(1.0 + torch.as_tensor(freq, dtype=torch.float64) / 700.0)


def mel_to_hz(mel: torch.Tensor | float) -> torch.Tensor:
    return 700.0 * (10.0 ** (torch.as_tensor(mel, dtype=torch.float64) / 2595.0) - 1.0)


def mel_filterbank(n_freqs: int, n_mels: int, sample_rate: int, f_min: float = 0.0,
                   f_max: float | None = None, norm: str | None = None) -> torch.Tensor:
    """Triangular mel filters as a ``(n_freqs, n_mels)`` float32 matrix (``power @ fb``).

    ``n_freqs`` is the number of STFT bins (``n_fft // 2 + 1``). Filter ``m`` rises linearly from
    mel point ``m`` to ``m + 1`` and falls to ``m + 2``, where the ``n_mels + 2`` points are evenly
    spaced on the HTK mel scale between ``f_min`` and ``f_max``. ``norm="slaney"`` divides each
    filter by its bandwidth in Hz / 2 so that every filter has the same area.
    """
    f_max = sample_rate / 2 if f_max is None else f_max
    if not 0 <= f_min < f_max <= sample_rate / 2:
        raise ValueError(f"need 0 <= f_min < f_max <= sample_rate/2, got {f_min}, {f_max}, {sample_rate}")
    if norm not in (None, "slaney"):
        raise ValueError(f"norm must be None or 'slaney', got {norm!r}")
    bin_hz = torch.linspace(0, sample_rate / 2, n_freqs, dtype=torch.float64)
    mel_pts = torch.linspace(float(hz_to_mel(f_min)), float(hz_to_mel(f_max)), n_mels + 2,
                             dtype=torch.float64)
    hz_pts = mel_to_hz(mel_pts)
    widths = hz_pts[1:] - hz_pts[:-1]  # (n_mels + 1,)
    slopes = hz_pts.unsqueeze(0) - bin_hz.unsqueeze(1)  # (n_freqs, n_mels + 2)
    rising = -slopes[:, :-2] / widths[:-1]
    falling = slopes[:, 2:] / widths[1:]
    fb = torch.clamp(torch.minimum(rising, falling), min=0.0)
    if norm == "slaney":
        fb = fb * (2.0 / (hz_pts[2:] - hz_pts[:-2]))
    return fb.to(torch.float32)


@dataclass
class FeatureConfig:
    """Front-end parameters (stored with the checkpoint)."""

    sample_rate: int = 16000
    n_fft: int = 512
    win_length: int = 400  # 25 ms at 16 kHz
    hop_length: int = 160  # 10 ms
    n_mels: int = 64
    f_min: float = 50.0
    f_max: float = 8000.0
    norm: str | None = None
    log_offset: float = 1e-6

    def to_dict(self) -> dict:
        return asdict(self)


class LogMel(nn.Module):
    """Waveform ``(batch, samples)`` -> log-mel ``(batch, frames, n_mels)``.

    Always computed in float32 (autocast is switched off inside) because the log of small powers
    underflows in half precision.
    """

    def __init__(self, cfg: FeatureConfig | None = None):
        super().__init__()
        self.cfg = cfg or FeatureConfig()
        c = self.cfg
        if c.win_length > c.n_fft:
            raise ValueError(f"win_length {c.win_length} > n_fft {c.n_fft}")
        self.register_buffer("window", torch.hann_window(c.win_length), persistent=False)
        self.register_buffer(
            "mel_fb", mel_filterbank(c.n_fft // 2 + 1, c.n_mels, c.sample_rate, c.f_min, c.f_max, c.norm)
        )

    def forward(self, wave: torch.Tensor) -> torch.Tensor:
        c = self.cfg
        with torch.autocast(device_type=wave.device.type, enabled=False):
            spec = torch.stft(wave.float(), n_fft=c.n_fft, hop_length=c.hop_length,
                              win_length=c.win_length, window=self.window, center=True,
                              return_complex=True)
            power = spec.real.square() + spec.imag.square()  # (B, F, T)
            mel = torch.matmul(power.transpose(1, 2), self.mel_fb)  # (B, T, M)
            return torch.log(mel + c.log_offset)

    def num_frames(self, num_samples: int) -> int:
        return num_samples // self.cfg.hop_length + 1


@dataclass
class SpecAugmentConfig:
    time_masks: int = 2
    time_width: int = 20  # frames, upper bound of each mask's width
    freq_masks: int = 2
    freq_width: int = 8  # mel bins

    def to_dict(self) -> dict:
        return asdict(self)


class SpecAugment(nn.Module):
    """Time and frequency masking (Park et al., 2019) on ``(batch, frames, mels)``, training only.

    Masks are drawn per example from torch's global generator, so checkpointed RNG state makes
    augmentation reproducible on resume. Masked cells are set to the example's mean.
    """

    def __init__(self, cfg: SpecAugmentConfig | None = None):
        super().__init__()
        self.cfg = cfg or SpecAugmentConfig()

    @staticmethod
    def _masks(batch: int, length: int, count: int, width: int, device) -> torch.Tensor:
        """Boolean ``(batch, length)``: union of ``count`` random bands of width < ``width``."""
        if count <= 0 or width <= 0 or length <= 1:
            return torch.zeros(batch, length, dtype=torch.bool, device=device)
        width = min(width, length)
        w = torch.randint(0, width + 1, (batch, count, 1), device=device)
        start = (torch.rand(batch, count, 1, device=device) * (length - w + 1)).long()
        pos = torch.arange(length, device=device).view(1, 1, -1)
        return ((pos >= start) & (pos < start + w)).any(dim=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training:
            return x
        c = self.cfg
        b, t, f = x.shape
        mask = self._masks(b, t, c.time_masks, c.time_width, x.device).unsqueeze(2) \
            | self._masks(b, f, c.freq_masks, c.freq_width, x.device).unsqueeze(1)
        fill = x.mean(dim=(1, 2), keepdim=True).expand_as(x)
        return torch.where(mask, fill, x)
