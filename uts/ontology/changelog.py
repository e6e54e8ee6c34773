"""The change log beside an ontology file, and the journal that commits an edit together with it.

``uts.ttl``'s log is ``uts.changes.jsonl``: one JSON line per recorded operation
(``{"who", "when", "what"}``), appended and never rewritten.

An edit must change the file and the log together, even if the process is killed at any instant.
:func:`commit_edit` therefore writes a *pending* journal entry (``uts.changes.pending.json``: the
records, a transaction id and the SHA-256 of the old and the new file) before it renames the new
file into place, appends the records to the log after, and only then removes the journal entry.
:func:`reconcile`, run under the edit lock before the next edit or release, finishes or rolls back
whatever a dead writer left: if the file on disk is the new one, the records are appended (unless
the log already ends with them); if it is the old one, the entry is dropped. Readers never see a
half state either: :func:`read_changelog` includes a pending entry exactly when the file on disk
already holds its edit.

Temporary files are named ``.<file>.<pid>.<random>.tmp`` (see :func:`uts.ontology.files.atomic_write_text`)
so :func:`clean_stale_temps` can remove those of dead writers without touching a live one's.
"""

from __future__ import annotations

import getpass
import hashlib
import json
import os
import subprocess
import uuid
import warnings
from datetime import datetime, timezone
from pathlib import Path

from .files import atomic_write_text, remove_dead_writers_temps


class JournalError(ValueError):
    """A pending journal entry that uts did not write; nothing is guessed or changed."""


def changelog_path(path: str | Path) -> Path:
    """The change log beside an ontology file: ``uts.ttl`` -> ``uts.changes.jsonl``."""
    path = Path(path)
    return path.with_name(path.stem + ".changes.jsonl")


def journal_path(path: str | Path) -> Path:
    """The pending journal entry of an edit in flight: ``uts.ttl`` -> ``uts.changes.pending.json``."""
    path = Path(path)
    return path.with_name(path.stem + ".changes.pending.json")


def current_editor() -> str:
    """Who edits: ``$UTS_EDITOR``, else git's user.name, else the OS user."""
    who = os.environ.get("UTS_EDITOR", "").strip()
    if who:
        return who
    try:
        out = subprocess.run(["git", "config", "user.name"], capture_output=True, text=True, timeout=5)
        if out.returncode == 0 and out.stdout.strip():
            return out.stdout.strip()
    except (OSError, subprocess.SubprocessError):
        pass
    try:
        return getpass.getuser()
    except Exception:  # no user database entry (containers)
        return "unknown"


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _file_sha256(path: Path) -> str | None:
    try:
        return _sha256(path.read_bytes())
    except FileNotFoundError:
        return None


def _entries(records: list[dict], editor: str | None, txn: str | None = None) -> list[dict]:
    who = editor or current_editor()
    when = datetime.now(timezone.utc).isoformat(timespec="seconds")
    return [{"who": who, "when": when, "what": r, **({"txn": txn} if txn else {})} for r in records]


