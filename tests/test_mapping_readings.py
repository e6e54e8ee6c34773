"""Set-level readings (uts.mapping.readings): documented codes, abbreviations read through the
set's coherent branch, elided head words - with the real bundled MiniLM on a small target."""

from __future__ import annotations

import csv

import pytest

from uts.embedding import Embedder
from uts.mapping.labelsets import from_ontology, from_texts, read_labelset
from uts.mapping.match import MatchConfig, Matcher, to_mapping_set
from uts.mapping.readings import (code_like, expansion_score, family_paths, first_phrase, non_word, numeral,
                                  spoken_word_set, with_parts, word_match)
from uts.mapping.text import non_content
from _mapping_helpers import concept_adder
from uts.ontology import Ontology


def _ontology() -> Ontology:
    c, add = concept_adder()
    music = add("music", definition="Sound organised in time for artistic expression.")
    instrument = add("musical instrument", [music])
    strings = add("bowed string instrument", [instrument])
    for name, syn in (("violin", ["fiddle"]), ("viola", []), ("cello", ["violoncello"]), ("double bass", ["contrabass"])):
        add(name, [strings], synonyms=syn, definition=f"The {name}, a bowed string instrument.")
    wind = add("wind instrument", [instrument])
    for name in ("flute", "oboe", "clarinet", "bassoon", "trumpet", "trombone"):
        add(name, [wind], definition=f"The {name}, a wind instrument.")
    add("clave", [instrument], definition="A pair of wooden sticks struck together.")
    add("vocoder", [music], definition="A voice synthesiser effect.")
    genre = add("music genre", [music])
    for name, syn in (("classical music", ["classical"]), ("jazz", []), ("rock music", ["rock"]), ("blues", []),
                      ("country music", ["country"]), ("reggae", []), ("disco", [])):
        add(name, [genre], synonyms=syn)
    mood = add("music mood", [music])
    for name in ("happy music", "sad music", "angry music"):
        add(name, [mood])
    emotion = add("emotion", definition="A feeling.")
    add("happiness", [emotion], synonyms=["happy", "joy"])
    add("sadness", [emotion], synonyms=["sad"])
    add("anger", [emotion], synonyms=["angry"])
    speech = add("speech", definition="Spoken human language.")
    add("child speech", [speech], definition="A child speaking.")
    add("male speech", [speech], definition="A man speaking.")
    add("female speech", [speech], definition="A woman speaking.")
    scene = add("acoustic scene", definition="The place where a recording was made.")
    interior = add("vehicle interior", [scene], definition="Inside a moving vehicle.")
    for v in ("bus", "car", "train"):
        add(f"{v} interior", [interior], definition=f"Recorded inside a {v}.")
    for name in ("park", "office", "beach"):
        add(name, [scene], definition=f"A {name}.")
    sound = add("environmental sound")
    vehicle = add("vehicle", [sound], definition="Sounds of vehicles.")
    for v in ("bus", "car", "train"):
        add(v, [vehicle], definition=f"Sounds of a {v}: engine, brakes, doors.")
    add("silence", [sound], definition="No sound at all.")
    return Ontology(c)


@pytest.fixture(scope="module")
def matcher(tmp_path_factory):
    return Matcher(from_ontology(_ontology()), Embedder(cache_dir=tmp_path_factory.mktemp("emb")), MatchConfig())


def _decide(matcher, labels, name="set", **kw):
    source = from_texts(labels, name)
    results = matcher.match(source, **kw)
    return {r.subject.label: r for r in results}, source


def _got(results):
    return {label: (r.decided.object_label if r.decided else None) for label, r in results.items()}


def test_word_and_name_scores():
    assert word_match("jaz", "jazz") == 1.0 and word_match("hip", "hip") == 1.0
    assert word_match("tpt", "trumpet") == 0.8 and word_match("tbn", "trombone") == 0.7
    assert word_match("vn", "oboe") == 0.0 and word_match("jazz", "jaz") == 0.0
    assert expansion_score(["cla"], ["classical", "music"]) == 1.0  # "music" is a generic head
    assert expansion_score(["cla"], ["classical", "guitar"]) == 0.5
    assert expansion_score(["db"], ["double", "bass"]) == 0.8  # initials
    assert expansion_score(["b", "cl"], ["bass", "clarinet"]) == 1.0
    assert expansion_score(["c"], ["cello"]) == 0.0  # one letter alone is no abbreviation


