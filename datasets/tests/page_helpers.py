"""Rows and files for the pages' tests (views, role matrix, tenancy sweep, browser).

`*_row` helpers write model rows directly: enough for access checks, where the view must answer
before it touches any file. `dataset_loaded` runs the real pipeline for pages that read Parquet.
"""

from __future__ import annotations

import io

import pyarrow as pa
import pyarrow.parquet as pq
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

from datasets import storage
from datasets.models import Dataset, DatasetVersion, Upload, UploadStatus
from datasets.services import upload_from_path, upload_process

XSS_SCRIPT = "<script>alert(1)</script>"
XSS_IMG = '"><img src=x onerror=alert(1)>'
PEOPLE_CSV = b"name,amount,signup\nAlice,10,2024-01-05\nBob,20,2024-02-06\nCarol,30,2024-03-07\n"
# Headers the engine maps with confidence: loads straight through, no review.
VISITORS_CSV = (
    b"visitor_id,visit_date,channel,converted\n"
    b"v1,2024-01-05,Email,yes\nv2,2024-02-06,Search,no\nv3,2024-03-07,Social,yes\n"
)


def upload_row(*, workspace, user=None, status: str = UploadStatus.RECEIVING, name: str = "people.csv", **extra):
    values = {
        "size_bytes": 100,
        "storage_key": storage.upload_key_new(workspace_id=workspace.pk),
        **extra,
    }
    return Upload.objects.create(workspace=workspace, created_by=user, original_name=name, status=status, **values)


def upload_needs_mapping(*, workspace, user=None, columns=("name", "amount")) -> Upload:
    sniff = {
        "kind": "custom",
        "encoding": "utf-8",
        "delimiter": ",",
        "quotechar": '"',
        "has_header": True,
        "header_row": 1,
        "container": "csv",
        "columns": [
            {"name": c, "type": "text", "description": "text", "null_rate": 0.25, "samples": ["a", "b"], "field": None}
            for c in columns
        ],
        "proposed_mapping": {
            c: {"field": "", "type": "text", "source": "detected", "confidence": 0.0} for c in columns
        },
        "warnings": [],
    }
    return upload_row(
        workspace=workspace,
        user=user,
        status=UploadStatus.NEEDS_MAPPING,
        sha256=f"{workspace.pk:08d}{Upload.objects.count():056d}",
        sniff=sniff,
    )


def upload_failed(*, workspace, user=None, message: str = "The file is empty.") -> Upload:
    return upload_row(
        workspace=workspace,
        user=user,
        status=UploadStatus.FAILED,
        sha256=f"f{workspace.pk:07d}{Upload.objects.count():056d}",
        error_code="EMPTY_FILE",
        error_message=message,
    )


def parquet_write(key: str, table: pa.Table) -> None:
    buffer = io.BytesIO()
    pq.write_table(table, buffer)
    default_storage.save(key, ContentFile(buffer.getvalue()))


