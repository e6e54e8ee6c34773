"""An edit and its change-log entry commit together: a writer killed at any step of the commit
leaves the old file and log or the new file and log, and the next edit finishes or rolls back
what it left and removes a dead writer's temporary files (never a live writer's).

Kills are injected at named steps (``uts.ontology.changelog._step``, ``os.replace``) in a
subprocess that ``os._exit``s there: no sleeps, no races."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from _ontology_helpers import build_small
from uts.ontology import load, save
from uts.ontology.changelog import (changelog_path, clean_stale_temps, journal_path, read_changelog,
                                    reconcile)
from uts.ontology.edit import edit_file

ROOT = Path(__file__).resolve().parents[1]
ADD = {"op": "add", "label": "cowbell", "parents": ["percussion"]}
STEPS = ["journal_written", "file_replaced", "log_appended", "journal_removed"]

# Runs one edit and dies (exit 9, no cleanup, no atexit) at the named step.
KILLED_WRITER = """
import json, os, sys
import uts.ontology.changelog as changelog
path, step = sys.argv[1], sys.argv[2]
if step == "inside_replace":  # dies while renaming the new file into place
    real = os.replace
    def dying(src, dst):
        if str(dst) == path:
            os._exit(9)
        return real(src, dst)
    os.replace = dying
else:
    changelog._step = lambda name: os._exit(9) if name == step else None
from uts.ontology.edit import edit_file
edit_file(json.loads(sys.argv[3]), path, editor="killed")
"""


@pytest.fixture
def onto_file(tmp_path) -> Path:
    path = tmp_path / "uts.ttl"
    save(build_small(), path)
    edit_file({"op": "add_synonym", "id": "car", "synonym": "automobile"}, path, editor="setup")
    return path


def run_killed(path: Path, step: str, op: dict = ADD) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run([sys.executable, "-c", KILLED_WRITER, str(path), step, json.dumps(op)],
                          env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 9, proc.stderr


def state(path: Path) -> tuple[bool, int]:
    """(does the file hold the edit, how many log entries a reader sees)."""
    return load(path).lookup("cowbell") != [], len(read_changelog(path))


@pytest.mark.parametrize("step", ["inside_replace", *STEPS])
def test_a_kill_at_any_step_leaves_old_or_new_file_and_log(onto_file, step):
    before = onto_file.read_bytes()
    run_killed(onto_file, step)
    new_file, entries = state(onto_file)
    # A reader sees file and log at the same point, even before anyone reconciles.
    assert (new_file, entries) in [(False, 1), (True, 2)]
    assert new_file == (step != "inside_replace" and step != "journal_written")
    if not new_file:
        assert onto_file.read_bytes() == before
    # The next edit reconciles, then commits its own change: nothing lost, nothing doubled.
    edit_file({"op": "add_synonym", "id": "drum", "synonym": "membranophone"}, onto_file, editor="next")
    log = [json.loads(line) for line in changelog_path(onto_file).read_text().splitlines()]
    ops = [e["what"]["op"] for e in log]
    assert ops == ["add_synonym", "add", "add_synonym"] if new_file else ["add_synonym", "add_synonym"]
    assert [e["who"] for e in log][-1] == "next"
    assert not journal_path(onto_file).exists()
    assert [p.name for p in onto_file.parent.iterdir() if p.name.endswith(".tmp")] == []
    assert state(onto_file) == (new_file, len(log))


def test_kill_mid_append_leaves_no_torn_line(onto_file):
    run_killed(onto_file, "file_replaced")
    log = changelog_path(onto_file)
    with open(log, "a") as fh:  # what a writer killed in the middle of its append leaves
        fh.write('{"who": "killed", "what": {"op": "ad')
    assert len(read_changelog(onto_file)) == 2  # the torn line never counts
    assert reconcile(onto_file) == "completed"
    lines = log.read_text().splitlines()
    assert [json.loads(x)["what"]["op"] for x in lines] == ["add_synonym", "add"]


def test_reconcile_rolls_back_when_the_rename_never_happened(onto_file):
    run_killed(onto_file, "journal_written")
    assert journal_path(onto_file).exists()
    assert reconcile(onto_file) == "rolled back"
    assert not journal_path(onto_file).exists() and len(read_changelog(onto_file)) == 1
    assert reconcile(onto_file) is None


def test_hand_edited_file_after_a_crash_sets_the_journal_aside(onto_file):
    run_killed(onto_file, "journal_written")
    onto_file.write_text(onto_file.read_text() + "\n")  # neither the old nor the new bytes
    with pytest.warns(UserWarning, match="matches neither side"):
        assert reconcile(onto_file) == "set aside"
    assert not journal_path(onto_file).exists()
    assert len(list(onto_file.parent.glob("uts.changes.pending.json.orphan-*"))) == 1
    assert len(read_changelog(onto_file)) == 1


def test_failing_rename_in_process_leaves_old_file_and_log(onto_file, monkeypatch):
    before, log_before = onto_file.read_bytes(), changelog_path(onto_file).read_bytes()
    real = os.replace

    def failing(src, dst):
        if Path(dst) == onto_file:
            raise OSError("rename failed")
        return real(src, dst)

    monkeypatch.setattr(os, "replace", failing)
    with pytest.raises(OSError, match="rename failed"):
        edit_file(ADD, onto_file)
    assert onto_file.read_bytes() == before and changelog_path(onto_file).read_bytes() == log_before
    assert not journal_path(onto_file).exists()
    assert [p.name for p in onto_file.parent.iterdir() if p.name.endswith(".tmp")] == []


def test_only_dead_writers_temporary_files_are_cleaned(onto_file):
    run_killed(onto_file, "inside_replace")  # leaves its .uts.ttl.<pid>.*.tmp behind
    [dead] = [p for p in onto_file.parent.iterdir() if p.name.endswith(".tmp")]
    live = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        live_tmp = onto_file.parent / f".uts.ttl.{live.pid}.abcd1234.tmp"
        live_tmp.write_text("a live writer's half-written file")
        other = onto_file.parent / ".notes.txt.999999.abcd1234.tmp"  # not ours to judge
        other.write_text("x")
        assert clean_stale_temps(onto_file) == [dead]
        assert live_tmp.exists() and other.exists() and not dead.exists()
    finally:
        live.kill()
        live.wait()
    assert clean_stale_temps(onto_file) == [live_tmp]
