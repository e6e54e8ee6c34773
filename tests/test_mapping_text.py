"""Text helpers of the matcher: compound heads, event words, branch heads, alternatives, and the
segmenter's handling of inflected forms and of words known only from target descriptions."""

from __future__ import annotations

from uts.mapping.text import Segmenter, alternatives, branch_head, compound_heads, event_words


def test_noun_compounds_are_headed_by_their_last_word():
    assert compound_heads(("door", "knock")) == (("knock",), ("door",))
    assert compound_heads(("mouse", "click")) == (("click",), ("mouse",))
    assert compound_heads(("door", "wood", "creak")) == (("creak",), ("door", "wood"))
    assert compound_heads(("knock",)) == ((), ())  # one word: no compound structure
    assert compound_heads(("knock", "on", "door")) == (("knock",), ("door",))  # preposition: head first
    assert compound_heads(("bell", "of", "the", "church")) == (("bell",), ("church",))


def test_event_descriptions_are_headed_by_their_ing_word():
    # the -ing word is the sound; the noun (its source) is neither head nor mere modifier
    assert compound_heads(("crackling", "fire")) == (("crackling",), ())
    assert compound_heads(("dog", "barking")) == (("barking",), ())
    assert event_words(("typing", "on", "keyboard")) == ("typing",)
    # nouns that merely end in -ing are not events
    assert event_words(("ceiling", "fan")) == ()
    assert compound_heads(("guitar", "string")) == (("string",), ("guitar",))


def test_branch_head_is_the_generic_head_most_siblings_share():
    assert branch_head(["Happy music", "Sad music", "Tender music", "Scary music"]) == "music"
    assert branch_head(["Rock music", "Jazz", "Pop music", "Techno"]) == "music"  # half is enough
    assert branch_head(["Rock music", "Jazz", "Blues", "Techno"]) is None
    assert branch_head(["Snare drum", "Bass drum", "Tabla"]) is None  # not a generic head
    assert branch_head(["Happy music", "Sad music"]) is None  # too few to call it a convention
    assert branch_head(["Light engine (high frequency)", "Engine sound", "Motor sound"]) == "sound"


def test_alternatives_split_slashes_and_or():
    assert alternatives("mood/theme") == ["mood", "theme"]
    assert alternatives("rock or pop") == ["rock", "pop"]
    assert alternatives("n/a") == []
    assert alternatives("rock") == []


def test_segmenter_keeps_inflected_words_whole():
    seg = Segmenter({"horse", "cat", "purr", "easy", "listen", "splash", "water", "coo", "pigeon", "gallo", "ping"})
    assert seg("horse galloping") == "horse galloping"  # not "gallo ping"
    assert seg("cat purring") == "cat purring"
    assert seg("pigeon cooing") == "pigeon cooing"
    assert seg("easylistening") == "easy listening"  # the stem itself splits


def test_description_words_split_only_into_target_names():
    names = {"electro", "pop", "rock", "sound"}
    seg = Segmenter(names | {"sounds", "cape"}, prose={"electropop", "soundscape"}, names=names)
    assert seg("electropop") == "electro pop"
    assert seg("soundscape") == "soundscape"  # "sounds" + "cape" are no target names
    # a word of the target's own names is never split
    assert Segmenter({"electropop", "electro", "pop"}, names={"electropop"})("electropop") == "electropop"