def dataset_row(
    *,
    workspace,
    user=None,
    name: str = "Dataset",
    versions: int = 1,
    table: pa.Table | None = None,
    files: bool = True,
    rejected: bytes | None = None,
):
    """A dataset with `versions` versions (the last one current), each a small Parquet file and an
    original upload whose bytes are stored (`files=False`: rows only, for access checks)."""
    dataset = Dataset.objects.create(workspace=workspace, name=name, created_by=user)
    table = table if table is not None else pa.table({"name": ["Alice", "Bob"], "amount": [10, 20]})
    version = None
    for number in range(1, versions + 1):
        upload = upload_row(
            workspace=workspace,
            user=user,
            status=UploadStatus.READY,
            name=f"{name.lower().replace(' ', '-')}-v{number}.csv",
            sha256=f"d{workspace.pk:07d}{dataset.pk:08d}{number:048d}",
            dataset=dataset,
        )
        prefix = storage.version_prefix_new(workspace_id=workspace.pk, dataset_id=dataset.pk, number=number)
        rejected_key = f"{prefix}/{storage.REJECTED_FILE}" if rejected is not None else ""
        if files:
            default_storage.save(upload.storage_key, ContentFile(PEOPLE_CSV))
            parquet_write(f"{prefix}/{storage.DATA_FILE}", table)
            if rejected is not None:
                default_storage.save(rejected_key, ContentFile(rejected))
        version = DatasetVersion.objects.create(
            workspace=workspace,
            dataset=dataset,
            number=number,
            upload=upload,
            created_by=user,
            parquet_key=f"{prefix}/{storage.DATA_FILE}",
            rejected_key=rejected_key,
            row_count=table.num_rows,
            column_count=table.num_columns,
            columns=[{"name": n, "type": "text", "field": None, "null_rate": 0.0} for n in table.column_names],
            receipt={
                "rows_read": table.num_rows + (1 if rejected else 0),
                "rows_loaded": table.num_rows,
                "rows_rejected": 1 if rejected else 0,
                "rejected_line_numbers": [3] if rejected else [],
            },
        )
        Upload.objects.filter(pk=upload.pk).update(version=version)
    dataset.current_version = version
    dataset.save(update_fields=["current_version", "updated_at"])
    return dataset


def dataset_loaded(*, workspace, user, data: bytes = VISITORS_CSV, name: str = "visitors.csv", **kwargs) -> Upload:
    """Store `data` and run the whole pipeline in this process; returns the upload (READY or parked)."""
    result = upload_from_path(
        workspace=workspace, user=user, path=io.BytesIO(data), original_name=name, enqueue=False, **kwargs
    )
    upload_process(upload=result.upload)
    return Upload.objects.select_related("dataset", "version").get(pk=result.upload.pk)


def upload_complete(*, workspace, user=None, data: bytes = VISITORS_CSV) -> Upload:
    """A RECEIVING upload whose every byte is stored: ready for upload_finish."""
    upload = upload_row(workspace=workspace, user=user, size_bytes=len(data), received_bytes=len(data))
    default_storage.save(upload.storage_key, ContentFile(data))
    return upload


# The columns of PEOPLE_CSV (what dataset_row stores as each version's original file).
PEOPLE_COLUMNS = ("name", "amount", "signup")


def dataset_remappable(*, workspace, user=None, name: str = "Dataset"):
    """A `dataset_row` whose current version can be re-mapped: its original upload has sniffed columns.

    Rows only plus PEOPLE_CSV as the stored original (no pipeline run): enough for the pages and the
    access checks; the service tests use the real pipeline.
    """
    dataset = dataset_row(workspace=workspace, user=user, name=name)
    sniff = {
        "kind": "custom",
        "encoding": "utf-8",
        "delimiter": ",",
        "columns": [
            {"name": c, "type": "text", "description": "text", "null_rate": 0.0, "samples": ["x"], "field": None}
            for c in PEOPLE_COLUMNS
        ],
    }
    Upload.objects.filter(pk=dataset.current_version.upload_id).update(sniff=sniff, size_bytes=len(PEOPLE_CSV))
    mapping = {c: {"field": "", "type": "text"} for c in PEOPLE_COLUMNS}
    DatasetVersion.objects.filter(pk=dataset.current_version_id).update(mapping=mapping)
    dataset.refresh_from_db()
    return dataset


def remap_form_data(*, kind: str = "custom", fields: dict | None = None, types: dict | None = None) -> dict:
    """POST data of the re-map page for PEOPLE_COLUMNS: every column a custom text attribute unless given."""
    fields, types = fields or {}, types or {}
    data = {"kind": kind}
    for index, column in enumerate(PEOPLE_COLUMNS):
        data[f"col_{index}_field"] = fields.get(column, "")
        data[f"col_{index}_type"] = types.get(column, "text")
    return data
