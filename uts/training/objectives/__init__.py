"""Training objectives, open_clip style: each loss is an ``nn.Module`` with one ``forward``
(:mod:`.tagging`: :class:`FlatBCE`, :class:`MCLoss`; :mod:`.contrastive`: :class:`CaptionInfoNCE`;
:mod:`.caption`: :class:`CaptionLoss`), apart from the model and the training loop.
:class:`Objective` picks and weighs them for one of :data:`OBJECTIVES` (``flat``, ``hier``,
``contrastive``, ``caption`` and their combinations: ``hier+contrastive``, ``hier+caption``, ...).

``ancestors`` says what an ancestor of an annotated label that is not itself annotated means
(real datasets often tag "snare drum" without "drum"):

- ``negative``: as given, it is a negative (the flat baseline's behaviour; not allowed for
  ``hier``, whose constraint makes it contradict the child);
- ``positive``: it is a positive (targets closed over ancestors; the default for ``hier``);
- ``unknown``: it is left out of the loss.

Pooled datasets (``annotated`` given, one 0/1 row per clip: what its source annotates; see
:mod:`uts.training.masking`): every concept outside the clip's known space is also left out of
the loss, for ``flat`` and ``hier`` alike, and the contrastive soft targets count overlap only
over concepts known for both clips; the caption loss is never masked (a caption carries no
label space). ``scores`` never look at it: the max constraint holds at
inference whatever was masked in training.
"""

from __future__ import annotations

import torch
from torch import nn

from ..hierarchy import Hierarchy
from ..masking import annotation_mask
from .caption import CaptionLoss
from .contrastive import CaptionInfoNCE
from .tagging import FlatBCE, MCLoss

OBJECTIVES = ("flat", "hier", "contrastive", "hier+contrastive", "caption", "flat+caption", "hier+caption",
              "contrastive+caption", "hier+contrastive+caption")
TAGGING = {name: next((p for p in name.split("+") if p in ("flat", "hier")), None) for name in OBJECTIVES}
ANCESTOR_MODES = ("negative", "positive", "unknown")
DEFAULT_ANCESTORS = {"flat": "negative", "hier": "positive", None: "positive"}

__all__ = ["ANCESTOR_MODES", "OBJECTIVES", "CaptionInfoNCE", "CaptionLoss", "FlatBCE", "MCLoss", "Objective", "ObjectiveError"]


class ObjectiveError(ValueError):
    pass


