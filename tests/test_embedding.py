"""The embedding resolver and cache: bundled model found by path, vectors unit-length, cache hits
avoid the model entirely, bad model paths fail clearly."""

from __future__ import annotations

import numpy as np
import pytest

from uts.embedding import EmbeddingModelError, Embedder, default_model_path, embed


def test_default_model_path_is_a_local_sentence_transformers_model():
    path = default_model_path()
    assert (path / "config.json").is_file()
    assert (path / "modules.json").is_file()


def test_encode_is_normalised_and_semantic(tmp_path):
    emb = Embedder(cache_dir=tmp_path)
    v = emb.encode(["dog barking", "a dog barks", "violin", "dog barking"])
    assert v.shape == (4, 384) and v.dtype == np.float32
    assert np.allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-5)
    assert np.allclose(v[0], v[3])
    assert v[0] @ v[1] > v[0] @ v[2] + 0.2  # paraphrases are closer than unrelated labels
    assert emb.computed == 3  # the duplicate was embedded once


def test_cache_is_keyed_by_text_and_skips_the_model(tmp_path):
    first = Embedder(cache_dir=tmp_path)
    a = first.encode(["rain on a roof", "thunder"])
    second = Embedder(cache_dir=tmp_path)
    b = second.encode(["thunder", "rain on a roof"])
    assert second.computed == 0 and second._model is None
    assert np.array_equal(a[::-1], b)
    second.encode(["Thunder"])  # case matters to the model, so it is a different key
    assert second.computed == 1
    assert list(tmp_path.glob("*.sqlite")), "cache file written under cache_dir"


def test_cache_can_be_disabled(tmp_path, monkeypatch):
    monkeypatch.setenv("UTS_CACHE_DIR", str(tmp_path))
    emb = Embedder(cache_dir=False)
    emb.encode(["wind"])
    assert emb.cache_path is None and not list(tmp_path.rglob("*.sqlite"))


def test_embed_function_and_empty_input(tmp_path, monkeypatch):
    monkeypatch.setenv("UTS_CACHE_DIR", str(tmp_path))
    assert embed(["speech"]).shape == (1, 384)
    assert Embedder(cache_dir=tmp_path).encode([]).shape == (0, 384)


def test_missing_model_path_is_a_clear_error(tmp_path):
    with pytest.raises(EmbeddingModelError, match="not a local directory"):
        Embedder(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(EmbeddingModelError, match="cannot load"):
        Embedder(tmp_path / "empty", cache_dir=False).encode(["x"])


def test_progress_is_ours_not_sentence_transformers_batches(capfd):
    texts = [f"sound number {i}" for i in range(40)]
    with_bar = Embedder(cache_dir=False, batch_size=2).encode(texts, progress=True)  # 3 chunks of 16
    err = capfd.readouterr().err
    assert "Batches" not in err
    plain = Embedder(cache_dir=False, batch_size=2).encode(texts)
    assert np.allclose(with_bar, plain, atol=1e-5)  # chunking for the bar changes no vector
