"""Export pages: create an export (POST, any member), the jobs list, a job's page, progress and download.

The page being exported puts its state in the form's action URL (`?dataset=..&in.state=CA..`);
the form posts the file format (`file=csv|xlsx|json`) and a CSRF token. Small exports stream
back at once; large ones become a background job and the browser is sent to its page.
Downloads are attachments with nosniff and a server-built file name (SECURITY.md T-XSS-08).
"""

from __future__ import annotations

import tempfile

from django.conf import settings
from django.contrib import messages
from django.core.files.storage import default_storage
from django.db.models import QuerySet
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, JsonResponse, QueryDict, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import content_disposition_header
from django.views.decorators.http import require_POST, require_safe

from analytics.engine import QueryError
from exports import services
from exports.models import ExportJob, ExportStatus, FileFormat, What
from exports.naming import CONTENT_TYPES
from exports.plans import EXPORT_KEYS, plan_build
from workspaces.decorators import workspace_view
from workspaces.models import Membership, Role

ERROR_BAD_FORMAT = "Choose CSV, Excel or JSON."
ERROR_DATA_FILE_MISSING = "The data file of this dataset version is not available."
MESSAGE_BACKGROUND = "This export is large, so it is being built in the background. It will be ready to download here."
MESSAGE_CAPPED = "Viewers can export up to {cap:,} rows: this export stops there ({total:,} rows match)."
TRUTHY = ("1", "true", "on", "yes")
LIST_LIMIT = 100


def _secure(response: HttpResponse) -> HttpResponse:
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "private, no-store"
    return response


def _error(request: HttpRequest, membership: Membership, message: str, status: int) -> HttpResponse:
    context = {"workspace": membership.workspace, "membership": membership, "error": message}
    return render(request, "exports/error.html", context, status=status)


def _page_state(request: HttpRequest) -> QueryDict:
    """The page state: the action URL's query string, plus any state fields the form posted."""
    data = request.GET.copy()
    for key, values in request.POST.lists():
        if key not in EXPORT_KEYS:
            data.setlist(key, data.getlist(key) + values)
    return data


def _create(request: HttpRequest, membership: Membership, what: str, kind: str = "") -> HttpResponse:
    workspace = membership.workspace
    file_format = request.POST.get("file") or request.GET.get("file", "")
    if file_format not in FileFormat.values:
        return _error(request, membership, ERROR_BAD_FORMAT, 400)
    background = (request.POST.get("background") or "").lower() in TRUTHY
    try:
        plan = plan_build(workspace=workspace, what=what, kind=kind, data=_page_state(request))
    except QueryError as error:
        return _error(request, membership, str(error), 400)
    except FileNotFoundError:
        return _error(request, membership, ERROR_DATA_FILE_MISSING, 404)
    sizing = services.export_sizing(membership=membership, total=plan.total)
    if problem := services.export_fits_format(sizing=sizing, file_format=file_format):
        return _error(request, membership, problem, 400)
    streamed = services.export_is_streamed(
        sizing=sizing, background=background, file_format=file_format, width=len(plan.header)
    )
    if not streamed:
        job = services.export_job_create(
            request=request, membership=membership, plan=plan, file_format=file_format, sizing=sizing
        )
        messages.info(request, MESSAGE_BACKGROUND)
        if sizing.truncated:
            messages.warning(request, MESSAGE_CAPPED.format(cap=sizing.cap, total=sizing.total))
        return redirect("exports:detail", workspace.slug, job.pk)
    services.export_audit_streamed(
        request=request, membership=membership, plan=plan, file_format=file_format, sizing=sizing
    )
    filename = services.plan_filename(plan, file_format)
    if file_format == FileFormat.XLSX:
        # openpyxl's write-only mode writes rows to disk as they come; the workbook is then sent.
        fh = tempfile.TemporaryFile(dir=settings.FILE_UPLOAD_TEMP_DIR)  # noqa: SIM115 - FileResponse closes it
        services.render_to_file(plan, file_format, sizing, fh)
        fh.seek(0)
        response = FileResponse(fh, as_attachment=True, filename=filename, content_type=CONTENT_TYPES["xlsx"])
    else:
        chunks = services.render_chunks(plan, file_format, sizing)
        response = StreamingHttpResponse(chunks, content_type=CONTENT_TYPES[file_format])
        response["Content-Disposition"] = content_disposition_header(as_attachment=True, filename=filename)
    if sizing.truncated:
        response["X-Export-Truncated"] = str(sizing.cap)
    response["X-Export-Rows"] = str(sizing.rows)
    return _secure(response)


