# ruff: noqa: F401 - fixtures imported from pipeline_helpers are used as parameters
"""The demo seed runs the generator's files through the real pipeline, once."""

import pytest

from datasets import demo
from datasets.models import Dataset, Upload, UploadStatus

from .pipeline_helpers import media_root

pytestmark = pytest.mark.usefixtures("media_root")


def test_demo_datasets_are_ready_and_seeding_twice_adds_nothing(workspace, owner, monkeypatch):
    monkeypatch.setattr(demo, "DEMO_DATASETS", tuple((*d[:4], 500) for d in demo.DEMO_DATASETS))

    first = demo.demo_datasets_seed(workspace=workspace, uploaded_by=owner)
    second = demo.demo_datasets_seed(workspace=workspace, uploaded_by=owner)

    datasets = {d.name: (d.kind, d.current_version.row_count) for d in Dataset.objects.for_workspace(workspace)}
    assert datasets == {"Website visitors (demo)": ("visitors", 500), "Online orders (demo)": ("buyers", 500)}
    assert list(Upload.objects.for_workspace(workspace).values_list("status", flat=True)) == [UploadStatus.READY] * 2
    assert first == [
        "Dataset 'Website visitors (demo)': ready (500 rows).",
        "Dataset 'Online orders (demo)': ready (500 rows).",
    ]
    assert second == [
        "Dataset 'Website visitors (demo)': already there (500 rows).",
        "Dataset 'Online orders (demo)': already there (500 rows).",
    ]
