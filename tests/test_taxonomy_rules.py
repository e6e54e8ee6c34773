"""The closure rule's tooling (docs/taxonomy-rules.md): reasons on every edit op, typed non-is-a
links (stored, round-tripped, exported, never followed by closure), the taxonomy warnings of
validate, and pins on the UTS 1.1 hub fixes in the shipped ontology."""

from __future__ import annotations

import pytest
from rdflib import Graph, URIRef
from typer.testing import CliRunner

from _ontology_helpers import build_small
from uts.cli.main import app
from uts.mapping.labelsets import from_ontology
from uts.ontology import Concept, dumps, load, save
from uts.ontology.diff import diff
from uts.ontology.edit import EditError, apply_ops, changelog_path, edit_file, read_changelog
from uts.ontology.export import ancestor_edges, concept_table, hierarchy_edges
from uts.ontology.io import from_graph, loads
from uts.ontology.validate import validate, validate_path

runner = CliRunner()
SNARE, DRUM, HIHAT, CAR = "UTS:0000006", "UTS:0000004", "UTS:0000005", "UTS:0000008"


@pytest.fixture
def onto_file(tmp_path):
    path = tmp_path / "uts.ttl"
    save(build_small(), path)
    return path


# -- reasons ---------------------------------------------------------------------------------
def test_every_op_takes_a_reason_that_the_change_log_keeps(onto_file):
    edit_file([{"op": "add_synonym", "id": "car", "synonym": "automobile", "reason": "same idea"},
               {"op": "remove_parent", "id": "engine", "parent": "vehicle",
                "reason": "an engine is part of a vehicle, not a vehicle"},
               {"op": "set_definition", "id": "car", "definition": "A motor car."}],
              onto_file, editor="tester")
    log = [r["what"] for r in read_changelog(onto_file)]
    assert [r.get("reason") for r in log] == ["same idea",
                                              "an engine is part of a vehicle, not a vehicle", None]
    assert log[1] == {"op": "remove_parent", "id": "UTS:0000009", "parent": "UTS:0000007",
                      "reason": "an engine is part of a vehicle, not a vehicle"}


@pytest.mark.parametrize("reason", ["", "   ", 3, ["why"]])
def test_a_reason_must_be_text_and_a_bad_one_writes_nothing(onto_file, reason):
    before = onto_file.read_bytes()
    with pytest.raises(EditError, match="reason must be a non-empty string"):
        edit_file({"op": "add_synonym", "id": "car", "synonym": "auto", "reason": reason}, onto_file)
    assert onto_file.read_bytes() == before and not changelog_path(onto_file).exists()


# -- typed links ---------------------------------------------------------------------------
def linked():
    onto, _ = apply_ops(build_small(), [
        {"op": "add_link", "id": "snare drum", "relation": "part_of", "target": "hi-hat"},
        {"op": "add_link", "id": "engine", "relation": "source-of", "target": "car"},
        {"op": "add_link", "id": "car", "relation": "related", "target": "drum"}])
    return onto


def test_links_are_stored_in_their_own_properties_and_round_trip():
    onto = linked()
    assert onto.get(SNARE).links == [("part_of", HIHAT)]
    text = dumps(onto)
    assert "    utsp:partOf UTS:0000005" in text and "    skos:related UTS:0000004" in text
    assert "utsp:partOf a owl:AnnotationProperty ;\n    rdfs:subPropertyOf skos:related ." in text
    again = loads(text)  # the canonical fast path...
    assert dumps(again) == text
    via_rdflib = from_graph(Graph().parse(data=text, format="turtle"))  # ...agrees with rdflib
    assert {c.id: c.links for c in via_rdflib} == {c.id: c.links for c in again}
    g = Graph().parse(data=text, format="turtle")
    utsp = "https://w3id.org/uts/schema#"
    skos_related = URIRef("http://www.w3.org/2004/02/skos/core#related")
    assert (URIRef(utsp + "partOf"), URIRef("http://www.w3.org/2000/01/rdf-schema#subPropertyOf"),
            skos_related) in g


def test_closure_never_follows_a_link():
    plain, onto = build_small(), linked()
    for cid in onto.concepts:
        assert onto.ancestors(cid) == plain.ancestors(cid)
    assert ancestor_edges(onto) == ancestor_edges(plain)
    ids = sorted(onto.concepts)
    assert hierarchy_edges(onto, ids) == hierarchy_edges(plain, ids)
    assert from_ontology(onto).ancestors(SNARE) == from_ontology(plain).ancestors(SNARE)
    assert HIHAT not in onto.ancestors(SNARE)


def test_links_are_exported_and_diffed_as_patch_changes():
    onto = linked()
    table = concept_table(onto)
    assert table.filter(table["id"] == SNARE)["links"].to_list() == [[f"part_of {HIHAT}"]]
    d = diff(build_small(), onto)
    assert {c.kind for c in d.changes} == {"links_changed"} and d.bump == "patch"
    assert "+part_of UTS:0000005" in d.to_markdown()


