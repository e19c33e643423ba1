"""Reads behind the datasets pages: progress figures, step indicator, mapping review, preview, scoping."""

from datetime import timedelta

import pyarrow as pa
import pytest
from django.utils import timezone

from datasets import selectors
from datasets.ingest.fields import FIELDS
from datasets.models import UploadStatus

from .page_helpers import dataset_row, upload_needs_mapping, upload_row
from .pipeline_helpers import media_root  # noqa: F401

pytestmark = pytest.mark.usefixtures("media_root")


def test_progress_of_a_loading_upload_has_rate_and_eta(workspace):
    start = timezone.now() - timedelta(seconds=100)
    upload = upload_row(workspace=workspace, status=UploadStatus.LOADING, size_bytes=4000, step="writing")
    upload.bytes_processed, upload.rows_processed = 1000, 50_000
    upload.started_at, upload.progress_at = start, start + timedelta(seconds=10)
    progress = selectors.upload_progress(upload=upload)
    # 1000 bytes in 10 s = 100 B/s; 3000 bytes left = 30 s; 50,000 rows in 10 s = 5,000 rows/s.
    assert (progress["percent"], progress["bytes_per_second"], progress["eta_seconds"]) == (25.0, 100, 30)
    assert progress["rows_per_second"] == 5000
    assert progress["step_label"] == "Writing the dataset"


def test_progress_of_a_receiving_upload_counts_received_bytes(workspace):
    upload = upload_row(workspace=workspace, size_bytes=200, received_bytes=50)
    progress = selectors.upload_progress(upload=upload)
    assert (progress["percent"], progress["bytes_processed"], progress["received_bytes"]) == (25.0, 50, 50)


def test_progress_points_to_the_next_page(workspace):
    review = upload_needs_mapping(workspace=workspace)
    dataset = dataset_row(workspace=workspace)
    ready = dataset.current_version.upload
    assert selectors.upload_progress(upload=review)["next_url"] == f"/w/acme/datasets/uploads/{review.pk}/mapping/"
    assert selectors.upload_progress(upload=ready)["next_url"] == f"/w/acme/datasets/{dataset.pk}/"
    assert selectors.upload_progress(upload=ready)["percent"] == 100.0


def test_steps_mark_the_current_the_skipped_and_the_failed_step(workspace):
    loading = upload_row(workspace=workspace, status=UploadStatus.LOADING, sha256="a" * 64)
    failed_sniff = upload_row(workspace=workspace, status=UploadStatus.FAILED, sha256="b" * 64)
    states = [s.state for s in selectors.upload_steps(upload=loading)]
    failed = [s.state for s in selectors.upload_steps(upload=failed_sniff)]
    assert states == ["done", "done", "done", "skipped", "current", "todo"]
    assert failed == ["done", "done", "failed", "todo", "todo", "todo"]


def test_field_choices_come_from_the_engine_once_each():
    buyers = selectors.kind_field_choices("buyers")
    expected = list(dict.fromkeys(spec.name for spec in FIELDS if "buyers" in spec.kinds))
    assert buyers == expected
    assert buyers.count("age_range") == 1
    assert "visitor_key" not in buyers


def test_review_columns_prefer_the_pipeline_proposal(workspace):
    upload = upload_needs_mapping(workspace=workspace, columns=("Email", "Total"))
    upload.sniff["proposed_mapping"]["Total"] = {"field": "revenue", "type": "money", "source": "saved"}
    columns = selectors.upload_review_columns(upload=upload)
    assert [(c.index, c.name, c.field, c.type, c.source) for c in columns] == [
        (0, "Email", "", "text", "detected"),
        (1, "Total", "revenue", "money", "saved"),
    ]


def test_preview_refuses_unknown_sort_and_direction(workspace):
    dataset = dataset_row(workspace=workspace)
    version = dataset.current_version
    with pytest.raises(selectors.PreviewError):
        selectors.dataset_preview_rows(workspace=workspace, version=version, sort="(SELECT 1)")
    with pytest.raises(selectors.PreviewError):
        selectors.dataset_preview_rows(workspace=workspace, version=version, sort="amount", direction="up")


def test_preview_of_another_workspaces_version_is_refused(workspace, other_workspace):
    foreign = dataset_row(workspace=other_workspace).current_version
    with pytest.raises(selectors.PreviewError):
        selectors.dataset_preview_rows(workspace=workspace, version=foreign)


def test_preview_sorts_nulls_last_and_keeps_file_order_for_ties(workspace):
    table = pa.table({"k": ["a", "b", "c", "d"], "n": [2, None, 1, 2]})
    version = dataset_row(workspace=workspace, table=table).current_version
    page = selectors.dataset_preview_rows(workspace=workspace, version=version, sort="n", direction="desc")
    assert [(number, cells[0][0]) for number, cells in page.rows] == [(1, "a"), (4, "d"), (3, "c"), (2, "b")]
    assert [c.numeric for c in page.columns] == [False, True]


def test_upload_list_is_scoped_and_literal(workspace, other_workspace):
    upload_row(workspace=workspace, name="q1_report.csv")
    upload_row(workspace=workspace, name="q1-report.csv")
    upload_row(workspace=other_workspace, name="q1_report.csv")
    names = [u.original_name for u in selectors.upload_list(workspace=workspace, q="_report")]
    assert names == ["q1_report.csv"]


def test_receipt_view_reads_what_the_engine_wrote(workspace):
    dataset = dataset_row(workspace=workspace)
    version = dataset.current_version
    version.receipt = {
        "rows_read": 10,
        "rows_loaded": 7,
        "rows_rejected": 3,
        "rejected_reasons": {"ROW_FIELD_COUNT": 1, "ROW_INVALID_VALUE": 2},
        "rejected_line_numbers": [4, 7, 9],
        "delimiter": ";",
        "encoding": "cp1252",
        "encoding_confidence": "low",
        "has_header": False,
        "container": "gzip",
    }
    receipt = selectors.dataset_receipt(version=version)
    details = dict(receipt.details)
    assert receipt.rejected_reasons[0] == ("ROW_INVALID_VALUE", "Invalid value for the column type", 2)
    assert receipt.rejected_line_numbers == [4, 7, 9]
    assert details["Delimiter"] == "Semicolon ( ; )"
    assert details["Encoding"] == "Windows-1252 (low confidence)"
    assert details["Header row"].startswith("None")
    assert details["File type"] == "Gzip-compressed text"
