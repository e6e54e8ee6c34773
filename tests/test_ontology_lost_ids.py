"""Ids are never deleted (OBO practice): validation errors when an id of the latest release or of
the change log is missing from the working copy, which is how a truncated file shows; a file cut
mid-statement is refused with its name and line number."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from _ontology_helpers import build_small
from uts.cli.main import app
from uts.ontology import load, save
from uts.ontology.edit import edit_file
from uts.ontology.io import OntologyFormatError
from uts.ontology.release import release
from uts.ontology.validate import validate_path

ROOT = Path(__file__).resolve().parents[1]
runner = CliRunner()


def cut_before(path: Path, concept_id: str, extra: int = 0) -> None:
    """Truncate ``path`` just before ``concept_id``'s block (plus ``extra`` characters of it)."""
    text = path.read_text()
    path.write_text(text[: text.index(f"\n{concept_id} a owl:Class") + 1 + extra])


@pytest.fixture
def released(tmp_path) -> Path:
    path = tmp_path / "uts.ttl"
    save(build_small(), path)
    release("1.0.0", path, editor="tester")
    return path


def test_working_copy_truncated_at_a_concept_boundary_is_an_error(released):
    assert validate_path(released).ok
    cut_before(released, "UTS:0000009")  # drops 9, 10, 11: still a well-formed Turtle file
    assert len(load(released)) == 8
    report = validate_path(released)
    [issue] = [i for i in report.errors if i.code == "missing_concept"]
    assert issue.ids == ("UTS:0000009", "UTS:0000010", "UTS:0000011")
    assert issue.message.startswith("3 concept id(s) of the latest release uts-1.0.0.ttl are missing")
    assert "UTS:0000009 (engine)" in issue.message and "never deleted" in issue.message
    assert report.errors[0] is issue  # the cause is listed before its consequences


def test_the_shipped_ontology_truncated_is_an_error(tmp_path):
    work = tmp_path / "ontology"
    work.mkdir()
    shutil.copy(ROOT / "ontology" / "uts.ttl", work / "uts.ttl")
    shutil.copytree(ROOT / "ontology" / "releases", work / "releases")
    assert not [i for i in validate_path(work / "uts.ttl").errors if i.code == "missing_concept"]
    total = len(load(work / "uts.ttl"))
    cut_before(work / "uts.ttl", "UTS:0001640")
    result = runner.invoke(app, ["ontology", "validate", str(work / "uts.ttl")])
    assert result.exit_code == 1
    missing = total - len(load(work / "uts.ttl"))
    assert f"missing_concept: {missing} concept id(s) of the latest release" in result.stdout
    assert "UTS:0001640 (" in result.stdout and f"and {missing - 5} more" in result.stdout


def test_deprecating_is_the_way_to_retire_an_id(released):
    edit_file({"op": "deprecate", "id": "UTS:0000008"}, released, editor="tester")
    assert not [i for i in validate_path(released).errors if i.code == "missing_concept"]


def test_an_id_known_only_from_the_change_log_is_checked_too(released):
    before = released.read_text()
    [record] = edit_file({"op": "add", "label": "cowbell", "parents": ["percussion"]}, released)
    released.write_text(before)  # e.g. an old copy restored over the working file
    [issue] = [i for i in validate_path(released).errors if i.code == "missing_concept"]
    assert issue.ids == (record["id"],) and "change log uts.changes.jsonl" in issue.message


@pytest.mark.parametrize("extra", [40, 60])  # inside a name (rdflib gives no position), after a line
def test_truncated_mid_statement_names_file_and_line(released, extra):
    cut_before(released, "UTS:0000009", extra=extra)
    lines = released.read_text().count("\n") + 1
    with pytest.raises(OntologyFormatError, match=rf"cannot parse {released}: line {lines}: .*truncated"):
        load(released)
    result = runner.invoke(app, ["ontology", "validate", str(released)])
    assert result.exit_code == 1 and "Traceback" not in result.output
    [line] = result.stderr.strip().splitlines()
    assert line.startswith(f"error: cannot parse {released}: line {lines}: Turtle syntax error")


def test_rdf_xml_under_a_turtle_name_and_a_bom_are_told_apart(released, tmp_path):
    """RDF/XML named .ttl (an export over the working copy) was 3-11 lines: rdflib's URI warnings
    and a 'Turtle syntax error' at a line past the file's end. A BOM is not an error at all."""
    from uts.ontology.export import write_owl

    xml = tmp_path / "exported.ttl"
    write_owl(load(released), tmp_path / "u.owl")
    xml.write_bytes((tmp_path / "u.owl").read_bytes())
    result = runner.invoke(app, ["ontology", "validate", str(xml)])
    assert result.exit_code == 1
    assert result.stderr.strip() == (f"error: cannot parse {xml}: line 1: this is RDF/XML, not Turtle; name the file "
                                     ".owl or .rdf to read it as RDF/XML (or export Turtle)")
    bom = tmp_path / "bom.ttl"
    bom.write_bytes(b"\xef\xbb\xbf" + released.read_bytes())
    assert len(load(bom)) == len(load(released))
