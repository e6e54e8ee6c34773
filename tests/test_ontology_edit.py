"""Edit operations: each op, each refusal (file byte-identical), batches, locking, crash safety."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from _ontology_helpers import build_small
from uts.ontology import load, save
from uts.ontology.edit import EditError, apply_ops, changelog_path, edit_file, read_changelog, read_ops
from uts.ontology.validate import validate


@pytest.fixture
def onto_file(tmp_path) -> Path:
    path = tmp_path / "uts.ttl"
    save(build_small(), path)
    return path


def edit(path, *ops):
    return edit_file(list(ops), path, editor="tester")


# -- each operation --------------------------------------------------------------------------
def test_add_gets_next_id_inherits_domain_and_is_logged(onto_file):
    [rec] = edit(onto_file, {"op": "add", "label": "tom-tom", "parents": ["drum"], "synonyms": ["tom"]})
    o = load(onto_file)
    c = o.get(rec["id"])
    assert c.id == "UTS:0000012" and c.parents == ["UTS:0000004"] and c.synonyms == ["tom"]
    assert c.domain == "music" and c.facet == "source"
    [entry] = read_changelog(onto_file)
    assert entry["who"] == "tester" and entry["what"]["op"] == "add" and entry["when"].endswith("+00:00")


def test_relabel_keeps_old_label_as_synonym(onto_file):
    edit(onto_file, {"op": "relabel", "id": "UTS:0000004", "label": "drum (instrument)"})
    c = load(onto_file).get("UTS:0000004")
    assert c.label == "drum (instrument)" and set(c.synonyms) == {"drum", "drums"}


def test_synonym_add_remove_and_definition(onto_file):
    edit(onto_file, {"op": "add_synonym", "id": "car", "synonym": "automobile"},
         {"op": "remove_synonym", "id": "drum", "synonym": "drums"},
         {"op": "set_definition", "id": "car", "definition": "A road vehicle."})
    o = load(onto_file)
    assert o.get("UTS:0000008").synonyms == ["automobile"]
    assert o.get("UTS:0000004").synonyms == []
    assert o.get("UTS:0000008").definition == "A road vehicle."


def test_move_add_parent_remove_parent(onto_file):
    edit(onto_file, {"op": "move", "id": "car", "to": ["machine"]})
    assert load(onto_file).get("UTS:0000008").parents == ["UTS:0000010"]
    edit(onto_file, {"op": "add_parent", "id": "car", "parent": "vehicle"})
    assert load(onto_file).get("UTS:0000008").parents == ["UTS:0000007", "UTS:0000010"]
    edit(onto_file, {"op": "remove_parent", "id": "car", "parent": "machine"})
    assert load(onto_file).get("UTS:0000008").parents == ["UTS:0000007"]
    edit(onto_file, {"op": "move", "id": "engine", "from": "machine", "to": ["car"]})
    assert load(onto_file).get("UTS:0000009").parents == ["UTS:0000007", "UTS:0000008"]


def test_merge_moves_labels_children_and_deprecates(onto_file):
    [rec] = edit(onto_file, {"op": "merge", "source": "drum", "target": "percussion"})
    o = load(onto_file)
    drum, perc = o.get("UTS:0000004"), o.get("UTS:0000003")
    assert drum.deprecated and drum.replaced_by == ["UTS:0000003"]
    assert {"drum", "drums"} <= set(perc.synonyms)
    assert o.get("UTS:0000006").parents == ["UTS:0000003"]  # snare drum re-parented
    assert rec["children_moved"] == ["UTS:0000006"]
    assert [m.id for m in o.lookup("drums")] == ["UTS:0000003"]
    assert o.current_ids("UTS:0000011") == ["UTS:0000003"]  # old drum -> drum -> percussion
    assert validate(o).ok


def test_split_creates_replacements(onto_file):
    [rec] = edit(onto_file, {"op": "split", "id": "hi-hat", "into": [
        {"label": "open hi-hat", "definition": "Open."}, {"label": "closed hi-hat"}]})
    o = load(onto_file)
    old = o.get("UTS:0000005")
    assert old.deprecated and old.replaced_by == rec["into"] and len(rec["into"]) == 2
    for nid in rec["into"]:
        assert o.get(nid).parents == ["UTS:0000003"] and o.get(nid).domain == "music"
    assert sorted(m.id for m in o.lookup("hi-hat")) == sorted(rec["into"])
    assert validate(o).ok


def test_deprecate_with_reparent_and_replacement(onto_file):
    [rec] = edit(onto_file, {"op": "deprecate", "id": "vehicle", "reparent_to": "parents",
                             "replaced_by": ["machine"], "reason": "too vague"})
    o = load(onto_file)
    assert o.get("UTS:0000007").deprecated and o.get("UTS:0000007").replaced_by == ["UTS:0000010"]
    assert o.get("UTS:0000008").parents == ["UTS:0000001"]
    assert o.get("UTS:0000009").parents == ["UTS:0000001", "UTS:0000010"]
    assert rec["reason"] == "too vague"
    assert validate(o).ok


# -- refusals: clear message, file byte-identical, nothing logged ------------------------------
REFUSALS = [
    ({"op": "add", "label": "Drums"}, "at least one parent"),
    ({"op": "add", "label": "Hi_Hats", "parents": ["music"]}, "collides"),
    ({"op": "add", "label": "x", "parents": ["violin"]}, "no concept matches"),
    ({"op": "add", "label": "x", "parents": ["old drum"]}, "deprecated"),
    ({"op": "add", "label": "x", "parents": ["music"], "domain": "noise"}, "domain must be"),
    ({"op": "relabel", "id": "car", "label": "engines"}, "collides"),
    ({"op": "relabel", "id": "car", "label": "car"}, "already labelled"),
    ({"op": "add_synonym", "id": "car", "synonym": "snare-drums"}, "collides"),
    ({"op": "add_synonym", "id": "drum", "synonym": "drums"}, "already has"),
    ({"op": "remove_synonym", "id": "car", "synonym": "auto"}, "no synonym"),
    ({"op": "set_definition", "id": "car", "definition": "A definition."}, "already has this definition"),
    ({"op": "move", "id": "percussion", "to": ["snare drum"]}, "cycle"),
    ({"op": "move", "id": "car", "to": ["vehicle"]}, "already has exactly"),
    ({"op": "add_parent", "id": "music", "parent": "drum"}, "cycle"),
    ({"op": "add_parent", "id": "car", "parent": "vehicle"}, "already a parent"),
    ({"op": "remove_parent", "id": "car", "parent": "vehicle"}, "only parent"),
    ({"op": "remove_parent", "id": "car", "parent": "machine"}, "not a parent"),
    ({"op": "merge", "source": "car", "target": "car"}, "itself"),
    ({"op": "merge", "source": "car", "target": "old drum"}, "deprecated"),
    ({"op": "merge", "source": "percussion", "target": "snare drum"}, "own descendant"),
    ({"op": "split", "id": "car", "into": [{"label": "small car"}]}, "at least two"),
    ({"op": "split", "id": "drum", "into": ["a drum", "b drum"]}, "children_to"),
    ({"op": "deprecate", "id": "percussion"}, "active children"),
    ({"op": "deprecate", "id": "percussion", "reparent_to": "percussion"}, "being deprecated"),
    ({"op": "deprecate", "id": "car", "replaced_by": ["car"]}, "replace itself"),
    ({"op": "deprecate", "id": "percussion", "reparent_to": "snare drum"}, "below itself"),
    ({"op": "deprecate", "id": "old drum"}, "deprecated"),
    ({"op": "explode", "id": "car"}, "unknown operation"),
    ({"op": "relabel", "id": "car"}, "missing"),
    ({"op": "relabel", "id": "car", "label": "auto", "colour": "red"}, "unexpected"),
    # a line break or tab would split the rows of every TSV export and of `tree`
    ({"op": "add", "label": "two\nlines", "parents": ["music"]}, "holds a control character"),
    ({"op": "add_synonym", "id": "car", "synonym": "auto\tmobile"}, "holds a control character"),
]


@pytest.mark.parametrize("op,message", REFUSALS, ids=[f"{o['op']}-{m}" for o, m in REFUSALS])
def test_refused_edit_leaves_file_byte_identical(onto_file, op, message):
    before = onto_file.read_bytes()
    with pytest.raises(EditError, match=message):
        edit(onto_file, op)
    assert onto_file.read_bytes() == before
    assert not changelog_path(onto_file).exists()


def test_validation_is_the_backstop_behind_each_op(onto_file, monkeypatch):
    # Even if an op's own checks missed a collision, validation before writing refuses it.
    import uts.ontology.edit as edit_module

    monkeypatch.setattr(edit_module, "_check_label_free", lambda *a, **k: None)
    before = onto_file.read_bytes()
    with pytest.raises(EditError, match="would introduce validation errors.*hihat"):
        edit(onto_file, {"op": "add", "label": "Hi_Hats", "parents": ["music"]})
    assert onto_file.read_bytes() == before


def test_existing_errors_do_not_block_unrelated_edits(tmp_path):
    o = build_small()
    o.concepts["UTS:0000008"].parents = ["UTS:0000099"]  # dangling: an existing error
    path = tmp_path / "uts.ttl"
    save(o, path)
    edit(path, {"op": "add_synonym", "id": "drum", "synonym": "membranophone"})
    assert "membranophone" in load(path).get("UTS:0000004").synonyms


# -- batches ---------------------------------------------------------------------------------
def test_batch_is_all_or_nothing(onto_file, tmp_path):
    before = onto_file.read_bytes()
    batch = tmp_path / "edits.yaml"
    batch.write_text(textwrap.dedent("""\
        - {op: add, label: cymbal, parents: [percussion]}
        - {op: add_synonym, id: cymbal, synonym: crash}
        - {op: move, id: car, to: [car]}
    """))
    with pytest.raises(EditError, match=r"operation 3 of 3 \(move\) refused"):
        edit_file(read_ops(batch), onto_file)
    assert onto_file.read_bytes() == before
    batch.write_text(json.dumps([{"op": "add", "label": "cymbal", "parents": ["percussion"]},
                                 {"op": "add_synonym", "id": "cymbal", "synonym": "crash"}]))
    batch = batch.rename(tmp_path / "edits.json")
    records = edit_file(read_ops(batch), onto_file)
    assert [r["op"] for r in records] == ["add", "add_synonym"]
    assert load(onto_file).lookup("crash")[0].label == "cymbal"
    assert len(read_changelog(onto_file)) == 2


def test_bad_edit_file_is_a_clear_error(tmp_path):
    p = tmp_path / "e.yaml"
    p.write_text("op: add\n")
    with pytest.raises(EditError, match="list of operations"):
        read_ops(p)
    p.write_text("- [unclosed\n")
    with pytest.raises(EditError, match="cannot read edit file"):
        read_ops(p)


def test_apply_ops_does_not_touch_the_input():
    o = build_small()
    edited, _ = apply_ops(o, [{"op": "relabel", "id": "car", "label": "automobile"}])
    assert o.get("UTS:0000008").label == "car" and edited.get("UTS:0000008").label == "automobile"


# -- concurrency and crash safety ------------------------------------------------------------
WORKER = """
import sys
from uts.ontology.edit import edit_file
path, tag = sys.argv[1], sys.argv[2]
for i in range(8):
    edit_file({"op": "add", "label": f"{tag} sound {i}", "parents": ["sound"]}, path, editor=tag)
