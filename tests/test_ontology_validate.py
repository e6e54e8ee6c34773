"""Validation: every error and warning kind, text-level duplicates, the loader's two paths, offline
loading, the reasoner and the CLI."""

from __future__ import annotations

import json
import shutil
import time

import pytest
from rdflib import Graph
from typer.testing import CliRunner

from _ontology_helpers import build_small
from uts.cli.main import app
from uts.ontology import Concept, dumps, load, save
from uts.ontology import io as uts_io
from uts.ontology.validate import reasoner_check, validate, validate_path

runner = CliRunner()


def codes(report, severity="error"):
    return sorted({i.code for i in report.issues if i.severity == severity})


def test_small_ontology_is_clean():
    r = validate(build_small())
    assert r.ok and r.issues == []


@pytest.mark.parametrize("mutate,code", [
    (lambda o: setattr(o.concepts["UTS:0000002"], "parents", ["UTS:0000006"]), "cycle"),
    (lambda o: setattr(o.concepts["UTS:0000008"], "parents", ["UTS:0000099"]), "dangling_parent"),
    (lambda o: setattr(o.concepts["UTS:0000008"], "synonyms", ["Hi_Hats"]), "label_collision"),
    (lambda o: setattr(o.concepts["UTS:0000008"], "parents", ["UTS:0000011"]), "deprecated_parent"),
    (lambda o: setattr(o.concepts["UTS:0000008"], "label", ""), "missing_label"),
    (lambda o: o.concepts.__setitem__("UTS:12", Concept("UTS:12", "gong", parents=["UTS:0000003"],
                                                         definition="d")), "bad_id"),
    (lambda o: setattr(o.concepts["UTS:0000011"], "replaced_by", ["UTS:0000099"]), "dangling_replacement"),
    (lambda o: o.concepts.__setitem__("UTS:0000012", Concept("UTS:0000012", "x", deprecated=True,
                                                              replaced_by=["UTS:0000011"])) or
     setattr(o.concepts["UTS:0000011"], "replaced_by", ["UTS:0000012"]), "replacement_dead_end"),
    (lambda o: setattr(o.concepts["UTS:0000008"], "domain", "noise"), "bad_domain"),
])
def test_each_error_kind(mutate, code):
    o = build_small()
    mutate(o)
    o.touch()
    r = validate(o)
    assert code in codes(r) and not r.ok


@pytest.mark.parametrize("mutate,code", [
    (lambda o: setattr(o.concepts["UTS:0000008"], "definition", None), "missing_definition"),
    (lambda o: setattr(o.concepts["UTS:0000008"], "parents", []), "orphan"),
    (lambda o: setattr(o.concepts["UTS:0000008"], "label", " car"), "style"),
    (lambda o: setattr(o.concepts["UTS:0000008"], "label", "race_car"), "style"),
    (lambda o: setattr(o.concepts["UTS:0000008"], "label", "raceCar"), "style"),
    (lambda o: setattr(o.concepts["UTS:0000008"], "label", "RACING car"), "style"),
    (lambda o: setattr(o.concepts["UTS:0000011"], "replaced_by", []), "no_replacement"),
])
def test_each_warning_kind(mutate, code):
    o = build_small()
    mutate(o)
    o.touch()
    r = validate(o)
    assert codes(r, "warning") == [code] and r.ok


def test_declared_roots_are_not_orphans_and_proper_nouns_are_fine():
    o = build_small()
    o.concepts["UTS:0000012"] = Concept("UTS:0000012", "Mandarin Chinese", root=True, definition="d")
    o.concepts["UTS:0000013"] = Concept("UTS:0000013", "Roland TR-808", root=True, definition="d")
    o.touch()
    assert validate(o).issues == []


def test_collision_names_both_concepts():
    o = build_small()
    o.concepts["UTS:0000008"].synonyms = ["hihats"]
    o.touch()
    [issue] = [i for i in validate(o).errors if i.code == "label_collision"]
    assert issue.ids == ("UTS:0000005", "UTS:0000008") and "hihat" in issue.message


def test_deprecated_concepts_may_share_labels():
    o = build_small()
    o.concepts["UTS:0000011"].label = "drum"
    o.touch()
    assert validate(o).ok


# -- text-level problems rdflib would hide ----------------------------------------------------
def test_duplicate_class_block_and_two_pref_labels_are_errors(tmp_path):
    text = dumps(build_small())
    block = text[text.index("UTS:0000008 a owl:Class"):text.index("UTS:0000009 a owl:Class")]
    doubled = text + "\n" + block.replace('"car"', '"automobile"')
    path = tmp_path / "dup.ttl"
    path.write_text(doubled)
    r = validate_path(path)
    assert {"duplicate_id", "multiple_labels"} <= set(codes(r))
    # the same file reformatted (not canonical) goes through rdflib and is still caught
    path.write_text(doubled.replace("@prefix xsd:", "# a comment\n@prefix xsd:"))
    assert uts_io._parse_canonical(path.read_text()) is None
    assert {"duplicate_id", "multiple_labels"} <= set(codes(validate_path(path)))


