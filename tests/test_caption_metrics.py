"""Caption metrics against published values and an independent implementation's figures."""

import pytest

from uts.training.caption_metrics import bleu, caption_scores, cider_d, rouge_l, tokenize

# The example of aac-metrics' README (Labbé et al.; computed there with the coco-caption code):
# BLEU-1 0.4278, CIDEr-D 0.9614 with per-caption scores 1.3641 and 0.5587.
CANDS = ["a man is speaking", "rain falls"]
REFS = [["a man speaks.", "someone speaks.", "a man is speaking while a bird is chirping in the background"],
        ["rain is falling hard on a surface"]]


def test_published_readme_example():
    assert bleu(CANDS, REFS)[0] == pytest.approx(0.4278, abs=1e-4)
    corpus, per = cider_d(CANDS, REFS)
    assert corpus == pytest.approx(0.9614, abs=1e-4)
    assert per == pytest.approx([1.3641, 0.5587], abs=1e-4)


def test_against_aac_metrics_figures():
    # figures of aac-metrics 0.6.0's functional bleu_4 / rouge_l / cider_d on the same input
    assert bleu(CANDS, REFS)[3] == pytest.approx(0.4565, abs=1e-4)
    assert rouge_l(CANDS, REFS)[0] == pytest.approx(0.4871, abs=1e-4)
    c = ["a dog barks twice", "music plays loudly with drums", "birds chirp", "a man speaks and a car passes by"]
    r = [["a dog is barking", "the dog barks twice in a yard"], ["loud music with drums and guitar", "drums play loudly"],
         ["birds are chirping in the trees", "several birds chirp"],
         ["a man talks while a car drives by", "a car passes as a man speaks"]]
    s = caption_scores(c, r)
    assert s["bleu_4"] == pytest.approx(5.8872e-05, rel=1e-3)
    assert s["rouge_l"] == pytest.approx(0.6282, abs=1e-4)
    assert s["cider_d"] == pytest.approx(2.4214, abs=1e-4)


def test_identical_caption_scores_high_and_unrelated_low():
    refs = [["a dog barks in the yard"], ["rain falls on a tin roof"], ["a piano plays a slow melody"]]
    same = caption_scores([r[0] for r in refs], refs)
    other = caption_scores(["engines idle", "crowds cheer loudly", "wind howls"], refs)
    assert same["bleu_4"] == pytest.approx(1.0) and same["rouge_l"] == pytest.approx(1.0)
    assert other["bleu_4"] < 1e-3 and other["rouge_l"] == 0.0 and other["cider_d"] == 0.0
    assert same["cider_d"] > 1.0


def test_tokenize_lowercases_and_drops_punctuation():
    assert tokenize("A Dog, barking!") == ["a", "dog", "barking"]


def test_bad_input_is_refused():
    with pytest.raises(ValueError, match="2 candidates but 1"):
        bleu(["a", "b"], [["a"]])
    with pytest.raises(ValueError, match="at least one reference"):
        cider_d(["a"], [[]])
