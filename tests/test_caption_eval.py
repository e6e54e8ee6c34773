"""Caption evaluation: held-out loss/perplexity, generation scored by BLEU/ROUGE/CIDEr, and
zero-shot tagging / retrieval by decoder likelihood."""

import math

import pytest
import torch

from uts.training.caption import CaptionDecoder
from uts.training.objectives.caption import CaptionLoss
from uts.training.caption_eval import (caption_retrieval, generated_captions, held_out_loss,
                                       zero_shot_caption_scores)
from uts.training.hierarchy import Hierarchy
from uts.training.tokenizer import CaptionTokenizer

CAPTIONS = ["The sound of dog.", "The sound of rain.", "The sound of piano."]


@pytest.fixture(scope="module")
def trained():
    torch.set_num_threads(1)
    tok = CaptionTokenizer.from_captions(CAPTIONS + ["The sound of animal."], max_length=10)
    torch.manual_seed(0)
    dec = CaptionDecoder(len(tok), memory_dim=8, dim=32, depth=1, heads=2, max_length=10, dropout=0.0,
                         pad_id=tok.pad_id, unk_id=tok.unk_id, bos_id=tok.bos_id, eos_id=tok.eos_id)
    frames = torch.randn(3, 4, 8)
    ids = tok.encode(CAPTIONS)
    opt = torch.optim.Adam(dec.parameters(), lr=1e-2)
    for _ in range(80):
        loss = CaptionLoss(0.0, ignore_index=tok.pad_id)(dec(frames, ids[:, :-1]), ids[:, 1:])
        opt.zero_grad()
        loss.backward()
        opt.step()
    return tok, dec.eval(), frames


class _NoOntology:  # class ids stand for their own labels
    def __contains__(self, cid):
        return False


def test_zero_shot_by_likelihood_ranks_each_clips_own_class_first_and_obeys_the_hierarchy(trained):
    tok, dec, frames = trained
    hierarchy = Hierarchy(["animal", "dog", "rain", "piano"], [(1, 0)])  # dog is an animal
    scores = zero_shot_caption_scores(dec, tok, frames, hierarchy, _NoOntology())
    assert scores.shape == (3, 4) and scores.max() <= 1.0 and scores.min() >= 0.0
    assert scores[0, 1] == 1.0 and scores[1, 2] == 1.0 and scores[2, 3] == 1.0
    assert (scores[:, 0] >= scores[:, 1]).all()  # parent at least its child


def test_retrieval_by_likelihood_finds_each_clip_and_caption(trained):
    tok, dec, frames = trained
    res = caption_retrieval(dec, tok, frames, CAPTIONS, [0, 1, 2])
    assert res["t2a_R@1"] == 1.0 and res["a2t_R@1"] == 1.0
    shuffled = caption_retrieval(dec, tok, frames, CAPTIONS, [1, 2, 0])  # wrong owners
    assert shuffled["t2a_R@1"] == 0.0


def test_held_out_loss_and_perplexity(trained):
    tok, dec, frames = trained
    own = held_out_loss(dec, tok, frames, CAPTIONS, [0, 1, 2])
    wrong = held_out_loss(dec, tok, frames, CAPTIONS, [1, 2, 0])
    assert own["perplexity"] == pytest.approx(math.exp(own["caption_loss"]))
    assert own["caption_loss"] < 0.2 < wrong["caption_loss"]
    assert own["unknown_token_rate"] == 0.0
    assert held_out_loss(dec, tok, frames, ["The sound of cello."], [0])["unknown_token_rate"] > 0


def test_generated_captions_are_scored_against_references(trained):
    tok, dec, frames = trained
    res = generated_captions(dec, tok, frames, CAPTIONS + ["a dog barks"], [0, 1, 2, 0], beam_size=2)
    assert [e["generated"] for e in res["examples"]] == [c.lower() for c in CAPTIONS]
    assert res["examples"][0]["references"] == ["The sound of dog.", "a dog barks"]
    assert res["bleu_4"] == pytest.approx(1.0) and res["rouge_l"] == pytest.approx(1.0)
