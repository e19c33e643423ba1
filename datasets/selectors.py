"""Reads of the datasets app: uploads, datasets, versions, live progress and the Parquet preview.

Every function starts from `Model.objects.for_workspace(workspace)` (or from an object that was
itself fetched that way), so nothing here can reach another tenant's rows.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import duckdb
import pyarrow.parquet as pq
import pyarrow.types as pat
from django.conf import settings
from django.db.models import QuerySet
from django.shortcuts import get_object_or_404
from django.urls import reverse

from datasets import storage
from datasets.ingest import errors as ingest_errors
from datasets.ingest import fields as ingest_fields
from datasets.ingest import types as ingest_types
from datasets.models import (
    ACTIVE_STATUSES,
    Dataset,
    DatasetVersion,
    Kind,
    Upload,
    UploadStatus,
)
from datasets.paging import PagePosition
from datasets.services import errors as service_errors
from workspaces.models import Workspace

PREVIEW_PER_PAGE_CHOICES = (25, 50, 100)
PREVIEW_PER_PAGE_DEFAULT = 50
SORT_DIRECTIONS = ("asc", "desc")
# DuckDB runs in the web process: keep one preview from taking the machine.
PREVIEW_DUCKDB_CONFIG = {"memory_limit": "256MB", "threads": 2}
SEARCH_MAX_LENGTH = 200

ERROR_SORT_UNKNOWN = "Unknown sort column."
ERROR_DIRECTION_UNKNOWN = "Sort direction must be “asc” or “desc”."
ERROR_PREVIEW_MISSING = "The stored rows of this version are missing; restore another version or upload the file again."

IGNORE_FIELD = "__ignore__"  # mapping value: drop the column (contract with services.upload_confirm_mapping)
CUSTOM_FIELD = ""  # mapping value: keep as a custom attribute

# Labels for the steps the pipeline writes on Upload.step (unknown steps are shown humanised).
STEP_LABELS = {
    "receiving": "Receiving the file",
    "queued": "Waiting for a worker",
    "pending": "Waiting for a worker",
    "sniffing": "Detecting format",
    "sniff": "Detecting format",
    "detecting": "Detecting format",
    "mapping": "Waiting for column review",
    "needs_mapping": "Waiting for column review",
    "staging": "Reading rows",
    "reading": "Reading rows",
    "loading": "Loading rows",
    "load": "Loading rows",
    "converting": "Converting types",
    "deduplicating": "Removing duplicate rows",
    "writing": "Writing the dataset",
    "publishing": "Publishing the new version",
    "publish": "Publishing the new version",
    "done": "Done",
    "failed": "Stopped",
}

REJECT_REASON_LABELS = {
    ingest_errors.ROW_FIELD_COUNT: "Wrong number of fields",
    ingest_errors.ROW_UNTERMINATED_QUOTE: "Unterminated quote",
    ingest_errors.ROW_PARSE_ERROR: "Could not be parsed",
    ingest_errors.ROW_INVALID_VALUE: "Invalid value for the column type",
}

CONTAINER_LABELS = {
    "text": "Delimited text (CSV, TSV, TXT)",
    "gzip": "Gzip-compressed text",
    "zip": "Zip archive",
    "xlsx": "Excel workbook (.xlsx)",
    "xls": "Excel 97-2003 workbook (.xls)",
    "ods": "OpenDocument spreadsheet",
}
ENCODING_LABELS = {
    "ascii": "ASCII (plain English text)",
    "utf-8": "UTF-8",
    "utf-8-sig": "UTF-8 with byte-order mark",
    "utf-16": "UTF-16",
    "utf-16-le": "UTF-16 (little-endian)",
    "utf-16-be": "UTF-16 (big-endian)",
    "cp1252": "Windows-1252",
    "latin-1": "ISO-8859-1",
    "iso-8859-1": "ISO-8859-1",
}
DELIMITER_LABELS = {
    ",": "Comma ( , )",
    ";": "Semicolon ( ; )",
    "\t": "Tab",
    "|": "Pipe ( | )",
    ":": "Colon ( : )",
    " ": "Space",
}
QUOTE_LABELS = {'"': 'Double quote ( " )', "'": "Single quote ( ' )", "": "None"}
TYPE_LABELS = {
    ingest_types.TEXT: "Text",
    ingest_types.INTEGER: "Integer",
    ingest_types.DECIMAL: "Decimal",
    ingest_types.MONEY: "Money",
    ingest_types.PERCENT: "Percent",
    ingest_types.BOOLEAN: "Yes / no",
    ingest_types.DATE: "Date",
    ingest_types.DATETIME: "Date and time",
}


class PreviewError(ValueError):
    """A preview request the page must answer with 400 (unknown sort column, bad direction)."""


# --- uploads ----------------------------------------------------------------------------------


def upload_list(*, workspace: Workspace, q: str = "") -> QuerySet[Upload]:
    """The workspace's uploads, newest first; `q` matches the file name (case-insensitive substring)."""
    uploads = Upload.objects.for_workspace(workspace).select_related("created_by", "dataset", "version")
    q = (q or "").strip()[:SEARCH_MAX_LENGTH]
    if q:
        # icontains escapes % and _ for LIKE: the search is literal.
        uploads = uploads.filter(original_name__icontains=q)
    return uploads


