"""Fixtures for the export tests: a formula-injection file ingested through the real pipeline,
a Parquet dataset holding the cells the pipeline would trim (TAB, CR, NUL, spaces), finished jobs,
and small readers for the three formats."""

from __future__ import annotations

import csv
import io
import json
from datetime import timedelta

import pyarrow as pa
import pyarrow.parquet as pq
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.utils import timezone

from datasets import storage
from datasets.models import Upload
from datasets.services import upload_confirm_mapping, upload_process
from datasets.tests.page_helpers import dataset_loaded, dataset_row
from exports.models import ExportJob, ExportStatus

TRIGGERS = ("=", "+", "-", "@", "\t", "\r", "\0")

# SECURITY.md T-CSVI-01: formula_injection_cells.csv - cells starting with = + - @ TAB CR, leading
# space and NBSP variants, formula-like headers, and a numeric column with a negative number.
FORMULA_CSV = (
    "id,payload,amount,=evil_header,@at header\r\n"
    "1,=1+1,10,a,b\r\n"
    "2,+SUM(A1),-5,a,b\r\n"
    "3,-2+3,7,a,b\r\n"
    "4,@SUM(A1:A2),8,a,b\r\n"
    '5,"\tTAB",9,a,b\r\n'
    '6,"\rCR",11,a,b\r\n'
    "7, =space,12,a,b\r\n"
    "8,\u00a0=nbsp,13,a,b\r\n"
    '9,"=HYPERLINK(""http://x"",""click"")",14,a,b\r\n'
    "10,plain,15,a,b\r\n"
).encode()

# Values the ingestion pipeline trims, written straight to Parquet so the export sees them as they are.
RAW_PAYLOADS = [
    "\t=1+1",
    "\rCR first",
    "\0NUL first",
    " =leading space",
    "\u00a0=nbsp",
    "=cmd|' /C calc'!A0",
    'quote " and, comma',
    "line\r\nbreak",
    "-10",
    "plain",
    None,
]


def formula_dataset(*, workspace, user):
    """formula_injection_cells.csv through the real pipeline (custom kind, every column kept)."""
    upload = dataset_loaded(workspace=workspace, user=user, data=FORMULA_CSV, name="formula_injection_cells.csv")
    if upload.status == "needs_mapping":
        upload_confirm_mapping(upload=upload, user=user, mapping={}, kind="custom")
        upload_process(upload=Upload.objects.get(pk=upload.pk))
        upload = Upload.objects.select_related("dataset", "version").get(pk=upload.pk)
    assert upload.status == "ready", upload.error_message
    return upload.dataset


def raw_dataset(*, workspace, user=None, name: str = "Raw cells"):
    table = pa.table(
        {
            "=header": [f"r{i}" for i in range(len(RAW_PAYLOADS))],
            "payload": RAW_PAYLOADS,
            "amount": pa.array([-(i + 1) for i in range(len(RAW_PAYLOADS))], pa.int64()),
        }
    )
    dataset = dataset_row(workspace=workspace, user=user, name=name, table=table)
    version = dataset.current_version
    version.columns = [
        {"name": "=header", "type": "text", "field": None},
        {"name": "payload", "type": "text", "field": None},
        {"name": "amount", "type": "integer", "field": None},
    ]
    version.save(update_fields=["columns"])
    return dataset


def stored_rows(dataset) -> tuple[list[str], list[dict]]:
    """The version's rows as the Parquet file holds them (read with pyarrow, not the export code)."""
    version = dataset.current_version
    table = pq.read_table(storage.version_parquet_path(version))
    return table.column_names, table.to_pylist()


def body(response) -> bytes:
    if getattr(response, "streaming", False):
        return b"".join(response.streaming_content)
    return response.content


def parse_csv(data: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))


def read_csv(response) -> list[list[str]]:
    return parse_csv(body(response))


def read_json(response) -> dict:
    return json.loads(body(response))


def job_done(*, workspace, user, content: bytes = b"a,b\r\n1,2\r\n", file_format: str = "csv", **extra) -> ExportJob:
    key = f"exports/{workspace.pk}/test-{ExportJob.objects.count()}-{timezone.now().timestamp()}.{file_format}"
    key = default_storage.save(key, ContentFile(content))
    now = timezone.now()
    values = {
        "what": "rows",
        "params": {"query": "dataset=1"},
        "file_format": file_format,
        "name": "Some data",
        "filename": f"some-data-rows-2024-01-01.{file_format}",
        "status": ExportStatus.DONE,
        "rows_written": 1,
        "total_rows": 1,
        "progress": 100,
        "storage_key": key,
        "size_bytes": len(content),
        "finished_at": now,
        "expires_at": now + timedelta(days=1),
        **extra,
    }
    return ExportJob.objects.create(workspace=workspace, created_by=user, **values)
