"""Writes for exports: size rule and viewer cap, audit, background jobs, the worker's run, the janitor.

Size rule: an export of at most EXPORT_STREAM_MAX_ROWS output rows is streamed in the response;
a larger one (or one the user sends to the background) becomes an ExportJob that a worker builds
into a file, queued on commit. Viewers get at most EXPORT_VIEWER_ROW_CAP rows (DESIGN.md §4);
the cap is recorded on the job and in the audit event, and the file/page says so.
"""

from __future__ import annotations

import logging
import tempfile
import uuid
from dataclasses import dataclass
from datetime import timedelta
from functools import partial

from django.conf import settings
from django.core.files import File
from django.core.files.storage import default_storage
from django.db import transaction
from django.http import Http404, QueryDict
from django.utils import timezone

from analytics.engine import QueryError
from audit.services import audit_record
from exports import writers
from exports.models import ExportJob, ExportStatus, FileFormat
from exports.naming import export_filename
from exports.plans import Plan, plan_build
from workspaces.models import Membership, Role

logger = logging.getLogger(__name__)

DEFAULT_STREAM_MAX_ROWS = 100_000
DEFAULT_VIEWER_ROW_CAP = 10_000
DEFAULT_FILE_TTL_HOURS = 72
DEFAULT_XLSX_STREAM_MAX_CELLS = 250_000  # about 10 s of openpyxl
STALE_QUEUED = timedelta(minutes=2)
ERROR_TOO_MANY_FOR_EXCEL = (
    "{rows:,} rows are more than one Excel sheet holds ({limit:,}). Choose CSV or JSON, or narrow the filters."
)
ERROR_FAILED = "The export failed. Try again, or narrow the filters."
ERROR_GONE = "The data this export reads is no longer available."


def stream_max_rows() -> int:
    return int(getattr(settings, "EXPORT_STREAM_MAX_ROWS", DEFAULT_STREAM_MAX_ROWS))


def viewer_row_cap() -> int:
    return int(getattr(settings, "EXPORT_VIEWER_ROW_CAP", DEFAULT_VIEWER_ROW_CAP))


def file_ttl() -> timedelta:
    return timedelta(hours=float(getattr(settings, "EXPORT_FILE_TTL_HOURS", DEFAULT_FILE_TTL_HOURS)))


def export_queue() -> str:
    return str(getattr(settings, "EXPORTS_QUEUE", "celery"))


@dataclass(frozen=True)
class Sizing:
    total: int  # rows the query gives
    rows: int  # rows the export will hold
    cap: int | None  # the viewer cap, when it applies to this user

    @property
    def truncated(self) -> bool:
        return self.cap is not None and self.total > self.cap

    @property
    def limit(self) -> int | None:
        return self.cap


def export_sizing(*, membership: Membership, total: int) -> Sizing:
    cap = viewer_row_cap() if membership.role == Role.VIEWER else None
    return Sizing(total=total, rows=min(total, cap) if cap is not None else total, cap=cap)


def export_fits_format(*, sizing: Sizing, file_format: str) -> str:
    """'' when the format can hold the rows, else the message to show (a 400)."""
    limit = writers.XLSX_MAX_ROWS - 1
    if file_format == FileFormat.XLSX and sizing.rows > limit:
        return ERROR_TOO_MANY_FOR_EXCEL.format(rows=sizing.rows, limit=limit)
    return ""


def xlsx_stream_max_cells() -> int:
    return int(getattr(settings, "EXPORT_XLSX_STREAM_MAX_CELLS", DEFAULT_XLSX_STREAM_MAX_CELLS))


def export_is_streamed(*, sizing: Sizing, background: bool, file_format: str = "", width: int = 1) -> bool:
    """Small enough to answer in the request? Excel is slower to write (openpyxl builds XML in
    Python, about 25k cells a second), so it also has a limit in cells."""
    if background or sizing.rows > stream_max_rows():
        return False
    return file_format != FileFormat.XLSX or sizing.rows * max(1, width) <= xlsx_stream_max_cells()


