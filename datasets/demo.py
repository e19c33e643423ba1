"""Demo datasets for `make run` (called by ops.demo through its `demo_datasets_seed` hook).

A visitors file and a buyers file from the deterministic generator, run through the real
pipeline in this process (no broker), so the demo is ready when the site starts. Idempotent: a
dataset already present under the demo name is left alone.
"""

import tempfile
from pathlib import Path

from datasets.ingest.generator import generate_buyers, generate_visitors
from datasets.models import Dataset, Kind, Upload
from datasets.services import upload_from_path, upload_process

DEMO_VISITORS_ROWS = 50_000
DEMO_BUYERS_ROWS = 8_000
DEMO_SEED = 2026
DEMO_DATASETS = (
    ("Website visitors (demo)", "visitors-demo.csv", Kind.VISITORS, generate_visitors, DEMO_VISITORS_ROWS),
    ("Online orders (demo)", "buyers-demo.csv", Kind.BUYERS, generate_buyers, DEMO_BUYERS_ROWS),
)


def demo_datasets_seed(*, workspace, uploaded_by) -> list[str]:
    """Create the demo datasets that are missing; return one line per dataset to print."""
    lines = []
    with tempfile.TemporaryDirectory(prefix="leadnav-demo-") as tmp:
        for name, filename, kind, generate, rows in DEMO_DATASETS:
            existing = Dataset.objects.for_workspace(workspace).filter(name=name, current_version__isnull=False).first()
            if existing is not None:
                lines.append(f"Dataset {name!r}: already there ({existing.current_version.row_count:,} rows).")
                continue
            path = generate(Path(tmp) / filename, rows, seed=DEMO_SEED)
            result = upload_from_path(
                workspace=workspace,
                user=uploaded_by,
                path=path,
                original_name=filename,
                kind=kind,
                dataset_name=name,
                options={"accept_mapping": True},
                enqueue=False,
            )
            upload = result.duplicate_of or result.upload
            upload_process(upload=upload)  # a no-op when a worker already has it or it is done
            upload = Upload.objects.get(pk=upload.pk)
            rows_loaded = (upload.receipt or {}).get("rows_loaded", 0)
            lines.append(f"Dataset {name!r}: {upload.get_status_display().lower()} ({rows_loaded:,} rows).")
    return lines
