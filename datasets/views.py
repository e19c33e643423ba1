"""Datasets pages under /w/<workspace_slug>/datasets/: upload (chunked + plain form), live progress,
column review, upload history, dataset pages (preview, schema, receipt, versions) and downloads.

Every view goes through `workspace_view` (outermost, so a non-member gets 404 whatever the method).
Writes are services (datasets.services); reads are selectors (datasets.selectors).
"""

from __future__ import annotations

import json
import re
import unicodedata
from pathlib import PurePath

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db import transaction
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import content_disposition_header, urlencode
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from audit.services import audit_record
from datasets import selectors, services, storage
from datasets.forms import DatasetRenameForm, IngestOptionsForm, MappingForm, RemapForm, UploadForm, UploadStartForm
from datasets.models import Dataset, DatasetVersion, Kind, Upload, UploadMode, UploadStatus
from workspaces.decorators import workspace_view
from workspaces.models import Membership, Role

GET_POST = ["GET", "POST"]
UPLOADS_PER_PAGE = 25

MESSAGE_UPLOAD_RECEIVED = "“{name}” was received. We are reading it now."
MESSAGE_DUPLICATE = "This file is already here: it was uploaded before as “{name}”."
MESSAGE_MAPPING_CONFIRMED = "Thanks. “{name}” is loading with your column choices."
MESSAGE_MAPPING_NOT_NEEDED = "This upload is not waiting for a column review."
MESSAGE_RETRIED = "“{name}” is queued again."
MESSAGE_CANCELLED = "The upload of “{name}” was cancelled."
MESSAGE_RESNIFFED = "“{name}” is being read again with your settings; its columns will be shown for review."
MESSAGE_REMAPPED = (
    "“{name}” is being loaded again with your column choices. The new version becomes current when it is ready."
)
ERROR_READ_OPTIONS = "Those reading settings are not valid."
MESSAGE_RENAMED = "The dataset is now called “{name}”."
MESSAGE_DELETED = "The dataset “{name}” and all its versions were deleted."
MESSAGE_VERSION_RESTORED = "Version {number} is now the current version."
MESSAGE_VERSION_DELETED = "Version {number} was deleted."
ERROR_BAD_JSON = "The request body must be a JSON object."
ERROR_BAD_OFFSET = "The chunk offset must be a whole number of bytes."
ERROR_LENGTH_REQUIRED = "Send the chunk with a Content-Length header."
ERROR_CHUNK_TOO_LARGE = "A chunk may be at most {limit} bytes."
ERROR_CHUNK_EMPTY = "The chunk is empty."
ERROR_NOT_YOURS_TO_MANAGE = "Only an owner of the workspace or the person who uploaded this dataset can do that."
ERROR_NO_ORIGINAL = "The original file of this version is no longer stored."
ERROR_NO_REJECTED = "This version has no rejected rows."

# Original files are served with a type from this list (by extension), else as opaque bytes.
DOWNLOAD_TYPES = {
    ".csv": "text/csv",
    ".tsv": "text/tab-separated-values",
    ".txt": "text/plain",
    ".gz": "application/gzip",
    ".zip": "application/zip",
    ".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    ".xls": "application/vnd.ms-excel",
}


# --- helpers ------------------------------------------------------------------------------------


def _error_message(error: ValidationError) -> str:
    return error.messages[0] if error.messages else str(error)


def _json_error(message: str, status: int, **extra) -> JsonResponse:
    return JsonResponse({"error": message, **extra}, status=status)


def _can_manage(membership: Membership, dataset: Dataset) -> bool:
    """Owners manage every dataset; analysts the datasets they uploaded (DESIGN.md §4)."""
    if membership.has_role(Role.OWNER):
        return True
    return membership.has_role(Role.ANALYST) and dataset.created_by_id == membership.user_id


def _require_manage(membership: Membership, dataset: Dataset) -> None:
    if not _can_manage(membership, dataset):
        raise PermissionDenied(ERROR_NOT_YOURS_TO_MANAGE)


def _safe_filename(name: str, fallback: str = "download") -> str:
    """A display name fit for Content-Disposition: no path, no control characters, not hidden."""
    name = PurePath(name.replace("\\", "/")).name
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] != "C")
    name = name.strip().lstrip(".")
    return name[:200] or fallback


def _slug_filename(text: str) -> str:
    return re.sub(r"[^\w.-]+", "-", text, flags=re.UNICODE).strip("-")[:100] or "dataset"


