"""Audio encoders: log-mel ``(batch, frames, mels)`` -> frame sequence + clip embedding.

Every encoder has ``encode(x) -> (frames, pooled)``: the frame sequence ``(batch, T, frame_dim)``
(what the caption decoder attends to) and the pooled clip embedding ``(batch, embed_dim)``;
``forward(x)`` returns the pooled embedding.

A small registry so a recipe picks an encoder by name (``model.encoder: cnn10``) and passes its
keyword arguments (``model.encoder_args``). Parameter counts (64 mel bins) are in docs/training.md;
:func:`count_parameters` prints them for any configuration.

- ``cnn6`` / ``cnn10`` follow PANNs (Kong et al., 2020): blocks of 5x5 (CNN6) or two 3x3 (CNN10)
  convolutions with batch norm, 2x2 average pooling, then mean over frequency and max + mean
  over time. ``channels`` scales them down (the defaults are PANNs' widths).
- ``transformer``: an AST-style patch transformer (non-overlapping patches over time x mel,
  learned positional embeddings, pre-norm encoder layers, mean-pooled tokens).
- ``hf``: a standard backbone from ``transformers`` (AST, Whisper's encoder, HuBERT, wav2vec2),
  from a config or a local checkpoint, with its own front end (:mod:`uts.training.hf_encoders`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import torch
from torch import nn

from .caption import CaptionDecoder
from .features import FeatureConfig, LogMel, SpecAugment, SpecAugmentConfig
from .text import TextTower
from .tokenizer import CaptionTokenizer

ENCODERS: dict[str, Callable[..., nn.Module]] = {}


def register(name: str):
    def deco(builder):
        ENCODERS[name] = builder
        return builder
    return deco


def build_encoder(name: str, n_mels: int, **kwargs) -> nn.Module:
    """Instantiate a registered encoder; it exposes ``embed_dim``."""
    if name not in ENCODERS:
        raise ValueError(f"unknown encoder {name!r}; choose from {', '.join(sorted(ENCODERS))}")
    try:
        return ENCODERS[name](n_mels=n_mels, **kwargs)
    except TypeError as exc:
        raise ValueError(f"bad arguments for encoder {name!r}: {exc}") from None


def count_parameters(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


class ConvBlock(nn.Module):
    def __init__(self, cin: int, cout: int, kernel: int, convs: int):
        super().__init__()
        layers: list[nn.Module] = []
        for i in range(convs):
            layers += [nn.Conv2d(cin if i == 0 else cout, cout, kernel, padding=kernel // 2, bias=False),
                       nn.BatchNorm2d(cout), nn.ReLU(inplace=True)]
        self.body = nn.Sequential(*layers)
        self.pool = nn.AvgPool2d(2, ceil_mode=True)

    def forward(self, x):
        return self.pool(self.body(x))


class CNN(nn.Module):
    """PANNs-style CNN over the log-mel image (time x mel)."""

    def __init__(self, n_mels: int, channels: Sequence[int], kernel: int, convs: int,
                 dropout: float = 0.2):
        super().__init__()
        self.input_norm = nn.BatchNorm2d(1)
        chans = [1, *channels]
        self.blocks = nn.Sequential(*(ConvBlock(a, b, kernel, convs) for a, b in zip(chans, chans[1:])))
        self.dropout = nn.Dropout(dropout)
        self.proj = nn.Linear(chans[-1], chans[-1])
        self.embed_dim = self.frame_dim = chans[-1]

    def encode(self, mel: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = self.input_norm(mel.unsqueeze(1))  # (B, 1, T, M)
        x = self.blocks(x).mean(dim=3)  # (B, C, T')
        pooled = torch.relu(self.proj(self.dropout(x.amax(dim=2) + x.mean(dim=2))))
        return x.transpose(1, 2), pooled

    def forward(self, mel: torch.Tensor) -> torch.Tensor:
        return self.encode(mel)[1]


@register("cnn6")
def cnn6(n_mels: int, channels: Sequence[int] = (64, 128, 256, 512), dropout: float = 0.2) -> CNN:
    return CNN(n_mels, channels, kernel=5, convs=1, dropout=dropout)


@register("cnn10")
def cnn10(n_mels: int, channels: Sequence[int] = (64, 128, 256, 512), dropout: float = 0.2) -> CNN:
    return CNN(n_mels, channels, kernel=3, convs=2, dropout=dropout)


class PatchTransformer(nn.Module):
    """Patch transformer over (time x mel): patches -> tokens -> encoder -> mean pool."""

    def __init__(self, n_mels: int, dim: int = 192, depth: int = 4, heads: int = 3,
                 patch: Sequence[int] = (16, 16), max_frames: int = 1024, dropout: float = 0.1):
        super().__init__()
        pt, pf = patch
        if n_mels % pf:
            raise ValueError(f"n_mels {n_mels} is not a multiple of the mel patch size {pf}")
        self.patch = (pt, pf)
        self.input_norm = nn.LayerNorm(n_mels)
        self.to_tokens = nn.Conv2d(1, dim, kernel_size=(pt, pf), stride=(pt, pf))
        self.max_time_patches = max_frames // pt
        self.pos = nn.Parameter(torch.zeros(1, self.max_time_patches, n_mels // pf, dim))
        nn.init.trunc_normal_(self.pos, std=0.02)
        layer = nn.TransformerEncoderLayer(dim, heads, dim_feedforward=4 * dim, dropout=dropout,
                                           batch_first=True, norm_first=True, activation="gelu")
        self.encoder = nn.TransformerEncoder(layer, depth, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(dim)
        self.embed_dim = self.frame_dim = dim

    def forward(self, mel: torch.Tensor) -> torch.Tensor:
        return self.encode(mel)[1]

    def encode(self, mel: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        pt, _ = self.patch
        t = mel.shape[1]
        if t % pt:  # pad time to a whole number of patches
            mel = nn.functional.pad(mel, (0, 0, 0, pt - t % pt))
        x = self.to_tokens(self.input_norm(mel).unsqueeze(1))  # (B, D, T', F')
        x = x.permute(0, 2, 3, 1)  # (B, T', F', D)
        if x.shape[1] > self.max_time_patches:
            raise ValueError(f"clip has {x.shape[1]} time patches, more than max_frames allows "
                             f"({self.max_time_patches}); raise model.encoder_args.max_frames")
        x = (x + self.pos[:, : x.shape[1]]).flatten(1, 2)
        tokens = self.norm(self.encoder(x))  # (B, T'*F', D), time-major
        return tokens, tokens.mean(dim=1)


@register("transformer")
def transformer(n_mels: int, **kwargs) -> PatchTransformer:
    return PatchTransformer(n_mels, **kwargs)


@register("hf")
def hf(n_mels: int, **kwargs) -> nn.Module:
    # lazy: transformers' audio models take seconds to import and only this entry needs them
    from .hf_encoders import build_hf_encoder

    return build_hf_encoder(n_mels, **kwargs)


class Tagger(nn.Module):
    """Waveform -> log-mel -> (SpecAugment when training) -> encoder -> class logits.

    With a ``text`` tower (caption-contrastive objectives) it also has projection heads into a
    joint space (``audio_proj``, ``text_proj``: two-layer MLPs, as in CLAP) and a learnable
    ``logit_scale`` (log of the inverse temperature); ``forward(wave, captions)`` then returns a
    dict with the logits and both projected embeddings.

    With a caption ``decoder`` (:class:`uts.training.caption.CaptionDecoder`, and its
    ``tokenizer``) the dict also holds ``caption_logits`` (teacher forcing over the encoder's
    frame sequence) and ``caption_targets`` (the captions shifted by one, padding = -100).
    """

    def __init__(self, frontend: nn.Module, encoder: nn.Module, num_classes: int,
                 augment: nn.Module | None = None, text: nn.Module | None = None,
                 joint_dim: int = 256, init_temperature: float = 0.07, learn_temperature: bool = True,
                 decoder: nn.Module | None = None, tokenizer=None):
        super().__init__()
        self.decoder, self.tokenizer = decoder, tokenizer
        self.frontend, self.encoder = frontend, encoder
        self.augment = augment if augment is not None else nn.Identity()
        self.head = nn.Linear(encoder.embed_dim, num_classes)
        self.text = text
        if text is not None:
            self.audio_proj = _projection(encoder.embed_dim, joint_dim)
            self.text_proj = _projection(text.embed_dim, joint_dim)
            self.logit_scale = nn.Parameter(torch.tensor(math.log(1.0 / init_temperature)),
                                            requires_grad=learn_temperature)

    def embed(self, wave: torch.Tensor) -> torch.Tensor:
        return self.encoder(self.augment(self.frontend(wave)))

    def encode(self, wave: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The encoder's frame sequence and pooled embedding of a waveform batch."""
        return self.encoder.encode(self.augment(self.frontend(wave)))

    def encode_text(self, captions: Sequence[str]) -> torch.Tensor:
        """Captions -> joint-space embeddings (not normalised)."""
        return self.text_proj(self.text(captions))

    def forward(self, wave: torch.Tensor, captions: Sequence[str] | None = None):
        if captions is None:
            return self.head(self.embed(wave))
        frames, emb = self.encode(wave)
        out = {"logits": self.head(emb)}
        if self.text is not None:
            out.update(audio=self.audio_proj(emb), text=self.encode_text(captions), logit_scale=self.logit_scale)
        if self.decoder is not None:
            tokens = self.tokenizer.encode(captions).to(wave.device)
            out["caption_logits"] = self.decoder(frames, tokens[:, :-1])
            out["caption_targets"] = tokens[:, 1:].masked_fill(tokens[:, 1:] == self.tokenizer.pad_id, -100)
        return out

    # Weights of a frozen text tower are not part of the run: they are rebuilt from its path.
    def _frozen_text_key(self, key: str) -> bool:
        return self.text is not None and not self.text.persistent() and key.startswith("text.")

    def weights(self) -> dict[str, torch.Tensor]:
        """The state dict that checkpoints hold (without a frozen text tower)."""
        return {k: v for k, v in self.state_dict().items() if not self._frozen_text_key(k)}

    def load_weights(self, state: dict[str, torch.Tensor]) -> None:
        missing, unexpected = self.load_state_dict(state, strict=False)
        missing = [k for k in missing if not self._frozen_text_key(k)]
        if missing or unexpected:
            raise RuntimeError(f"weights do not match the model: missing {missing[:5]}, unexpected {unexpected[:5]}")


