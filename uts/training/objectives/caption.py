"""The captioning objective as an ``nn.Module``: teacher-forced token cross-entropy with label
smoothing (the decoder itself is part of the model: :mod:`uts.training.caption`)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class CaptionLoss(nn.Module):
    """``forward(logits (B, L, V), targets (B, L))`` -> mean cross-entropy over the real tokens;
    target positions equal to ``ignore_index`` (padding) are left out."""

    def __init__(self, label_smoothing: float = 0.1, ignore_index: int = -100):
        super().__init__()
        self.label_smoothing, self.ignore_index = float(label_smoothing), ignore_index

    def forward(self, logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        return F.cross_entropy(logits.float().flatten(0, 1), targets.flatten(), ignore_index=self.ignore_index,
                               label_smoothing=self.label_smoothing)