class Objective(nn.Module):
    """One of :data:`OBJECTIVES`: ``forward(out, labels)`` -> ``(loss, parts)`` for a model
    output dict (``logits``; ``audio``/``text``/``logit_scale`` with a text tower;
    ``caption_logits``/``caption_targets`` with a caption decoder).

    ``tagging`` names the multi-label part (``flat``, ``hier`` or None) and ``tagging_loss`` is
    its module; ``contrastive`` (the ``contrastive`` config section, or None) adds
    ``contrastive_loss``, a :class:`CaptionInfoNCE`. ``hier+contrastive`` trains both:
    ``tagging_weight * tagging + contrastive_weight * contrastive``.
    """

    def __init__(self, name: str, hierarchy: Hierarchy, ancestors: str | None = None,
                 contrastive: dict | None = None, tagging_weight: float = 1.0,
                 contrastive_weight: float = 1.0, caption: dict | None = None, caption_weight: float = 1.0):
        super().__init__()
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
        self.tagging_loss = {"flat": FlatBCE, "hier": lambda: MCLoss(hierarchy), None: lambda: None}[self.tagging]()
        self.contrastive = None
        self.contrastive_loss = None
        if "contrastive" in name:
            self.contrastive = {"targets": "soft", "mask_threshold": 1.0, **(contrastive or {})}
            self.contrastive_loss = CaptionInfoNCE(self.contrastive["targets"], self.contrastive["mask_threshold"])
        self.tagging_weight, self.contrastive_weight = float(tagging_weight), float(contrastive_weight)
        self.caption, self.caption_loss, self.caption_weight = None, None, float(caption_weight)
        if "caption" in name.split("+"):
            self.caption = {"label_smoothing": 0.1, **(caption or {})}
            self.caption_loss = CaptionLoss(self.caption["label_smoothing"])

    @property
    def needs_captions(self) -> bool:
        return self.contrastive is not None or self.caption is not None

    @classmethod
    def from_config(cls, cfg: dict, hierarchy: Hierarchy) -> "Objective":
        o = cfg["objective"]
        return cls(o["name"], hierarchy, o.get("ancestors"), contrastive=cfg.get("contrastive"),
                   tagging_weight=o.get("tagging_weight", 1.0), contrastive_weight=o.get("contrastive_weight", 1.0),
                   caption=cfg.get("caption"), caption_weight=o.get("caption_weight", 1.0))

    def targets(self, labels: torch.Tensor, annotated: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """``(target, mask)`` from the given binary labels; mask 0 = not in the loss. Closure
        over ancestors is the one rule (:func:`uts.ontology.graph.ancestor_sets`), here as
        :meth:`Hierarchy.close`. With ``annotated`` (pooled data), entries outside the clip's
        known space (:func:`uts.training.masking.annotation_mask`) are masked too."""
        labels = labels.float()
        mask = torch.ones_like(labels)
        closed = self.hierarchy.close(labels)
        if annotated is not None:
            mask = annotation_mask(closed, annotated, self.hierarchy)
        if self.ancestors == "negative":
            return labels, mask
        if self.ancestors == "positive":
            return closed, mask
        return labels, mask * (1.0 - (closed - labels))  # unknown: drop implied-but-unannotated entries

    def forward(self, out: dict, labels: torch.Tensor,
                annotated: torch.Tensor | None = None) -> tuple[torch.Tensor, dict[str, float]]:
        """Weighted sum of the parts, and the parts as floats; ``annotated`` masks pooled data."""
        parts: dict[str, torch.Tensor] = {}
        total = None
        if self.tagging_loss is not None:
            parts["tagging"] = self.tagging_loss(out["logits"], *self.targets(labels, annotated))
            total = self.tagging_weight * parts["tagging"]
        if self.contrastive_loss is not None:
            closed = self.hierarchy.close(labels.float())
            known = annotation_mask(closed, annotated, self.hierarchy) if annotated is not None else None
            parts["contrastive"] = self.contrastive_loss(out["audio"], out["text"], out["logit_scale"],
                                                         closed, known)
            c = self.contrastive_weight * parts["contrastive"]
            total = c if total is None else total + c
        if self.caption_loss is not None:  # teacher forcing: the targets are the captions shifted by one
            parts["caption"] = self.caption_loss(out["caption_logits"], out["caption_targets"])
            c = self.caption_weight * parts["caption"]
            total = c if total is None else total + c
        return total, {k: float(v.detach()) for k, v in parts.items()}

    # -- the parts, for the trainer's tagging-only batches and for evaluation ----------------
    def loss(self, logits: torch.Tensor, labels: torch.Tensor, annotated: torch.Tensor | None = None) -> torch.Tensor:
        """The tagging loss alone (``flat`` BCE or ``hier`` MCLoss)."""
        if self.tagging_loss is None:
            raise ObjectiveError(f"objective {self.name!r} has no tagging loss")
        return self.tagging_loss(logits, *self.targets(labels, annotated))

    def total_loss(self, out: dict, labels: torch.Tensor,
                   annotated: torch.Tensor | None = None) -> tuple[torch.Tensor, dict[str, float]]:
        """Same as calling the module (kept for the trainer's readability)."""
        return self(out, labels, annotated)

    def scores(self, logits: torch.Tensor) -> torch.Tensor:
        """Probabilities; for ``hier`` they obey parent >= child exactly."""
        if self.tagging_loss is None:
            return torch.sigmoid(logits.float())
        return self.tagging_loss.scores(logits)
