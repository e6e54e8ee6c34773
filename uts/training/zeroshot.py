"""Zero-shot tagging: score clips against text embeddings of UTS concepts.

Each class of the run's label space becomes a few prompts written from its concept (label,
synonyms, definition; :func:`uts.training.text.concept_prompts`); their joint-space embeddings are
normalised and averaged into one class vector. A clip's score for a class is its cosine
similarity to that vector, turned into a probability-like score with the model's learned
temperature, relative to the clip's best class:

    score[c] = exp(scale * (cos[c] - max over classes of cos))

so the best class scores 1 and a class scores >= 0.5 when it is within ``ln 2 / scale`` of it
(the decision rule behind hierarchical P/R/F1). The hierarchy's max constraint is then applied,
so a parent is never scored below its child, as for the ``hier`` objective. Evaluation uses the
same :func:`uts.training.metrics.hierarchical_report` as tagging.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F

from .hierarchy import Hierarchy
from .text import concept_prompts


@torch.no_grad()
def class_embeddings(model, label_ids: Sequence[str], onto) -> torch.Tensor:
    """``(classes, joint_dim)`` normalised mean of each concept's prompt embeddings."""
    was_training = model.training
    model.eval()
    rows = []
    for cid in label_ids:
        prompts = concept_prompts(onto.get(cid)) if cid in onto else [cid]
        emb = F.normalize(model.encode_text(prompts).float(), dim=-1).mean(0)
        rows.append(F.normalize(emb, dim=-1))
    model.train(was_training)
    return torch.stack(rows).cpu()


def scores_from_similarity(audio: torch.Tensor, classes: torch.Tensor, logit_scale: float,
                           hierarchy: Hierarchy | None = None) -> torch.Tensor:
    """Scores in (0, 1] from normalised audio (N x D) and class (C x D) embeddings."""
    cos = F.normalize(audio.float(), dim=-1) @ F.normalize(classes.float(), dim=-1).T
    scores = torch.exp(float(logit_scale) * (cos - cos.max(dim=1, keepdim=True).values))
    if hierarchy is not None:
        scores = hierarchy.max_constraint(scores)
    return scores


def zero_shot_scores(model, audio: torch.Tensor, hierarchy: Hierarchy, onto) -> torch.Tensor:
    """Zero-shot scores of clips (their joint-space ``audio`` embeddings) for ``hierarchy.ids``."""
    classes = class_embeddings(model, hierarchy.ids, onto)
    scale = float(model.logit_scale.detach().exp())
    return scores_from_similarity(audio, classes, scale, hierarchy)
