"""Training objectives: ``flat`` (the paper's BCE baseline), ``hier`` (C-HMCNN's MCM + MCLoss),
``contrastive`` (caption InfoNCE, see :mod:`uts.training.contrastive`) and ``hier+contrastive``.

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

OBJECTIVES = ("flat", "hier", "contrastive", "hier+contrastive")
TAGGING = {"flat": "flat", "hier": "hier", "contrastive": None, "hier+contrastive": "hier"}
ANCESTOR_MODES = ("negative", "positive", "unknown")
DEFAULT_ANCESTORS = {"flat": "negative", "hier": "positive", None: "positive"}


class ObjectiveError(ValueError):
    pass


class Objective:
    """Turns model outputs into a loss and logits into scores, for one of :data:`OBJECTIVES`.

    ``tagging`` is the multi-label part (``flat``, ``hier`` or None); ``contrastive`` (a dict of
    the ``contrastive`` config section, or None) adds the caption-contrastive InfoNCE of
    :mod:`uts.training.contrastive`. ``hier+contrastive`` trains both in one run:
    ``tagging_weight * tagging + contrastive_weight * contrastive``.
    """

    def __init__(self, name: str, hierarchy: Hierarchy, ancestors: str | None = None,
                 contrastive: dict | None = None, tagging_weight: float = 1.0,
                 contrastive_weight: float = 1.0):
        if name not in OBJECTIVES:
            raise ObjectiveError(f"unknown objective {name!r}; choose from {', '.join(OBJECTIVES)}")
        self.tagging = TAGGING[name]
        ancestors = ancestors or DEFAULT_ANCESTORS[self.tagging]
        if ancestors not in ANCESTOR_MODES:
            raise ObjectiveError(f"unknown ancestors mode {ancestors!r}; choose from {', '.join(ANCESTOR_MODES)}")
        if self.tagging == "hier" and ancestors == "negative":
            raise ObjectiveError(f"objective {name!r} cannot treat ancestors as negatives: its max "
                                 "constraint scores a parent at least as high as its child; use "
                                 "'positive' or 'unknown'")
        self.name, self.hierarchy, self.ancestors = name, hierarchy, ancestors
        self.contrastive = None
        if "contrastive" in name:
            self.contrastive = {"targets": "soft", "mask_threshold": 1.0, **(contrastive or {})}
        self.tagging_weight, self.contrastive_weight = float(tagging_weight), float(contrastive_weight)

    @classmethod
    def from_config(cls, cfg: dict, hierarchy: Hierarchy) -> "Objective":
        o = cfg["objective"]
        return cls(o["name"], hierarchy, o.get("ancestors"), contrastive=cfg.get("contrastive"),
                   tagging_weight=o.get("tagging_weight", 1.0), contrastive_weight=o.get("contrastive_weight", 1.0))

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
        """The tagging loss (``flat`` BCE or ``hier`` MCLoss)."""
        if self.tagging is None:
            raise ObjectiveError(f"objective {self.name!r} has no tagging loss")
        logits = logits.float()
        target, mask = self.targets(labels)
        if self.tagging == "hier":
            neg = torch.finfo(logits.dtype).min / 2
            pos_branch = self.hierarchy.max_constraint(logits.masked_fill(target <= 0, neg))
            neg_branch = self.hierarchy.max_constraint(logits)
            logits = torch.where(target > 0, pos_branch, neg_branch)
        per_entry = F.binary_cross_entropy_with_logits(logits, target, reduction="none")
        return (per_entry * mask).sum() / mask.sum().clamp(min=1.0)

    def contrastive_loss(self, out: dict, labels: torch.Tensor) -> torch.Tensor:
        """InfoNCE of the projected audio and caption embeddings over the global batch; the
        clips' labels, closed over ancestors, give the soft targets or the masks."""
        from .contrastive import contrastive_loss

        c = self.contrastive
        closed = self.hierarchy.close(labels.float())
        return contrastive_loss(out["audio"], out["text"], out["logit_scale"], closed,
                                c["targets"], c["mask_threshold"])

    def total_loss(self, out: dict, labels: torch.Tensor) -> tuple[torch.Tensor, dict[str, float]]:
        """Weighted sum of the parts for a ``forward(wave, captions)`` output, and the parts."""
        parts: dict[str, torch.Tensor] = {}
        total = out["audio"].new_zeros(())
        if self.tagging is not None:
            parts["tagging"] = self.loss(out["logits"], labels)
            total = total + self.tagging_weight * parts["tagging"]
        parts["contrastive"] = self.contrastive_loss(out, labels)
        total = total + self.contrastive_weight * parts["contrastive"]
        return total, {k: float(v.detach()) for k, v in parts.items()}

    def scores(self, logits: torch.Tensor) -> torch.Tensor:
        """Probabilities; for ``hier`` they obey parent >= child exactly."""
        logits = logits.float()
        if self.tagging == "hier":
            logits = self.hierarchy.max_constraint(logits)
        return torch.sigmoid(logits)