def test_owl_tools_load_links_as_annotations_not_superclasses(tmp_path):
    import warnings

    import owlready2
    import pronto

    from uts.ontology.export import write_owl

    path = write_owl(linked(), tmp_path / "uts.owl", drop_imports=True)
    world = owlready2.World()
    onto = world.get_ontology(path.as_uri()).load()
    snare = onto.search_one(iri="*UTS_0000006")
    assert {c.iri.rsplit("_", 1)[1] for c in snare.is_a} == {"0000004"}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        p = pronto.Ontology(str(path))
    up = {t.id for t in p["https://w3id.org/uts/UTS_0000006"].superclasses(with_self=False)}
    assert "https://w3id.org/uts/UTS_0000005" not in up and "https://w3id.org/uts/UTS_0000004" in up


@pytest.mark.parametrize("op,message", [
    ({"op": "add_link", "id": "car", "relation": "kind_of", "target": "drum"}, "relation must be one of"),
    ({"op": "add_link", "id": "car", "relation": "related", "target": "car"}, "cannot be linked to itself"),
    ({"op": "add_link", "id": "car", "relation": "related", "target": "UTS:0000099"}, "no concept matches"),
    ({"op": "add_link", "id": "car", "relation": "related", "target": "old drum"}, "deprecated"),
    ({"op": "remove_link", "id": "car", "relation": "related", "target": "drum"}, "has no link"),
    ({"op": "add_link", "id": "car", "relation": "related"}, "missing"),
])
def test_bad_links_are_refused_and_nothing_is_written(onto_file, op, message):
    before = onto_file.read_bytes()
    with pytest.raises(EditError, match=message):
        edit_file(op, onto_file)
    assert onto_file.read_bytes() == before


def test_link_cli_adds_shows_and_removes(onto_file):
    args = ["ontology", "link", "add", "snare drum", "part_of", "hi-hat", "-O", str(onto_file),
            "--reason", "a snare is part of a kit", "--editor", "t"]
    r = runner.invoke(app, args)
    assert r.exit_code == 0, r.output
    assert load(onto_file).get(SNARE).links == [("part_of", HIHAT)]
    assert read_changelog(onto_file)[-1]["what"]["reason"] == "a snare is part of a kit"
    shown = runner.invoke(app, ["ontology", "show", "snare drum", "-O", str(onto_file)])
    assert "part_of UTS:0000005 hi-hat" in shown.output
    again = runner.invoke(app, args)
    assert again.exit_code == 1 and "already has the link" in again.output
    r = runner.invoke(app, ["ontology", "link", "remove", "snare drum", "part_of", "hi-hat", "-O", str(onto_file)])
    assert r.exit_code == 0 and load(onto_file).get(SNARE).links == []


# -- validate: taxonomy warnings -------------------------------------------------------------
def kinds(report, severity):
    return {i.code for i in report.issues if i.severity == severity}


def test_synonym_naming_a_qualified_concept_in_the_same_branch_warns():
    o = build_small()
    o.concepts[DRUM].label = "drum (membranophone)"
    o.concepts[DRUM].synonyms = []
    o.concepts["UTS:0000012"] = Concept("UTS:0000012", "drum kit", synonyms=["drums"],
                                        parents=["UTS:0000003"], definition="A drum set.")
    o.touch()
    r = validate(o)
    assert r.ok and kinds(r, "warning") == {"synonym_names_other"}
    [w] = r.warnings
    assert w.ids == ("UTS:0000012", DRUM) and "'drums'" in w.message
    # the same bare word across branches (a qualified label elsewhere) is deliberate: no warning
    o.concepts["UTS:0000012"].parents = ["UTS:0000007"]
    o.touch()
    assert "synonym_names_other" not in kinds(validate(o), "warning")


def test_three_unrelated_parents_warn_but_a_chain_does_not():
    o = build_small()
    o.concepts["UTS:0000012"] = Concept("UTS:0000012", "growling", definition="A low growl of a car, drum or machine.",
                                        parents=["UTS:0000004", "UTS:0000008", "UTS:0000010"])
    o.touch()
    r = validate(o)
    assert kinds(r, "warning") == {"unrelated_parents"} and r.warnings[0].ids[0] == "UTS:0000012"
    o.concepts["UTS:0000012"].parents = ["UTS:0000003", "UTS:0000004", "UTS:0000006"]  # one line
    o.touch()
    assert "unrelated_parents" not in kinds(validate(o), "warning")


