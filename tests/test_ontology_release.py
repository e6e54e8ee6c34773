"""Releases (immutable, checksummed, version rule, changelog), diff kinds and migration."""

from __future__ import annotations

import json
import os

import pytest
from typer.testing import CliRunner

from _ontology_helpers import build_small
from uts.cli.main import app
from uts.ontology import load, save
from uts.ontology.diff import diff, migration_table, upgrade_labels, write_migration_tsv
from uts.ontology.edit import apply_ops, edit_file, read_changelog
from uts.ontology.release import ReleaseError, list_releases, release
from uts.ontology.validate import validate_path

runner = CliRunner()


@pytest.fixture
def work(tmp_path):
    path = tmp_path / "uts.ttl"
    save(build_small(), path)
    return path


def test_release_writes_versioned_immutable_checksummed_file(work):
    r = release("1.0.0", work, editor="rel")
    text = r.path.read_text()
    assert r.path.name == "uts-1.0.0.ttl" and r.previous is None
    assert 'owl:versionInfo "1.0.0"' in text
    assert "owl:versionIRI <https://w3id.org/uts/releases/1.0.0/uts.owl>" in text
    assert r.checksum_path.read_text().endswith("  uts-1.0.0.ttl\n")
    assert load(r.path).meta.version == "1.0.0"
    assert not os.access(r.path, os.W_OK) or os.geteuid() == 0  # read-only (root ignores modes)
    assert "## 1.0.0" in (work.parent / "CHANGELOG.md").read_text()
    assert validate_path(work).ok
    # refuse to overwrite, even after a later edit
    edit_file({"op": "add", "label": "cymbal", "parents": ["percussion"]}, work)
    with pytest.raises(ReleaseError, match="immutable|not later"):
        release("1.0.0", work)
    assert list_releases(work.parent / "releases") == ["1.0.0"]


def test_validate_detects_a_modified_release(work):
    r = release("1.0.0", work)
    os.chmod(r.path, 0o644)
    r.path.write_text(r.path.read_text().replace('"car"', '"automobile"'))
    report = validate_path(work)
    assert [e.code for e in report.errors] == ["release_modified"]
    edit_file({"op": "add", "label": "cymbal", "parents": ["percussion"]}, work)
    with pytest.raises(ReleaseError, match="fail their checksums"):
        release("1.1.0", work)
    r.checksum_path.unlink()
    assert [e.code for e in validate_path(work).errors] == ["release_checksum_missing"]


@pytest.mark.parametrize("ops,required", [
    ([{"op": "set_definition", "id": "car", "definition": "A road vehicle."}], "patch"),
    ([{"op": "relabel", "id": "car", "label": "automobile"}], "patch"),
    ([{"op": "add", "label": "cymbal", "parents": ["percussion"]}], "minor"),
    ([{"op": "add_parent", "id": "car", "parent": "machine"}], "minor"),
    # 'drums' still resolves to drum by normalisation: nothing lost, so not major
    ([{"op": "remove_synonym", "id": "drum", "synonym": "drums"}], "minor"),
    ([{"op": "move", "id": "car", "to": ["machine"]}], "major"),
    ([{"op": "merge", "source": "car", "target": "vehicle"}], "major"),
    ([{"op": "deprecate", "id": "car"}], "major"),
])
def test_release_enforces_the_version_rule(work, ops, required):
    release("1.0.0", work)
    edit_file(ops, work)
    too_small = {"patch": None, "minor": "1.0.1", "major": "1.1.0"}[required]
    if too_small:
        before = sorted(p.name for p in (work.parent / "releases").iterdir())
        with pytest.raises(ReleaseError, match=f"need a {required} release"):
            release(too_small, work)
        assert sorted(p.name for p in (work.parent / "releases").iterdir()) == before
    r = release(None, work)  # default: the smallest correct bump
    assert r.required_bump == required
    assert r.version == {"patch": "1.0.1", "minor": "1.1.0", "major": "2.0.0"}[required]


def test_release_refuses_invalid_or_unchanged_or_bad_versions(work, tmp_path):
    release("1.0.0", work)
    with pytest.raises(ReleaseError, match="nothing changed"):
        release("1.0.1", work)
    edit_file({"op": "add", "label": "cymbal", "parents": ["percussion"]}, work)
    with pytest.raises(ReleaseError, match="X.Y.Z"):
        release("1.1", work)
    with pytest.raises(ReleaseError, match="not later"):
        release("0.9.0", work)
    o = build_small()
    o.concepts["UTS:0000008"].parents = ["UTS:0000099"]
    bad = tmp_path / "bad" / "uts.ttl"
    bad.parent.mkdir()
    save(o, bad)
    with pytest.raises(ReleaseError, match="validation error"):
        release("1.0.0", bad)
    assert not (bad.parent / "releases").exists()


