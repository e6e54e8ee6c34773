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