def test_fast_loader_equals_rdflib_loader():
    o = build_small()
    o.concepts["UTS:0000008"].synonyms = ['quote " and \\ backslash', "tab\there", "ünïcode"]
    o.concepts["UTS:0000008"].definition = "line one\nline two ; with . terminators ."
    o.meta.imports = ["http://example.org/a.owl"]
    o.meta.version, o.meta.version_iri = "1.2.3", "https://w3id.org/uts/releases/1.2.3/uts.owl"
    text = dumps(o)
    fast = uts_io._parse_canonical(text)
    assert fast is not None
    g = Graph()
    g.parse(data=text, format="turtle")
    slow = uts_io.from_graph(g)
    assert dumps(fast) == dumps(slow) == text
    assert fast.get("UTS:0000008").definition == "line one\nline two ; with . terminators ."


def test_unreachable_owl_imports_are_not_fetched(tmp_path):
    o = build_small()
    o.meta.imports = ["http://10.255.255.1/x.owl"]
    path = tmp_path / "imports.ttl"
    save(o, path)
    start = time.monotonic()
    assert load(path).meta.imports == ["http://10.255.255.1/x.owl"]
    # the rdflib path (non-canonical text) must not fetch either
    path.write_text(path.read_text().replace("@prefix xsd:", "# reformatted\n@prefix xsd:"))
    assert len(load(path)) == 11
    assert validate_path(path).ok
    assert time.monotonic() - start < 5, "loading must not wait for the network"


def test_unparseable_file_is_a_clear_error(tmp_path):
    p = tmp_path / "bad.ttl"
    p.write_text("this is not turtle")
    result = runner.invoke(app, ["ontology", "validate", str(p)])
    assert result.exit_code == 1 and "cannot parse" in result.stderr and "Traceback" not in result.output


# -- reasoner -------------------------------------------------------------------------------
@pytest.mark.skipif(shutil.which("java") is None, reason="java not installed: HermiT cannot run")
def test_reasoner_runs_hermit_offline():
    o = build_small()
    o.meta.imports = ["http://10.255.255.1/x.owl"]
    issues, note = reasoner_check(o)
    assert issues == [] and "HermiT checked 11 classes" in note


def test_reasoner_asked_for_but_not_run_is_an_error(monkeypatch):
    import uts.ontology.validate as v

    monkeypatch.setattr(v.shutil, "which", lambda name: None)
    issues, note = reasoner_check(build_small())
    assert [(i.severity, i.code) for i in issues] == [("error", "reasoner_unavailable")]
    assert "not run" in note and "java" in note


# -- CLI ------------------------------------------------------------------------------------
@pytest.fixture
def bad_file(tmp_path):
    o = build_small()
    o.concepts["UTS:0000008"].parents = ["UTS:0000099"]
    o.concepts["UTS:0000009"].definition = None
    path = tmp_path / "bad.ttl"
    save(o, path)
    return path


def test_cli_validate_formats_and_exit_codes(tmp_path, bad_file):
    good = tmp_path / "good.ttl"
    save(build_small(), good)
    ok = runner.invoke(app, ["ontology", "validate", str(good)])
    assert ok.exit_code == 0 and "0 error(s)" in ok.output
    bad = runner.invoke(app, ["ontology", "validate", str(bad_file), "--format", "json"])
    assert bad.exit_code == 1
    data = json.loads(bad.stdout)
    assert [e["code"] for e in data["errors"]] == ["dangling_parent"]
    assert [w["code"] for w in data["warnings"]] == ["missing_definition"]
    md = runner.invoke(app, ["ontology", "validate", str(bad_file), "--format", "md"])
    assert md.exit_code == 1 and "## Errors (1)" in md.output and "| dangling_parent |" in md.output


def test_cli_validate_reason_flag_reports(tmp_path, monkeypatch):
    import uts.ontology.validate as v

    good = tmp_path / "good.ttl"
    save(build_small(), good)
    monkeypatch.setattr(v.shutil, "which", lambda name: None)
    r = runner.invoke(app, ["ontology", "validate", str(good), "--reason"])
    # asked for and not run is an error: a CI job with --reason must not pass without reasoning
    assert r.exit_code == 1 and "reasoner_unavailable" in r.output and "java is not on PATH" in r.output


def test_shipped_ontology_is_valid(repo):
    report = validate_path(repo / "ontology" / "uts.ttl")
    assert report.ok, report.to_text()