def upload_get(*, workspace: Workspace, upload_id: int) -> Upload:
    return get_object_or_404(
        Upload.objects.for_workspace(workspace).select_related("created_by", "dataset", "version"), pk=upload_id
    )


def upload_list_unfinished(*, workspace: Workspace, user) -> QuerySet[Upload]:
    """The user's uploads whose bytes are still arriving: the upload page offers to resume them."""
    return Upload.objects.for_workspace(workspace).filter(created_by=user, status=UploadStatus.RECEIVING)


def upload_count_active(*, workspace: Workspace) -> int:
    return Upload.objects.for_workspace(workspace).filter(status__in=ACTIVE_STATUSES).count()


def step_label(step: str, status: str) -> str:
    if step:
        return STEP_LABELS.get(step, step.replace("_", " ").capitalize())
    return STEP_LABELS.get(status, UploadStatus(status).label if status in UploadStatus.values else status)


def _seconds(start: datetime | None, end: datetime | None) -> float:
    if start is None or end is None:
        return 0.0
    return max((end - start).total_seconds(), 0.0)


def upload_progress(*, upload: Upload) -> dict[str, Any]:
    """Everything the live progress needs, JSON-ready (the polling endpoint returns it as is).

    While bytes arrive, progress is received / declared size; once a worker reads the stored file,
    it is the bytes the worker has processed. Rates are averages since the step started (the
    worker saves progress every few seconds, so an instantaneous rate would jump around).
    """
    ws_slug = upload.workspace.slug
    status = upload.status
    size = upload.size_bytes or 0
    if status == UploadStatus.RECEIVING:
        done_bytes = upload.received_bytes
        elapsed = _seconds(upload.created_at, upload.updated_at)
    else:
        done_bytes = upload.bytes_processed
        elapsed = _seconds(upload.started_at, upload.progress_at)
    percent = None
    if size and status not in (UploadStatus.PENDING, UploadStatus.QUEUED):
        percent = round(min(done_bytes / size, 1.0) * 100, 1)
    if status == UploadStatus.READY:
        percent = 100.0
    bytes_rate = done_bytes / elapsed if elapsed > 0 and done_bytes else None
    rows_rate = upload.rows_processed / elapsed if elapsed > 0 and upload.rows_processed else None
    eta = None
    if bytes_rate and not upload.is_terminal and size > done_bytes:
        eta = math.ceil((size - done_bytes) / bytes_rate)
    next_url = ""
    if status == UploadStatus.NEEDS_MAPPING:
        next_url = reverse("datasets:upload_mapping", args=[ws_slug, upload.pk])
    elif status == UploadStatus.READY and upload.dataset_id:
        next_url = reverse("datasets:detail", args=[ws_slug, upload.dataset_id])
    return {
        "id": upload.pk,
        "status": status,
        "status_label": upload.get_status_display(),
        "step": upload.step,
        "step_label": step_label(upload.step, status),
        "is_terminal": upload.is_terminal,
        "size_bytes": size,
        "received_bytes": upload.received_bytes,
        "bytes_processed": done_bytes,
        "rows_processed": upload.rows_processed,
        "percent": percent,
        "bytes_per_second": round(bytes_rate) if bytes_rate else None,
        "rows_per_second": round(rows_rate) if rows_rate else None,
        "eta_seconds": eta,
        "error_code": upload.error_code,
        "error_message": upload.error_message,
        "next_url": next_url,
        "detail_url": reverse("datasets:upload_detail", args=[ws_slug, upload.pk]),
        "updated_at": upload.updated_at.isoformat() if upload.updated_at else None,
    }


