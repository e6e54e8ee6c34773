"""Retrieval metrics against hand-worked examples, with several captions per clip."""

import polars as pl
import pytest
import torch

from _training_helpers import tiny_ontology, uid
from uts.training.retrieval import clip_captions, retrieval_metrics


def _unit(*angles_deg):
    import math
    return torch.tensor([[math.cos(math.radians(a)), math.sin(math.radians(a))] for a in angles_deg])


def test_hand_worked_example_with_several_captions_per_clip():
    # 3 clips on the unit circle at 0, 90, 180 degrees
    audio = _unit(0, 90, 180)
    # captions: clip 0 has two (at 10 and 100 deg), clip 1 one (at 80), clip 2 two (170, 60)
    text = _unit(10, 100, 80, 170, 60)
    owner = [0, 0, 1, 2, 2]
    m = retrieval_metrics(audio, text, owner, ks=(1, 2))
    # text -> audio, rank of the own clip:
    #  10 deg -> clip 0 first (rank 1); 100 -> clip 1 first, clip 0 (100 deg away) vs clip 2
    #  (80 away): clip 2 second, clip 0 third (rank 3); 80 -> clip 1 (rank 1);
    #  170 -> clip 2 (rank 1); 60 -> clip 1 (30 away), clip 0 (60), clip 2 (120): rank 3
    ranks = [1, 3, 1, 1, 3]
    assert m["t2a_R@1"] == pytest.approx(3 / 5)
    assert m["t2a_R@2"] == pytest.approx(3 / 5)
    assert m["t2a_mAP@10"] == pytest.approx(sum(1 / r for r in ranks) / 5)
    # audio -> text, captions sorted by similarity:
    #  clip 0 (0 deg): 10(c0) 60(c2) 80(c1) 100(c0) 170(c2): correct at ranks 1 and 4
    #     AP = (1/1 + 2/4) / 2 = 0.75
    #  clip 1 (90): 100(c0) 80(c1) 60(c2) 10(c0) 170(c2): correct at rank 2 -> AP = 1/2
    #  clip 2 (180): 170(c2) 100(c0) 80(c1) 60(c2) 10(c0): correct at 1 and 4 -> AP 0.75
    assert m["a2t_R@1"] == pytest.approx(2 / 3)  # clips 0 and 2 have a correct caption first
    assert m["a2t_R@2"] == pytest.approx(1.0)
    assert m["a2t_mAP@10"] == pytest.approx((0.75 + 0.5 + 0.75) / 3)
    assert m["clips"] == 3 and m["captions"] == 5 and m["a2t_queries"] == 3


def test_perfect_and_tied_retrieval():
    audio = torch.eye(3)
    m = retrieval_metrics(audio, torch.eye(3)[[0, 0, 1, 2]], [0, 0, 1, 2])
    assert all(m[k] == 1.0 for k in ("t2a_R@1", "t2a_mAP@10", "a2t_R@1", "a2t_mAP@10"))
    # every caption identical: ties count against the query
    tied = retrieval_metrics(audio, torch.ones(3, 3), [0, 1, 2], ks=(1, 3))
    assert tied["t2a_R@1"] == 0.0 and tied["t2a_R@3"] == 1.0
    assert tied["a2t_R@1"] == 0.0


def test_clips_without_captions_stay_in_the_gallery():
    audio = torch.eye(3)
    m = retrieval_metrics(audio, torch.eye(3)[[2]], [2], ks=(1,))
    assert m["a2t_queries"] == 1 and m["t2a_R@1"] == 1.0 and m["clips"] == 3


def test_bad_caption_owner_is_an_error():
    with pytest.raises(ValueError, match="one clip index per caption"):
        retrieval_metrics(torch.eye(2), torch.eye(2), [0])
    with pytest.raises(ValueError, match="outside the clips"):
        retrieval_metrics(torch.eye(2), torch.eye(2), [0, 5])


def test_clip_captions_from_list_column_caption_column_or_labels():
    onto = tiny_ontology()
    df = pl.DataFrame({"id": ["a", "b", "c"], "labels": [[uid(22)], [uid(30)], [uid(3)]],
                       "captions": [["rain falling", "a shower"], [], ["piano", ""]]})
    texts, owner, written = clip_captions(df, onto)
    assert owner == [0, 0, 1, 2] and texts[:2] == ["rain falling", "a shower"] and texts[3] == "piano"
    assert "dog" in texts[2] and written == 1
    single = df.drop("captions").with_columns(pl.Series("caption", ["rain", None, "piano"]))
    texts, owner, written = clip_captions(single, None)
    assert texts == ["rain", "piano"] and owner == [0, 2] and written == 0
