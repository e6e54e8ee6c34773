"""Set-level evidence (uts.mapping.context) with the real bundled MiniLM on a small target whose
words have senses in several branches: a music tag set reads *female* as a female singer, a list
of acoustic scenes reads *bus* as the inside of a bus, and the evidence shows in the SSSOM row."""

from __future__ import annotations

import pytest

from uts.embedding import Embedder
from uts.mapping.labelsets import from_ontology, from_texts, read_labelset
from uts.mapping.match import MatchConfig, Matcher, to_mapping_set
from _mapping_helpers import concept_adder
from uts.ontology import Ontology


def _ontology() -> Ontology:
    c, add = concept_adder()
    speech = add("speech", definition="Spoken human language.")
    gender = add("speaker gender", [speech])
    female_speaker = add("female speaker", [gender], synonyms=["female", "woman"], definition="A woman speaking.")
    add("male speaker", [gender], synonyms=["male", "man"], definition="A man speaking.")
    music = add("music", definition="Sound organised in time for artistic expression.")
    singing = add("singing", [music], definition="The human voice producing musical tones.")
    add("female singing", [singing], synonyms=["female vocalist"], definition="A woman singing.")
    add("male singing", [singing], synonyms=["male vocalist"], definition="A man singing.")
    instrument = add("musical instrument", [music])
    for name in ("guitar", "piano", "violin", "drum kit", "cello", "flute"):
        add(name, [instrument], definition=f"The {name}, a musical instrument.")
    genre = add("music genre", [music])
    for name in ("rock music", "jazz", "pop music"):
        add(name, [genre])
    scene = add("acoustic scene", synonyms=["recording environment"], definition="The place where a recording was made.")
    interior = add("vehicle interior", [scene], definition="Inside a moving vehicle.")
    add("bus interior", [interior], synonyms=["inside a bus", "on a bus"], definition="Recorded inside a bus.")
    add("car interior", [interior], synonyms=["inside a car"], definition="Recorded inside a car.")
    add("park", [scene], definition="A public urban park.")
    add("airport", [scene], definition="An airport terminal.")
    add("office", [scene], definition="An office room.")
    add("shopping mall", [scene], definition="An indoor shopping centre.")
    sound = add("environmental sound")
    vehicle = add("vehicle", [sound], definition="Sounds of vehicles.")
    add("bus", [vehicle], definition="Sounds of a bus: engine, brakes, doors.")
    add("car", [vehicle], definition="Sounds of a passenger car.")
    add("dog", [sound], definition="Sounds of domestic dogs.")
    return Ontology(c), female_speaker


@pytest.fixture(scope="module")
def target(tmp_path_factory):
    onto, _ = _ontology()
    target = from_ontology(onto)
    embedder = Embedder(cache_dir=tmp_path_factory.mktemp("emb"))
    return target, embedder


def _decide(target, labels, collective=True, **kw):
    tgt, embedder = target
    matcher = Matcher(tgt, embedder, MatchConfig(collective=collective))
    src = from_texts(labels, "src")
    results = matcher.match(src, **kw)
    return {r.subject.label: r for r in results}, src, matcher


MUSIC_TAGS = ["guitar", "piano", "violin", "drums", "rock", "jazz", "pop", "cello", "female"]


def test_a_music_tag_set_does_not_read_female_as_a_speaker(target):
    alone, _, _ = _decide(target, MUSIC_TAGS, collective=False)
    assert alone["female"].decided.object_label == "female speaker"  # the synonym hit, judged alone
    together, src, matcher = _decide(target, MUSIC_TAGS)
    female = together["female"]
    # the speaker sense is out of profile; the singer sense is too weak a match to take, so the
    # label is left for review, and the unmapped report says why
    assert female.decided is None
    assert "set profile" in female.reason and "music" in female.reason and "female speaker" in female.reason
    assert female.candidates[0].object_label == "female singing"
    assert together["guitar"].decided.object_label == "guitar"  # confident labels keep their target
    rows = {m.subject_label: m for m in to_mapping_set(list(together.values()), src, matcher.target).mappings}
    assert "female" not in rows and "set profile from" in rows["guitar"].comment


def test_stated_context_reads_bus_as_a_scene(target):
    labels = ["bus", "park", "airport", "office"]
    alone, _, _ = _decide(target, labels, collective=False)
    assert alone["bus"].decided.object_label == "bus"
    scenes, _, _ = _decide(target, labels, context="acoustic scenes")
    assert scenes["bus"].decided.object_label == "bus interior"
    assert "stated context 'acoustic scenes'" in scenes["bus"].comment