@workspace_view(min_role=Role.VIEWER)
@require_POST
def export_rows(request: HttpRequest, membership: Membership) -> HttpResponse:
    return _create(request, membership, What.ROWS)


@workspace_view(min_role=Role.VIEWER)
@require_POST
def export_report(request: HttpRequest, membership: Membership, kind: str) -> HttpResponse:
    return _create(request, membership, What.REPORT, kind)


@workspace_view(min_role=Role.VIEWER)
@require_POST
def export_combos(request: HttpRequest, membership: Membership) -> HttpResponse:
    return _create(request, membership, What.COMBOS)


# --- jobs ------------------------------------------------------------------------------------------
def _visible_jobs(request: HttpRequest, membership: Membership) -> QuerySet[ExportJob]:
    """The workspace's jobs; a viewer sees only their own."""
    jobs = ExportJob.objects.for_workspace(membership.workspace)
    if membership.role == Role.VIEWER:
        jobs = jobs.filter(created_by=request.user)
    return jobs


def _job(request: HttpRequest, membership: Membership, export_id: int) -> ExportJob:
    return get_object_or_404(_visible_jobs(request, membership).select_related("created_by"), pk=export_id)


def _downloadable(job: ExportJob) -> bool:
    return (
        job.status == ExportStatus.DONE
        and bool(job.storage_key)
        and (job.expires_at is None or job.expires_at > timezone.now())
    )


def _progress(job: ExportJob, workspace_slug: str) -> dict:
    return {
        "id": job.pk,
        "status": job.status,
        "status_label": job.get_status_display(),
        "progress": job.progress,
        "rows_written": job.rows_written,
        "total_rows": job.total_rows,
        "truncated": job.truncated,
        "row_cap": job.row_cap,
        "error": job.error,
        "size_bytes": job.size_bytes,
        "download_url": reverse("exports:download", args=[workspace_slug, job.pk]) if _downloadable(job) else "",
    }


@workspace_view(min_role=Role.VIEWER)
@require_safe
def export_list(request: HttpRequest, membership: Membership) -> HttpResponse:
    jobs = list(_visible_jobs(request, membership).select_related("created_by")[:LIST_LIMIT])
    for job in jobs:
        job.downloadable = _downloadable(job)
    context = {
        "workspace": membership.workspace,
        "membership": membership,
        "jobs": jobs,
        "own_only": membership.role == Role.VIEWER,
    }
    return render(request, "exports/list.html", context)


@workspace_view(min_role=Role.VIEWER)
@require_safe
def export_detail(request: HttpRequest, membership: Membership, export_id: int) -> HttpResponse:
    job = _job(request, membership, export_id)
    slug = membership.workspace.slug
    context = {
        "workspace": membership.workspace,
        "membership": membership,
        "job": job,
        "downloadable": _downloadable(job),
        "progress_config": {"url": reverse("exports:progress", args=[slug, job.pk]), "status": job.status},
    }
    return render(request, "exports/detail.html", context)


@workspace_view(min_role=Role.VIEWER)
@require_safe
def export_progress(request: HttpRequest, membership: Membership, export_id: int) -> JsonResponse:
    job = _job(request, membership, export_id)
    return _secure(JsonResponse(_progress(job, membership.workspace.slug)))


@workspace_view(min_role=Role.VIEWER)
@require_safe
def export_download(request: HttpRequest, membership: Membership, export_id: int) -> HttpResponse:
    job = _job(request, membership, export_id)
    if not _downloadable(job) or not default_storage.exists(job.storage_key):
        raise Http404
    services.export_download_audit(request=request, membership=membership, job=job)
    response = FileResponse(
        default_storage.open(job.storage_key, "rb"),
        as_attachment=True,
        filename=job.filename,
        content_type=CONTENT_TYPES[job.file_format],
    )
    return _secure(response)