def _attachment(file, *, filename: str, content_type: str) -> FileResponse:
    # FileResponse builds an RFC 6266 Content-Disposition (content_disposition_header) and streams.
    response = FileResponse(file, as_attachment=True, filename=filename, content_type=content_type)
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "private, no-store"
    return response


def _upload_urls(upload: Upload) -> dict[str, str]:
    args = [upload.workspace.slug, upload.pk]
    return {
        "chunk_url": reverse("datasets:upload_chunk", args=args),
        "finish_url": reverse("datasets:upload_finish", args=args),
        "progress_url": reverse("datasets:upload_progress", args=args),
        "detail_url": reverse("datasets:upload_detail", args=args),
    }


def _duplicate_target(upload: Upload | None) -> tuple[str, str]:
    """Where to send someone whose file is already here: the dataset, else that upload's page."""
    if upload is None:
        return "", ""
    if upload.dataset_id:
        return reverse("datasets:detail", args=[upload.workspace.slug, upload.dataset_id]), upload.dataset.name
    return reverse("datasets:upload_detail", args=[upload.workspace.slug, upload.pk]), upload.original_name


def _dataset_context(membership: Membership, dataset: Dataset, tab: str, **extra) -> dict:
    return {
        "workspace": membership.workspace,
        "membership": membership,
        "dataset": dataset,
        "version": dataset.current_version,
        "tab": tab,
        "can_upload": membership.has_role(Role.ANALYST),
        "can_manage": _can_manage(membership, dataset),
        **extra,
    }


def _version_from_query(request: HttpRequest, dataset: Dataset) -> DatasetVersion | None:
    """?version=<id> picks a version of this dataset (404 if it is not one); default the current one."""
    raw = request.GET.get("version", "")
    if not raw:
        return dataset.current_version
    if not raw.isdigit():
        raise Http404
    return selectors.dataset_version_get(dataset=dataset, version_id=int(raw))


def _audit_download(request: HttpRequest, dataset: Dataset, version: DatasetVersion, what: str) -> None:
    audit_record(
        action="dataset.downloaded",
        actor=request.user,
        workspace=dataset.workspace,
        target=dataset,
        details={"file": what, "version": version.number, "name": dataset.name},
        request=request,
    )


# --- datasets list --------------------------------------------------------------------------------


@workspace_view()
@require_safe
def dataset_list(request: HttpRequest, membership: Membership) -> HttpResponse:
    workspace = membership.workspace
    q = request.GET.get("q", "").strip()
    datasets = selectors.dataset_list(workspace=workspace, q=q)
    context = {
        "workspace": workspace,
        "membership": membership,
        "datasets": datasets,
        "q": q,
        "active_uploads": selectors.upload_count_active(workspace=workspace),
        "can_upload": membership.has_role(Role.ANALYST),
        "max_upload_bytes": selectors.max_upload_bytes(),
    }
    return render(request, "datasets/list.html", context)


# --- upload ---------------------------------------------------------------------------------------


@transaction.non_atomic_requests  # the services keep their transactions short; a big body must not hold one
@workspace_view(min_role=Role.ANALYST)
@require_http_methods(GET_POST)
def upload_page(request: HttpRequest, membership: Membership) -> HttpResponse:
    """The upload page. JavaScript sends the file in chunks (upload_start / chunk / finish); this
    view's POST is the plain multipart fallback for small files."""
    workspace = membership.workspace
    initial = {"mode": UploadMode.NEW}
    preselected = request.GET.get("dataset", "")
    if preselected.isdigit():
        dataset = selectors.dataset_get(workspace=workspace, dataset_id=int(preselected))
        initial.update({"mode": UploadMode.REPLACE, "dataset": dataset.pk, "kind": dataset.kind})
    form = UploadForm(request.POST or None, request.FILES or None, workspace=workspace, initial=initial)
    if request.method == "POST" and form.is_valid():
        uploaded = form.cleaned_data["file"]
        # Django streamed a large body to FILE_UPLOAD_TEMP_DIR; small ones are in memory.
        source = uploaded.temporary_file_path() if hasattr(uploaded, "temporary_file_path") else uploaded
        try:
            result = services.upload_from_path(
                workspace=workspace,
                user=request.user,
                path=source,
                original_name=_safe_filename(uploaded.name, "upload"),
                **form.service_kwargs(),
            )
        except ValidationError as error:
            form.add_error(None, error)
        else:
            if result.duplicate_of is not None:
                url, name = _duplicate_target(result.duplicate_of)
                messages.info(request, MESSAGE_DUPLICATE.format(name=name))
                return redirect(url)
            messages.success(request, MESSAGE_UPLOAD_RECEIVED.format(name=result.upload.original_name))
            return redirect("datasets:upload_detail", workspace_slug=workspace.slug, upload_id=result.upload.pk)
    context = {
        "workspace": workspace,
        "membership": membership,
        "form": form,
        "unfinished": selectors.upload_list_unfinished(workspace=workspace, user=request.user),
        "has_datasets": form.fields["dataset"].queryset.exists(),
        "uploader_config": {
            "startUrl": reverse("datasets:upload_start", args=[workspace.slug]),
            "chunkBytes": selectors.chunk_bytes(),
            "maxBytes": selectors.max_upload_bytes(),
        },
        "max_upload_bytes": selectors.max_upload_bytes(),
        "form_upload_bytes": selectors.small_upload_bytes(),
    }
    return render(request, "datasets/upload.html", context, status=400 if form.errors else 200)


