"""Uploads from the browser (chunks), a path or a file-like, up to the point a worker takes over.

RECEIVING (chunks arrive) -> PENDING (all bytes stored, sha256 known) -> QUEUED (task published).
Every status change is a compare-and-set UPDATE; the (workspace, sha256) unique constraint makes
"same bytes twice in one workspace" race-safe (SECURITY.md T-UP-04).
"""

import hashlib
import logging
import tempfile
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import BinaryIO

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F, Q, Sum
from django.template.defaultfilters import filesizeformat
from django.utils import timezone

from audit.services import audit_record
from datasets import hashing, storage
from datasets.ingest import types as engine_types
from datasets.ingest.fields import FIELDS
from datasets.ingest.mapping import normalize_header
from datasets.models import (
    ACTIVE_STATUSES,
    ColumnMapping,
    Dataset,
    DatasetVersion,
    Kind,
    Upload,
    UploadMode,
    UploadStatus,
)
from datasets.services import errors
from datasets.services.common import IGNORE_FIELD, REMAP_OF, display_name_clean, json_safe
from datasets.services.enqueue import upload_enqueue_on_commit
from workspaces.models import Workspace

logger = logging.getLogger(__name__)

HASH_BUFFER_BYTES = 1 << 20
CANONICAL_FIELDS = frozenset(spec.name for spec in FIELDS)


@dataclass(frozen=True)
class FinishResult:
    upload: Upload
    duplicate_of: Upload | None = None


def _workspace_usage(workspace: Workspace) -> tuple[int, int]:
    """(bytes stored, uploads counted) for the quota: originals kept plus published versions."""
    uploads = Upload.objects.for_workspace(workspace).exclude(status=UploadStatus.CANCELLED)
    upload_bytes = uploads.aggregate(total=Sum("size_bytes"))["total"] or 0
    version_bytes = DatasetVersion.objects.for_workspace(workspace).aggregate(total=Sum("size_bytes"))["total"] or 0
    return upload_bytes + version_bytes, uploads.count()


def upload_start(
    *,
    workspace: Workspace,
    user,
    original_name: str,
    size_bytes: int,
    kind: str = "",
    mode: str = UploadMode.NEW,
    dataset: Dataset | None = None,
    dataset_name: str = "",
    client_fingerprint: str = "",
    options: dict | None = None,
) -> Upload:
    """A RECEIVING upload ready for chunks, or the caller's unfinished one with the same fingerprint (resume).

    Checks the size limit, the workspace's storage and count quotas (T-UP-05) and that a target
    dataset is in the same workspace. The storage key is ours; `original_name` is only displayed.
    """
    size_bytes = int(size_bytes)
    if size_bytes < 0 or size_bytes > settings.DATASETS_MAX_UPLOAD_BYTES:
        limit = filesizeformat(settings.DATASETS_MAX_UPLOAD_BYTES)
        raise ValidationError(errors.ERROR_FILE_TOO_LARGE.format(limit=limit))
    if kind and kind not in Kind.values:
        raise ValidationError(errors.ERROR_KIND_INVALID)
    if mode not in UploadMode.values:
        raise ValidationError(errors.ERROR_MODE_INVALID)
    if mode != UploadMode.NEW and dataset is None:
        raise ValidationError(errors.ERROR_DATASET_REQUIRED)
    if dataset is not None and dataset.workspace_id != workspace.pk:
        raise ValidationError(errors.ERROR_DATASET_OTHER_WORKSPACE)
    fingerprint = (client_fingerprint or "")[:200]
    with transaction.atomic():
        # Serialise uploads of one workspace while the quota is checked (two starts can't both squeeze in).
        Workspace.objects.select_for_update().filter(pk=workspace.pk).first()
        if fingerprint:
            resumable = (
                Upload.objects.for_workspace(workspace)
                .filter(created_by=user, client_fingerprint=fingerprint, status=UploadStatus.RECEIVING)
                .filter(size_bytes=size_bytes)
                .first()
            )
            if resumable is not None:
                return resumable
        used_bytes, used_count = _workspace_usage(workspace)
        if used_count >= settings.DATASETS_WORKSPACE_MAX_UPLOADS:
            raise ValidationError(errors.ERROR_QUOTA_COUNT.format(limit=settings.DATASETS_WORKSPACE_MAX_UPLOADS))
        if used_bytes + size_bytes > settings.DATASETS_WORKSPACE_QUOTA_BYTES:
            raise ValidationError(
                errors.ERROR_QUOTA_BYTES.format(limit=filesizeformat(settings.DATASETS_WORKSPACE_QUOTA_BYTES))
            )
        return Upload.objects.create(
            workspace=workspace,
            created_by=user if getattr(user, "is_authenticated", False) else None,
            original_name=display_name_clean(original_name),
            storage_key=storage.upload_key_new(workspace_id=workspace.pk),
            size_bytes=size_bytes,
            client_fingerprint=fingerprint,
            kind=kind,
            mode=mode,
            dataset=dataset if mode != UploadMode.NEW else None,
            dataset_name=(dataset_name or "").strip()[:200],
            options=json_safe(dict(options or {})),
            status=UploadStatus.RECEIVING,
        )


