"""Symmetric InfoNCE (CLIP/CLAP) with a learnable temperature, negatives gathered across DDP
ranks, and targets that know the label hierarchy.

With L2-normalised audio embeddings ``a`` and caption embeddings ``t`` of a batch of ``N`` clips
and ``s = exp(logit_scale)``::

    logits = s * a @ t.T                  (N x N; row i: clip i against every caption)
    loss   = ( CE(logits, T) + CE(logits.T, T.T) ) / 2

CLIP's ``T`` is the identity: every other clip's caption is a negative. But two clips tagged
*snare drum* and *kick drum* both are *drum* and *music*; calling the other's caption a pure
negative pushes apart what the taxonomy says belongs together. ``targets`` selects:

- ``hard``: the identity (CLIP);
- ``soft``: ``T[i, j]`` = Jaccard overlap of the two clips' ancestor-closed UTS label sets,
  row-normalised (a clip always overlaps itself fully, so the diagonal keeps the largest weight;
  with no labels shared this *is* the identity);
- ``mask``: hard targets, but pairs whose overlap is at least ``mask_threshold`` are removed from
  the softmax as false negatives (default 1.0: clips with the same label set).

DDP (:func:`gather_features`, as open_clip's ``gather_features``): every rank gathers all ranks'
embeddings (and labels) with ``all_gather``, which carries no gradient, and puts its own tensor
back in its slice so gradients flow through the local part. Each rank then computes the loss of
the *global* batch; scaling the local slice's gradient by the world size makes DDP's gradient
averaging give exactly the gradient of the global loss, for the encoders and the temperature
alike (tests/test_training_contrastive_ddp.py checks this with gloo, uneven batches included).
"""

from __future__ import annotations

import math

import torch
import torch.distributed as dist
import torch.nn.functional as F

from .masking import known_overlap

TARGET_MODES = ("hard", "soft", "mask")
MAX_LOGIT_SCALE = math.log(100.0)  # CLIP clamps the scale at 100


class _ScaleGrad(torch.autograd.Function):
    """Identity forward; the gradient times ``factor`` backward."""

    @staticmethod
    def forward(ctx, x, factor):
        ctx.factor = factor
        return x.view_as(x)

    @staticmethod
    def backward(ctx, grad):
        return grad * ctx.factor, None


def gather_features(*tensors: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """Concatenate each tensor over all DDP ranks (rank order), keeping the gradient of this
    rank's slice. Ranks may hold different numbers of rows (a short last batch, clips dropped
    while decoding): rows are padded to the largest count for ``all_gather`` and trimmed again.
    Every rank computes the loss of the global batch, but its features reach only its own
    slice, so the local slice's gradient is multiplied by the world size: DDP's *mean* of the
    ranks' gradients is then exactly the gradient of the global loss (parameters used on every
    rank, such as the logit scale, get theirs unscaled and need no correction).
    Without an initialised process group, returns the tensors unchanged."""
    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
        return tensors
    rank, world = dist.get_rank(), dist.get_world_size()
    n = torch.tensor([tensors[0].shape[0]], dtype=torch.long, device=tensors[0].device)
    counts = [torch.zeros_like(n) for _ in range(world)]
    dist.all_gather(counts, n)
    counts = [int(c) for c in counts]
    most = max(counts)
    out = []
    for t in tensors:
        padded = t.detach().new_zeros((most, *t.shape[1:]))
        padded[: t.shape[0]] = t.detach()
        parts = [torch.zeros_like(padded) for _ in range(world)]
        dist.all_gather(parts, padded.contiguous())
        parts = [p[:c] for p, c in zip(parts, counts)]
        parts[rank] = _ScaleGrad.apply(t, float(world)) if t.requires_grad else t
        out.append(torch.cat(parts, dim=0))
    return tuple(out)


def label_overlap(labels: torch.Tensor) -> torch.Tensor:
    """Jaccard overlap ``|A ∩ B| / |A ∪ B|`` between the (already ancestor-closed) multi-hot
    label rows; a clip without labels overlaps only itself (1 on the diagonal)."""
    y = (labels > 0.5).float()
    inter = y @ y.T
    sizes = y.sum(1)
    union = sizes[:, None] + sizes[None, :] - inter
    jac = torch.where(union > 0, inter / union.clamp(min=1.0), torch.zeros_like(inter))
    return torch.maximum(jac, torch.eye(len(y), device=y.device, dtype=jac.dtype))


def soft_targets(labels: torch.Tensor) -> torch.Tensor:
    """Row-normalised label overlap (rows sum to 1); the identity when no labels are shared."""
    jac = label_overlap(labels)
    return jac / jac.sum(1, keepdim=True)


def info_nce(audio: torch.Tensor, text: torch.Tensor, logit_scale: torch.Tensor,
             labels: torch.Tensor | None = None, targets: str = "hard",
             mask_threshold: float = 1.0, known: torch.Tensor | None = None) -> torch.Tensor:
    """Symmetric InfoNCE of L2-normalised ``audio`` and ``text`` (N x D, row i belongs to row i).

    ``labels`` (N x C, closed over ancestors) are needed for ``soft`` and ``mask`` targets.
    ``known`` (N x C, pooled data): overlap counts only concepts known for both clips
    (:func:`uts.training.masking.known_overlap`), so an unannotated label is no disagreement.
    """
    overlap = label_overlap
    if known is not None:
        overlap = lambda y: known_overlap(y, known)  # noqa: E731
    if targets not in TARGET_MODES:
        raise ValueError(f"contrastive targets must be one of {', '.join(TARGET_MODES)}")
    scale = logit_scale.float().exp()
    logits = scale * audio.float() @ text.float().T
    n = logits.shape[0]
    eye = torch.eye(n, device=logits.device)
    if targets == "hard" or labels is None:
        if targets != "hard":
            raise ValueError(f"{targets!r} targets need the clips' labels")
        idx = torch.arange(n, device=logits.device)
        return (F.cross_entropy(logits, idx) + F.cross_entropy(logits.T, idx)) / 2
    if targets == "soft":
        jac = overlap(labels)
        t = jac / jac.sum(1, keepdim=True)
        return (F.cross_entropy(logits, t) + F.cross_entropy(logits.T, t.T / t.T.sum(1, keepdim=True))) / 2
    # mask: same-label pairs (overlap >= threshold, off the diagonal) leave the softmax
    false_neg = (overlap(labels) >= mask_threshold) & (eye < 0.5)
    logits = logits.masked_fill(false_neg, float("-inf"))
    idx = torch.arange(n, device=logits.device)
    return (F.cross_entropy(logits, idx) + F.cross_entropy(logits.T, idx)) / 2


def contrastive_loss(audio: torch.Tensor, text: torch.Tensor, logit_scale: torch.Tensor,
                     labels: torch.Tensor | None = None, targets: str = "hard",
                     mask_threshold: float = 1.0, known: torch.Tensor | None = None) -> torch.Tensor:
    """:func:`info_nce` over the global batch (all DDP ranks; see :func:`gather_features`)."""
    audio = F.normalize(audio.float(), dim=-1)
    text = F.normalize(text.float(), dim=-1)
    if labels is None:
        audio, text = gather_features(audio, text)
    elif known is None:
        audio, text, labels = gather_features(audio, text, labels.float())
    else:
        audio, text, labels, known = gather_features(audio, text, labels.float(), known.float())
    return info_nce(audio, text, logit_scale, labels, targets, mask_threshold, known)