def test_code_shapes_and_meanings():
    assert code_like("Vln.") and code_like("E. Hn.") and code_like("gac") and not code_like("80s")
    assert not code_like("trumpet") and not code_like("bass clarinet")
    words = {"up", "go", "six", "jazz"}
    assert non_word("c", words) and non_word("Vln.", words) and non_word("tpt", words)
    assert not non_word("up", words) and not non_word("six", words)
    assert first_phrase("percussive sounds, e.g. crash, bang, knock") == "percussive sounds"
    assert first_phrase("anger (Wut)") == "anger"
    assert first_phrase("video game/TV") == "video game/TV"
    # catch-all classes are non-content labels (they abstain)
    assert non_content("other identifiable sounds") and non_content("other-unknown-music")
    assert not non_content("otter")


def test_abbreviations_read_through_the_sets_branch(matcher):
    results, source = _decide(matcher, ["vn", "vc", "fl", "tpt", "cl", "tbn"], "codes")
    assert _got(results) == {"vn": "violin", "vc": "cello", "fl": "flute", "tpt": "trumpet",
                             "cl": "clarinet", "tbn": "trombone"}
    # every decision explains itself, and the SSSOM row keeps the code as written
    rows = {m.subject_label: m for m in to_mapping_set(list(results.values()), source, matcher.target).mappings}
    assert rows["tpt"].object_label == "trumpet" and "abbreviation" in rows["tpt"].comment
    assert "musical instrument" in rows["tpt"].comment or "wind instrument" in rows["tpt"].comment
    # the same code means a genre in a set of genre codes: cla is classical, not clarinet (or clave)
    genres, _ = _decide(matcher, ["blu", "cla", "cou", "jaz", "roc", "reg", "dis"], "genres")
    assert _got(genres) == {"blu": "blues", "cla": "classical music", "cou": "country music", "jaz": "jazz",
                            "roc": "rock music", "reg": "reggae", "dis": "disco"}


def test_spoken_words_are_not_codes(matcher):
    results, _ = _decide(matcher, ["up", "go", "six", "yes", "left", "no", "off", "two"], "commands")
    assert not any("abbreviation" in (r.comment or "") + (r.reason or "") for r in results.values())


def test_a_set_that_counts_is_a_list_of_spoken_words(matcher):
    """Digits and number words make a set a list of spoken words (AudioMNIST, Speech Commands):
    every label abstains, *sad* and *bus* included, and the unmapped report says why. Sets with
    a stray number, or chord/meter numbers outside 0-10, are sound classes as before."""
    assert numeral("7") == 7 and numeral("Seven") == 7 and numeral("zero") == 0
    assert numeral("7th") is None and numeral("80s") is None and numeral("seventh") is None

    def labels(*names):
        return list(from_texts(list(names), "x"))
    assert spoken_word_set(labels(*map(str, range(10))))
    assert spoken_word_set(labels("yes", "no", "one", "two", "three", "sad", "bus", "go"))
    assert not spoken_word_set(labels("yes", "no", "one", "two", "sad", "bus", "go"))  # two numerals
    assert not spoken_word_set(labels("maj", "min", "7", "9", "11", "13"))  # one small numeral
    assert not spoken_word_set(labels("violin", "cello", "flute", "oboe", "clarinet", "trumpet", "3", "4", "5",
                                      "bassoon", "trombone", "viola", "park", "bus"))  # 3 of 14: under a quarter
    digits, _ = _decide(matcher, [str(i) for i in range(10)], "digits")
    assert all(r.decided is None and "spoken words" in r.reason for r in digits.values())
    words, _ = _decide(matcher, ["one", "two", "three", "four", "sad", "bus", "happy"], "commands")
    assert _got(words) == dict.fromkeys(words)
    assert "spoken words" in words["sad"].reason and "best candidate: sadness" in words["sad"].reason
    # without the numbers, the same words are sound classes and emotions again
    plain, _ = _decide(matcher, ["sad", "bus", "happy", "violin"], "mixed")
    assert plain["violin"].decided.object_label == "violin"
    # switched off with the other set-level readings
    off = Matcher(matcher.target, matcher.embedder, MatchConfig(readings=False))
    assert off.match(from_texts(["violin", "1", "2", "3"], "x"))[0].decided.object_label == "violin"