def upload_duplicate_of(*, upload: Upload) -> Upload | None:
    """For an upload cancelled as a duplicate: the live upload in this workspace with the same bytes."""
    if not upload.sha256 or upload.status not in (UploadStatus.CANCELLED, UploadStatus.FAILED):
        return None
    return (
        Upload.objects.for_workspace(upload.workspace)
        .filter(sha256=upload.sha256)
        .exclude(status__in=(UploadStatus.CANCELLED, UploadStatus.FAILED))
        .exclude(pk=upload.pk)
        .select_related("dataset")
        .first()
    )


@dataclass
class Step:
    key: str
    label: str
    state: str  # "done" | "current" | "todo" | "failed" | "skipped"


# The path an upload takes, as the page draws it. Review is skipped when the mapping was confident.
STEP_PATH = (
    ("receive", "Upload", (UploadStatus.RECEIVING,)),
    ("queue", "Queued", (UploadStatus.PENDING, UploadStatus.QUEUED)),
    ("sniff", "Detect format", (UploadStatus.SNIFFING,)),
    ("review", "Review columns", (UploadStatus.NEEDS_MAPPING,)),
    ("load", "Load rows", (UploadStatus.LOADING,)),
    ("ready", "Ready", (UploadStatus.READY,)),
)


def upload_steps(*, upload: Upload) -> list[Step]:
    """The step indicator: which steps are done, which one runs now, where a failure stopped it."""
    keys = [key for key, _, _ in STEP_PATH]
    current = next((key for key, _, statuses in STEP_PATH if upload.status in statuses), None)
    if current is None:  # failed / cancelled: stopped at the furthest step it reached
        if upload.version_id or upload.rows_processed or upload.mapping_confirmed:
            current = "load"
        elif upload.sniff:
            current = "review" if upload.status == UploadStatus.CANCELLED else "load"
        elif upload.sha256:
            current = "sniff"
        else:
            current = "receive"
    position = keys.index(current)
    steps = []
    for index, (key, label, _) in enumerate(STEP_PATH):
        if index < position:
            state = "done"
            if key == "review" and not upload.mapping_confirmed:
                state = "skipped"  # the mapping was confident (or a saved one applied): no review
        elif index == position:
            state = {UploadStatus.FAILED: "failed", UploadStatus.CANCELLED: "failed"}.get(upload.status, "current")
            if upload.status == UploadStatus.READY:
                state = "done"
        else:
            state = "todo"
        steps.append(Step(key=key, label=label, state=state))
    return steps


# --- the mapping review -----------------------------------------------------------------------


def kind_field_choices(kind: str) -> list[str]:
    """The canonical fields a column of a `kind` file may take, in the engine's order, once each."""
    names: list[str] = []
    for spec in ingest_fields.FIELDS:
        if kind in spec.kinds and spec.name not in names:
            names.append(spec.name)
    return names


def kind_field_choices_all() -> dict[str, list[str]]:
    return {kind: kind_field_choices(kind) for kind in Kind.values}


def field_label(name: str | None) -> str:
    if not name:
        return ""
    return name.replace("_", " ").capitalize()


@dataclass
class ReviewColumn:
    index: int
    name: str
    type: str
    type_description: str
    samples: list[str]
    null_rate: float
    field: str  # proposed: a canonical field, CUSTOM_FIELD or IGNORE_FIELD
    confidence: float
    source: str = "detected"  # or "saved": this workspace's last confirmed mapping for the kind


def upload_review_columns(*, upload: Upload) -> list[ReviewColumn]:
    """The sniffed columns of an upload, with the proposed (or previously confirmed) mapping.

    `upload.sniff` is the engine's SniffResult as a dict; a mapping already confirmed on this
    upload wins over the proposal.
    """
    return review_columns(sniff=upload.sniff or {}, confirmed=upload.mapping or {})


def dataset_remap_source(*, dataset: Dataset) -> tuple[DatasetVersion | None, Upload | None, str]:
    """(current version, its original upload, "") when the dataset can be re-mapped, else (.., .., why not).

    The same checks as services.dataset_remap makes, so the page can say why before the user chooses.
    """
    version = dataset.current_version
    if version is None or version.workspace_id != dataset.workspace_id:
        return None, None, service_errors.ERROR_REMAP_NO_VERSION
    if (version.receipt or {}).get("append"):
        return version, None, service_errors.ERROR_REMAP_APPENDED
    upload = dataset_original_upload(version=version)
    if upload is None:
        return version, None, service_errors.ERROR_REMAP_NO_ORIGINAL
    if not (upload.sniff or {}).get("columns"):
        return version, None, service_errors.ERROR_REMAP_NO_COLUMNS
    return version, upload, ""