def _projection(dim_in: int, dim_out: int) -> nn.Module:
    return nn.Sequential(nn.Linear(dim_in, dim_out), nn.ReLU(), nn.Linear(dim_out, dim_out))


def build_model(cfg: dict, num_classes: int) -> Tagger:
    """The tagger a config describes (sections ``features``, ``specaugment``, ``model``; and
    ``text``, ``contrastive`` for the caption-contrastive objectives)."""
    feats = FeatureConfig(sample_rate=cfg["data"]["sample_rate"], **cfg["features"])
    spec = {k: v for k, v in cfg["specaugment"].items() if k != "enabled"}
    augment = SpecAugment(SpecAugmentConfig(**spec)) if cfg["specaugment"]["enabled"] else None
    encoder = build_encoder(cfg["model"]["encoder"], n_mels=feats.n_mels, **cfg["model"]["encoder_args"])
    frontend: nn.Module = LogMel(feats)
    if getattr(encoder, "takes_waveform", False):  # a transformers backbone brings its front end
        if feats.sample_rate != 16000:
            raise ValueError(f"the {encoder.kind} backbone expects 16 kHz audio; set data.sample_rate: 16000")
        frontend = encoder.feature_frontend()
        if encoder.kind in ("hubert", "wav2vec2"):
            augment = None  # SpecAugment masks (time x mel) features; these take the waveform
    parts = cfg["objective"]["name"].split("+")
    decoder = tokenizer = None
    if "caption" in parts:
        decoder, tokenizer = build_caption_decoder(cfg["caption"], encoder.frame_dim)
    if "contrastive" not in parts:
        return Tagger(frontend, encoder, num_classes, augment, decoder=decoder, tokenizer=tokenizer)

    t, c = cfg["text"], cfg["contrastive"]
    text = TextTower(t["model"], trainable=t["trainable"], max_length=t["max_length"])
    return Tagger(frontend, encoder, num_classes, augment, text=text, joint_dim=c["embed_dim"],
                  init_temperature=c["init_temperature"], learn_temperature=c["learn_temperature"],
                  decoder=decoder, tokenizer=tokenizer)


def build_caption_decoder(c: dict, memory_dim: int):
    """The caption decoder and tokenizer of a ``caption`` config section; ``pieces`` (the id
    space the run was trained with) must be filled in, or ``vocabulary: full``."""
    if c["pieces"] is None and c["vocabulary"] != "full":
        raise ValueError("caption.pieces is not set: the trainer fills it from the training captions")
    tok = CaptionTokenizer(c["vocab_file"], keep=c["pieces"], max_length=c["max_length"])
    dec = CaptionDecoder(len(tok), memory_dim, dim=c["dim"], depth=c["depth"], heads=c["heads"],
                         max_length=c["max_length"], dropout=c["dropout"], pad_id=tok.pad_id,
                         unk_id=tok.unk_id, bos_id=tok.bos_id, eos_id=tok.eos_id)
    return dec, tok
