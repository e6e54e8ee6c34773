"""Evaluating a captioning model: held-out caption loss and perplexity, generated captions with
BLEU-4 / ROUGE-L / CIDEr-D, and zero-shot tagging and retrieval **by decoder likelihood**, so
captioning lands in the same table as the tagging and contrastive objectives.

Likelihood scoring. ``L[n, m] = log p(text_m | clip_n)`` (summed over the text's tokens) prefers
short, frequent texts whatever the clip; comparing *clips* for one text is unaffected by that, but
comparing *texts* for one clip is not. So each text's log-likelihood is centred over the
evaluated clips, ``S[n, m] = L[n, m] - mean_n' L[n', m]`` -- how much more likely the text is
given this clip than given a typical one (a pointwise mutual information estimate):

- **zero-shot tagging**: a class's prompts are "the sound of {label}." for its label and
  synonyms; its score for a clip is the log-mean-exp of its prompts' ``S``; scores become
  ``exp(S - best S of the clip)`` (the best class scores 1, a class within ln 2 nats of it
  >= 0.5, the set-based metrics' threshold), then the hierarchy's max constraint, as for the
  contrastive zero-shot scores (:mod:`uts.training.zeroshot`);
- **retrieval**: ``S`` is the similarity matrix of :func:`uts.training.retrieval.retrieval_from_similarity`
  (text->audio ranks clips for a caption, where centring changes nothing; audio->text ranks
  captions for a clip, where it removes the length/frequency prior).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch

from .caption import CaptionDecoder, likelihood_matrix
from .caption_metrics import caption_scores
from .hierarchy import Hierarchy
from .retrieval import retrieval_from_similarity
from .tokenizer import CaptionTokenizer


def class_prompts(concept) -> list[str]:
    """Zero-shot prompts of one concept for a caption decoder: short captions naming it."""
    names = list(dict.fromkeys([concept.label, *(concept.synonyms or [])]))
    return [f"The sound of {n}." for n in names]


def centred_likelihood(decoder: CaptionDecoder, tokenizer: CaptionTokenizer, frames: torch.Tensor,
                       texts: Sequence[str], batch: int = 256) -> torch.Tensor:
    """``(clips, texts)`` log-likelihoods, each text's column centred over the clips."""
    cols = []
    for i in range(0, len(texts), batch):
        tokens = tokenizer.encode(texts[i:i + batch]).to(frames.device)
        cols.append(likelihood_matrix(decoder, frames, tokens))
    lik = torch.cat(cols, dim=1)
    return lik - lik.mean(dim=0, keepdim=True)


def zero_shot_caption_scores(decoder, tokenizer, frames: torch.Tensor, hierarchy: Hierarchy, onto) -> torch.Tensor:
    """Scores in (0, 1] of clips (their encoder ``frames``) for ``hierarchy.ids``."""
    prompts, owner = [], []
    for j, cid in enumerate(hierarchy.ids):
        ps = class_prompts(onto.get(cid)) if cid in onto else [f"The sound of {cid}."]
        prompts.extend(ps)
        owner.extend([j] * len(ps))
    s = centred_likelihood(decoder, tokenizer, frames, prompts)
    owner_t = torch.tensor(owner)
    per_class = torch.full((frames.shape[0], len(hierarchy.ids)), float("-inf"))
    for j in range(len(hierarchy.ids)):
        cols = s[:, owner_t == j]
        per_class[:, j] = torch.logsumexp(cols, dim=1) - math.log(cols.shape[1])
    scores = torch.exp(per_class - per_class.max(dim=1, keepdim=True).values)
    return hierarchy.max_constraint(scores)


def caption_retrieval(decoder, tokenizer, frames: torch.Tensor, texts: Sequence[str], owner: Sequence[int]) -> dict:
    sim = centred_likelihood(decoder, tokenizer, frames, texts).T  # (texts, clips)
    return retrieval_from_similarity(sim.double().numpy(), owner)


@torch.no_grad()
def held_out_loss(decoder, tokenizer, frames: torch.Tensor, texts: Sequence[str], owner: Sequence[int],
                  batch: int = 128) -> dict:
    """Mean token negative log-likelihood (no label smoothing) of the held-out captions under
    their own clips, and its perplexity; also the share of caption tokens outside the
    training vocabulary ([UNK], which the model was never trained to write)."""
    total, count, unk = 0.0, 0, 0
    for i in range(0, len(texts), batch):
        tokens = tokenizer.encode(texts[i:i + batch]).to(frames.device)
        clip_frames = frames[torch.as_tensor(owner[i:i + batch], device=frames.device)]
        total -= float(decoder.sequence_logprob(clip_frames, tokens).sum())
        real = tokens[:, 1:] != tokenizer.pad_id
        count += int(real.sum())
        unk += int((tokens == tokenizer.unk_id).sum())
    nll = total / max(count, 1)
    return {"caption_loss": nll, "perplexity": float(math.exp(min(nll, 50.0))),
            "unknown_token_rate": unk / max(count, 1), "tokens": count}


@torch.no_grad()
def generated_captions(decoder, tokenizer, frames: torch.Tensor, texts: Sequence[str], owner: Sequence[int],
                       beam_size: int = 3, batch: int = 64) -> dict:
    """Captions generated for every clip that has references, scored against them."""
    refs: dict[int, list[str]] = {}
    for t, o in zip(texts, owner):
        refs.setdefault(int(o), []).append(t)
    clips = sorted(refs)
    written: list[str] = []
    for i in range(0, len(clips), batch):
        idx = torch.as_tensor(clips[i:i + batch], device=frames.device)
        written.extend(tokenizer.decode(decoder.generate(frames[idx], beam_size=beam_size)))
    scores = caption_scores(written, [refs[c] for c in clips])
    return {"beam_size": beam_size, **scores, "examples": [
        {"clip": c, "generated": w, "references": refs[c]} for c, w in zip(clips, written)]}