def review_columns(*, sniff: dict, confirmed: dict) -> list[ReviewColumn]:
    """Sniffed columns with a proposal per column; `confirmed` ({column: {field, type}}) wins over it."""
    proposals = sniff.get("proposed_mapping") or {}
    columns = []
    for index, column in enumerate(sniff.get("columns") or []):
        name = str(column.get("name", ""))
        proposed = column.get("field") or CUSTOM_FIELD
        chosen_type = column.get("type") or ingest_types.TEXT
        confidence = float(column.get("field_confidence") or 0.0)
        source = "detected"
        for choice in (proposals.get(name), confirmed.get(name)):
            if isinstance(choice, dict):
                proposed = choice.get("field", proposed) or CUSTOM_FIELD
                chosen_type = choice.get("type") or chosen_type
                confidence = float(choice.get("confidence", confidence) or 0.0)
                source = choice.get("source", source)
        columns.append(
            ReviewColumn(
                index=index,
                name=name,
                type=chosen_type,
                type_description=str(column.get("description") or ""),
                samples=[str(s) for s in (column.get("samples") or [])][:5],
                null_rate=float(column.get("null_rate") or 0.0),
                field=proposed,
                confidence=confidence,
                source=source,
            )
        )
    return columns


def upload_sniff_summary(*, upload: Upload) -> list[tuple[str, str]]:
    """What detection found (label, value), for the top of the review page."""
    return reading_details(upload.sniff or {})


# --- datasets ---------------------------------------------------------------------------------


def dataset_list(*, workspace: Workspace, q: str = "") -> QuerySet[Dataset]:
    datasets = Dataset.objects.for_workspace(workspace).select_related("current_version", "created_by")
    q = (q or "").strip()[:SEARCH_MAX_LENGTH]
    if q:
        datasets = datasets.filter(name__icontains=q)
    return datasets


def dataset_get(*, workspace: Workspace, dataset_id: int) -> Dataset:
    return get_object_or_404(
        Dataset.objects.for_workspace(workspace).select_related("current_version", "created_by"), pk=dataset_id
    )


def dataset_version_list(*, dataset: Dataset) -> QuerySet[DatasetVersion]:
    return (
        DatasetVersion.objects.for_workspace(dataset.workspace)
        .filter(dataset=dataset)
        .select_related("created_by", "upload")
        .order_by("-number")
    )


def dataset_version_get(*, dataset: Dataset, version_id: int) -> DatasetVersion:
    return get_object_or_404(dataset_version_list(dataset=dataset), pk=version_id)


def dataset_original_upload(*, version: DatasetVersion) -> Upload | None:
    """The stored original file behind a version (None if it was purged or never kept)."""
    upload = version.upload
    if upload is None or upload.workspace_id != version.workspace_id or not upload.storage_key:
        return None
    if not storage.file_size(upload.storage_key):
        return None
    return upload


# --- receipt and schema -----------------------------------------------------------------------


def delimiter_label(value: str | None) -> str:
    if value is None:
        return "—"
    return DELIMITER_LABELS.get(value, repr(value))


def quote_label(value: str | None) -> str:
    if value is None:
        return "—"
    return QUOTE_LABELS.get(value, repr(value))


def type_label(value: str | None) -> str:
    return TYPE_LABELS.get(value or "", (value or "").capitalize())


@dataclass
class ReceiptView:
    """The receipt of a version, shaped for the page (the raw dict is offered as JSON)."""

    raw: dict
    rows_read: int = 0
    rows_loaded: int = 0
    rows_rejected: int = 0
    duplicates_found: int = 0
    duplicates_removed: int = 0
    blank_lines: int = 0
    rejected_reasons: list[tuple[str, str, int]] = field(default_factory=list)  # code, label, count
    rejected_line_numbers: list[int] = field(default_factory=list)
    warnings: list[dict] = field(default_factory=list)
    details: list[tuple[str, str]] = field(default_factory=list)  # (label, value) rows
    elapsed_seconds: float = 0.0


def _int(value: Any) -> int:
    try:
        return int(value or 0)
    except (TypeError, ValueError):
        return 0