@transaction.non_atomic_requests
@workspace_view(min_role=Role.ANALYST)
@require_POST
@never_cache
def upload_start(request: HttpRequest, membership: Membership) -> JsonResponse:
    """POST JSON {name, size, fingerprint, kind, mode, dataset, dataset_name, options} →
    {id, received_bytes, chunk_bytes, ...urls}. The same fingerprint by the same user resumes."""
    try:
        payload = json.loads(request.body or b"{}")
    except (ValueError, UnicodeDecodeError):
        return _json_error(ERROR_BAD_JSON, 400)
    if not isinstance(payload, dict):
        return _json_error(ERROR_BAD_JSON, 400)
    options = payload.get("options") if isinstance(payload.get("options"), dict) else {}
    data = {key: payload.get(key) for key in ("name", "size", "fingerprint", "kind", "mode", "dataset", "dataset_name")}
    data.update({key: options.get(key) for key in ("encoding", "delimiter", "has_header", "date_order")})
    data["keep_duplicates"] = bool(options.get("keep_duplicates"))
    data = {key: value for key, value in data.items() if value not in (None, False)}
    data.setdefault("mode", UploadMode.NEW)
    form = UploadStartForm(data, workspace=membership.workspace)
    if not form.is_valid():
        first = next(iter(form.errors.values()))[0]
        return _json_error(first, 400, errors=form.errors)
    try:
        upload = services.upload_start(
            workspace=membership.workspace,
            user=request.user,
            original_name=form.cleaned_data["name"],
            size_bytes=form.cleaned_data["size"],
            client_fingerprint=form.cleaned_data.get("fingerprint") or "",
            **form.service_kwargs(),
        )
    except ValidationError as error:
        return _json_error(_error_message(error), 400)
    body = {
        "id": upload.pk,
        "status": upload.status,
        "name": upload.original_name,
        "size_bytes": upload.size_bytes,
        "received_bytes": upload.received_bytes,
        "chunk_bytes": selectors.chunk_bytes(),
        **_upload_urls(upload),
    }
    return JsonResponse(body, status=201)


@transaction.non_atomic_requests  # never hold a database transaction while bytes trickle in
@workspace_view(min_role=Role.ANALYST)
@require_http_methods(["PUT"])
@never_cache
def upload_chunk(request: HttpRequest, membership: Membership, upload_id: int) -> JsonResponse:
    """PUT ?offset=N with a raw body of at most DATASETS_CHUNK_BYTES. The body is streamed to
    storage by the service (read in pieces from the request, never `request.body`)."""
    upload = selectors.upload_get(workspace=membership.workspace, upload_id=upload_id)
    offset_raw = request.GET.get("offset", "")
    if not offset_raw.isdigit():
        return _json_error(ERROR_BAD_OFFSET, 400)
    length_raw = request.META.get("CONTENT_LENGTH") or ""
    if not length_raw.isdigit():
        return _json_error(ERROR_LENGTH_REQUIRED, 411)
    length, limit = int(length_raw), selectors.chunk_bytes()
    if length > limit:
        return _json_error(ERROR_CHUNK_TOO_LARGE.format(limit=limit), 413, chunk_bytes=limit)
    if length == 0:
        return _json_error(ERROR_CHUNK_EMPTY, 400)
    try:
        upload = services.upload_append_chunk(upload=upload, offset=int(offset_raw), stream=request, length=length)
    except services.ChunkOffsetMismatch as mismatch:
        return _json_error(_error_message(mismatch), 409, expected=mismatch.expected)
    except ValidationError as error:
        upload.refresh_from_db(fields=["received_bytes", "status"])
        return _json_error(_error_message(error), 400, received_bytes=upload.received_bytes)
    return JsonResponse({"received_bytes": upload.received_bytes, "size_bytes": upload.size_bytes})


