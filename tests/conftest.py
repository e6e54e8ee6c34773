"""Shared fixtures. Tests build their own small ontologies so they do not depend on the shipped
content; tests that check the shipped content read ontology/uts.ttl explicitly."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
# The reference data lives beside the checkout (../shared/data); a clone elsewhere (e.g. CI's
# clean clone) finds it through $UTS_SHARED_DATA or the workspace's fixed location.
_CANDIDATES = [os.environ.get("UTS_SHARED_DATA"), REPO.parent / "shared" / "data", "/work/shared/data"]
SHARED_DATA = next((Path(p) for p in _CANDIDATES if p and Path(p).is_dir()), REPO.parent / "shared" / "data")


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not SHARED_DATA.exists():
        pytest.skip(f"reference data not found at {SHARED_DATA}")
    return SHARED_DATA


@pytest.fixture(scope="session")
def repo() -> Path:
    return REPO


@pytest.fixture(scope="session")
def uts_site(tmp_path_factory):
    """The static site of the shipped UTS, built once per session by running docs/web.md's bash
    blocks as written (so the page's example is tested too): (ontology, site folder, output)."""
    from test_docs_examples import bash_blocks, run_blocks

    from uts.ontology import load

    tmp = tmp_path_factory.mktemp("uts-web")
    proc = run_blocks(bash_blocks((REPO / "docs" / "web.md").read_text()), REPO, tmp, "/tmp/uts-web", tmp / "web")
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    return load(REPO / "ontology" / "uts.ttl"), tmp / "web" / "site", proc.stdout