def test_context_line_of_a_label_file_counts_as_stated_context(target, tmp_path):
    path = tmp_path / "scenes.txt"
    path.write_text("# context: acoustic scenes\nbus\npark\nairport\noffice\n", encoding="utf-8")
    src = read_labelset(path)
    assert src.context == "acoustic scenes" and [lab.label for lab in src] == ["bus", "park", "airport", "office"]
    tgt, embedder = target
    got = {r.subject.label: r for r in Matcher(tgt, embedder).match(src)}
    assert got["bus"].decided.object_label == "bus interior"


def test_a_small_set_without_context_is_judged_label_by_label(target):
    alone, _, _ = _decide(target, ["bus", "dog"], collective=False)
    together, _, _ = _decide(target, ["bus", "dog"])
    assert {k: r.decided.object_id for k, r in together.items()} == {k: r.decided.object_id for k, r in alone.items()}
    assert all(r.comment is None for r in together.values())  # fewer than 3 confident labels: no profile


def test_unknown_domain_is_a_clear_error(target):
    with pytest.raises(ValueError, match="--domain 'spoken words' names no concept"):
        _decide(target, ["bus"], domain="spoken words")


def test_domain_names_the_branch(target):
    got, _, _ = _decide(target, ["bus", "car"], domain="acoustic scene")
    assert got["bus"].decided.object_label == "bus interior"


def test_mapping_through_uts_follows_cross_references(tmp_path):
    """source -> UTS -> AudioSet: the UTS concept's xref names the target class; written as
    semapv:MappingChaining with the chain in the comment."""
    from _mapping_helpers import mini_target

    from uts.mapping.labelsets import Label, LabelSet
    from uts.mapping.pivot import CHAINING, match_via_uts

    embedder = Embedder(cache_dir=tmp_path / "emb")
    audioset = LabelSet("AudioSet", {
        "AudioSet:/m/05tny_": Label("AudioSet:/m/05tny_", "Class B7"),
        "AudioSet:/m/06mb1": Label("AudioSet:/m/06mb1", "Rain"),
    }, {"AudioSet": "http://example.org/audioset/"})
    direct = Matcher(audioset, embedder)
    uts = Matcher(mini_target(), embedder)
    src = from_texts(["barking", "rain", "no vocals"], "src")
    alone = {r.subject.label: r for r in direct.match(src)}
    assert alone["barking"].decided is None  # an opaque name: nothing to match directly
    got = {r.subject.label: r for r in match_via_uts(direct, uts, src)}
    bark = got["barking"]
    assert bark.decided.object_id == "AudioSet:/m/05tny_" and bark.decided.justification == CHAINING
    assert "via UTS" in bark.comment and "bark" in bark.comment
    assert got["rain"].decided.object_id == "AudioSet:/m/06mb1"
    assert got["no vocals"].decided is None  # guards hold through the chain too
    rejected = {("src:barking", "AudioSet:/m/05tny_")}
    again = {r.subject.label: r for r in match_via_uts(direct, uts, src, rejected)}
    assert again["barking"].decided is None or again["barking"].decided.object_id != "AudioSet:/m/05tny_"


def test_a_tables_description_column_explains_abbreviations(tmp_path):
    path = tmp_path / "irmas.tsv"
    path.write_text("label\tdescription\ncel\tcello\ngac\tacoustic guitar\n", encoding="utf-8")
    src = read_labelset(path)
    assert [(lab.label, lab.description) for lab in src] == [("cel", "cello"), ("gac", "acoustic guitar")]


def test_calibration_is_monotone_and_its_threshold_keeps_the_old_decisions():
    from uts.mapping.evaluate import expected_calibration_error
    from uts.mapping.match import DEFAULT_ACCEPT, RAW_ACCEPT, calibrated, uncalibrated

    ps = [0.01, 0.2, 0.3, 0.5, 0.9, 0.999]
    qs = [calibrated(p) for p in ps]
    assert qs == sorted(qs) and all(abs(uncalibrated(q) - p) < 1e-9 for p, q in zip(ps, qs))
    assert abs(uncalibrated(DEFAULT_ACCEPT) - RAW_ACCEPT) < 1e-3
    assert MatchConfig(accept=0.0).raw_accept == 0.0
    assert expected_calibration_error([0.9] * 10, [True] * 9 + [False]) == pytest.approx(0.0)
    assert expected_calibration_error([0.9] * 10, [False] * 10) == pytest.approx(0.9)
    assert expected_calibration_error([0.15, 0.95], [False, True]) == pytest.approx(0.1)