@transaction.non_atomic_requests  # hashing a 2 GB file must not hold the database's write lock
@workspace_view(min_role=Role.ANALYST)
@require_POST
@never_cache
def upload_finish(request: HttpRequest, membership: Membership, upload_id: int) -> JsonResponse:
    upload = selectors.upload_get(workspace=membership.workspace, upload_id=upload_id)
    try:
        result = services.upload_finish(upload=upload)
    except ValidationError as error:
        upload.refresh_from_db(fields=["received_bytes"])
        return _json_error(_error_message(error), 400, received_bytes=upload.received_bytes)
    duplicate_url, duplicate_name = _duplicate_target(result.duplicate_of)
    body = {
        "status": result.upload.status,
        "url": reverse("datasets:upload_detail", args=[membership.workspace.slug, result.upload.pk]),
        "duplicate_of_url": duplicate_url,
        "duplicate_of_name": duplicate_name,
    }
    return JsonResponse(body)


# --- one upload -------------------------------------------------------------------------------------


@workspace_view()
@require_safe
def upload_detail(request: HttpRequest, membership: Membership, upload_id: int) -> HttpResponse:
    workspace = membership.workspace
    upload = selectors.upload_get(workspace=workspace, upload_id=upload_id)
    progress = selectors.upload_progress(upload=upload)
    receipt = selectors.dataset_receipt(version=upload.version) if upload.version_id else None
    duplicate = selectors.upload_duplicate_of(upload=upload)
    duplicate_url, duplicate_name = _duplicate_target(duplicate)
    context = {
        "workspace": workspace,
        "membership": membership,
        "upload": upload,
        "progress": progress,
        "progress_config": {
            "url": reverse("datasets:upload_progress", args=[workspace.slug, upload.pk]),
            "status": upload.status,
        },
        "steps": selectors.upload_steps(upload=upload),
        "receipt": receipt,
        "duplicate_url": duplicate_url,
        "duplicate_name": duplicate_name,
        "can_act": membership.has_role(Role.ANALYST),
    }
    return render(request, "datasets/upload_detail.html", context)


@workspace_view()
@require_safe
@never_cache
def upload_progress(request: HttpRequest, membership: Membership, upload_id: int) -> JsonResponse:
    upload = selectors.upload_get(workspace=membership.workspace, upload_id=upload_id)
    return JsonResponse(selectors.upload_progress(upload=upload))