def test_changelog_entry_lists_diff_and_recorded_edits(work):
    release("1.0.0", work)
    edit_file([{"op": "merge", "source": "car", "target": "vehicle"},
               {"op": "add", "label": "cymbal", "parents": ["percussion"]}], work, editor="ana")
    release("2.0.0", work)
    text = (work.parent / "CHANGELOG.md").read_text()
    assert text.index("## 2.0.0") < text.index("## 1.0.0")
    entry = text[text.index("## 2.0.0"):text.index("## 1.0.0")]
    assert "### Merged (1)" in entry and "UTS:0000008 (car) merged into UTS:0000007 (vehicle)" in entry
    assert "### Added (1)" in entry and "cymbal" in entry
    assert "### Recorded edits (2)" in entry and "ana: merge" in entry


# -- diff ----------------------------------------------------------------------------------
def test_diff_reports_every_kind():
    old = build_small()
    new, _ = apply_ops(old, [
        {"op": "add", "label": "cymbal", "parents": ["percussion"]},
        {"op": "merge", "source": "car", "target": "vehicle"},
        {"op": "split", "id": "hi-hat", "into": ["open hi-hat", "closed hi-hat"]},
        {"op": "deprecate", "id": "snare drum"},
        {"op": "relabel", "id": "engine", "label": "motor"},
        {"op": "add_synonym", "id": "machine", "synonym": "machinery"},
        {"op": "move", "id": "engine", "to": ["machine"]},
        {"op": "set_definition", "id": "drum", "definition": "A membranophone."},
    ])
    d = diff(old, new)
    kinds = {k: [c.id for c in v] for k, v in d.by_kind().items()}
    assert kinds["added"][0] == "UTS:0000012" and len(kinds["added"]) == 3
    assert kinds["merged"] == ["UTS:0000008"] and kinds["split"] == ["UTS:0000005"]
    assert kinds["deprecated"] == ["UTS:0000006"] and kinds["relabelled"] == ["UTS:0000009"]
    assert kinds["synonyms_changed"] == ["UTS:0000007", "UTS:0000010"]  # vehicle gained 'car'
    assert kinds["moved"] == ["UTS:0000009"] and kinds["definition_changed"] == ["UTS:0000004"]
    assert d.bump == "major"
    data = json.loads(d.to_json())
    assert data["counts"]["merged"] == 1 and data["bump"] == "major"
    md = d.to_markdown()
    assert "### Split (1)" in md and "UTS:0000005 (hi-hat) split into" in md
    assert diff(old, old).changes == [] and diff(old, old).bump is None


def test_losing_a_name_is_major_keeping_it_is_not():
    old = build_small()
    old.concepts["UTS:0000008"].synonyms = ["automobile"]
    new, _ = apply_ops(old, [{"op": "remove_synonym", "id": "car", "synonym": "automobile"}])
    [change] = diff(old, new).changes
    assert change.kind == "synonyms_changed" and change.bump == "major"
    new, _ = apply_ops(old, [{"op": "relabel", "id": "car", "label": "motor car"}])
    assert diff(old, new).bump == "patch"
    new.concepts["UTS:0000008"].synonyms = ["automobile"]  # relabel without keeping the old label
    assert diff(old, new).bump == "major"


def test_migration_table_and_label_upgrade(tmp_path):
    old = build_small()
    new, _ = apply_ops(old, [
        {"op": "merge", "source": "car", "target": "vehicle"},
        {"op": "split", "id": "hi-hat", "into": ["open hi-hat", "closed hi-hat"]},
        {"op": "deprecate", "id": "snare drum"},
    ])
    rows = {r.old_id: r for r in migration_table(old, new)}
    assert rows["UTS:0000008"].status == "merged" and rows["UTS:0000008"].current_ids == ["UTS:0000007"]
    assert rows["UTS:0000005"].status == "split" and len(rows["UTS:0000005"].current_ids) == 2
    assert rows["UTS:0000006"].status == "obsolete" and rows["UTS:0000006"].current_ids == []
    assert rows["UTS:0000001"].status == "unchanged"
    path = write_migration_tsv(list(rows.values()), tmp_path / "m.tsv")
    lines = path.read_text().splitlines()
    assert lines[0] == "old_id\told_label\tstatus\tcurrent_ids\tcurrent_labels"
    assert "UTS:0000008\tcar\tmerged\tUTS:0000007\tvehicle" in lines
    ups = upgrade_labels(["car", "UTS:0000005", "hi hat", "snare drum", "violin"], new, old)
    assert [u.current_ids for u in ups] == [["UTS:0000007"], sorted(rows["UTS:0000005"].current_ids),
                                            sorted(rows["UTS:0000005"].current_ids), [], []]
    assert ups[0].old_id == "UTS:0000008" and ups[4].old_id is None


