"""The caption-contrastive objective as an ``nn.Module``: InfoNCE between projected audio and
caption embeddings over the global batch, with hierarchy-aware soft targets or false-negative
masks (the maths lives in :mod:`uts.training.contrastive`)."""

from __future__ import annotations

import torch
from torch import nn

from ..contrastive import contrastive_loss


class CaptionInfoNCE(nn.Module):
    """``forward(audio, text, logit_scale, closed_labels)`` -> loss; ``targets`` is the
    ``contrastive.targets`` mode, ``mask_threshold`` the label overlap counted as a false negative."""

    def __init__(self, targets: str = "soft", mask_threshold: float = 1.0):
        super().__init__()
        self.targets, self.mask_threshold = targets, mask_threshold

    def forward(self, audio: torch.Tensor, text: torch.Tensor, logit_scale: torch.Tensor,
                closed_labels: torch.Tensor, known: torch.Tensor | None = None) -> torch.Tensor:
        """``known`` (pooled data): the concepts known per clip; overlap counts only those."""
        return contrastive_loss(audio, text, logit_scale, closed_labels, self.targets, self.mask_threshold,
                                known=known)