"""


def test_two_concurrent_editors_lose_no_update(onto_file):
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    procs = [subprocess.Popen([sys.executable, "-c", WORKER, str(onto_file), tag], env=env)
             for tag in ("alpha", "beta")]
    assert [p.wait(timeout=120) for p in procs] == [0, 0]
    o = load(onto_file)
    labels = {c.label for c in o}
    assert all(f"{t} sound {i}" in labels for t in ("alpha", "beta") for i in range(8))
    assert len(o) == 11 + 16 and len(set(o.concepts)) == len(o)
    assert len(read_changelog(onto_file)) == 16
    assert validate(o).ok


def test_crash_mid_write_leaves_original(onto_file, monkeypatch):
    before = onto_file.read_bytes()

    def boom(fd):
        raise OSError("disk vanished")

    monkeypatch.setattr(os, "fsync", boom)
    with pytest.raises(OSError, match="disk vanished"):
        edit(onto_file, {"op": "add", "label": "cymbal", "parents": ["percussion"]})
    assert onto_file.read_bytes() == before
    assert sorted(p.name for p in onto_file.parent.iterdir() if p.name.endswith(".tmp")) == []


def test_locked_file_times_out_with_clear_message(onto_file):
    from uts.ontology.edit import lock_for

    before = onto_file.read_bytes()
    holder = subprocess.Popen([sys.executable, "-c", (
        "import sys,time; from filelock import FileLock; l=FileLock(sys.argv[1]); l.acquire(); "
        "print('held', flush=True); time.sleep(30)"), str(onto_file) + ".lock"], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(EditError, match="locked by another editor"):
            edit_file({"op": "add", "label": "cymbal", "parents": ["percussion"]}, onto_file, timeout=0.5)
    finally:
        holder.kill()
        holder.wait()
    assert onto_file.read_bytes() == before
    assert lock_for(onto_file).lock_file.endswith(".lock")