def upload_append_chunk(*, upload: Upload, offset: int, stream: BinaryIO, length: int) -> Upload:
    """Store `length` bytes read from `stream` at `offset`; offset must be where the stored part ends.

    The body is spooled to a temp file first (read in pieces, never whole) so a slow client never
    holds the row lock; then, under the lock, the offset is checked and the bytes appended.
    Raises ChunkOffsetMismatch (with `.expected`) when the client is out of step.
    """
    offset, length = int(offset), int(length)
    if offset < 0 or length < 0 or offset + length > upload.size_bytes:
        raise ValidationError(errors.ERROR_CHUNK_PAST_END)
    with tempfile.TemporaryFile(dir=settings.FILE_UPLOAD_TEMP_DIR) as spool:
        remaining = length
        while remaining:
            block = stream.read(min(HASH_BUFFER_BYTES, remaining))
            if not block:
                break
            spool.write(block)
            remaining -= len(block)
        if remaining:
            raise ValidationError(errors.ERROR_CHUNK_INCOMPLETE)
        spool.seek(0)
        with transaction.atomic():
            locked = Upload.objects.select_for_update().get(pk=upload.pk, workspace_id=upload.workspace_id)
            if locked.status != UploadStatus.RECEIVING:
                raise ValidationError(errors.ERROR_NOT_RECEIVING)
            if offset != locked.received_bytes:
                raise ChunkOffsetMismatch(locked.received_bytes)
            hasher = _hasher_resume(locked, offset)
            storage.part_write_at(
                locked.storage_key, offset=offset, source=spool, on_block=hasher.update if hasher else None
            )
            locked.received_bytes = offset + length
            _hasher_keep(locked, hasher)
            locked.save(update_fields=["received_bytes", "sha256_state", "hashed_bytes", "updated_at"])
    return locked


def _hasher_resume(upload: Upload, offset: int) -> hashing.ResumableSha256 | None:
    """The running SHA-256 of the upload's first `offset` bytes, or None (finish will hash the file).

    Only bytes appended exactly where the saved state ends advance it; any gap or a state that
    does not check out drops incremental hashing for this upload (never a wrong hash).
    """
    if not hashing.available():
        return None
    if offset == 0:
        return hashing.ResumableSha256()
    if upload.sha256_state is None or upload.hashed_bytes != offset:
        return None
    try:
        return hashing.ResumableSha256.from_state(upload.sha256_state, length=offset)
    except hashing.StateError:
        logger.warning("upload %s: saved SHA-256 state rejected; hashing at finish", upload.pk)
        return None


def _hasher_keep(upload: Upload, hasher: hashing.ResumableSha256 | None) -> None:
    """Save the running hash on `upload` (not yet to the database) if it covers every received byte."""
    if hasher is not None and hasher.length == upload.received_bytes:
        upload.sha256_state, upload.hashed_bytes = hasher.state(), hasher.length
    else:
        upload.sha256_state, upload.hashed_bytes = None, 0


ChunkOffsetMismatch = errors.ChunkOffsetMismatch


def _sha256_of(key: str) -> str:
    digest = hashlib.sha256()
    with storage.part_open(key) as handle:
        while block := handle.read(HASH_BUFFER_BYTES):
            digest.update(block)
    return digest.hexdigest()


