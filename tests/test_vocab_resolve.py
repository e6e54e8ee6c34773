"""Resolving tags and captions to UTS concepts (lexical part; embeddings in test_vocab_extract)."""

from __future__ import annotations

import pytest
from test_vocab_support import small_ontology

from uts.ontology.resolve import Resolver, lemma, lemma_key


@pytest.fixture(scope="module")
def resolver():
    return Resolver(small_ontology())


@pytest.mark.parametrize("words", [
    ("bark", "barks", "barking", "barked"),
    ("drum", "drums", "drumming", "drummed"),
    ("whisper", "whispers", "whispering", "whispered"),
    ("muffle", "muffled", "muffling"),
    ("buzz", "buzzing", "buzzes"),
    ("hiss", "hissing", "hisses"),
])
def test_lemma_folds_inflections_together(words):
    assert len({lemma(w) for w in words}) == 1, {w: lemma(w) for w in words}


@pytest.mark.parametrize("a,b", [("string", "str"), ("ring", "r"), ("speed", "sp"), ("bass", "bas"), ("news", "new")])
def test_lemma_leaves_words_that_only_look_inflected(a, b):
    assert lemma(a) != b


def test_lemma_key_ignores_separators_and_plurals():
    assert lemma_key("Hi-Hats") == lemma_key("hi hat") == lemma_key("hihat")


def test_resolve_tag_variants_and_deprecated_replacement(resolver):
    assert resolver.ids("drums") == ("UTS:0000021",)
    assert resolver.ids("Drumming") == ("UTS:0000021",)
    assert resolver.ids("drum kit") == ("UTS:0000021",)  # deprecated -> its replacement
    assert resolver.ids("reverb") == ("UTS:0000040",)  # synonym
    assert resolver.ids("hi_hats") == ("UTS:0000023",)
    assert resolver.ids("saxophone") == ()
    assert resolver.ids("") == ()


def test_find_mentions_prefers_the_longest_ngram(resolver):
    mentions, leftovers = resolver.mentions("A snare drum and an electric guitar, then drums.")
    found = {(m.tag, m.concept_ids) for m in mentions}
    assert ("snare drum", ("UTS:0000022",)) in found
    assert ("electric guitar", ("UTS:0000025",)) in found
    assert ("drum", ("UTS:0000021",)) in found
    assert ("guitar", ("UTS:0000024",)) not in found  # consumed by the longer match
    assert leftovers == []  # "and", "an", "then" are stopwords


def test_find_mentions_does_not_cross_punctuation(resolver):
    # "electric, guitar" must not match "electric guitar"
    mentions, leftovers = resolver.mentions("electric, guitar")
    assert [m.concept_ids for m in mentions] == [("UTS:0000024",)]
    assert leftovers == [["electric"]]


def test_leftovers_are_content_word_runs_split_at_stopwords(resolver):
    mentions, leftovers = resolver.mentions("A loud engine rumble can be heard in the old garage while dogs bark")
    assert {m.concept_ids for m in mentions} == {("UTS:0000033",), ("UTS:0000034",)}
    assert ["loud", "engine", "rumble"] in leftovers
    assert ["old", "garage"] in leftovers
    assert all(w not in {"the", "a", "in", "can", "be", "heard"} for run in leftovers for w in run)


def test_a_live_concept_owns_its_label_over_a_deprecated_namesake():
    from uts.ontology import Concept, Ontology

    onto = Ontology([
        Concept("UTS:0000001", "sound", root=True),
        Concept("UTS:0000002", "bass", parents=["UTS:0000001"]),
        Concept("UTS:0000003", "low end", parents=["UTS:0000001"]),
        Concept("UTS:0000004", "bass", parents=["UTS:0000001"], deprecated=True, replaced_by=["UTS:0000003"]),
        Concept("UTS:0000005", "sub", parents=["UTS:0000001"], deprecated=True, replaced_by=["UTS:0000003"]),
    ])
    r = Resolver(onto)
    assert r.ids("bass") == ("UTS:0000002",) == r.ids("basses")
    assert r.mentions("deep bass")[0][0].concept_ids == ("UTS:0000002",)
    assert r.ids("sub") == ("UTS:0000003",)  # a deprecated label alone leads to its replacement


def test_the_closest_form_wins_over_a_shared_lemma():
    from uts.ontology import Concept, Ontology

    onto = Ontology([
        Concept("UTS:0000001", "music", root=True),
        Concept("UTS:0000002", "drum kit", ["drum"], parents=["UTS:0000001"]),
        Concept("UTS:0000003", "drumming technique", ["drumming"], parents=["UTS:0000001"]),
    ])
    r = Resolver(onto)
    ids = {m.tag: m.concept_ids for m in r.mentions("drums and drumming, one drum")[0]}
    assert ids == {"drum": ("UTS:0000002",), "drumming": ("UTS:0000003",)}
    assert r.ids("drums") == ("UTS:0000002",)
    assert r.ids("drummed") == ("UTS:0000002", "UTS:0000003")  # only the lemma is left: both


@pytest.mark.parametrize("text", ["Hi-Hats", "snare_drum rolls", "DOG  barking!", "tag01234", "rock'n'roll",
                                  "a-b_c d9 X", "  Ünïcödé Café  ", "straße", "ﬁddle", "", "___", "Ⅻ bells"])
def test_ascii_shortcut_tokens_equal_the_shared_tokeniser(text):
    from uts.ontology.normalize import tokens
    from uts.ontology.resolve import words

    assert words(text) == tokens(text)
