"""Label-set readers: every supported format, read from the real reference data where it exists,
with ids, labels, synonyms, descriptions and hierarchy kept; format detection; clear errors."""

from __future__ import annotations

import json

import pytest

from uts.mapping.labelsets import (LabelSetError, detect_format, from_texts, read_audioset_ontology,
                                   read_labelset, read_lhotse, read_mtg_jamendo, read_owl, read_table,
                                   read_text, uts_target)
from uts.mapping.sssom import EXACT, LEXICAL, Mapping, MappingSet, default_metadata, write_sssom
from uts.ontology import save

from _lhotse_helpers import paper_cut
from _mapping_helpers import BARK, DOG, SOUND, mini_ontology


def test_audioset_ontology_keeps_hierarchy_descriptions_and_comma_variants(shared_data):
    ls = read_audioset_ontology(shared_data / "audioset" / "ontology.json")
    assert len(ls) == 632
    dog = ls.get("AudioSet:/m/0bt9lr")
    assert dog.label == "Dog" and dog.description
    assert ls.ancestors("AudioSet:/m/0bt9lr") == {"AudioSet:/m/068hy", "AudioSet:/m/0jbk"}
    assert "AudioSet:/m/05tny_" in ls.children("AudioSet:/m/0bt9lr")  # Bark
    male = ls.get("AudioSet:/m/05zppz")
    assert male.label == "Male speech, man speaking" and male.synonyms == ["Male speech", "man speaking"]
    assert detect_format(shared_data / "audioset" / "ontology.json") == "audioset"


def test_csv_with_id_column_and_explicit_column(shared_data, tmp_path):
    ls = read_labelset(shared_data / "audioset" / "class_labels_indices.csv")
    assert len(ls) == 527 and ls.get("AudioSet:/m/09x0r").label == "Speech"
    table = tmp_path / "classes.tsv"
    table.write_text("idx\tclass_name\tnotes\n0\tdog bark\tx\n1\tsiren\ty\n2\tdog bark\tz\n")
    ls = read_table(table, column="class_name")
    assert [lab.label for lab in ls] == ["dog bark", "siren"]  # duplicates dropped
    with pytest.raises(LabelSetError, match="no column 'nope'"):
        read_table(table, column="nope")
    two = tmp_path / "two.csv"
    two.write_text("a,b\nx,y\n")
    with pytest.raises(LabelSetError, match="--column"):
        read_table(two)


def test_plain_text_keeps_labels_as_written_with_unique_curies(tmp_path):
    path = tmp_path / "my labels.txt"
    path.write_text("# comment\nDog bark\n\nno vocals\nDog  bark\nn/a\n")
    ls = read_text(path)
    assert [lab.label for lab in ls] == ["Dog bark", "no vocals", "Dog  bark", "n/a"]
    assert len({lab.id for lab in ls}) == 4 and all(lab.id.startswith("my_labels:") for lab in ls)
    assert ls.curie_map == {"my_labels": "https://w3id.org/uts/labelset/my_labels/"}
    (tmp_path / "empty.txt").write_text("\n# nothing\n")
    with pytest.raises(LabelSetError, match="no labels"):
        read_text(tmp_path / "empty.txt")
    with pytest.raises(LabelSetError, match="no label set file"):
        read_labelset(tmp_path / "missing.txt")


def test_mtg_jamendo_tags_with_category_context(shared_data):
    ls = read_mtg_jamendo(shared_data / "mtg-jamendo" / "autotagging-test.tsv")
    rock = ls.get("MTGJamendo:genre---rock")
    assert rock.label == "rock" and rock.parents == ["MTGJamendo:genre"]
    assert not ls.get("MTGJamendo:genre").mappable  # categories are context, not labels
    assert "MTGJamendo:mood/theme---happy" in ls  # tags kept as written, as in mapping/*.sssom.tsv
    assert not any(lab.label.endswith("\r") for lab in ls)
    assert detect_format(shared_data / "mtg-jamendo" / "autotagging-test.tsv") == "mtg-jamendo"
    assert detect_format(shared_data / "mtg-jamendo" / "top50.txt") == "mtg-jamendo"


