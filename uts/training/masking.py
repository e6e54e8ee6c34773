"""The masked-loss rule for pooled datasets, as pure tensor functions.

A clip from a source that annotates only some concepts (see :mod:`uts.ontology.annotated`)
is a training example for those concepts only. For a clip with ancestor-closed positives ``P``
from a source annotating ``A``, concept ``c`` is **known** when

- ``c`` is in ``A`` (the source looked for it: present = positive, absent = negative), or
- ``c`` is in ``P`` (a positive, or an ancestor of one: a *dog* clip is an *animal* clip), or
- some ancestor of ``c`` is in ``A`` but not in ``P`` (a clip without *dog* holds no *puppy*).

Every other concept is **unknown**: it contributes no loss and receives no gradient. Unknown
entries never change the known ones either, so with everything known (one fully annotated
source) the loss is exactly the unmasked loss.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from .hierarchy import Hierarchy


def spread_down(x: torch.Tensor, hierarchy: Hierarchy) -> torch.Tensor:
    """``out[:, d] = max(x[:, d], x[:, a] for every ancestor a of d)``: the mirror of the max
    constraint, over the same sparse (descendant, ancestor) pairs."""
    if not hierarchy.num_pairs:
        return x
    desc, anc = hierarchy.pair_desc.to(x.device), hierarchy.pair_anc.to(x.device)
    src = x.index_select(1, anc)
    return x.scatter_reduce(1, desc.expand(x.shape[0], -1), src, "amax", include_self=True)


def annotation_mask(positives: torch.Tensor, annotated: torch.Tensor, hierarchy: Hierarchy) -> torch.Tensor:
    """Float ``(batch, C)``: 1 where the concept is known for the clip (see the module doc).

    ``positives``: the clips' labels closed over ancestors (``hierarchy.close``);
    ``annotated``: each clip's source's annotated concepts as a 0/1 row (``(batch, C)``, e.g.
    ``per_source[source_index]``)."""
    positives = (positives > 0.5).float()
    annotated = (annotated > 0.5).float()
    known_absent = annotated * (1.0 - positives)
    return torch.maximum(torch.maximum(annotated, positives), spread_down(known_absent, hierarchy))


def masked_bce(logits: torch.Tensor, target: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Binary cross-entropy averaged over the known entries (``mask`` 1) only; masked entries
    are multiplied by zero *before* the sum, so their gradient is exactly zero."""
    per_entry = F.binary_cross_entropy_with_logits(logits, target, reduction="none")
    return (per_entry * mask).sum() / mask.sum().clamp(min=1.0)


def known_overlap(labels: torch.Tensor, known: torch.Tensor) -> torch.Tensor:
    """Jaccard overlap of clips' (ancestor-closed) label rows counted only over the concepts
    known for *both* clips: ``|Pi ∩ Pj ∩ K| / |(Pi ∪ Pj) ∩ K|`` with ``K = Ki ∩ Kj``. A label one
    clip's source never annotated is no disagreement. The diagonal is 1 (a clip's positives
    are known to itself)."""
    y = (labels > 0.5).float()
    k = (known > 0.5).float()
    yk = y * k  # positives (annotation_mask makes every positive known to its own clip)
    inter = yk @ yk.T
    # |Pi ∩ Kj| + |Pj ∩ Ki| - |Pi ∩ Pj|: the union counted over jointly known concepts
    union = yk @ k.T + k @ yk.T - inter
    jac = torch.where(union > 0, inter / union.clamp(min=1.0), torch.zeros_like(inter))
    return torch.maximum(jac, torch.eye(len(y), device=y.device, dtype=jac.dtype))
