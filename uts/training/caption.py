"""Autoregressive captioning: a small transformer decoder over the audio encoder's frames.

The paper behind UTS pre-trains an audio encoder by captioning: a text decoder with
cross-attention over the encoder's frame sequence, trained with teacher forcing. Here:

- :class:`CaptionDecoder` -- token embedding + learned positions, ``depth`` pre-norm decoder
  layers (causal self-attention, cross-attention over the projected encoder frames, which carry
  sinusoidal time positions), a final norm and an output layer tied to the token embedding.
  ``forward(frames, tokens)`` returns next-token logits for teacher forcing.
- the loss is the objective :class:`uts.training.objectives.caption.CaptionLoss` (token
  cross-entropy with label smoothing, padding left out).
- :meth:`CaptionDecoder.generate` -- greedy (``beam_size=1``) and beam search (length-normalised
  log-probability, ``(5 + len)^alpha / 6^alpha`` as GNMT).
- :meth:`CaptionDecoder.sequence_logprob` -- the summed log-likelihood of given token sequences
  under given clips: zero-shot tagging (label prompts) and text->audio retrieval (captions) score
  by it (:func:`likelihood_matrix`).
"""

from __future__ import annotations

import math

import torch
from torch import nn


def sinusoid(length: int, dim: int, device=None) -> torch.Tensor:
    """``(length, dim)`` sinusoidal positions (Vaswani et al.): frames need no length limit."""
    pos = torch.arange(length, device=device, dtype=torch.float32)[:, None]
    i = torch.arange(0, dim, 2, device=device, dtype=torch.float32)
    angle = pos / torch.pow(10000.0, i / dim)
    out = torch.zeros(length, dim, device=device)
    out[:, 0::2] = torch.sin(angle)
    out[:, 1::2] = torch.cos(angle[:, : dim // 2])
    return out


class CaptionDecoder(nn.Module):
    """Tokens ``(B, L)`` + encoder frames ``(B, T, memory_dim)`` -> logits ``(B, L, vocab)``."""

    def __init__(self, vocab_size: int, memory_dim: int, dim: int = 256, depth: int = 2,
                 heads: int = 4, max_length: int = 32, dropout: float = 0.1,
                 pad_id: int = 0, unk_id: int = 1, bos_id: int = 2, eos_id: int = 3):
        super().__init__()
        if dim % heads:
            raise ValueError(f"caption.dim {dim} is not a multiple of caption.heads {heads}")
        self.vocab_size, self.dim, self.max_length = vocab_size, dim, max_length
        self.pad_id, self.unk_id, self.bos_id, self.eos_id = pad_id, unk_id, bos_id, eos_id
        self.embed = nn.Embedding(vocab_size, dim, padding_idx=pad_id)
        self.pos = nn.Parameter(torch.zeros(1, max_length, dim))
        nn.init.normal_(self.embed.weight, std=0.02)
        nn.init.trunc_normal_(self.pos, std=0.02)
        self.memory_proj = nn.Linear(memory_dim, dim)
        layer = nn.TransformerDecoderLayer(dim, heads, dim_feedforward=4 * dim, dropout=dropout,
                                           batch_first=True, norm_first=True, activation="gelu")
        self.layers = nn.TransformerDecoder(layer, depth)
        self.norm = nn.LayerNorm(dim)
        self.out = nn.Linear(dim, vocab_size, bias=False)
        self.out.weight = self.embed.weight  # tied, as most caption decoders

    def memory(self, frames: torch.Tensor) -> torch.Tensor:
        """Encoder frames -> decoder width, with time positions."""
        mem = self.memory_proj(frames)
        return mem + sinusoid(mem.shape[1], self.dim, mem.device).to(mem.dtype)

    def forward(self, frames: torch.Tensor, tokens: torch.Tensor, memory: torch.Tensor | None = None) -> torch.Tensor:
        """Next-token logits for every position of ``tokens`` (teacher forcing: pass the
        caption without its last token). ``memory`` skips re-projecting the frames."""
        length = tokens.shape[1]
        if length > self.max_length:
            raise ValueError(f"{length} tokens, more than caption.max_length ({self.max_length})")
        mem = self.memory(frames) if memory is None else memory
        x = self.embed(tokens) + self.pos[:, :length]
        causal = torch.ones(length, length, dtype=torch.bool, device=tokens.device).triu(1)
        x = self.layers(x, mem, tgt_mask=causal, tgt_key_padding_mask=tokens == self.pad_id,
                        tgt_is_causal=True)
        return self.out(self.norm(x))

    @torch.no_grad()
    def sequence_logprob(self, frames: torch.Tensor, tokens: torch.Tensor) -> torch.Tensor:
        """``(B,)`` summed log p(tokens[1:] | tokens[:-1], frames), padding excluded."""
        logits = self(frames, tokens[:, :-1]).float()
        target = tokens[:, 1:]
        logp = torch.log_softmax(logits, dim=-1).gather(-1, target.unsqueeze(-1)).squeeze(-1)
        return (logp * (target != self.pad_id)).sum(dim=1)

    @torch.no_grad()
    def generate(self, frames: torch.Tensor, beam_size: int = 1, max_length: int | None = None,
                 length_penalty: float = 0.6) -> torch.Tensor:
        """Token ids ``(B, L)`` (BOS first, EOS-terminated or cut at ``max_length``, PAD after).
        ``beam_size=1`` is greedy decoding."""
        max_length = min(max_length or self.max_length, self.max_length)
        if beam_size <= 1:
            return self._greedy(frames, max_length)
        return self._beam(frames, beam_size, max_length, length_penalty)

    def _next_logp(self, seq, mem) -> torch.Tensor:
        """Log-probabilities of the next token; never PAD, BOS or UNK."""
        logp = torch.log_softmax(self(None, seq, memory=mem)[:, -1].float(), dim=-1)
        logp[:, [self.pad_id, self.bos_id, self.unk_id]] = float("-inf")
        return logp

    def _greedy(self, frames, max_length):
        mem = self.memory(frames)
        batch = frames.shape[0]
        seq = torch.full((batch, 1), self.bos_id, dtype=torch.long, device=frames.device)
        done = torch.zeros(batch, dtype=torch.bool, device=frames.device)
        for _ in range(max_length - 1):
            nxt = self._next_logp(seq, mem).argmax(-1)
            nxt = torch.where(done, torch.full_like(nxt, self.pad_id), nxt)
            seq = torch.cat([seq, nxt[:, None]], dim=1)
            done |= nxt == self.eos_id
            if bool(done.all()):
                break
        return seq

    def _beam(self, frames, k, max_length, alpha):
        batch, device = frames.shape[0], frames.device
        mem = self.memory(frames).repeat_interleave(k, dim=0)  # (B*k, T, D)
        seq = torch.full((batch * k, 1), self.bos_id, dtype=torch.long, device=device)
        # only the first beam is live at the start, so the k beams do not start identical
        score = torch.full((batch, k), float("-inf"), device=device)
        score[:, 0] = 0.0
        score = score.view(-1)
        finished: list[list[tuple[float, list[int]]]] = [[] for _ in range(batch)]
        vocab = self.vocab_size
        for step in range(1, max_length):
            logp = self._next_logp(seq, mem)
            if step == max_length - 1:  # last position: only EOS may follow
                keep_eos = logp[:, self.eos_id].clone()
                logp.fill_(float("-inf"))
                logp[:, self.eos_id] = keep_eos
            cand = (score[:, None] + logp).view(batch, k * vocab)
            top, idx = cand.topk(2 * k, dim=1)  # 2k so that k stay alive after EOS ends some
            beam, tok = idx // vocab, idx % vocab
            new_seq, new_score = [], []
            for b in range(batch):
                alive = 0
                for s, bm, t in zip(top[b].tolist(), beam[b].tolist(), tok[b].tolist()):
                    if s == float("-inf"):
                        break
                    prefix = seq[b * k + bm].tolist()
                    if t == self.eos_id:
                        length = len(prefix)  # pieces + EOS, BOS excluded
                        finished[b].append((s / (((5 + length) / 6) ** alpha), prefix + [t]))
                        continue
                    new_seq.append(prefix + [t])
                    new_score.append(s)
                    alive += 1
                    if alive == k:
                        break
                while alive < k:  # fewer live candidates than beams: pad with dead ones
                    new_seq.append(seq[b * k].tolist() + [self.pad_id])
                    new_score.append(float("-inf"))
                    alive += 1
            seq = torch.tensor(new_seq, dtype=torch.long, device=device)
            score = torch.tensor(new_score, device=device)
            best_alive = score.view(batch, k).max(dim=1).values
            # stop once every clip has k finished hypotheses that no live beam can still beat
            if all(len(f) >= k and best_alive[b] / (((5 + max_length) / 6) ** alpha) <= max(x[0] for x in f)
                   for b, f in enumerate(finished)):
                break
        rows = []
        for b in range(batch):
            if finished[b]:
                rows.append(max(finished[b], key=lambda x: x[0])[1])
            else:
                rows.append(seq[b * k].tolist())
        length = max(len(r) for r in rows)
        out = torch.full((batch, length), self.pad_id, dtype=torch.long, device=device)
        for b, r in enumerate(rows):
            out[b, : len(r)] = torch.tensor(r, dtype=torch.long)
        return out


@torch.no_grad()
def likelihood_matrix(decoder: CaptionDecoder, frames: torch.Tensor, tokens: torch.Tensor,
                      chunk: int = 4096) -> torch.Tensor:
    """``(clips, texts)`` summed log-likelihood of every text under every clip.

    Each clip's projected frames are reused for all texts; rows are computed ``chunk`` pairs at
    a time to bound memory.
    """
    n, m = frames.shape[0], tokens.shape[0]
    mem = decoder.memory(frames)
    out = torch.empty(n, m)
    per = max(1, chunk // max(1, m))
    for start in range(0, n, per):
        block = mem[start:start + per]
        b = block.shape[0]
        mem_rep = block.repeat_interleave(m, dim=0)
        tok_rep = tokens.repeat(b, 1)
        logits = decoder(None, tok_rep[:, :-1], memory=mem_rep).float()
        target = tok_rep[:, 1:]
        logp = torch.log_softmax(logits, dim=-1).gather(-1, target.unsqueeze(-1)).squeeze(-1)
        out[start:start + b] = (logp * (target != decoder.pad_id)).sum(dim=1).view(b, m).cpu()
    return out


def perplexity(mean_token_nll: float) -> float:
    return float(math.exp(min(mean_token_nll, 50.0)))