def test_id2label_json(shared_data):
    ls = read_labelset(shared_data / "uts-paper" / "label_800.json")
    assert ls.kind == "id2label" and len(ls) <= 800
    first = json.loads((shared_data / "uts-paper" / "label_800.json").read_text())["0"]
    assert next(iter(ls)).label == first


def test_uts_ontology_and_generic_owl(tmp_path):
    path = tmp_path / "uts-1.0.ttl"
    save(mini_ontology(), path)
    ls = read_owl(path)
    assert ls.get(BARK).synonyms == ["barking"] and ls.get(BARK).parents == [DOG]
    assert ls.ancestors(BARK) >= {DOG, SOUND}
    assert uts_target(path).get(DOG).label == "dog"
    generic = tmp_path / "other.ttl"
    generic.write_text("""@prefix owl: <http://www.w3.org/2002/07/owl#> .
@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .
@prefix skos: <http://www.w3.org/2004/02/skos/core#> .
@prefix ex: <https://example.org/snd#> .
ex:Animal a owl:Class ; rdfs:label "Animal" .
ex:Cat a owl:Class ; rdfs:label "Cat" ; skos:altLabel "Kitty" ; rdfs:subClassOf ex:Animal ;
  skos:definition "A small feline." .
""")
    ls = read_labelset(generic)
    cat = ls.get("ex:Cat")
    assert (cat.label, cat.synonyms, cat.description, cat.parents) == ("Cat", ["Kitty"], "A small feline.", ["ex:Animal"])
    assert ls.curie_map["ex"] == "https://example.org/snd#"
    bad = tmp_path / "bad.ttl"
    bad.write_text("this is not turtle")
    with pytest.raises(LabelSetError, match="not a readable RDF"):
        read_owl(bad)


def test_sssom_and_lhotse_sources(tmp_path):
    mset = MappingSet([Mapping("AudioSet:/m/0bt9lr", EXACT, DOG, LEXICAL, subject_label="Dog", object_label="dog")],
                      default_metadata("https://x.org/m"))
    path = write_sssom(tmp_path / "m.sssom.tsv", mset)
    assert read_labelset(path).get("AudioSet:/m/0bt9lr").label == "Dog"
    assert read_labelset(path, side="object").get(DOG).label == "dog"
    cuts = tmp_path / "cuts.jsonl"
    cut = paper_cut("c1", "a.wav", ["dog", "barking", "dog"], "a dog", duration=2.0)
    cuts.write_text(json.dumps(cut) + "\n")
    assert detect_format(cuts) == "lhotse"
    assert [lab.label for lab in read_lhotse(cuts)] == ["dog", "barking"]
    (tmp_path / "broken.jsonl").write_text("{not json\n")
    with pytest.raises(LabelSetError, match="not a Lhotse cut"):
        read_lhotse(tmp_path / "broken.jsonl")


def test_from_texts_and_unknown_format(tmp_path):
    ls = from_texts(["a b", "a-b", "a b", "norteño", "n/a"], "x")
    # percent-encoded, one id per distinct label, the scheme of the shipped alignments
    assert [lab.id for lab in ls] == ["x:a%20b", "x:a-b", "x:norte%C3%B1o", "x:n/a"]
    (tmp_path / "l.txt").write_text("a\n")
    with pytest.raises(LabelSetError, match="unknown label set format"):
        read_labelset(tmp_path / "l.txt", format="yaml")


def test_named_id_column_that_is_missing_fails_by_name_even_with_a_description_column(tmp_path):
    # the description-column default must not swallow the check of a named id column
    path = tmp_path / "codes.tsv"
    path.write_text("label\tdescription\ngac\tacoustic guitar\n", encoding="utf-8")
    with pytest.raises(LabelSetError, match="no id column 'code'"):
        read_table(path, id_column="code")
    assert [lab.description for lab in read_table(path)] == ["acoustic guitar"]