# -- CLI ---------------------------------------------------------------------------------------
def test_cli_release_and_diff_by_version(work, tmp_path):
    env = {"UTS_EDITOR": "cli-user"}
    r = runner.invoke(app, ["ontology", "release", "--version", "1.0.0", "-O", str(work)], env=env)
    assert r.exit_code == 0, r.output
    r = runner.invoke(app, ["ontology", "merge", "car", "vehicle", "-O", str(work)], env=env)
    assert r.exit_code == 0 and '"op": "merge"' in r.output
    r = runner.invoke(app, ["ontology", "release", "--version", "1.1.0", "-O", str(work)])
    assert r.exit_code == 1 and "need a major release" in r.stderr
    r = runner.invoke(app, ["ontology", "release", "-O", str(work)])
    assert r.exit_code == 0 and "released 2.0.0" in r.output
    mig = tmp_path / "mig.tsv"
    r = runner.invoke(app, ["ontology", "diff", "1.0.0", "2.0.0", "-O", str(work), "--format", "json",
                            "--migration", str(mig)])
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["counts"] == {"merged": 1, "synonyms_changed": 1}
    assert "UTS:0000008\tcar\tmerged\tUTS:0000007" in mig.read_text()
    r = runner.invoke(app, ["ontology", "diff", "9.9.9", "2.0.0", "-O", str(work)])
    assert r.exit_code == 1 and "no release 9.9.9" in r.stderr
    # a release edited after the fact is not compared against as if it had been released
    released = tmp_path / "releases" / "uts-1.0.0.ttl"
    released.write_text(released.read_text().replace('"car"', '"kar"'))
    r = runner.invoke(app, ["ontology", "diff", "1.0.0", "2.0.0", "-O", str(work)])
    assert r.exit_code == 1 and f"error: {released}: does not match its checksum" in r.stderr
    log = [json.loads(x) for x in (tmp_path / "uts.changes.jsonl").read_text().splitlines()]
    assert [e["what"]["op"] for e in log] == ["release", "merge", "release"]
    assert log[1]["who"] == "cli-user"


def test_cli_upgrade_tags_from_an_old_release(work):
    release("1.0.0", work)
    edit_file([{"op": "merge", "source": "car", "target": "vehicle"},
               {"op": "split", "id": "hi-hat", "into": ["open hi-hat", "closed hi-hat"]}], work)
    r = runner.invoke(app, ["ontology", "upgrade", "--from", "1.0.0", "car", "hi hat", "drum", "violin",
                            "--json", "-O", str(work)])
    assert r.exit_code == 0, r.output
    out = {u["input"]: u["current_ids"] for u in json.loads(r.stdout)}
    assert out == {"car": ["UTS:0000007"], "hi hat": ["UTS:0000012", "UTS:0000013"],
                   "drum": ["UTS:0000004"], "violin": []}
    r = runner.invoke(app, ["ontology", "upgrade", "--from", "7.0.0", "car", "-O", str(work)])
    assert r.exit_code == 1 and "no release 7.0.0" in r.stderr


def test_a_smaller_bump_than_the_rule_needs_a_published_justification(work):
    release("1.0.0", work)
    edit_file([{"op": "move", "id": "car", "to": ["machine"]}], work)  # an ancestor lost: major
    with pytest.raises(ReleaseError, match="need a major release"):
        release("1.1.0", work)
    with pytest.raises(ReleaseError, match="must say why"):
        release("1.1.0", work, justification="  ")
    assert list_releases(work.parent / "releases") == ["1.0.0"]
    r = release("1.1.0", work, justification="corrects edges that were false")
    assert r.required_bump == "major" and r.justification == "corrects edges that were false"
    entry = (work.parent / "CHANGELOG.md").read_text()
    assert "**Version rule overridden:** 1 change(s) below need a **major** release" in entry
    assert "because: corrects edges that were false" in entry
    assert read_changelog(work)[-1]["what"]["version_rule"] == {
        "required": "major", "reason": "corrects edges that were false"}
    edit_file([{"op": "add", "label": "gong", "parents": ["percussion"]}], work)
    assert release("1.2.0", work, justification="not needed").justification is None
