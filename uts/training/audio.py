"""Audio for training: read a segment with soundfile, mix to mono, resample, crop or pad.

Resampling uses soxr when it is installed (very high quality, fast) and otherwise scipy's
polyphase filter (``scipy.signal.resample_poly``), which is exact for rational ratios such as
44.1 kHz -> 16 kHz. Only the frames that are needed are read from disk.
"""

from __future__ import annotations

from functools import lru_cache
from math import gcd

import numpy as np
import soundfile as sf
from scipy.signal import firwin, resample_poly

from uts.manifest import NON_FINITE, UNREADABLE, ZERO_LENGTH

try:  # optional, better and faster; never required
    import soxr
except ImportError:  # pragma: no cover - depends on the environment
    soxr = None


class AudioError(RuntimeError):
    """Audio that cannot be used: unreadable, empty or containing NaN/inf samples."""

    def __init__(self, reason: str, message: str):
        super().__init__(message)
        self.reason = reason  # one of the manifest module's reason codes


@lru_cache(maxsize=16)
def _polyphase_filter(up: int, down: int) -> np.ndarray:
    """The low-pass FIR that ``resample_poly`` designs by default (Kaiser, beta 5), built once
    per ratio: for 16 kHz -> 22.05 kHz designing it costs more than filtering a clip."""
    max_rate = max(up, down)
    return firwin(2 * 10 * max_rate + 1, 1.0 / max_rate, window=("kaiser", 5.0))


def resample(x: np.ndarray, orig_sr: int, target_sr: int) -> np.ndarray:
    """Resample a mono float signal from ``orig_sr`` to ``target_sr`` (anti-aliased)."""
    if orig_sr == target_sr or x.size == 0:
        return x.astype(np.float32, copy=False)
    if soxr is not None:
        return soxr.resample(x.astype(np.float32, copy=False), orig_sr, target_sr).astype(np.float32)

    g = gcd(int(orig_sr), int(target_sr))
    up, down = int(target_sr) // g, int(orig_sr) // g
    return resample_poly(x, up, down, window=_polyphase_filter(up, down)).astype(np.float32)


def read_segment(path: str, start: float = 0.0, duration: float | None = None,
                 sample_rate: int | None = None) -> np.ndarray:
    """Mono float32 samples of ``path`` from ``start`` for ``duration`` seconds (all when None),
    resampled to ``sample_rate`` (native when None). Raises :class:`AudioError` (with a reason
    code) when the file is unreadable, the segment empty, or any sample not finite."""
    try:
        with sf.SoundFile(path) as f:
            sr = f.samplerate
            first = int(round(start * sr))
            frames = -1 if duration is None else int(round(duration * sr))
            f.seek(min(first, f.frames))
            x = f.read(frames, dtype="float32", always_2d=True)
    except Exception as exc:  # LibsndfileError, RuntimeError, OSError
        raise AudioError(UNREADABLE, f"{path}: {exc}") from exc
    x = checked(x.mean(axis=1) if x.shape[1] > 1 else x[:, 0], f"{path} at {start}s")
    return resample(x, sr, sample_rate) if sample_rate else x


def checked(x: np.ndarray, where: str) -> np.ndarray:
    """``x`` (mono samples) unless it is empty or holds NaN/inf: then :class:`AudioError`."""
    if x.size == 0:
        raise AudioError(ZERO_LENGTH, f"{where}: no samples")
    if not np.isfinite(x).all():
        raise AudioError(NON_FINITE, f"{where}: contains NaN or infinite samples")
    return x


def crop_or_pad(x: np.ndarray, length: int, rng: np.random.Generator | None = None) -> np.ndarray:
    """Exactly ``length`` samples: a random window when ``rng`` is given (training), else the
    centre window; shorter signals are zero-padded at the end."""
    n = x.shape[-1]
    if n > length:
        offset = int(rng.integers(0, n - length + 1)) if rng is not None else (n - length) // 2
        return x[..., offset:offset + length]
    if n < length:
        pad = [(0, 0)] * (x.ndim - 1) + [(0, length - n)]
        return np.pad(x, pad)
    return x
