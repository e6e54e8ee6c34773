"""Logic that used to live in the CLI, now library functions."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest

from uts.mapping.review import Decision, count_decisions, decision_for_key
from uts.mapping.sssom import SSSOMError, parse_predicates
from uts.vocab.build import parse_size, split_sizes
from uts.vocab.filter import Vocabulary
from uts.vocab.io import VocabError


def test_vocab_sizes_are_told_apart_from_the_input():
    assert parse_size("1.5k") == 1500 and parse_size("800") == 800 and parse_size("tags.jsonl") is None
    assert split_sizes(["800"], ["tags.jsonl", "1k", "1.5k"]) == ("tags.jsonl", [800, 1000, 1500])
    with pytest.raises(VocabError, match="one INPUT"):
        split_sizes(["800"], ["a.jsonl", "b.jsonl"])
    with pytest.raises(VocabError, match="not a vocabulary size"):
        split_sizes(["0"], ["a.jsonl"])


def test_vocabulary_kind_is_read_not_sniffed(tmp_path):
    concepts, labels = tmp_path / "c.json", tmp_path / "l.json"
    # the "concepts" key after 4 KB of other data: the old 4 KB sniff missed it
    concepts.write_text(json.dumps({"pad": "x" * 5000, "concepts": [{"id": "UTS:0000001", "label": "speech"}]}))
    labels.write_text(json.dumps({"0": "concepts"}))
    with pytest.raises(VocabError, match="concept vocabulary needs an ontology"):
        Vocabulary(concepts)  # read as a concepts file, which cannot work without an ontology
    assert Vocabulary(labels).concepts is None and Vocabulary(labels).labels == {"concepts"}


def test_predicate_shorthand():
    assert parse_predicates("exact, closeMatch,skos:broadMatch") == (
        "skos:exactMatch", "skos:closeMatch", "skos:broadMatch")
    with pytest.raises(SSSOMError, match="unknown predicate"):
        parse_predicates("exact,sideways")


def test_review_keystrokes():
    alt = SimpleNamespace(object_id="T:2", predicate_id="skos:closeMatch")
    row = {"subject_id": "S:1", "object_id": "T:1", "alternatives": [alt]}
    assert decision_for_key(row, "q") is None
    assert decision_for_key(row, " A ") == Decision("S:1", "accept")
    assert decision_for_key(row, "1") == Decision("S:1", "pick", "T:2", "skos:closeMatch")
    assert decision_for_key(row, "b") == Decision("S:1", "predicate", predicate_id="broad")
    assert decision_for_key(row, "7") == Decision("S:1", "skip")
    assert decision_for_key({**row, "object_id": None}, "a") == Decision("S:1", "skip")
    assert count_decisions([Decision("S:1", "skip"), Decision("S:2", "accept")]) == 1