@workspace_view(min_role=Role.ANALYST)
@require_http_methods(GET_POST)
def upload_mapping(request: HttpRequest, membership: Membership, upload_id: int) -> HttpResponse:
    workspace = membership.workspace
    upload = selectors.upload_get(workspace=workspace, upload_id=upload_id)
    if upload.status != UploadStatus.NEEDS_MAPPING:
        messages.info(request, MESSAGE_MAPPING_NOT_NEEDED)
        return redirect("datasets:upload_detail", workspace_slug=workspace.slug, upload_id=upload.pk)
    columns = selectors.upload_review_columns(upload=upload)
    sniff = upload.sniff or {}
    kind = upload.kind or sniff.get("kind") or Kind.CUSTOM
    initial = {"kind": kind, **MappingForm.initial_from(upload.options)}
    form = MappingForm(request.POST or None, columns=columns, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            services.upload_confirm_mapping(
                upload=upload,
                user=request.user,
                mapping=form.mapping(),
                kind=form.cleaned_data["kind"],
                options=form.ingest_options(),
            )
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(request, MESSAGE_MAPPING_CONFIRMED.format(name=upload.original_name))
            return redirect("datasets:upload_detail", workspace_slug=workspace.slug, upload_id=upload.pk)
    context = {
        "workspace": workspace,
        "membership": membership,
        "upload": upload,
        "form": form,
        "sniff": selectors.upload_sniff_summary(upload=upload),
        "kind_fields": {
            kind: [[name, selectors.field_label(name)] for name in names]
            for kind, names in selectors.kind_field_choices_all().items()
        },
    }
    return render(request, "datasets/upload_mapping.html", context, status=400 if form.errors else 200)


@workspace_view(min_role=Role.ANALYST)
@require_POST
def upload_resniff(request: HttpRequest, membership: Membership, upload_id: int) -> HttpResponse:
    """The review page's "read it again" button: detect again with the chosen encoding / delimiter / header."""
    workspace = membership.workspace
    upload = selectors.upload_get(workspace=workspace, upload_id=upload_id)
    form = IngestOptionsForm(request.POST)
    if not form.is_valid():
        messages.error(request, ERROR_READ_OPTIONS)
        return redirect("datasets:upload_mapping", workspace_slug=workspace.slug, upload_id=upload.pk)
    try:
        services.upload_resniff(upload=upload, user=request.user, options=form.ingest_options())
    except ValidationError as error:
        messages.error(request, _error_message(error))
    else:
        messages.success(request, MESSAGE_RESNIFFED.format(name=upload.original_name))
    # The upload page follows the worker and reloads when the columns are ready for review.
    return redirect("datasets:upload_detail", workspace_slug=workspace.slug, upload_id=upload.pk)


@workspace_view(min_role=Role.ANALYST)
@require_POST
def upload_retry(request: HttpRequest, membership: Membership, upload_id: int) -> HttpResponse:
    upload = selectors.upload_get(workspace=membership.workspace, upload_id=upload_id)
    try:
        services.upload_retry(upload=upload, user=request.user)
    except ValidationError as error:
        messages.error(request, _error_message(error))
    else:
        messages.success(request, MESSAGE_RETRIED.format(name=upload.original_name))
    return redirect("datasets:upload_detail", workspace_slug=membership.workspace.slug, upload_id=upload.pk)


@workspace_view(min_role=Role.ANALYST)
@require_POST
def upload_cancel(request: HttpRequest, membership: Membership, upload_id: int) -> HttpResponse:
    upload = selectors.upload_get(workspace=membership.workspace, upload_id=upload_id)
    try:
        services.upload_cancel(upload=upload, user=request.user)
    except ValidationError as error:
        messages.error(request, _error_message(error))
    else:
        messages.success(request, MESSAGE_CANCELLED.format(name=upload.original_name))
    next_url = request.POST.get("next", "")
    if next_url == "upload":
        return redirect("datasets:upload", workspace_slug=membership.workspace.slug)
    return redirect("datasets:upload_detail", workspace_slug=membership.workspace.slug, upload_id=upload.pk)


@workspace_view()
@require_safe
def upload_history(request: HttpRequest, membership: Membership) -> HttpResponse:
    workspace = membership.workspace
    q = request.GET.get("q", "").strip()
    paginator = Paginator(selectors.upload_list(workspace=workspace, q=q), UPLOADS_PER_PAGE)
    page = paginator.get_page(request.GET.get("page"))
    context = {
        "workspace": workspace,
        "membership": membership,
        "page": page,
        "uploads": page.object_list,
        "q": q,
        "query_prefix": urlencode({"q": q}) + "&" if q else "",
        "can_upload": membership.has_role(Role.ANALYST),
    }
    return render(request, "datasets/uploads.html", context)


# --- one dataset ------------------------------------------------------------------------------------


@workspace_view()
@require_safe
def dataset_detail(request: HttpRequest, membership: Membership, dataset_id: int) -> HttpResponse:
    """The Preview tab: paged rows of the current version, sortable by any column, searchable."""
    dataset = selectors.dataset_get(workspace=membership.workspace, dataset_id=dataset_id)
    version = dataset.current_version
    page_raw = request.GET.get("page", "1")
    params = {
        "page": int(page_raw) if page_raw.isdigit() else 1,
        "per_page": selectors.preview_per_page(request.GET.get("per_page")),
        "sort": request.GET.get("sort", ""),
        "direction": request.GET.get("dir", "asc") or "asc",
        "q": request.GET.get("q", ""),
    }
    preview, error, status = None, "", 200
    if version is not None:
        try:
            preview = selectors.dataset_preview_rows(workspace=membership.workspace, version=version, **params)
        except selectors.PreviewError as bad:
            error, status = str(bad), 400
        except FileNotFoundError:
            error = selectors.ERROR_PREVIEW_MISSING
    context = _dataset_context(
        membership,
        dataset,
        "preview",
        preview=preview,
        preview_error=error,
        q=params["q"],
        per_page_choices=selectors.PREVIEW_PER_PAGE_CHOICES,
        per_page=params["per_page"],
    )
    return render(request, "datasets/detail.html", context, status=status)


@workspace_view()
@require_safe
def dataset_schema(request: HttpRequest, membership: Membership, dataset_id: int) -> HttpResponse:
    dataset = selectors.dataset_get(workspace=membership.workspace, dataset_id=dataset_id)
    version = dataset.current_version
    columns = selectors.dataset_schema(version=version) if version else []
    return render(request, "datasets/schema.html", _dataset_context(membership, dataset, "schema", columns=columns))


@workspace_view()
@require_safe
def dataset_receipt(request: HttpRequest, membership: Membership, dataset_id: int) -> HttpResponse:
    dataset = selectors.dataset_get(workspace=membership.workspace, dataset_id=dataset_id)
    version = _version_from_query(request, dataset)
    receipt = selectors.dataset_receipt(version=version) if version else None
    context = _dataset_context(membership, dataset, "receipt", receipt=receipt, receipt_version=version)
    return render(request, "datasets/receipt.html", context)


@workspace_view()
@require_safe
def dataset_versions(request: HttpRequest, membership: Membership, dataset_id: int) -> HttpResponse:
    dataset = selectors.dataset_get(workspace=membership.workspace, dataset_id=dataset_id)
    versions = selectors.dataset_version_list(dataset=dataset)
    context = _dataset_context(membership, dataset, "versions", versions=versions)
    return render(request, "datasets/versions.html", context)


@workspace_view()
@require_safe
def dataset_download_original(request: HttpRequest, membership: Membership, dataset_id: int) -> HttpResponse:
    dataset = selectors.dataset_get(workspace=membership.workspace, dataset_id=dataset_id)
    version = _version_from_query(request, dataset)
    upload = selectors.dataset_original_upload(version=version) if version else None
    if upload is None:
        raise Http404(ERROR_NO_ORIGINAL)
    filename = _safe_filename(upload.original_name, f"{_slug_filename(dataset.name)}.csv")
    content_type = DOWNLOAD_TYPES.get(PurePath(filename).suffix.lower(), "application/octet-stream")
    _audit_download(request, dataset, version, "original")
    return _attachment(storage.file_open(upload.storage_key), filename=filename, content_type=content_type)


@workspace_view()
@require_safe
def dataset_download_rejected(request: HttpRequest, membership: Membership, dataset_id: int) -> HttpResponse:
    dataset = selectors.dataset_get(workspace=membership.workspace, dataset_id=dataset_id)
    version = _version_from_query(request, dataset)
    if version is None or not version.rejected_key or not storage.file_size(version.rejected_key):
        raise Http404(ERROR_NO_REJECTED)
    _audit_download(request, dataset, version, "rejected_rows")
    filename = f"{_slug_filename(dataset.name)}-v{version.number}-rejected-rows.csv"
    return _attachment(storage.file_open(version.rejected_key), filename=filename, content_type="text/csv")


@workspace_view()
@require_safe
def dataset_download_receipt(request: HttpRequest, membership: Membership, dataset_id: int) -> HttpResponse:
    dataset = selectors.dataset_get(workspace=membership.workspace, dataset_id=dataset_id)
    version = _version_from_query(request, dataset)
    if version is None:
        raise Http404
    _audit_download(request, dataset, version, "receipt")
    body = json.dumps(version.receipt or {}, ensure_ascii=False, indent=2, default=str).encode()
    response = HttpResponse(body, content_type="application/json; charset=utf-8")
    filename = f"{_slug_filename(dataset.name)}-v{version.number}-receipt.json"
    response["Content-Disposition"] = content_disposition_header(as_attachment=True, filename=filename)
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "private, no-store"
    return response


@workspace_view(min_role=Role.ANALYST)
@require_http_methods(GET_POST)
def dataset_rename(request: HttpRequest, membership: Membership, dataset_id: int) -> HttpResponse:
    dataset = selectors.dataset_get(workspace=membership.workspace, dataset_id=dataset_id)
    _require_manage(membership, dataset)
    form = DatasetRenameForm(request.POST or None, initial={"name": dataset.name})
    if request.method == "POST" and form.is_valid():
        try:
            services.dataset_rename(dataset=dataset, user=request.user, name=form.cleaned_data["name"])
        except ValidationError as error:
            form.add_error("name", error)
        else:
            dataset.refresh_from_db(fields=["name"])
            messages.success(request, MESSAGE_RENAMED.format(name=dataset.name))
            return redirect(dataset)
    context = _dataset_context(membership, dataset, "rename", form=form)
    return render(request, "datasets/rename.html", context, status=400 if form.errors else 200)


@workspace_view(min_role=Role.ANALYST)
@require_http_methods(GET_POST)
def dataset_delete(request: HttpRequest, membership: Membership, dataset_id: int) -> HttpResponse:
    dataset = selectors.dataset_get(workspace=membership.workspace, dataset_id=dataset_id)
    _require_manage(membership, dataset)
    if request.method == "POST":
        name = dataset.name
        services.dataset_delete(dataset=dataset, user=request.user)
        messages.success(request, MESSAGE_DELETED.format(name=name))
        return redirect("datasets:list", workspace_slug=membership.workspace.slug)
    versions = selectors.dataset_version_list(dataset=dataset)
    context = _dataset_context(membership, dataset, "delete", version_count=versions.count())
    return render(request, "datasets/delete.html", context)


@workspace_view(min_role=Role.ANALYST)
@require_http_methods(GET_POST)
def dataset_remap(request: HttpRequest, membership: Membership, dataset_id: int) -> HttpResponse:
    """Re-map the current version's columns: the original file is loaded again into a new version."""
    dataset = selectors.dataset_get(workspace=membership.workspace, dataset_id=dataset_id)
    _require_manage(membership, dataset)
    version, source, blocked = selectors.dataset_remap_source(dataset=dataset)
    form = None
    if source is not None:
        columns = selectors.review_columns(sniff=source.sniff or {}, confirmed=version.mapping or {})
        initial = {"kind": dataset.kind, **MappingForm.initial_from(source.options)}
        form = RemapForm(request.POST or None, columns=columns, initial=initial)
    if request.method == "POST" and form is not None and form.is_valid():
        try:
            remap = services.dataset_remap(
                dataset=dataset,
                user=request.user,
                mapping=form.mapping(),
                kind=form.cleaned_data["kind"],
                options=form.ingest_options(),
            )
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(request, MESSAGE_REMAPPED.format(name=dataset.name))
            return redirect("datasets:upload_detail", workspace_slug=membership.workspace.slug, upload_id=remap.pk)
    context = _dataset_context(
        membership,
        dataset,
        "remap",
        form=form,
        blocked=blocked,
        source=source,
        kind_fields={
            kind: [[name, selectors.field_label(name)] for name in names]
            for kind, names in selectors.kind_field_choices_all().items()
        },
    )
    status = 400 if (form is not None and form.errors) or (request.method == "POST" and form is None) else 200
    return render(request, "datasets/remap.html", context, status=status)


@workspace_view(min_role=Role.ANALYST)
@require_POST
def dataset_version_restore(request: HttpRequest, membership: Membership, dataset_id: int, version_id: int):
    dataset = selectors.dataset_get(workspace=membership.workspace, dataset_id=dataset_id)
    version = selectors.dataset_version_get(dataset=dataset, version_id=version_id)
    _require_manage(membership, dataset)
    try:
        services.dataset_version_restore(dataset=dataset, version=version, user=request.user)
    except ValidationError as error:
        messages.error(request, _error_message(error))
    else:
        messages.success(request, MESSAGE_VERSION_RESTORED.format(number=version.number))
    return redirect("datasets:versions", workspace_slug=membership.workspace.slug, dataset_id=dataset.pk)


@workspace_view(min_role=Role.ANALYST)
@require_POST
def dataset_version_delete(request: HttpRequest, membership: Membership, dataset_id: int, version_id: int):
    dataset = selectors.dataset_get(workspace=membership.workspace, dataset_id=dataset_id)
    version = selectors.dataset_version_get(dataset=dataset, version_id=version_id)
    _require_manage(membership, dataset)
    number = version.number
    try:
        services.dataset_version_delete(dataset=dataset, version=version, user=request.user)
    except ValidationError as error:
        messages.error(request, _error_message(error))
    else:
        messages.success(request, MESSAGE_VERSION_DELETED.format(number=number))
    return redirect("datasets:versions", workspace_slug=membership.workspace.slug, dataset_id=dataset.pk)
