"""Fixtures and helpers for the pipeline engineer's tests (services, tasks, janitor, faults).

Import the fixtures you use into the test module (`from .pipeline_helpers import media_root`).
"""

from __future__ import annotations

import io
from pathlib import Path
from urllib.parse import quote

import pytest
from django.db import connection

from datasets.ingest.generator import generate_buyers, generate_visitors
from datasets.models import Upload
from datasets.services import upload_from_path, upload_process

REPO_ROOT = Path(__file__).resolve().parents[2]
WORKER_SETTINGS = "datasets.tests.worker_settings"
SIMPLE_CSV = b"name,amount,signup\nAlice,10,2024-01-05\nBob,20,2024-02-06\nCarol,30,2024-03-07\n"


@pytest.fixture
def media_root(settings, tmp_path):
    """A private MEDIA_ROOT: other engineers' test runs share var/test-media (and its staging dir)."""
    root = tmp_path / "media"
    root.mkdir()
    settings.MEDIA_ROOT = root
    return root


@pytest.fixture
def visitors_csv(tmp_path):
    return generate_visitors(tmp_path / "visitors.csv", 1_000, seed=11)


@pytest.fixture
def buyers_csv(tmp_path):
    return generate_buyers(tmp_path / "buyers.csv", 600, seed=12)


def write_file(directory: Path, name: str, data: bytes) -> Path:
    path = Path(directory) / name
    path.write_bytes(data)
    return path


def ingest_sync(*, workspace, user, path, **kwargs) -> Upload:
    """Store `path` and run the pipeline in this process, as `manage.py ingest --sync` does."""
    result = upload_from_path(workspace=workspace, user=user, path=path, enqueue=False, **kwargs)
    if result.duplicate_of is None:
        upload_process(upload=result.upload)
    return Upload.objects.get(pk=result.upload.pk)


def upload_bytes(*, workspace, user, data: bytes, name: str = "file.csv", **kwargs):
    return upload_from_path(workspace=workspace, user=user, path=io.BytesIO(data), original_name=name, **kwargs)


def database_url() -> str:
    """The test database's URL for a subprocess (the same shape as ops/tests/test_worker_process.py's helper;
    copied, not imported: datasets may not import from ops)."""
    db = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{Path(db['NAME']).resolve()}"
    credentials = quote(db["USER"] or "", safe="") + (f":{quote(db['PASSWORD'], safe='')}" if db["PASSWORD"] else "")
    return f"postgres://{credentials}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{quote(db['NAME'], safe='')}"


def dataset_bare(*, workspace, name: str = "Bare dataset"):
    """A dataset row with no versions (for scoping checks)."""
    from datasets.models import Dataset

    return Dataset.objects.create(workspace=workspace, name=name)