def test_through_uts_a_direct_match_of_another_concept_is_withdrawn(tmp_path):
    """Emotion names against AudioSet-style music moods: UTS reads *anger* as the emotion, which
    has no counterpart in the target, while the direct match *Angry music* is the UTS concept
    *angry music*, a narrowing of *anger* into music. The direct match is withdrawn and the
    reason says why; labels UTS agrees with, negated labels and rejected pairs behave as before."""
    from uts.mapping.labelsets import Label, LabelSet
    from dataclasses import replace

    from uts.mapping.pivot import match_via_uts, other_sense

    c, add = concept_adder()
    affect = add("affect and character", definition="Emotions and character.")
    anger = add("anger", [affect], synonyms=["angry", "rage"], definition="A strong feeling of displeasure.")
    joy = add("happiness", [affect], synonyms=["happy", "joy"], definition="A feeling of pleasure.")
    music = add("music", definition="Sound organised in time.", xrefs=["AudioSet:/m/04rlf"])
    mood = add("music mood", [music], definition="The mood music conveys.")
    add("angry music", [mood, anger], definition="Music that sounds angry.", xrefs=["AudioSet:/m/angry"])
    add("happy music", [mood, joy], definition="Music that sounds happy.", xrefs=["AudioSet:/m/happy"])
    sound = add("environmental sound")
    add("rain", [sound], definition="Water drops falling.", xrefs=["AudioSet:/m/06mb1"])
    embedder = Embedder(cache_dir=tmp_path / "emb")
    uts = Matcher(from_ontology(Ontology(c)), embedder)
    audioset = LabelSet("AudioSet", {i: Label(i, n) for i, n in (
        ("AudioSet:/m/angry", "Angry music"), ("AudioSet:/m/happy", "Happy music"),
        ("AudioSet:/m/04rlf", "Music"), ("AudioSet:/m/06mb1", "Rain"))}, {"AudioSet": "http://example.org/a/"})
    direct = Matcher(audioset, embedder)
    src = from_texts(["anger", "rain", "no anger"], "emotions")
    alone = {r.subject.label: r for r in direct.match(src)}
    assert alone["anger"].decided.object_label == "Angry music"  # what the direct matcher guesses
    got = {r.subject.label: r for r in match_via_uts(direct, uts, src)}
    assert got["anger"].decided is None
    assert "another concept" in got["anger"].reason and "Angry music" in got["anger"].reason
    assert got["rain"].decided.object_id == "AudioSet:/m/06mb1"
    assert got["no anger"].decided is None  # negated labels still abstain
    # a direct match whose twin is the reading itself, or lies above it, is not another sense
    readings = {r.subject.label: r for r in uts.match(src)}
    assert other_sense(alone["rain"], readings["rain"], uts) is None
    # a direct decision unrelated to the reading (happiness read, Angry music matched) is another
    # concept too; a reading that has a twin in the target itself (angry music) is never judged
    happy = readings["anger"].__class__(readings["anger"].subject, [], decided=readings["anger"].decided)
    happy.decided = replace(readings["anger"].decided, object_id=next(k for k in uts.ids if uts.target.get(k).label == "happiness"))
    assert "another concept" in other_sense(alone["anger"], happy, uts)
    to_music = replace(alone["anger"], decided=replace(alone["anger"].decided, object_id="AudioSet:/m/04rlf"))
    angry_music = replace(happy, decided=replace(happy.decided, object_id=next(k for k in uts.ids if uts.target.get(k).label == "angry music")))
    assert other_sense(to_music, angry_music, uts) is None  # angry music has a twin itself: no judgement
    # a reviewed row for the withdrawn label is kept on a rerun; the unmapped report says why
    from uts.mapping.match import to_mapping_set, unmapped
    from uts.mapping.review import Decision, apply_decisions, merge_reviewed
    first = to_mapping_set(list(alone.values()), src, audioset)
    reviewed = apply_decisions(first, [Decision("emotions:anger", "accept")], "orcid:0000-0002-1825-0097")
    rerun = to_mapping_set(list(got.values()), src, audioset)
    assert "emotions:anger" not in rerun.decided()
    assert merge_reviewed(rerun, reviewed).decided()["emotions:anger"].object_id == "AudioSet:/m/angry"
    assert any(sid == "emotions:anger" and "another concept" in why for sid, _, why in unmapped(list(got.values())))
    # a UTS reading of another concept less sure than the direct guess does not withdraw it ...
    happy.decided.probability = alone["anger"].decided.probability / 2
    assert other_sense(alone["anger"], happy, uts) is None
    # ... but a narrowing is withdrawn however sure the direct guess is: its confidence comes
    # from the shared word (angry -> Angry music at 0.95 while UTS reads the emotion at 0.9)
    weak = readings["anger"]
    weak.decided.probability = alone["anger"].decided.probability / 2
    assert "another concept" in other_sense(alone["anger"], weak, uts)