def plan_filename(plan: Plan, file_format: str) -> str:
    what = {"rows": "rows", "report": f"{plan.kind}-report", "combos": "combos"}[plan.what]
    return export_filename(name=plan.name, what=what, file_format=file_format, on=timezone.localdate())


def _audit_details(*, plan: Plan, file_format: str, sizing: Sizing, mode: str) -> dict:
    return {
        "what": plan.what,
        "kind": plan.kind,
        "format": file_format,
        "name": plan.name,
        "rows": sizing.rows,
        "total_rows": sizing.total,
        "filters": plan.query,
        "truncated": sizing.truncated,
        "row_cap": sizing.cap,
        "mode": mode,
    }


def export_audit_streamed(*, request, membership: Membership, plan: Plan, file_format: str, sizing: Sizing) -> None:
    audit_record(
        action="export.created",
        actor=request.user,
        workspace=membership.workspace,
        target_type="exports.export",
        target_id=plan.what,
        details=_audit_details(plan=plan, file_format=file_format, sizing=sizing, mode="stream"),
        request=request,
    )


# --- rendering -------------------------------------------------------------------------------------
def json_tail(sizing: Sizing):
    def tail(written: int) -> dict:
        return {"rows_written": written, "truncated": sizing.truncated, "row_cap": sizing.cap}

    return tail


def render_chunks(plan: Plan, file_format: str, sizing: Sizing, *, progress=None):
    """CSV or JSON bytes, in chunks (streamed by the view, written to a file by the worker)."""
    if file_format == FileFormat.CSV:
        return writers.csv_chunks(plan.header, plan.rows(sizing.limit), progress=progress)
    if plan.document is not None:
        return iter([writers.json_document(plan.document)])
    meta = {**plan.meta, "total_rows": sizing.total}
    return writers.json_chunks(
        plan.header, plan.rows(sizing.limit), meta=meta, tail=json_tail(sizing), progress=progress
    )


def render_to_file(plan: Plan, file_format: str, sizing: Sizing, fh, *, progress=None) -> None:
    if file_format == FileFormat.XLSX:
        writers.xlsx_write(fh, plan.header, plan.rows(sizing.limit), progress=progress)
        return
    for chunk in render_chunks(plan, file_format, sizing, progress=progress):
        fh.write(chunk)


# --- background jobs -------------------------------------------------------------------------------
def export_job_create(*, request, membership: Membership, plan: Plan, file_format: str, sizing: Sizing) -> ExportJob:
    with transaction.atomic():
        job = ExportJob.objects.create(
            workspace=membership.workspace,
            created_by=request.user,
            what=plan.what,
            kind=plan.kind,
            params={"query": plan.query},
            file_format=file_format,
            name=plan.name,
            filename=plan_filename(plan, file_format),
            row_cap=sizing.cap,
            truncated=sizing.truncated,
            total_rows=sizing.rows,
        )
        audit_record(
            action="export.created",
            actor=request.user,
            workspace=membership.workspace,
            target=job,
            details=_audit_details(plan=plan, file_format=file_format, sizing=sizing, mode="background"),
            request=request,
        )
        transaction.on_commit(partial(export_enqueue_safe, export_id=job.pk, workspace_id=job.workspace_id))
    return job


def export_enqueue_safe(*, export_id: int, workspace_id: int) -> bool:
    """Publish the build task; True when the broker took it. Never raises (the janitor retries)."""
    from exports.tasks import export_run  # tasks import services

    try:
        export_run.apply_async(kwargs={"workspace_id": workspace_id, "export_id": export_id}, queue=export_queue())
    except Exception:  # a dead or misconfigured broker must not turn the request into a 500
        logger.warning("could not enqueue export %s; the janitor will retry", export_id, exc_info=True)
        return False
    ExportJob.objects.filter(pk=export_id, enqueued_at__isnull=True).update(enqueued_at=timezone.now())
    return True


def _progress_saver(job: ExportJob):
    total = max(1, job.total_rows or 0)

    def save(written: int) -> None:
        percent = min(99, int(written * 100 / total))
        ExportJob.objects.filter(pk=job.pk).update(rows_written=written, progress=percent, updated_at=timezone.now())

    return save


