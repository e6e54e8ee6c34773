"""Shared helpers for the vocabulary tests (no tests here): a small ontology of our own, so the
tests do not depend on the shipped UTS content."""

from __future__ import annotations

import json
from pathlib import Path

from uts.ontology import Concept, Ontology, save


def _c(num, label, parents=(), domain=None, synonyms=(), **kw):
    return Concept(f"UTS:{num:07d}", label, list(synonyms), parents=[f"UTS:{p:07d}" for p in parents],
                   domain=domain, root=not parents, **kw)


def small_ontology() -> Ontology:
    return Ontology([
        _c(1, "speech", domain="speech"),
        _c(2, "music", domain="music"),
        _c(3, "environmental sound", domain="sound"),
        _c(4, "recording quality", domain="general"),
        _c(10, "male speaker", [1], synonyms=["male voice"]),
        _c(11, "female speaker", [1], synonyms=["female voice"]),
        _c(12, "whispering", [1]),
        _c(13, "laughter", [1], synonyms=["laughing"]),
        _c(14, "narration", [1]),
        _c(20, "musical instrument", [2]),
        _c(21, "drum", [20]),
        _c(22, "snare drum", [21]),
        _c(23, "hi-hat", [21]),
        _c(24, "guitar", [20]),
        _c(25, "electric guitar", [24]),
        _c(26, "piano", [20]),
        _c(27, "rock music", [2], synonyms=["rock"]),
        _c(28, "singing", [2]),
        _c(30, "vehicle", [3]),
        _c(31, "car", [30]),
        _c(32, "siren", [30]),
        _c(33, "dog", [3]),
        _c(34, "bark", [33]),
        _c(35, "rain", [3]),
        _c(36, "bird", [3]),
        _c(40, "reverberation", [4], synonyms=["reverb"]),
        _c(41, "hiss", [4]),
        _c(42, "indoor", [4]),
        _c(99, "drum kit", [20], deprecated=True, replaced_by=["UTS:0000021"]),
    ])


def write_ontology(path: Path) -> Path:
    save(small_ontology(), path)
    return path


def write_jsonl(path: Path, records) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in Path(path).read_text(encoding="utf-8").splitlines() if line.strip()]