def test_through_uts_a_sibling_sense_in_another_domain_is_withdrawn_a_named_thing_is_not(tmp_path):
    """A list of speech emotions: UTS reads *angry* as *angry speech*; AudioSet's *Angry music*
    is its sibling under *anger* in another domain, so it is withdrawn even when the direct match
    is the surer one. A scene's *car interior* against the vehicle *car* stays related: a name
    of the twin (*car*) is made of the reading's words. Generic heads count as words here:
    *angry music* is not contained in *angry speech*."""
    from dataclasses import replace

    from uts.mapping.labelsets import Label, LabelSet
    from uts.mapping.pivot import contained, other_sense

    c, add = concept_adder()
    affect = add("affect and character")
    anger = add("anger", [affect], synonyms=["angry"])
    speech = add("speech")
    emotional = add("emotional speech", [speech])
    add("angry speech", [emotional, anger], synonyms=["angry voice"])
    music = add("music", xrefs=["AudioSet:/m/04rlf"])
    add("angry music", [add("music mood", [music]), anger], xrefs=["AudioSet:/m/angry"])
    add("car", [add("vehicle")], synonyms=["automobile"], xrefs=["AudioSet:/m/car"])
    add("car interior", [add("vehicle interior", [add("acoustic scene")])], synonyms=["inside a car"])
    embedder = Embedder(cache_dir=tmp_path / "emb")
    uts = Matcher(from_ontology(Ontology(c)), embedder)
    audioset = LabelSet("AudioSet", {i: Label(i, n) for i, n in (
        ("AudioSet:/m/angry", "Angry music"), ("AudioSet:/m/04rlf", "Music"), ("AudioSet:/m/car", "Car"))},
        {"AudioSet": "http://example.org/a/"})
    direct = Matcher(audioset, embedder)
    src = from_texts(["angry", "car"], "emotions")
    alone = {r.subject.label: r for r in direct.match(src)}
    reading = {r.subject.label: r for r in uts.match(src)}

    def read_as(label, concept, probability):
        cid = next(k for k in uts.ids if uts.target.get(k).label == concept)
        r = reading[label]
        return replace(r, decided=replace(r.decided, object_id=cid, object_label=concept, probability=probability))

    angry = replace(alone["angry"], decided=replace(alone["angry"].decided, object_id="AudioSet:/m/angry", probability=0.95))
    why = other_sense(angry, read_as("angry", "angry speech", 0.9), uts)
    assert why and "angry speech" in why and "another concept" in why
    car = replace(alone["car"], decided=replace(alone["car"].decided, object_id="AudioSet:/m/car", probability=0.95))
    assert other_sense(car, read_as("car", "car interior", 0.99), uts) is None
    index = uts.index
    assert contained(uts, index[next(k for k in uts.ids if uts.target.get(k).label == "car")], {"car", "interior", "inside", "a"})
    assert not contained(uts, index[next(k for k in uts.ids if uts.target.get(k).label == "angry music")],
                         {"angry", "speech", "voice"})


def test_a_scene_list_completes_a_named_vehicle_into_its_interior(target):
    """Without a stated context, a bare *bus* names the vehicle outright; in a list whose other
    labels are scenes, the candidate that completes it (*bus interior*: its word and a head) fits
    the set better, so the outright name no longer shields the vehicle sense. A set of sound
    events keeps the vehicle, and a completion that does not start with the label is none."""
    from uts.mapping.match import completes

    scenes = ["bus", "park", "airport", "office", "shopping mall"]
    alone, _, _ = _decide(target, scenes, collective=False)
    assert alone["bus"].decided.object_label == "bus"
    together, _, _ = _decide(target, scenes)
    assert together["bus"].decided.object_label == "bus interior"
    assert "set profile" in together["bus"].comment
    events, _, _ = _decide(target, ["bus", "car", "dog"])
    assert events["bus"].decided.object_label == "bus"
    assert completes(("bus",), ("bus", "interior")) and not completes(("speech",), ("vocal", "non", "speech"))
    assert not completes(("bus",), ("bus",))


def test_a_vague_stated_context_is_not_used(target):
    """A context that names no branch of the target clearly ("broad sound categories", whose
    nearest concept is a root at 0.55) changed decisions at random (*female* abstained, a scene
    list's *bus* lost its interior); it is now left out, and the comment says so."""
    for labels in (["dog", "bus", "car", "guitar", "female", "park"], ["bus", "car", "park", "airport", "office"]):
        plain, _, _ = _decide(target, labels)
        for context in ("broad sound categories", "sound events for localisation and detection"):
            vague, _, _ = _decide(target, labels, context=context)
            assert {k: r.decided and r.decided.object_label for k, r in vague.items()} == \
                   {k: r.decided and r.decided.object_label for k, r in plain.items()}
    vague, _, _ = _decide(target, ["dog", "bus", "car", "guitar", "female", "park"], context="broad sound categories")
    assert "not clear enough to use" in vague["female"].comment
    # a clear context still acts (the scene list of test_stated_context_reads_bus_as_a_scene)
    clear, _, _ = _decide(target, ["bus", "dog", "car"], context="acoustic scenes")
    assert "not clear" not in (clear["bus"].comment or "")
