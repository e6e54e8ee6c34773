"""Caption tokenizer and decoder: ids, teacher forcing, greedy and beam decoding, likelihoods."""

import pytest
import torch
import torch.nn.functional as F

from uts.training.caption import CaptionDecoder, likelihood_matrix
from uts.training.objectives.caption import CaptionLoss
from uts.training.tokenizer import CaptionTokenizer, TokenizerError, default_vocab_file

CAPTIONS = ["A dog barks twice.", "Rain falls on a tin roof", "the snare drum plays a fast roll"]


@pytest.fixture(autouse=True)
def one_thread():
    # tiny models on a loaded 2-core machine run ~30x faster without intra-op threads
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def tok():
    return CaptionTokenizer.from_captions(CAPTIONS, max_length=12)


def test_full_vocabulary_is_the_bundled_minilm_wordpiece():
    full = CaptionTokenizer()
    lines = default_vocab_file().read_text(encoding="utf-8").splitlines()
    assert len(full) == len(lines) == 30522
    ids = full.encode(["A dog barks."])
    assert full.decode(ids) == ["a dog barks."]


def test_compact_vocabulary_round_trips_and_maps_unseen_pieces_to_unk(tok):
    assert len(tok) < 40
    ids = tok.encode(CAPTIONS)
    assert ids[:, 0].eq(tok.bos_id).all()
    assert tok.decode(ids) == ["a dog barks twice.", "rain falls on a tin roof", "the snare drum plays a fast roll"]
    unseen = tok.encode(["a cello"])[0].tolist()
    assert unseen[1] != tok.unk_id and tok.unk_id in unseen
    rebuilt = CaptionTokenizer(keep=tok.pieces(), max_length=12)  # what a run saves
    assert torch.equal(rebuilt.encode(CAPTIONS), ids)


def test_a_generated_word_continuation_with_no_word_before_it_is_dropped(tok):
    # a decoder can emit "##s" first; printing it would give "##s dog barks"
    cont = next(i for i, p in enumerate(tok.pieces()) if p.startswith("##"))
    body = tok.encode(["dog barks"])[0].tolist()[1:]  # without BOS, ends with EOS
    assert tok.decode([[tok.bos_id, cont, *body]]) == ["dog barks"]
    joined = "dog barks" + tok.pieces()[cont][2:]  # inside a caption it joins the word before it
    assert tok.decode([[tok.bos_id, *body[:-1], cont, tok.eos_id]]) == [joined]


def test_truncation_keeps_bos_and_eos(tok):
    ids = tok.encode(["a dog barks " * 10])
    assert ids.shape[1] == 12 and ids[0, -1] == tok.eos_id


def test_bad_vocab_file_is_refused(tmp_path):
    with pytest.raises(TokenizerError, match="does not exist"):
        CaptionTokenizer(tmp_path / "missing.txt")
    (tmp_path / "v.txt").write_text("[PAD]\nhello\n")
    with pytest.raises(TokenizerError, match="special tokens"):
        CaptionTokenizer(tmp_path / "v.txt")


def _decoder(tok, **kw):
    torch.manual_seed(0)
    return CaptionDecoder(len(tok), memory_dim=8, dim=32, depth=1, heads=2, max_length=12, dropout=0.0,
                          pad_id=tok.pad_id, unk_id=tok.unk_id, bos_id=tok.bos_id, eos_id=tok.eos_id, **kw)


def test_teacher_forcing_is_causal(tok):
    dec = _decoder(tok).eval()
    frames = torch.randn(1, 5, 8)
    ids = tok.encode(CAPTIONS[:1])
    a = dec(frames, ids[:, :-1])
    changed = ids.clone()
    changed[0, 4] = tok.bos_id  # a later token must not change earlier positions' logits
    b = dec(frames, changed[:, :-1])
    assert torch.allclose(a[:, :4], b[:, :4], atol=1e-5) and not torch.allclose(a[:, 4:], b[:, 4:])


def test_loss_is_label_smoothed_cross_entropy_without_padding(tok):
    dec = _decoder(tok)
    ids = tok.encode(CAPTIONS)
    logits = dec(torch.randn(3, 5, 8), ids[:, :-1])
    loss = CaptionLoss(0.1, ignore_index=tok.pad_id)(logits, ids[:, 1:])
    keep = ids[:, 1:] != tok.pad_id
    ref = F.cross_entropy(logits[keep], ids[:, 1:][keep], label_smoothing=0.1)
    assert loss.item() == pytest.approx(ref.item(), rel=1e-5)


def test_a_trained_decoder_writes_each_clips_caption_greedy_and_beam(tok):
    dec = _decoder(tok)
    frames = torch.randn(3, 5, 8)
    ids = tok.encode(CAPTIONS)
    opt = torch.optim.Adam(dec.parameters(), lr=1e-2)
    loss_fn = CaptionLoss(0.0, ignore_index=tok.pad_id)
    for _ in range(80):
        loss = loss_fn(dec(frames, ids[:, :-1]), ids[:, 1:])
        opt.zero_grad()
        loss.backward()
        opt.step()
    dec.eval()
    expected = tok.decode(ids)
    assert tok.decode(dec.generate(frames)) == expected
    assert tok.decode(dec.generate(frames, beam_size=3)) == expected
    # likelihoods: each clip's own caption is the most likely, and the matrix matches per-pair scoring
    lm = likelihood_matrix(dec, frames, ids, chunk=4)
    assert torch.equal(lm.argmax(dim=1), torch.arange(3))
    assert torch.allclose(lm.diagonal(), dec.sequence_logprob(frames, ids), atol=1e-4)


def test_beam_search_is_exact_where_the_beam_holds_every_prefix_and_beats_greedy(tok):
    # max_length 3: BOS, at most one piece, EOS. A beam as wide as the vocabulary keeps every
    # one-piece prefix, so it must find the most likely complete sequence of all of them.
    dec = _decoder(tok).eval()
    dec.max_length = 3
    frames = torch.randn(4, 5, 8)
    pieces = [i for i in range(len(tok)) if i not in (tok.pad_id, tok.unk_id, tok.bos_id, tok.eos_id)]
    candidates = [[tok.bos_id, tok.eos_id, tok.pad_id]] + [[tok.bos_id, p, tok.eos_id] for p in pieces]
    cand = torch.tensor(candidates)
    scores = likelihood_matrix(dec, frames, cand)  # (clips, candidates)
    beam = dec.generate(frames, beam_size=len(tok), length_penalty=0.0)
    best = cand[scores.argmax(dim=1)]
    for row in range(4):
        got = beam[row].tolist() + [tok.pad_id] * (3 - beam.shape[1])
        assert got == best[row].tolist()
    greedy = dec.generate(frames)
    assert (dec.sequence_logprob(frames, beam) >= dec.sequence_logprob(frames, greedy) - 1e-5).all()


def test_generation_never_emits_unk_pad_or_bos(tok):
    dec = _decoder(tok).eval()
    frames = torch.randn(4, 5, 8)
    for seq in (dec.generate(frames), dec.generate(frames, beam_size=3)):
        body = seq[:, 1:]
        assert (seq[:, 0] == tok.bos_id).all()
        assert not (body == tok.unk_id).any() and not (body == tok.bos_id).any()