def _sha256_incremental(upload: Upload) -> str | None:
    """The digest from the state saved while the chunks arrived, when it covers the whole file."""
    if upload.sha256_state is None or not hashing.available():
        return None
    if not (upload.hashed_bytes == upload.received_bytes == upload.size_bytes):
        return None
    try:
        return hashing.ResumableSha256.from_state(upload.sha256_state, length=upload.hashed_bytes).hexdigest()
    except hashing.StateError:
        return None


def _sha256_final(upload: Upload) -> str:
    """SHA-256 of the stored upload: from the running state, else one streaming pass over the file."""
    incremental = _sha256_incremental(upload)
    if incremental is not None:
        return incremental
    logger.info("upload %s: no complete running SHA-256; hashing the stored file", upload.pk)
    return _sha256_of(upload.storage_key)


def _duplicate_of(upload: Upload, sha256: str) -> Upload | None:
    return (
        Upload.objects.for_workspace(upload.workspace)
        .filter(sha256=sha256)
        .exclude(status__in=[UploadStatus.FAILED, UploadStatus.CANCELLED])
        .exclude(pk=upload.pk)
        .select_related("dataset")
        .first()
    )


def upload_finish(*, upload: Upload, enqueue: bool = True) -> FinishResult:
    """All bytes are in: hash them, RECEIVING -> PENDING, and enqueue on commit.

    Same bytes already in this workspace (the unique constraint, race-safe): this upload becomes
    CANCELLED("duplicate"), its bytes are deleted, and `duplicate_of` is the existing upload.
    Calling it again on a finished upload returns the same answer (a double-clicked button).
    """
    upload = Upload.objects.get(pk=upload.pk, workspace_id=upload.workspace_id)
    if upload.status != UploadStatus.RECEIVING:
        if upload.error_code == errors.CODE_DUPLICATE and upload.sha256:
            return FinishResult(upload, _duplicate_of(upload, upload.sha256))
        if upload.sha256:
            return FinishResult(upload, None)
        raise ValidationError(errors.ERROR_NOT_RECEIVING)
    if upload.received_bytes != upload.size_bytes:
        raise ValidationError(
            errors.ERROR_UPLOAD_INCOMPLETE.format(received=upload.received_bytes, size=upload.size_bytes)
        )
    storage.part_create(upload.storage_key)  # a 0-byte file never got a chunk
    stored = storage.part_size(upload.storage_key)
    if stored != upload.size_bytes:
        # The bytes on disk disagree with the row (a part lost, or chunks taken by another host):
        # neither a running hash nor an upload of the part would be right.
        raise ValidationError(errors.ERROR_UPLOAD_INCOMPLETE.format(received=stored, size=upload.size_bytes))
    sha256 = _sha256_final(upload)
    # Remote storage: the local part is streamed to its key now (a retried finish uploads it again).
    storage.part_commit(upload.storage_key)
    now = timezone.now()
    try:
        with transaction.atomic():
            claimed = Upload.objects.filter(pk=upload.pk, status=UploadStatus.RECEIVING).update(
                sha256=sha256, sha256_state=None, status=UploadStatus.PENDING, updated_at=now
            )
            if claimed:
                audit_record(
                    action="upload.received",
                    actor=upload.created_by,
                    workspace=upload.workspace,
                    target=upload,
                    details={"name": upload.original_name, "size_bytes": upload.size_bytes, "sha256": sha256},
                )
    except IntegrityError:
        existing = _duplicate_of(upload, sha256)
        Upload.objects.filter(pk=upload.pk, status=UploadStatus.RECEIVING).update(
            status=UploadStatus.CANCELLED,
            sha256=sha256,
            error_code=errors.CODE_DUPLICATE,
            error_message=errors.MESSAGE_DUPLICATE,
            finished_at=now,
            updated_at=now,
        )
        transaction.on_commit(partial(storage.key_delete, upload.storage_key))
        upload.refresh_from_db()
        return FinishResult(upload, existing)
    if not storage.is_local():
        transaction.on_commit(partial(storage.part_discard, upload.storage_key))
    upload.refresh_from_db()
    if claimed and enqueue:
        upload_enqueue_on_commit(upload=upload)
    return FinishResult(upload, None)


