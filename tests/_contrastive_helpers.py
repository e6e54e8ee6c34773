"""Helpers for the contrastive tests: a tiny, randomly initialised BERT with the bundled MiniLM's
tokenizer, saved as a transformers model folder (loads in well under a second)."""

from __future__ import annotations

from pathlib import Path


def tiny_text_model(root: Path) -> Path:
    """A model folder under ``root``: 1 layer, hidden size 16, random weights (seed 0)."""
    import torch
    from transformers import AutoTokenizer, BertConfig, BertModel

    from uts.embedding import default_model_path

    folder = root / "tiny-bert"
    tok = AutoTokenizer.from_pretrained(str(default_model_path()), local_files_only=True)
    torch.manual_seed(0)
    model = BertModel(BertConfig(vocab_size=tok.vocab_size, hidden_size=16, num_hidden_layers=1,
                                 num_attention_heads=2, intermediate_size=32, max_position_embeddings=64))
    model.save_pretrained(str(folder))
    tok.save_pretrained(str(folder))
    return folder


def contrastive_overrides(text_model: Path, name: str = "hier+contrastive", **extra) -> dict:
    values = {"objective.name": name, "text.model": str(text_model), "text.max_length": 16,
              "contrastive.embed_dim": 8}
    values.update(extra)
    return values