def encoding_label(name: str | None, confidence: str | None) -> str:
    if not name:
        return "—"
    label = ENCODING_LABELS.get(name.lower(), name)
    if confidence and confidence != "certain":
        label = f"{label} ({confidence} confidence)"
    return label


def reading_details(found: dict) -> list[tuple[str, str]]:
    """How a file was read (a sniff result or a receipt, which share these keys), as (label, value)."""
    if found.get("has_header") is False:
        header = "None (columns named column_1, column_2, …)"
    else:
        header = f"Line {_int(found.get('header_row')) or 1:,}"
    container = str(found.get("container") or "")
    rows = [
        ("File type", CONTAINER_LABELS.get(container, container.upper() or "—")),
        ("Encoding", encoding_label(found.get("encoding"), found.get("encoding_confidence"))),
    ]
    if container not in ("xlsx", "xls", "ods"):
        rows += [
            ("Delimiter", delimiter_label(found.get("delimiter"))),
            ("Quote character", quote_label(found.get("quotechar"))),
        ]
    rows.append(("Header row", header))
    if found.get("lines_skipped_above_header"):
        rows.append(("Lines skipped above the header", f"{_int(found['lines_skipped_above_header']):,}"))
    if found.get("inner_name"):
        rows.append(("File inside the archive", str(found["inner_name"])))
    if found.get("sheet"):
        rows.append(("Sheet", str(found["sheet"])))
    return rows


def dataset_receipt(*, version: DatasetVersion) -> ReceiptView:
    raw = version.receipt or {}
    reasons = raw.get("rejected_reasons") or {}
    details = reading_details(raw)
    if raw.get("kind"):
        details.append(("Kind", Kind(raw["kind"]).label if raw["kind"] in Kind.values else str(raw["kind"])))
    return ReceiptView(
        raw=raw,
        rows_read=_int(raw.get("rows_read")),
        rows_loaded=_int(raw.get("rows_loaded", version.row_count)),
        rows_rejected=_int(raw.get("rows_rejected")),
        duplicates_found=_int(raw.get("duplicates_found")),
        duplicates_removed=_int(raw.get("duplicates_removed")),
        blank_lines=_int(raw.get("blank_lines")),
        rejected_reasons=sorted(
            ((code, REJECT_REASON_LABELS.get(code, code), _int(n)) for code, n in reasons.items()),
            key=lambda item: -item[2],
        ),
        rejected_line_numbers=[_int(n) for n in (raw.get("rejected_line_numbers") or [])][:100],
        warnings=[w if isinstance(w, dict) else {"message": str(w)} for w in (raw.get("warnings") or [])],
        details=details,
        elapsed_seconds=float(raw.get("elapsed_seconds") or 0.0),
    )


@dataclass
class SchemaColumn:
    name: str
    type: str
    type_label: str
    description: str
    field: str
    null_rate: float | None
    null_count: int | None


def dataset_schema(*, version: DatasetVersion) -> list[SchemaColumn]:
    """The version's columns: from `version.columns`, else from the receipt's per-column records."""
    columns = version.columns or (version.receipt or {}).get("columns") or []
    result = []
    for column in columns:
        if not isinstance(column, dict):
            continue
        null_rate = column.get("null_rate")
        null_count = column.get("null_count")
        result.append(
            SchemaColumn(
                name=str(column.get("name", "")),
                type=str(column.get("type") or ""),
                type_label=type_label(column.get("type")),
                description=str(column.get("description") or ""),
                field=str(column.get("field") or ""),
                null_rate=float(null_rate) if null_rate is not None else None,
                null_count=int(null_count) if null_count is not None else None,
            )
        )
    return result


# --- preview (DuckDB over the version's Parquet) ----------------------------------------------


@dataclass
class PreviewColumn:
    index: int
    name: str
    numeric: bool


@dataclass
class PreviewPage(PagePosition):
    columns: list[PreviewColumn]
    rows: list[tuple[int, list[tuple[Any, bool]]]]  # (row number, 1-based; [(cell, is numeric)])
    total_rows: int  # all rows of the version
    matching_rows: int  # rows matching `q` (== total_rows without a search)
    page: int
    per_page: int
    num_pages: int
    sort: str
    direction: str
    q: str

    @property
    def paged_rows(self) -> int:
        return self.matching_rows


def _cell(value: Any) -> Any:
    """A DuckDB value as the page shows it (the template escapes; None stays None)."""
    if isinstance(value, float):
        if math.isnan(value) or math.isinf(value):
            return str(value)
        return f"{value:.10g}"
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    return value