def _read_log_lines(log: Path) -> list[dict]:
    if not log.exists():
        return []
    text = log.read_text(encoding="utf-8")
    if text and not text.endswith("\n"):  # a writer died mid-append: its torn line never counted
        text = text[: text.rfind("\n") + 1]
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def _pending(path: Path) -> dict | None:
    try:
        return json.loads(journal_path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (json.JSONDecodeError, UnicodeDecodeError):
        # A journal entry is written atomically, so it is whole or absent; anything else was
        # not written by us. Refuse to guess.
        raise JournalError(f"{journal_path(path)} is not a journal entry written by uts; "
                         "inspect it and remove it by hand") from None


def read_changelog(path: str | Path) -> list[dict]:
    """The log's entries, plus those of a pending edit whose new file is already in place (so a
    reader sees the file and the log at the same point, even while a writer is mid-commit)."""
    path = Path(path)
    entries = _read_log_lines(changelog_path(path))
    pending = _pending(path)
    if pending and _file_sha256(path) == pending["new_sha256"] and not _logged(entries, pending["txn"]):
        entries += pending["entries"]
    return entries


def _logged(entries: list[dict], txn: str) -> bool:
    return any(e.get("txn") == txn for e in reversed(entries))


def _append(log: Path, entries: list[dict]) -> None:
    lines = "".join(json.dumps(e, ensure_ascii=False) + "\n" for e in entries)
    with open(log, "a+b") as fh:
        # Drop a torn last line left by a writer killed mid-append before adding ours.
        size = fh.seek(0, os.SEEK_END)
        if size:
            fh.seek(max(0, size - 1))
            if fh.read(1) != b"\n":
                fh.seek(0)
                data = fh.read()
                fh.truncate(data.rfind(b"\n") + 1)
        fh.seek(0, os.SEEK_END)
        fh.write(lines.encode("utf-8"))
        fh.flush()
        os.fsync(fh.fileno())


def append_changelog(path: str | Path, records: list[dict], editor: str | None = None) -> None:
    """Append ``records`` to the log (for records that change no file, such as a release)."""
    _append(changelog_path(path), _entries(records, editor))


# -- the commit protocol ---------------------------------------------------------------------
def _step(name: str) -> None:
    """Called after each step of :func:`commit_edit`; tests replace it to kill the writer there.
    Steps: ``journal_written``, ``file_replaced``, ``log_appended``, ``journal_removed``."""


def commit_edit(path: str | Path, new_text: str, records: list[dict], editor: str | None = None) -> None:
    """Replace ``path`` by ``new_text`` and log ``records``, so that a crash at any instant
    leaves the old file and log or the new file and log. The caller holds the edit lock."""
    path = Path(path)
    new_bytes = new_text.encode("utf-8")
    txn = uuid.uuid4().hex
    journal = {"txn": txn, "old_sha256": _file_sha256(path), "new_sha256": _sha256(new_bytes),
               "entries": _entries(records, editor, txn)}
    atomic_write_text(journal_path(path), json.dumps(journal, ensure_ascii=False))
    _step("journal_written")
    try:
        atomic_write_text(path, new_text)
    except BaseException:
        journal_path(path).unlink(missing_ok=True)  # the old file stands: so does the old log
        raise
    _step("file_replaced")
    _append(changelog_path(path), journal["entries"])
    _step("log_appended")
    journal_path(path).unlink()
    _step("journal_removed")


def reconcile(path: str | Path) -> str | None:
    """Finish or roll back an edit whose writer died (call under the edit lock). Returns what
    was done: ``"completed"``, ``"rolled back"``, ``"set aside"`` or None (nothing pending)."""
    path = Path(path)
    pending = _pending(path)
    if pending is None:
        return None
    journal = journal_path(path)
    on_disk = _file_sha256(path)
    if on_disk == pending["new_sha256"]:
        log = changelog_path(path)
        if not _logged(_read_log_lines(log), pending["txn"]):
            _append(log, pending["entries"])
        journal.unlink()
        return "completed"
    if on_disk == pending["old_sha256"]:
        journal.unlink()  # the rename never happened: the old file and log stand
        return "rolled back"
    # The file was changed by hand since the crash: keep the entry for a person to look at.
    aside = journal.with_name(journal.name + f".orphan-{pending['txn'][:8]}")
    os.replace(journal, aside)
    warnings.warn(f"{path} matches neither side of an interrupted edit; its journal entry was "
                  f"set aside as {aside.name} and not logged", stacklevel=2)
    return "set aside"


def clean_stale_temps(path: str | Path) -> list[Path]:
    """Remove temporary files that a dead writer left beside ``path`` or its journal (only
    those whose writer process no longer exists); returns what was removed."""
    path = Path(path)
    return remove_dead_writers_temps(path) + remove_dead_writers_temps(journal_path(path))
