"""Training objectives: ``flat`` (the paper's BCE baseline) and ``hier`` (C-HMCNN's MCM + MCLoss).

``hier`` follows Giunchiglia & Lukasiewicz (NeurIPS 2020). With raw probabilities ``h`` and
targets ``y`` closed over ancestors, the max-constraint module gives every class the max of its
descendants' raw probabilities, MCM(h), so that a parent is never scored below its child -- at
inference this holds *by construction*. MCLoss trains through the constraint:

    positive class A:  BCE(max over positive descendants B of h_B, 1)
    negative class A:  BCE(max over all descendants B of h_B, 0)

We compute it on logits (sigmoid is monotone, so max and sigmoid commute) with
``binary_cross_entropy_with_logits``, which is numerically stable and safe under autocast.

``ancestors`` says what an ancestor of an annotated label that is not itself annotated means
(real datasets often tag "snare drum" without "drum"):

- ``negative``: as given, it is a negative (the flat baseline's behaviour; not allowed for
  ``hier``, whose constraint makes it contradict the child);
- ``positive``: it is a positive (targets closed over ancestors; the default for ``hier``);
- ``unknown``: it is left out of the loss.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from .hierarchy import Hierarchy

OBJECTIVES = ("flat", "hier")
ANCESTOR_MODES = ("negative", "positive", "unknown")
DEFAULT_ANCESTORS = {"flat": "negative", "hier": "positive"}


class ObjectiveError(ValueError):
    pass


class Objective:
    """Turns logits into a loss and into scores, for one of :data:`OBJECTIVES`."""

    def __init__(self, name: str, hierarchy: Hierarchy, ancestors: str | None = None):
        if name not in OBJECTIVES:
            raise ObjectiveError(f"unknown objective {name!r}; choose from {', '.join(OBJECTIVES)}")
        ancestors = ancestors or DEFAULT_ANCESTORS[name]
        if ancestors not in ANCESTOR_MODES:
            raise ObjectiveError(f"unknown ancestors mode {ancestors!r}; choose from {', '.join(ANCESTOR_MODES)}")
        if name == "hier" and ancestors == "negative":
            raise ObjectiveError("objective 'hier' cannot treat ancestors as negatives: its max "
                                 "constraint scores a parent at least as high as its child; use "
                                 "'positive' or 'unknown'")
        self.name, self.hierarchy, self.ancestors = name, hierarchy, ancestors

    def targets(self, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(target, mask)`` from the given binary labels; mask 0 = not in the loss."""
        labels = labels.float()
        mask = torch.ones_like(labels)
        if self.ancestors == "negative":
            return labels, mask
        closed = self.hierarchy.close(labels)
        if self.ancestors == "positive":
            return closed, mask
        return labels, mask - (closed - labels)  # unknown: drop implied-but-unannotated entries

    def loss(self, logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        logits = logits.float()
        target, mask = self.targets(labels)
        if self.name == "hier":
            neg = torch.finfo(logits.dtype).min / 2
            pos_branch = self.hierarchy.max_constraint(logits.masked_fill(target <= 0, neg))
            neg_branch = self.hierarchy.max_constraint(logits)
            logits = torch.where(target > 0, pos_branch, neg_branch)
        per_entry = F.binary_cross_entropy_with_logits(logits, target, reduction="none")
        return (per_entry * mask).sum() / mask.sum().clamp(min=1.0)

    def scores(self, logits: torch.Tensor) -> torch.Tensor:
        """Probabilities; for ``hier`` they obey parent >= child exactly."""
        logits = logits.float()
        if self.name == "hier":
            logits = self.hierarchy.max_constraint(logits)
        return torch.sigmoid(logits)