def test_documented_codes_are_read_by_their_meaning(matcher, tmp_path):
    path = tmp_path / "chime.tsv"
    with path.open("w", newline="") as f:
        w = csv.writer(f, delimiter="\t")
        w.writerow(["label", "description"])
        w.writerows([["c", "child speech"], ["m", "adult male speech"], ["f", "adult female speech"],
                     ["S", "silence"], ["o", "other identifiable sounds"]])
    source = read_labelset(path)
    results = {r.subject.label: r for r in matcher.match(source)}
    got = _got(results)
    assert got["c"] == "child speech" and got["m"] == "male speech" and got["f"] == "female speech"
    assert got["S"] == "silence"
    assert got["o"] is None and "non-content" in results["o"].reason  # a catch-all abstains
    assert "documented meaning" in results["c"].comment
    assert results["c"].subject.label == "c"  # the row keeps the code


def test_elided_head_in_a_music_set(matcher):
    results, _ = _decide(matcher, ["happy", "sad", "angry", "rock", "jazz", "classical"], "moods")
    got = _got(results)
    assert got["happy"] == "happy music" and got["sad"] == "sad music" and got["angry"] == "angry music"
    assert got["rock"] == "rock music" and got["jazz"] == "jazz"  # they name music concepts themselves
    assert "complete with 'music'" in results["happy"].comment
    # alone, without a music set around it, happy is happiness
    alone, _ = _decide(matcher, ["happy", "dog", "rain"], "mixed")
    assert _got(alone)["happy"] == "happiness"


def test_elided_head_in_a_scene_list(matcher):
    results, _ = _decide(matcher, ["bus", "car", "train", "park", "office", "beach"], "scenes")
    got = _got(results)
    assert got["bus"] == "bus interior" and got["car"] == "car interior" and got["train"] == "train interior"
    assert got["park"] == "park"


def test_readings_can_be_switched_off(matcher):
    matcher.config.readings = False
    try:
        results, _ = _decide(matcher, ["vn", "vc", "fl", "tpt", "cl", "tbn"], "codes")
    finally:
        matcher.config.readings = True
    assert not any("read as" in (r.comment or "") + (r.reason or "") for r in results.values())


def _codes_ontology() -> Ontology:
    """Instruments beside a larger branch of things whose names also start like the codes, and
    two codes the target names outright elsewhere (``db`` a genre, ``bn`` a language code)."""
    c, add = concept_adder()
    sound = add("environmental sound")
    things = add("household object", [add("sound of things", [sound])])
    for name in ("van", "flap", "orb", "tappet", "hen", "dome", "bin", "vat", "kettle", "saw", "drill", "lock", "bell"):
        add(name, [things], definition=f"Sounds of a {name}.")
    music = add("music", definition="Sound organised in time for artistic expression.")
    instrument = add("musical instrument", [music])
    for name in ("violin", "viola", "double bass", "flute", "oboe", "bassoon", "trumpet", "horn"):
        add(name, [instrument], definition=f"The {name}, a musical instrument.")
    genre = add("music genre", [music])
    add("drum and bass", [genre], synonyms=["db", "dnb"])
    speech = add("speech", definition="Spoken human language.")
    add("Bengali", [speech], synonyms=["bn"])
    return Ontology(c)


def test_code_branch_is_the_most_specific_one_and_named_codes_outside_it_expand(tmp_path):
    """The things branch offers an expansion for every code (van, flap, orb, hen) about as good as
    the instruments do, and is deeper: the smaller branch is the set's kind. Codes the target names
    only outside that branch (db: drum and bass, bn: Bengali) are read as codes too."""
    m = Matcher(from_ontology(_codes_ontology()), Embedder(cache_dir=tmp_path / "emb"), MatchConfig())
    results, source = _decide(m, ["vn", "va", "fl", "ob", "tpt", "hn", "db", "bn"], "parts")
    assert _got(results) == {"vn": "violin", "va": "viola", "fl": "flute", "ob": "oboe", "tpt": "trumpet",
                             "hn": "horn", "db": "double bass", "bn": "bassoon"}
    assert "most under 'musical instrument'" in results["db"].comment
    # a code named inside the set's branch keeps its own name; a set of plain words is no code set
    alone, _ = _decide(m, ["drum and bass", "Bengali", "violin"], "words")
    assert _got(alone) == {"drum and bass": "drum and bass", "Bengali": "Bengali", "violin": "violin"}


