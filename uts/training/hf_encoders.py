"""Standard audio backbones from ``transformers`` as UTS encoders (``model.encoder: hf``).

``model.encoder_args``:

- ``kind``: ``ast`` (Audio Spectrogram Transformer), ``whisper`` (Whisper's encoder), ``hubert``
  or ``wav2vec2``; optional when ``path`` is given (read from the checkpoint's ``model_type``);
- ``path``: a local checkpoint folder (``config.json`` + weights, as ``save_pretrained`` writes
  it; a full Whisper checkpoint gives its encoder); its ``preprocessor_config.json``, when
  present, sets the front end; **or**
- ``config``: keyword arguments of the backbone's config class (``ASTConfig``, ``WhisperConfig``,
  ``HubertConfig``, ``Wav2Vec2Config``): a randomly initialised model of that shape.

Nothing is ever downloaded: loading is ``local_files_only`` with the hub switched off.

Each backbone gets the **front end it was trained with**, taken from ``transformers``' own feature
extractors (run on the CPU, outside autograd): AST -- Kaldi-style 128-bin filterbank, padded or
cut to ``max_length`` frames, normalised with AudioSet's mean/std; Whisper -- 80/128-bin log-mel,
padded to the encoder's fixed input length (``2 * max_source_positions`` frames of 10 ms, 30 s
for released checkpoints); HuBERT / wav2vec2 -- the raw waveform, normalised to zero mean and
unit variance per clip. All expect 16 kHz audio (``data.sample_rate: 16000``).

The encoder interface is the one every UTS encoder has: :meth:`HFEncoder.encode` returns the
frame sequence ``(batch, frames, dim)`` (what the caption decoder attends to) and the pooled clip
embedding ``(batch, dim)``; ``forward`` returns the pooled embedding. Pooling: AST's own pooler
(mean of its CLS and distillation tokens); the others the mean over all frames (for Whisper
these include the frames of the padding up to its fixed input length: set
``max_source_positions`` to ``50 * data.clip_seconds`` for a model built from a config).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import torch
import transformers as tf
from torch import nn
from transformers.models.whisper.modeling_whisper import WhisperEncoder
from transformers.utils import logging as hf_logging

KINDS = ("ast", "whisper", "hubert", "wav2vec2")
_MODEL_TYPES = {"audio-spectrogram-transformer": "ast", "whisper": "whisper", "hubert": "hubert",
                "wav2vec2": "wav2vec2"}


class HFEncoderError(ValueError):
    pass


def _classes(kind: str):
    return {
        "ast": (tf.ASTConfig, tf.ASTModel, tf.ASTFeatureExtractor),
        "whisper": (tf.WhisperConfig, tf.WhisperModel, tf.WhisperFeatureExtractor),
        "hubert": (tf.HubertConfig, tf.HubertModel, tf.Wav2Vec2FeatureExtractor),
        "wav2vec2": (tf.Wav2Vec2Config, tf.Wav2Vec2Model, tf.Wav2Vec2FeatureExtractor),
    }[kind]


def _quiet():
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()


def load_backbone(kind: str | None = None, path: str | None = None, config: dict | None = None):
    """``(kind, model, feature_extractor)`` from a local folder or a config dict."""
    _quiet()
    if (path is None) == (config is None):
        raise HFEncoderError("model.encoder_args needs exactly one of 'path' (a local checkpoint "
                             "folder) or 'config' (keyword arguments of the backbone's config)")
    if path is not None:
        folder = Path(path)
        if not (folder / "config.json").is_file():
            raise HFEncoderError(f"model.encoder_args.path: {folder} is not a transformers checkpoint "
                                 "folder (no config.json)")
        saved = json.loads((folder / "config.json").read_text())
        model_type = saved.get("model_type")
        found = _MODEL_TYPES.get(model_type)
        if found is None:
            raise HFEncoderError(f"{folder}: model_type {model_type!r} is not a supported backbone "
                                 f"({', '.join(KINDS)})")
        if kind is not None and kind != found:
            raise HFEncoderError(f"{folder} holds a {found} model, but encoder_args.kind is {kind!r}")
        kind = found
        cfg_cls, model_cls, fe_cls = _classes(kind)
        if kind == "whisper" and "WhisperEncoder" in (saved.get("architectures") or []):
            model_cls = WhisperEncoder  # an encoder saved on its own
        try:
            model, info = model_cls.from_pretrained(str(folder), local_files_only=True, output_loading_info=True)
        except (OSError, ValueError) as exc:
            raise HFEncoderError(f"cannot load {kind} weights from {folder}: {exc}") from None
        # a checkpoint whose names do not match would leave layers randomly initialised: refuse
        missing = [k for k in info.get("missing_keys", []) if kind != "whisper" or "decoder" not in k]
        if missing:
            raise HFEncoderError(f"{folder}: {len(missing)} {kind} weights missing from the checkpoint "
                                 f"(e.g. {sorted(missing)[:3]})")
        extractor = (fe_cls.from_pretrained(str(folder), local_files_only=True)
                     if (folder / "preprocessor_config.json").is_file() else None)
    else:
        if kind not in KINDS:
            raise HFEncoderError(f"model.encoder_args.kind must be one of {', '.join(KINDS)} "
                                 f"when built from a config, got {kind!r}")
        cfg_cls, model_cls, fe_cls = _classes(kind)
        try:
            hf_config = cfg_cls(**config)
        except (TypeError, ValueError) as exc:
            raise HFEncoderError(f"bad model.encoder_args.config for {kind}: {exc}") from None
        if kind == "whisper":  # the encoder alone, not the encoder-decoder

            model = WhisperEncoder(hf_config)
        else:
            model = model_cls(hf_config)
        extractor = None
    if kind == "whisper" and hasattr(model, "get_encoder"):
        model = model.get_encoder()
    if extractor is None:
        extractor = _default_extractor(kind, model.config, fe_cls)
    return kind, model, extractor


def _default_extractor(kind: str, config, fe_cls):
    if kind == "ast":
        return fe_cls(num_mel_bins=config.num_mel_bins, max_length=config.max_length)
    if kind == "whisper":
        return fe_cls(feature_size=config.num_mel_bins)
    return fe_cls(do_normalize=True, return_attention_mask=False)


class HFFrontend(nn.Module):
    """Waveform ``(batch, samples)`` at 16 kHz -> the backbone's input features, via its
    ``transformers`` feature extractor (CPU, no gradient). Output shapes: AST ``(B, frames, mels)``,
    Whisper ``(B, frames, mels)`` (transposed back inside the encoder), HuBERT/wav2vec2
    ``(B, samples)``."""

    def __init__(self, kind: str, extractor, whisper_frames: int | None = None):
        super().__init__()
        self.kind, self.extractor = kind, extractor
        if kind == "whisper":  # pad to exactly the encoder's input length
            extractor.nb_max_frames = whisper_frames
            extractor.n_samples = whisper_frames * extractor.hop_length

    @torch.no_grad()
    def forward(self, wave: torch.Tensor) -> torch.Tensor:
        clips = [w for w in wave.detach().float().cpu().numpy().astype(np.float32)]
        if self.kind == "ast":
            out = self.extractor(clips, sampling_rate=16000, return_tensors="pt")["input_values"]
        elif self.kind == "whisper":
            out = self.extractor(clips, sampling_rate=16000, return_tensors="pt")["input_features"].transpose(1, 2)
        else:
            out = self.extractor(clips, sampling_rate=16000, return_tensors="pt", padding=False)["input_values"]
        return out.to(wave.device)


class HFEncoder(nn.Module):
    """A ``transformers`` audio backbone behind the UTS encoder interface."""

    takes_waveform = True  # the trainer skips the log-mel front end and gives it raw audio

    def __init__(self, kind: str, model: nn.Module, extractor):
        super().__init__()
        self.kind, self.model = kind, model
        self.embed_dim = self.frame_dim = int(model.config.hidden_size if kind != "whisper" else model.config.d_model)
        whisper_frames = 2 * model.config.max_source_positions if kind == "whisper" else None
        self._frontend_args = (kind, extractor, whisper_frames)

    def feature_frontend(self) -> nn.Module:
        return HFFrontend(*self._frontend_args)

    def encode(self, features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if self.kind == "ast":
            out = self.model(input_values=features)
            return out.last_hidden_state[:, 2:], out.pooler_output  # patch tokens; CLS/dist pooled
        if self.kind == "whisper":
            frames = self.model(input_features=features.transpose(1, 2)).last_hidden_state
            return frames, frames.mean(dim=1)
        frames = self.model(input_values=features).last_hidden_state
        return frames, frames.mean(dim=1)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.encode(features)[1]


def build_hf_encoder(n_mels: int | None = None, kind: str | None = None, path: str | None = None,
                     config: dict | None = None) -> HFEncoder:
    """The ``hf`` entry of the encoder registry (``n_mels`` is unused: the backbone brings its
    own front end)."""
    kind, model, extractor = load_backbone(kind, path, config)
    return HFEncoder(kind, model, extractor)