def upload_from_path(
    *,
    workspace: Workspace,
    user,
    path,
    original_name: str = "",
    kind: str = "",
    mode: str = UploadMode.NEW,
    dataset: Dataset | None = None,
    dataset_name: str = "",
    options: dict | None = None,
    enqueue: bool = True,
) -> FinishResult:
    """Start, copy and finish in one go, from a local path or a file-like (an UploadedFile).

    For `manage.py ingest`, the demo seed and the no-JS form. The source is trusted to be local,
    so it is copied straight onto the stored part (no per-chunk spooling).
    """
    if isinstance(path, str | Path):
        source_path = Path(path)
        size = source_path.stat().st_size
        name = original_name or source_path.name
        handle = source_path.open("rb")
    else:
        handle = path
        size = getattr(handle, "size", None)
        if size is None:
            handle.seek(0, 2)
            size = handle.tell()
        handle.seek(0)
        name = original_name or getattr(handle, "name", "") or ""
    try:
        upload = upload_start(
            workspace=workspace,
            user=user,
            original_name=name,
            size_bytes=size,
            kind=kind,
            mode=mode,
            dataset=dataset,
            dataset_name=dataset_name,
            options=options,
        )
        # The whole file is written from offset 0, hashed on the way.
        hasher = hashing.ResumableSha256() if hashing.available() else None
        written = storage.part_write_at(
            upload.storage_key, offset=0, source=handle, on_block=hasher.update if hasher else None
        )
    finally:
        if isinstance(path, str | Path):
            handle.close()
    upload.received_bytes = written
    _hasher_keep(upload, hasher)
    Upload.objects.filter(pk=upload.pk, status=UploadStatus.RECEIVING).update(
        received_bytes=written, sha256_state=upload.sha256_state, hashed_bytes=upload.hashed_bytes
    )
    if written != size:
        # The source changed size under us; the size check in finish refuses it.
        Upload.objects.filter(pk=upload.pk).update(size_bytes=max(size, written))
    return upload_finish(upload=upload, enqueue=enqueue)


def _mapping_clean(mapping: dict, columns: list[str]) -> dict[str, dict[str, str]]:
    if not isinstance(mapping, dict):
        raise ValidationError(errors.ERROR_MAPPING_INVALID.format(detail="not a mapping"))
    known = set(columns)
    cleaned: dict[str, dict[str, str]] = {}
    for column, raw in mapping.items():
        if column not in known:
            raise ValidationError(errors.ERROR_MAPPING_INVALID.format(detail=f"unknown column {column!r}"))
        entry = raw if isinstance(raw, dict) else {"field": raw}
        field = entry.get("field") or ""
        type_name = entry.get("type") or ""
        if field not in CANONICAL_FIELDS and field not in ("", IGNORE_FIELD):
            raise ValidationError(errors.ERROR_MAPPING_INVALID.format(detail=f"unknown field {field!r}"))
        if type_name and type_name not in engine_types.TYPES:
            raise ValidationError(errors.ERROR_MAPPING_INVALID.format(detail=f"unknown type {type_name!r}"))
        cleaned[column] = {"field": field, "type": type_name}
    taken = [entry["field"] for entry in cleaned.values() if entry["field"] not in ("", IGNORE_FIELD)]
    if len(taken) != len(set(taken)):
        raise ValidationError(errors.ERROR_MAPPING_INVALID.format(detail="a field is chosen for two columns"))
    return cleaned