def _family_ontology() -> Ontology:
    """Instrument families beside the instruments in them, and a vehicle horn to confuse ``Horn``."""
    c, add = concept_adder()
    instrument = add("musical instrument", definition="An object played to make music.")
    brass = add("brass instrument", [instrument], synonyms=["brass"], definition="A wind instrument sounded by buzzing lips.")
    add("French horn", [brass], synonyms=["horn (instrument)"], definition="A coiled brass instrument.")
    for name in ("trumpet", "tuba", "trombone"):
        add(name, [brass], definition=f"The {name}, a brass instrument.")
    strings = add("bowed string instrument", [instrument], synonyms=["strings"], definition="Strings played with a bow.")
    for name in ("violin", "viola", "cello"):
        add(name, [strings], definition=f"The {name}, a bowed string instrument.")
    vehicle = add("vehicle", definition="Sounds of vehicles.")
    add("vehicle horn", [vehicle], synonyms=["horn", "car horn"], definition="A warning horn of a road vehicle.")
    return Ontology(c)


def test_family_prefixes_are_read_as_the_labels_family(tmp_path):
    """Folder-style labels (TinySOL's ``Brass/Horn``) put the family first: the label is the horn
    of the brass family, not the family (*brass instrument*) nor a car's horn; a list with one
    "either" label (``cafe/restaurant``) keeps reading its parts as alternatives."""

    m = Matcher(from_ontology(_family_ontology()), Embedder(cache_dir=tmp_path), MatchConfig())
    labels = ["Brass/Horn", "Brass/Trumpet_C", "Brass/Bass_Tuba", "Brass/Trombone", "Strings/Violin", "Strings/Viola",
              "Strings/Violoncello"]
    results, source = _decide(m, labels, "tinysol")
    got = _got(results)
    assert got["Brass/Horn"] == "French horn" and got["Brass/Trumpet_C"] == "trumpet" and got["Brass/Bass_Tuba"] == "tuba"
    assert got["Strings/Violin"] == "violin" and got["Strings/Viola"] == "viola"
    assert "family 'Brass'" in results["Brass/Horn"].comment
    rows = {r.subject_label for r in to_mapping_set(list(results.values()), source, m.target).mappings}
    assert "Brass/Horn" in rows  # the row keeps the label as written
    assert family_paths(list(from_texts(["cafe/restaurant", "park", "bus", "home"], "x"))) == {}
    assert family_paths(list(from_texts(["a/x", "b/y", "c/z", "d/w"], "x"))) == {}  # no family shared


def _speech_ontology() -> Ontology:
    """Speech beside names that a whole "speech with ..." phrase is nearer to."""
    c, add = concept_adder()
    speech = add("speech", synonyms=["talking", "spoken word"], definition="People using spoken language.")
    add("prosody", [speech], definition="The melody and rhythm of speech.")
    add("speech babble", [speech], synonyms=["speech noise", "hubbub"], definition="Many indistinct voices at once.")
    music = add("music", definition="Sound organised in time.")
    add("background music", [music], definition="Music played behind speech or action.")
    add("melodrama", [music], synonyms=["speech over music"], definition="Spoken text declaimed over music.")
    add("vocal music", [music], synonyms=["song"], definition="Music for voices.")
    noise = add("noise", definition="Unwanted or random sound.")
    add("background noise", [noise], definition="Noise behind the sound of interest.")
    weather = add("weather", definition="Sounds of the weather.")
    add("rain", [weather], definition="Water falling from the sky.")
    add("thunderstorm", [weather], synonyms=["rain with thunder"], definition="Rain with thunder and lightning.")
    return Ontology(c)


def test_two_things_in_one_label_are_read_as_the_first(tmp_path):
    """AVA-Speech's ``SPEECH_WITH_MUSIC``: the speech is what is labelled, the music comes with it."""
    assert with_parts("SPEECH_WITH_MUSIC") == ("SPEECH", "MUSIC") and with_parts("rain with thunder") == ("rain", "thunder")
    assert with_parts("without drums") is None and with_parts("withdrawn") is None and with_parts("music with") is None
    m = Matcher(from_ontology(_speech_ontology()), Embedder(cache_dir=tmp_path), MatchConfig())
    results, _ = _decide(m, ["NO_SPEECH", "SPEECH_WITH_MUSIC", "SPEECH_WITH_NOISE", "SPEECH"], "ava")
    got = _got(results)
    assert got["SPEECH_WITH_MUSIC"] == "speech" and got["SPEECH_WITH_NOISE"] == "speech"
    assert got["NO_SPEECH"] is None  # a negated label still abstains
    assert "two things in one label" in results["SPEECH_WITH_MUSIC"].comment
    assert results["SPEECH_WITH_MUSIC"].subject.label == "SPEECH_WITH_MUSIC"  # the row keeps it as written
    named, _ = _decide(m, ["rain with thunder", "rain", "speech"], "mixed")  # a name of the target is not split
    assert _got(named)["rain with thunder"] == "thunderstorm"