def dataset_preview_rows(
    *,
    workspace: Workspace,
    version: DatasetVersion,
    page: int = 1,
    per_page: int = PREVIEW_PER_PAGE_DEFAULT,
    sort: str = "",
    direction: str = "asc",
    q: str = "",
) -> PreviewPage:
    """One page of a version's rows, optionally sorted by one column and filtered by a search.

    Column names are user data, so they never enter the SQL: the Parquet columns are renamed
    positionally (`AS t(c0, c1, ...)`) and `sort` must be one of the file's own column names,
    else PreviewError (the view answers 400). The search is a case-insensitive *substring* test
    (`contains`, not LIKE) on every column cast to text, so %, _ and quotes are literal; every
    value goes in as a bound parameter.
    """
    if version.workspace_id != workspace.pk:
        raise PreviewError(ERROR_PREVIEW_MISSING)  # never reached through the views; belt and braces
    if direction not in SORT_DIRECTIONS:
        raise PreviewError(ERROR_DIRECTION_UNKNOWN)
    path = storage.version_parquet_path(version)
    if not path.exists():
        raise FileNotFoundError(ERROR_PREVIEW_MISSING)
    schema = pq.read_schema(path)
    names = list(schema.names)
    if sort and sort not in names:
        raise PreviewError(ERROR_SORT_UNKNOWN)
    columns = [
        PreviewColumn(index=i, name=name, numeric=_is_numeric(schema.field(i).type)) for i, name in enumerate(names)
    ]
    aliases = [f"c{i}" for i in range(len(names))]
    source = f"read_parquet($path, file_row_number=true) AS t({', '.join([*aliases, '_rn'])})"
    params: dict[str, Any] = {"path": str(path)}
    where = ""
    q = (q or "")[:SEARCH_MAX_LENGTH]
    if q.strip():
        where = " WHERE " + " OR ".join(f"contains(lower(CAST({a} AS VARCHAR)), $q)" for a in aliases)
        params["q"] = q.lower()
    order = "_rn"
    if sort:
        order = f"{aliases[names.index(sort)]} {direction.upper()} NULLS LAST, _rn"
    total = version.row_count
    with duckdb.connect(config=PREVIEW_DUCKDB_CONFIG) as con:
        if where:
            matching = con.execute(f"SELECT count(*) FROM {source}{where}", params).fetchone()[0]  # noqa: S608
        else:
            matching = con.execute(f"SELECT count(*) FROM {source}", params).fetchone()[0]  # noqa: S608
            total = matching
        num_pages = max(math.ceil(matching / per_page), 1)
        page = min(max(page, 1), num_pages)
        params.update({"limit": per_page, "offset": (page - 1) * per_page})
        # Only generated aliases and keywords from fixed lists are interpolated here.
        sql = f"SELECT {', '.join([*aliases, '_rn'])} FROM {source}{where} ORDER BY {order} LIMIT $limit OFFSET $offset"  # noqa: S608
        fetched = con.execute(sql, params).fetchall()
    numeric = [c.numeric for c in columns]
    rows = [(int(row[-1]) + 1, list(zip([_cell(v) for v in row[:-1]], numeric, strict=True))) for row in fetched]
    return PreviewPage(
        columns=columns,
        rows=rows,
        total_rows=total,
        matching_rows=matching,
        page=page,
        per_page=per_page,
        num_pages=num_pages,
        sort=sort,
        direction=direction,
        q=q,
    )


def _is_numeric(arrow_type) -> bool:
    return pat.is_integer(arrow_type) or pat.is_floating(arrow_type) or pat.is_decimal(arrow_type)


def preview_per_page(value: str | None) -> int:
    try:
        number = int(value or PREVIEW_PER_PAGE_DEFAULT)
    except ValueError:
        return PREVIEW_PER_PAGE_DEFAULT
    return number if number in PREVIEW_PER_PAGE_CHOICES else PREVIEW_PER_PAGE_DEFAULT


def chunk_bytes() -> int:
    return int(getattr(settings, "DATASETS_CHUNK_BYTES", 8 * 1024 * 1024))


def max_upload_bytes() -> int:
    return int(getattr(settings, "DATASETS_MAX_UPLOAD_BYTES", 2 * 1024**3))


def small_upload_bytes() -> int:
    """Above this, the no-JS form says to use the chunked uploader (a single request is fragile)."""
    return int(getattr(settings, "DATASETS_FORM_UPLOAD_MAX_BYTES", 100 * 1024 * 1024))
