"""Text-to-audio and audio-to-text retrieval with several captions per clip.

The protocol of Clotho / AudioCaps evaluation (e.g. DCASE language-based audio retrieval):

- **text -> audio**: every caption is a query over all clips; it has exactly one correct clip,
  its own. R@k = share of queries whose clip is among the top k; mAP@10 = mean over queries of
  ``1 / rank`` when the clip is in the top 10, else 0.
- **audio -> text**: every clip (with at least one caption) is a query over all captions; all
  of its captions are correct. R@k = share of clips with *any* of their captions in the top k;
  AP@10 = ``sum over correct captions at rank i <= 10 of precision@i / min(#correct, 10)``.

Ranks are 1-based; a tie with a wrong item counts against the query (ranks are pessimistic).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F

from .text import caption_from_labels

KS = (1, 5, 10)


def retrieval_metrics(audio: torch.Tensor, text: torch.Tensor, caption_clip: Sequence[int],
                      ks: Sequence[int] = KS) -> dict:
    """Both directions from clip embeddings ``audio`` (N x D), caption embeddings ``text``
    (M x D) and ``caption_clip[m]`` = the clip index of caption m."""
    owner = np.asarray(caption_clip, dtype=np.int64)
    if len(owner) != text.shape[0]:
        raise ValueError("caption_clip needs one clip index per caption")
    if len(owner) and (owner.min() < 0 or owner.max() >= audio.shape[0]):
        raise ValueError("caption_clip holds a clip index outside the clips")
    sim = (F.normalize(text.float(), dim=-1) @ F.normalize(audio.float(), dim=-1).T).double().numpy()
    return retrieval_from_similarity(sim, owner, ks)


def retrieval_from_similarity(sim: np.ndarray, caption_clip: Sequence[int], ks: Sequence[int] = KS) -> dict:
    """Both directions from a ``(captions, clips)`` similarity matrix (any score where higher
    means a better match: cosines, or a caption decoder's centred log-likelihoods)."""
    owner = np.asarray(caption_clip, dtype=np.int64)
    if len(owner) != sim.shape[0]:
        raise ValueError("caption_clip needs one clip index per caption")
    out: dict = {"clips": int(sim.shape[1]), "captions": int(len(owner))}
    if not len(owner):
        return out
    # text -> audio: rank of the caption's own clip (1 + clips scored at least as high)
    true = sim[np.arange(len(owner)), owner]
    rank = (sim >= true[:, None]).sum(1)
    for k in ks:
        out[f"t2a_R@{k}"] = float((rank <= k).mean())
    out["t2a_mAP@10"] = float(np.where(rank <= 10, 1.0 / rank, 0.0).mean())
    # audio -> text: all captions of the clip are correct
    recalls = {k: [] for k in ks}
    aps = []
    for clip in np.unique(owner):
        relevant = owner == clip
        scores = sim[:, clip]
        # pessimistic order: among equal scores, wrong captions first
        order = np.lexsort((relevant, -scores))
        hits = relevant[order]
        for k in ks:
            recalls[k].append(bool(hits[:k].any()))
        top = hits[:10]
        precision = np.cumsum(top) / np.arange(1, len(top) + 1)
        aps.append(float((precision * top).sum() / min(int(relevant.sum()), 10)))
    for k in ks:
        out[f"a2t_R@{k}"] = float(np.mean(recalls[k]))
    out["a2t_mAP@10"] = float(np.mean(aps))
    out["a2t_queries"] = len(aps)
    return out


def clip_captions(df, onto=None, seed: int = 0) -> tuple[list[str], list[int], int]:
    """Captions of a manifest's clips for retrieval: a ``captions`` list column when present,
    else ``caption``; a clip with none gets one written from its ``labels``
    (:func:`uts.training.text.caption_from_labels`) when an ontology is given.
    Returns ``(texts, clip index of each, number written from labels)``."""
    if "captions" in df.columns:
        given = [list(c or []) for c in df["captions"].to_list()]
    elif "caption" in df.columns:
        given = [[c] if c else [] for c in df["caption"].to_list()]
    else:
        given = [[] for _ in range(df.height)]
    texts, owner, written = [], [], 0
    for i, (cid, caps, labels) in enumerate(zip(df["id"].to_list(), given, df["labels"].to_list())):
        caps = [c for c in caps if c and c.strip()]
        if not caps and onto is not None:
            cap = caption_from_labels(onto, labels or [], seed=f"{seed}:{cid}")
            caps, written = ([cap] if cap else []), written + bool(cap)
        texts.extend(caps)
        owner.extend([i] * len(caps))
    return texts, owner, written
