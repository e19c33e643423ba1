"""Fixtures for the ingestion engine tests (no database)."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
# The shared data sets sit beside the repository (<clone>/../shared/data), never inside it.
SHARED_DATA = (REPO_ROOT / ".." / "shared" / "data").resolve()


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.fail(f"shared data sets missing: expected them at {SHARED_DATA}")
    return SHARED_DATA