def upload_confirm_mapping(*, upload: Upload, user, mapping: dict, kind: str, options: dict | None = None) -> Upload:
    """NEEDS_MAPPING -> QUEUED with the user's mapping; the mapping is saved for (workspace, kind).

    `mapping` is {column: {"field": canonical field, "" (custom attribute) or "__ignore__",
    "type": type name or ""}}. Columns left out keep the proposal.
    """
    if kind not in Kind.values:
        raise ValidationError(errors.ERROR_KIND_INVALID)
    columns = [column["name"] for column in (upload.sniff or {}).get("columns", [])]
    proposed = (upload.sniff or {}).get("proposed_mapping", {})
    kept = {
        c: {"field": proposed.get(c, {}).get("field") or "", "type": proposed.get(c, {}).get("type") or ""}
        for c in columns
    }
    cleaned = {**kept, **_mapping_clean(mapping, columns)}
    merged_options = json_safe({**(upload.options or {}), **(options or {})})
    now = timezone.now()
    with transaction.atomic():
        updated = Upload.objects.filter(
            pk=upload.pk, workspace_id=upload.workspace_id, status=UploadStatus.NEEDS_MAPPING
        ).update(
            status=UploadStatus.QUEUED,
            mapping=cleaned,
            mapping_confirmed=True,
            kind=kind,
            attempts=0,  # detection succeeded; the poison guard counts load attempts from here
            options=merged_options,
            step="",
            enqueued_at=None,
            updated_at=now,
        )
        if not updated:
            raise ValidationError(errors.ERROR_NOT_NEEDS_MAPPING)
        ColumnMapping.objects.update_or_create(
            workspace=upload.workspace,
            kind=kind,
            defaults={"mapping": {normalize_header(c): entry for c, entry in cleaned.items()}, "updated_by": user},
        )
        audit_record(
            action="upload.mapping_confirmed",
            actor=user,
            workspace=upload.workspace,
            target=upload,
            details={"kind": kind, "mapped": sum(1 for e in cleaned.values() if e["field"] not in ("", IGNORE_FIELD))},
        )
        upload.refresh_from_db()
        upload_enqueue_on_commit(upload=upload)
    return upload


def upload_retry(*, upload: Upload, user) -> Upload:
    """FAILED -> PENDING with a fresh attempt budget, and enqueue. A confirmed mapping is kept."""
    now = timezone.now()
    reset = {
        "status": UploadStatus.PENDING,
        "attempts": 0,
        "lease_owner": "",
        "lease_expires_at": None,
        "error_code": "",
        "error_message": "",
        "step": "",
        "bytes_processed": 0,
        "rows_processed": 0,
        "progress_at": None,
        "finished_at": None,
        "enqueued_at": None,
        "receipt": {},
        "updated_at": now,
    }
    if not upload.mapping_confirmed:
        reset.update(sniff={}, mapping={})  # detect again: the failure may have been in detection
    try:
        with transaction.atomic():
            # Only an upload that still has its bytes: a hashed one, or a re-map (which has no hash of
            # its own, see datasets.services.remap) whose bytes were not deleted with its dataset.
            has_bytes = Q(sha256__isnull=False) | (Q(options__has_key=REMAP_OF) & ~Q(storage_key=""))
            updated = Upload.objects.filter(
                has_bytes, pk=upload.pk, workspace_id=upload.workspace_id, status=UploadStatus.FAILED
            ).update(**reset)
            if not updated:
                raise ValidationError(errors.ERROR_NOT_RETRYABLE)
            audit_record(action="upload.retried", actor=user, workspace=upload.workspace, target=upload)
    except IntegrityError:
        # Back in the dedup constraint, and the same bytes were uploaded again meanwhile.
        raise ValidationError(errors.MESSAGE_DUPLICATE)
    upload.refresh_from_db()
    upload_enqueue_on_commit(upload=upload)
    return upload


def upload_cancel(*, upload: Upload, user) -> Upload:
    """Any active status, or FAILED -> CANCELLED, and the stored bytes are deleted.

    A worker holding it loses its lease (claim_version moves on). Cancelling a FAILED upload is
    how the user gives up on it (instead of retrying): its original file stops using the quota.
    """
    now = timezone.now()
    with transaction.atomic():
        updated = Upload.objects.filter(
            pk=upload.pk, workspace_id=upload.workspace_id, status__in=(*ACTIVE_STATUSES, UploadStatus.FAILED)
        ).update(
            status=UploadStatus.CANCELLED,
            error_code=errors.CODE_CANCELLED,
            error_message="",
            lease_owner="",
            lease_expires_at=None,
            claim_version=F("claim_version") + 1,
            finished_at=now,
            updated_at=now,
        )
        if not updated:
            raise ValidationError(errors.ERROR_NOT_CANCELLABLE)
        audit_record(action="upload.cancelled", actor=user, workspace=upload.workspace, target=upload)
        transaction.on_commit(partial(storage.key_delete, upload.storage_key))
    upload.refresh_from_db()
    return upload
