"""Shared pieces of the mapping tests: a small UTS-style target with a hierarchy, and one
embedder per test session (the real bundled MiniLM, loaded once; cache in a temp dir)."""

from __future__ import annotations

from uts.mapping.labelsets import from_ontology
from uts.ontology import Concept, Ontology

MUSIC, PERC, DRUM, SNARE, HIHAT, GUITAR, EGUITAR = (f"UTS:000000{i}" for i in range(1, 8))
VOCALS, INSTRUMENTAL, SOUND, ANIMAL, DOG, BARK, RAIN, SPEECH = (f"UTS:00000{i}" for i in range(10, 18))


def concept_adder():
    """``(concepts, add)`` for building a test ontology: ``add(label, parents=(), **fields)``
    appends a concept with the next id (UTS:0000001, ...) and returns its id."""
    concepts: list[Concept] = []
    ids = iter(f"UTS:{i:07d}" for i in range(1, 10_000))

    def add(label, parents=(), **kw):
        cid = next(ids)
        concepts.append(Concept(cid, label, parents=list(parents), root=not parents, **kw))
        return cid
    return concepts, add


def mini_ontology() -> Ontology:
    return Ontology([
        Concept(MUSIC, "music", root=True, domain="music", definition="Sound organised in time for artistic expression."),
        Concept(PERC, "percussion", parents=[MUSIC], definition="Instruments sounded by striking or shaking."),
        Concept(DRUM, "drum", synonyms=["drums"], parents=[PERC], definition="A membrane instrument struck with sticks or hands."),
        Concept(SNARE, "snare drum", parents=[DRUM], definition="A drum with wires stretched across the lower head."),
        Concept(HIHAT, "hi-hat", synonyms=["hi hat"], parents=[PERC], definition="A pair of cymbals on a stand."),
        Concept(GUITAR, "guitar", parents=[MUSIC], definition="A fretted string instrument."),
        Concept(EGUITAR, "electric guitar", parents=[GUITAR], definition="A guitar with pickups and an amplifier."),
        Concept(VOCALS, "vocals", synonyms=["singing voice"], parents=[MUSIC], definition="The sung part of music."),
        Concept(INSTRUMENTAL, "instrumental", synonyms=["no vocals"], parents=[MUSIC], definition="Music without singing."),
        Concept(SOUND, "sound", root=True, domain="sound"),
        Concept(ANIMAL, "animal", parents=[SOUND], definition="Sounds made by animals."),
        Concept(DOG, "dog", parents=[ANIMAL], definition="Sounds of domestic dogs."),
        Concept(BARK, "bark", synonyms=["barking"], parents=[DOG], definition="The short loud cry of a dog.",
                xrefs=["AudioSet:/m/05tny_"]),
        Concept(RAIN, "rain", parents=[SOUND], definition="Water drops falling from clouds."),
        Concept(SPEECH, "speech", root=True, domain="speech", definition="Spoken human language."),
    ])


def mini_target():
    return from_ontology(mini_ontology())
