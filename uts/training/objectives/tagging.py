"""Multi-label tagging losses, one ``nn.Module`` each: :class:`FlatBCE` (the paper's baseline)
and :class:`MCLoss` (``hier``: C-HMCNN's max-constraint module + MCLoss).

``hier`` follows Giunchiglia & Lukasiewicz (NeurIPS 2020). With raw probabilities ``h`` and
targets ``y`` closed over ancestors, the max-constraint module gives every class the max of its
descendants' raw probabilities, MCM(h), so that a parent is never scored below its child -- at
inference this holds *by construction*. MCLoss trains through the constraint:

    positive class A:  BCE(max over positive descendants B of h_B, 1)
    negative class A:  BCE(max over all descendants B of h_B, 0)

We compute it on logits (sigmoid is monotone, so max and sigmoid commute) with
``binary_cross_entropy_with_logits``, which is numerically stable and safe under autocast.
"""

from __future__ import annotations

import torch
from torch import nn

from ..hierarchy import Hierarchy
from ..masking import masked_bce as _masked_bce  # the one masked mean (tests/test_pool_masking.py)


class FlatBCE(nn.Module):
    """Binary cross-entropy per class, entries with ``mask`` 0 left out."""

    def forward(self, logits: torch.Tensor, target: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return _masked_bce(logits.float(), target, mask)

    def scores(self, logits: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(logits.float())


class MCLoss(nn.Module):
    """MCLoss through the max constraint of ``hierarchy``; :meth:`scores` obey parent >= child."""

    def __init__(self, hierarchy: Hierarchy):
        super().__init__()
        self.hierarchy = hierarchy

    def forward(self, logits: torch.Tensor, target: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        logits = logits.float()
        neg = torch.finfo(logits.dtype).min / 2
        pos_branch = self.hierarchy.max_constraint(logits.masked_fill(target <= 0, neg))
        neg_branch = self.hierarchy.max_constraint(logits)
        return _masked_bce(torch.where(target > 0, pos_branch, neg_branch), target, mask)

    def scores(self, logits: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.hierarchy.max_constraint(logits.float()))
