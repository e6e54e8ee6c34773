"""Zero-shot scoring: shape, ordering, the max constraint, and class embeddings from prompts."""

import math

import pytest
import torch

from _contrastive_helpers import tiny_text_model
from uts.training.hierarchy import Hierarchy
from uts.training.zeroshot import class_embeddings, scores_from_similarity


def test_scores_follow_cosine_order_best_class_scores_one():
    audio = torch.tensor([[1.0, 0.0], [0.0, 2.0]])
    classes = torch.tensor([[1.0, 0.0], [0.8, 0.6], [0.0, 1.0]])
    s = scores_from_similarity(audio, classes, logit_scale=10.0)
    assert s.shape == (2, 3)
    assert s[0].argsort(descending=True).tolist() == [0, 1, 2]
    assert s[1].argsort(descending=True).tolist() == [2, 1, 0]
    assert s.max(dim=1).values.tolist() == [1.0, 1.0]
    # within ln2/scale of the best: >= 0.5 ; clip 0 vs class 1: cos 0.8 -> exp(10 * -0.2)
    assert s[0, 1].item() == pytest.approx(math.exp(-2.0))


def test_max_constraint_lifts_parents_to_their_children():
    h = Hierarchy(["animal", "dog", "bird"], [(1, 0), (2, 0)])
    audio = torch.tensor([[0.0, 1.0]])
    classes = torch.tensor([[1.0, 0.0], [0.0, 1.0], [0.6, 0.8]])  # the clip is closest to "dog"
    s = scores_from_similarity(audio, classes, 5.0, hierarchy=h)
    assert s[0, 0] == s[0, 1] == 1.0 and s[0, 2] < 1.0


def test_class_embeddings_from_concept_prompts(tmp_path):
    from uts.ontology import Concept, Ontology
    from uts.training.config import load_config
    from uts.training.encoders import build_model

    onto = Ontology([Concept("UTS:0000001", "dog", synonyms=["hound"], definition="A domestic animal.", root=True),
                     Concept("UTS:0000002", "rain", root=True)])
    cfg = load_config(None, ["objective.name=contrastive", f"text.model={tiny_text_model(tmp_path)}",
                             "contrastive.embed_dim=8", "model.encoder=cnn6", "model.encoder_args={channels: [4, 8]}",
                             "features.n_mels=16"])
    model = build_model(cfg, 2)
    emb = class_embeddings(model, ["UTS:0000001", "UTS:0000002", "UTS:0000099"], onto)
    assert emb.shape == (3, 8)
    assert torch.allclose(emb.norm(dim=1), torch.ones(3), atol=1e-5)
    assert not torch.allclose(emb[0], emb[1])