def export_job_run(*, job: ExportJob) -> ExportJob | None:
    """Claim a queued job (compare-and-set), build its file, store it. None: someone else has it."""
    now = timezone.now()
    claimed = ExportJob.objects.filter(pk=job.pk, status=ExportStatus.QUEUED).update(
        status=ExportStatus.RUNNING, started_at=now, updated_at=now
    )
    if not claimed:
        return None
    job.refresh_from_db()
    written = {"rows": 0}
    saver = _progress_saver(job)

    def progress(count: int) -> None:
        written["rows"] = count
        saver(count)

    try:
        data = QueryDict(job.params.get("query", ""))
        plan = plan_build(workspace=job.workspace, what=job.what, kind=job.kind, data=data)
        cap = job.row_cap
        sizing = Sizing(total=plan.total, rows=min(plan.total, cap) if cap is not None else plan.total, cap=cap)
        with tempfile.TemporaryFile(dir=settings.FILE_UPLOAD_TEMP_DIR) as fh:
            render_to_file(plan, job.file_format, sizing, fh, progress=progress)
            size = fh.tell()
            fh.seek(0)
            key = f"exports/{int(job.workspace_id)}/{uuid.uuid4().hex}.{job.file_format}"
            key = default_storage.save(key, File(fh, name=key))
    except Exception as error:  # any failure is the job's, recorded on it
        message = str(error) if isinstance(error, QueryError) else ERROR_FAILED
        if isinstance(error, (FileNotFoundError, Http404)):
            message = ERROR_GONE
        logger.warning("export %s failed", job.pk, exc_info=not isinstance(error, QueryError))
        ExportJob.objects.filter(pk=job.pk).update(
            status=ExportStatus.FAILED, error=message, finished_at=timezone.now(), updated_at=timezone.now()
        )
        job.refresh_from_db()
        return job
    finished = timezone.now()
    ExportJob.objects.filter(pk=job.pk, status=ExportStatus.RUNNING).update(
        status=ExportStatus.DONE,
        storage_key=key,
        size_bytes=size,
        rows_written=written["rows"],
        total_rows=sizing.rows,
        truncated=sizing.truncated,
        progress=100,
        finished_at=finished,
        expires_at=finished + file_ttl(),
        updated_at=finished,
    )
    job.refresh_from_db()
    return job


def export_download_audit(*, request, membership: Membership, job: ExportJob) -> None:
    audit_record(
        action="export.downloaded",
        actor=request.user,
        workspace=membership.workspace,
        target=job,
        details={
            "what": job.what,
            "format": job.file_format,
            "rows": job.rows_written,
            "filters": job.params.get("query", ""),
            "truncated": job.truncated,
            "row_cap": job.row_cap,
        },
        request=request,
    )


# --- janitor ---------------------------------------------------------------------------------------
def export_janitor_run(*, now=None) -> dict[str, int]:
    """Delete expired export files; re-queue jobs the broker never took; fail jobs a dead worker left."""
    now = now or timezone.now()
    expired = 0
    for job in ExportJob.objects.filter(status=ExportStatus.DONE, expires_at__lte=now):
        if job.storage_key and default_storage.exists(job.storage_key):
            default_storage.delete(job.storage_key)
        ExportJob.objects.filter(pk=job.pk, status=ExportStatus.DONE).update(
            status=ExportStatus.EXPIRED, storage_key="", updated_at=now
        )
        expired += 1
    requeued = 0
    stale = ExportJob.objects.filter(
        status=ExportStatus.QUEUED, enqueued_at__isnull=True, created_at__lte=now - STALE_QUEUED
    )
    for job in stale:
        requeued += int(export_enqueue_safe(export_id=job.pk, workspace_id=job.workspace_id))
    limit = timedelta(seconds=int(getattr(settings, "CELERY_TASK_TIME_LIMIT", 7500)) + 60)
    dead = ExportJob.objects.filter(status=ExportStatus.RUNNING, started_at__lte=now - limit).update(
        status=ExportStatus.FAILED, error=ERROR_FAILED, finished_at=now, updated_at=now
    )
    return {"expired": expired, "requeued": requeued, "failed": dead}