def test_definition_ignoring_its_parent_is_an_informational_note(capsys):
    o = build_small()
    o.concepts[HIHAT].definition = "A pair of cymbals on a stand, closed with a pedal."
    r = validate(o)
    assert r.ok and not r.warnings
    [note] = r.infos
    assert note.code == "definition_ignores_parent" and note.ids == (HIHAT, "UTS:0000003")
    assert "1 definition_ignores_parent" in r.to_text() and "definition_ignores_parent" in r.to_markdown()
    o.concepts[HIHAT].definition = "A pair of percussion cymbals on a stand, closed with a pedal."
    assert not validate(o).infos


def test_domain_that_no_root_has_warns_and_recategorise_fixes_it(onto_file):
    o = build_small()
    o.concepts[CAR].domain = "music"
    r = validate(o)
    assert [(i.code, i.ids) for i in r.warnings] == [("domain_mismatch", (CAR,))]
    edit_file({"op": "recategorise", "id": "car", "domain": "music", "reason": "test"}, onto_file)
    assert load(onto_file).get(CAR).domain == "music"
    with pytest.raises(EditError, match="refused, the edit would introduce|already has"):
        edit_file({"op": "recategorise", "id": "car", "domain": "music"}, onto_file)
    with pytest.raises(EditError, match="domain must be one of"):
        edit_file({"op": "recategorise", "id": "car", "domain": "noise"}, onto_file)
    [rec] = edit_file({"op": "recategorise", "id": "car", "domain": "sound", "facet": "event"}, onto_file)
    assert rec["old"] == {"domain": "music", "facet": "source"} and rec["facet"] == "event"


def test_reviewed_warnings_are_accepted_with_a_reason_and_stale_rows_warn(tmp_path):
    o = build_small()
    o.concepts["UTS:0000012"] = Concept("UTS:0000012", "engine hum", definition="A drum, car or machine hum.",
                                        parents=["UTS:0000004", "UTS:0000008", "UTS:0000010"])
    path = tmp_path / "uts.ttl"
    save(o, path)
    assert [i.code for i in validate_path(path).warnings] == ["unrelated_parents"]
    accepted = tmp_path / "uts.accepted.tsv"
    accepted.write_text("# reviewed\nunrelated_parents\tUTS:0000012 UTS:0000004 UTS:0000008 UTS:0000010\t"
                        "all three hold\n")
    r = validate_path(path)
    assert not r.warnings and [i.code for i in r.accepted] == ["unrelated_parents"]
    assert "accepted: all three hold" in r.accepted[0].message and "1 reviewed warning(s)" in r.to_text()
    o.concepts["UTS:0000012"].parents = ["UTS:0000010"]
    save(o, path)
    assert [i.code for i in validate_path(path).warnings] == ["stale_acceptance"]
    accepted.write_text("unrelated_parents\tUTS:0000012\t\n")
    res = runner.invoke(app, ["ontology", "validate", str(path)])
    assert res.exit_code == 1 and "uts.accepted.tsv:1: expected code<TAB>ids<TAB>reason" in res.output


# -- UTS 1.1 content: the hub fixes stay fixed ------------------------------------------------
@pytest.fixture(scope="module")
def uts():
    return load()


def ancestors_by_label(uts, label):
    c = uts.resolve(label)
    return c, {uts.concepts[a].label for a in uts.ancestors(c.id)}


def test_vocal_non_speech_sounds_are_not_speech(uts):
    c, above = ancestors_by_label(uts, "vocal non-speech sound")
    assert "speech" not in above and "human body sound" in above
    for kid in ("cough", "laughter", "breathing", "singing"):
        assert "speech" not in ancestors_by_label(uts, kid)[1], kid


@pytest.mark.parametrize("label", ["cymbal", "drum machine", "drum beat", "snare drum"])
def test_nothing_is_a_drum_kit_that_is_only_part_of_one_or_plays_like_one(uts, label):
    assert "drum kit" not in ancestors_by_label(uts, label)[1]


@pytest.mark.parametrize("label,sources", [
    ("growling", {"dog", "cat", "canid", "roaring cats", "bear", "lion", "wolf"}),
    ("hissing sound", {"cat", "snake", "steam"}),
])
def test_sounds_of_several_sources_have_no_source_parents(uts, label, sources):
    c, above = ancestors_by_label(uts, label)
    assert not above & sources, above & sources
    # the per-source concepts carry both: a dog growl is a growl and a dog
    per_source = [uts.concepts[k] for k in uts.children(c.id)]
    assert len(per_source) >= 2
    for kid in per_source:
        assert len(kid.parents) == 2 and c.id in kid.parents, kid.label


def test_no_closure_is_both_environmental_sound_and_speech_or_music(uts):
    # environmental sound is defined as neither speech nor music: reaching both is a false edge
    speech, music, env = (uts.resolve(x).id for x in ("speech", "music", "environmental sound"))
    both = [c.label for c in uts.active()
            if env in uts.ancestors(c.id) | {c.id} and uts.ancestors(c.id) & {speech, music}]
    assert both == []
    assert env not in uts.ancestors(uts.resolve("male speaker").id)


def test_make_root_declares_a_top_level_concept(onto_file):
    [rec] = edit_file({"op": "make_root", "id": "engine", "reason": "test"}, onto_file)
    c = load(onto_file).get("UTS:0000009")
    assert c.root and c.parents == [] and rec["old_parents"] == ["UTS:0000007", "UTS:0000010"]
    with pytest.raises(EditError, match="already a root"):
        edit_file({"op": "make_root", "id": "engine"}, onto_file)


def test_telephone_is_not_an_alarm_and_reverb_is_not_the_room(uts):
    assert "alarm" not in ancestors_by_label(uts, "telephone")[1]
    assert "room acoustics" not in ancestors_by_label(uts, "reverberation")[1]


def test_shipped_ontology_validates_clean_with_its_reviewed_acceptances():
    r = validate_path()
    assert r.ok and not r.warnings, r.to_text()[:2000]
    assert {i.code for i in r.accepted} <= {"unrelated_parents"} and len(r.accepted) < 20


# -- alignments follow the ontology to a new release --------------------------------------------
def small_mapping(*objects):
    from uts.mapping.sssom import Mapping, MappingSet, default_metadata

    rows = [Mapping(f"X:{i}", "skos:exactMatch", o, "semapv:ManualMappingCuration", subject_label=f"tag {i}",
                    object_label=lab, reviewer_id="utsteam:curation", comment="curated")
            for i, (o, lab) in enumerate(objects)]
    return MappingSet(rows, default_metadata("https://example.org/x.sssom.tsv", {"X": "https://example.org/x#", "utsteam": "https://w3id.org/uts/team/"},
                                             mapping_set_description="X aligned to UTS 1.0."))


def test_upgrade_points_deprecated_objects_at_their_replacement_and_refreshes_labels():
    from uts.mapping.upgrade import upgrade_mapping

    onto = build_small()
    onto.concepts[CAR].label = "motor car"
    mset = small_mapping(("UTS:0000011", "old drum"), (CAR, "car"), ("UTS:0000005", "hi-hat"))
    new, changes = upgrade_mapping(mset, onto, "1.1.0")
    assert [(m.object_id, m.object_label) for m in new.mappings] == [
        (DRUM, "drum"), (CAR, "motor car"), ("UTS:0000005", "hi-hat")]
    assert [c.kind for c in changes] == ["replaced", "relabelled"]
    assert new.mappings[0].comment.startswith("curated; upgraded to UTS 1.1.0: UTS:0000011 (old drum)")
    assert new.metadata["object_source_version"] == "1.1.0"
    assert new.metadata["mapping_set_description"] == "X aligned to UTS 1.1."
    assert mset.mappings[0].object_id == "UTS:0000011"  # the input is left alone


def test_upgrade_refuses_split_objects_and_the_cli_then_writes_nothing(tmp_path):
    from uts.mapping.sssom import write_sssom
    from uts.mapping.upgrade import UpgradeError, upgrade_mapping

    onto, _ = apply_ops(build_small(), [{"op": "split", "id": "car", "into": ["saloon car", "estate car"]}])
    onto_path = tmp_path / "uts.ttl"
    save(onto, onto_path)
    with pytest.raises(UpgradeError, match="split into"):
        upgrade_mapping(small_mapping((CAR, "car")), onto)
    good, bad = tmp_path / "good.sssom.tsv", tmp_path / "bad.sssom.tsv"
    write_sssom(good, small_mapping(("UTS:0000011", "old drum")))
    write_sssom(bad, small_mapping((CAR, "car")))
    before = good.read_bytes()
    r = runner.invoke(app, ["map", "upgrade", str(good), str(bad), "-O", str(onto_path)])
    assert r.exit_code == 1 and "need a person" in r.output and good.read_bytes() == before
    assert "unexpected" not in r.output  # UpgradeError is the user's to fix, not a bug
    # an object this UTS never had (a typo, another copy's id) passed silently, to fail at map apply
    unknown = tmp_path / "unknown.sssom.tsv"
    write_sssom(unknown, small_mapping(("UTS:9999999", "zorblax")))
    r = runner.invoke(app, ["map", "upgrade", str(unknown), "-O", str(onto_path)])
    assert r.exit_code == 1 and f"error: {unknown}: 1 row(s) need a person" in r.output
    assert "UTS:9999999: not a concept of this UTS at all" in r.output
    r = runner.invoke(app, ["map", "upgrade", str(good), "-O", str(onto_path)])
    assert r.exit_code == 0 and "1 object(s) replaced" in r.output
    assert "UTS:0000004" in good.read_text() and "upgraded to UTS" in good.read_text()
