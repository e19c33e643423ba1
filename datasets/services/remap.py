"""Reading an upload again: re-sniff it before review, or re-map a loaded dataset into a new version.

    upload_resniff:  NEEDS_MAPPING --(new read options)--> QUEUED -> SNIFFING -> NEEDS_MAPPING (review again)
    dataset_remap:   the current version's original file -> a NEW upload, mapping confirmed,
                     mode=replace -> PENDING -> QUEUED -> LOADING -> READY (a new DatasetVersion)

Why a re-map is a new Upload row rather than the old row claimed again: the old row is the history
of the earlier version (its receipt, its READY status, the version it produced); turning it back
into QUEUED would rewrite that history, and a failed re-map would show the original upload as
failed. A new row keeps every existing invariant (one upload -> at most one version, the upload
page, retry and cancel just work).

Its bytes: a hard link to the original's stored file under a fresh key (a full copy where the
filesystem has no links). Each row then owns its key outright - cancelling the re-map or the
dataset's deletion removes one name without pulling the file from under the other - and a 2 GB
file costs no second 2 GB of disk.

Its hash: NULL. The (workspace, sha256) unique constraint exists to offer the existing dataset
when the same bytes are *uploaded* twice; a re-map is the same bytes on purpose, and the original
row keeps the hash, so dedup of future uploads is unchanged. `options["remap_of"]` marks the row
(upload_retry accepts it without a hash; publish may change the dataset's kind).
"""

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.template.defaultfilters import filesizeformat
from django.utils import timezone

from audit.services import audit_record
from datasets import storage
from datasets.ingest.mapping import normalize_header
from datasets.models import ColumnMapping, Dataset, DatasetVersion, Kind, Upload, UploadMode, UploadStatus
from datasets.services import errors
from datasets.services.common import (
    ENGINE_OPTION_KEYS,
    IGNORE_FIELD,
    READ_OPTION_KEYS,
    REMAP_OF,
    REVIEW_REQUESTED,
    json_safe,
)
from datasets.services.enqueue import upload_enqueue_on_commit
from datasets.services.uploads import _mapping_clean, _workspace_usage
from workspaces.models import Workspace

# What a re-map may change besides the mapping: how values are loaded, not how the file is split
# into columns (the mapping names the columns as they were read; new read options mean re-upload).
REMAP_OPTION_KEYS = (*(k for k in ENGINE_OPTION_KEYS if k not in READ_OPTION_KEYS), "missing_markers")


def upload_resniff(*, upload: Upload, user, options: dict | None = None) -> Upload:
    """NEEDS_MAPPING -> QUEUED: detect the file again with the user's read overrides, then review again.

    `options` replaces every engine override of the upload (encoding, delimiter, has_header,
    date_order, keep_duplicates, ...): a key left out means "detect" again, so a wrong encoding
    chosen earlier can be taken back. The worker parks the upload in NEEDS_MAPPING again even when
    it is now confident: the user asked to see the columns.
    """
    chosen = {k: v for k, v in (options or {}).items() if k in ENGINE_OPTION_KEYS and v not in (None, "")}
    kept = {k: v for k, v in (upload.options or {}).items() if k not in ENGINE_OPTION_KEYS}
    merged = json_safe({**kept, **chosen, REVIEW_REQUESTED: True})
    now = timezone.now()
    with transaction.atomic():
        updated = Upload.objects.filter(
            pk=upload.pk, workspace_id=upload.workspace_id, status=UploadStatus.NEEDS_MAPPING
        ).update(
            status=UploadStatus.QUEUED,
            options=merged,
            sniff={},
            mapping={},
            mapping_confirmed=False,
            attempts=0,
            step="",
            bytes_processed=0,
            rows_processed=0,
            enqueued_at=None,
            error_code="",
            error_message="",
            updated_at=now,
        )
        if not updated:
            raise ValidationError(errors.ERROR_NOT_RESNIFFABLE)
        audit_record(
            action="upload.resniffed",
            actor=user,
            workspace=upload.workspace,
            target=upload,
            details={"options": json_safe({k: chosen[k] for k in sorted(chosen)})},
        )
        upload.refresh_from_db()
        upload_enqueue_on_commit(upload=upload)
    return upload


def _link_or_copy(source_key: str, target_key: str) -> None:
    storage.key_copy(source_key, target_key)


def _remap_source(dataset: Dataset) -> tuple[DatasetVersion, Upload]:
    """The current version and its original upload, both in the dataset's workspace, bytes present."""
    version = (
        DatasetVersion.objects.filter(
            pk=dataset.current_version_id, dataset_id=dataset.pk, workspace_id=dataset.workspace_id
        ).first()
        if dataset.current_version_id
        else None
    )
    if version is None:
        raise ValidationError(errors.ERROR_REMAP_NO_VERSION)
    if (version.receipt or {}).get("append"):
        raise ValidationError(errors.ERROR_REMAP_APPENDED)
    source = Upload.objects.filter(pk=version.upload_id, workspace_id=dataset.workspace_id).first()
    if source is None or not source.storage_key or not storage.file_size(source.storage_key):
        raise ValidationError(errors.ERROR_REMAP_NO_ORIGINAL)
    if not (source.sniff or {}).get("columns"):
        raise ValidationError(errors.ERROR_REMAP_NO_COLUMNS)
    return version, source


def dataset_remap(*, dataset: Dataset, user, mapping: dict, kind: str, options: dict | None = None) -> Upload:
    """Load the current version's original file again with a new mapping: a new upload, replacing.

    `mapping` is {column: {"field", "type"}} over the original's sniffed columns (columns left out
    keep the current version's choice); `options` may change only how values are loaded
    (REMAP_OPTION_KEYS); how the file is read stays as it was. The new version is published
    when a worker has loaded it; until then the current version stays current.
    Who may re-map (owner, or the analyst who uploaded the dataset) is the view's check.
    """
    if kind not in Kind.values:
        raise ValidationError(errors.ERROR_KIND_INVALID)
    version, source = _remap_source(dataset)
    columns = [str(column["name"]) for column in source.sniff["columns"]]
    current = {c: e for c, e in (version.mapping or {}).items() if isinstance(e, dict)}
    kept = {
        c: {"field": current.get(c, {}).get("field") or "", "type": current.get(c, {}).get("type") or ""}
        for c in columns
    }
    cleaned = {**kept, **_mapping_clean(mapping, columns)}
    read_as_before = {k: v for k, v in (source.options or {}).items() if k not in REMAP_OPTION_KEYS}
    load_choices = {k: v for k, v in (options or {}).items() if k in REMAP_OPTION_KEYS and v not in (None, "")}
    merged_options = json_safe({**read_as_before, **load_choices, REMAP_OF: source.pk})
    merged_options.pop(REVIEW_REQUESTED, None)
    workspace = dataset.workspace
    key = storage.upload_key_new(workspace_id=workspace.pk)
    try:
        _link_or_copy(source.storage_key, key)
    except FileNotFoundError:
        raise ValidationError(errors.ERROR_REMAP_NO_ORIGINAL) from None
    try:
        with transaction.atomic():
            # The same quota as an upload (the new version's Parquet will take space too), serialised
            # per workspace like upload_start so two requests can't both squeeze in.
            Workspace.objects.select_for_update().filter(pk=workspace.pk).first()
            used_bytes, used_count = _workspace_usage(workspace)
            if used_count >= settings.DATASETS_WORKSPACE_MAX_UPLOADS:
                raise ValidationError(errors.ERROR_QUOTA_COUNT.format(limit=settings.DATASETS_WORKSPACE_MAX_UPLOADS))
            if used_bytes + source.size_bytes > settings.DATASETS_WORKSPACE_QUOTA_BYTES:
                limit = filesizeformat(settings.DATASETS_WORKSPACE_QUOTA_BYTES)
                raise ValidationError(errors.ERROR_QUOTA_BYTES.format(limit=limit))
            # The dataset may have been deleted (or its current version switched) since the page was read.
            locked = Dataset.objects.select_for_update().filter(pk=dataset.pk, workspace_id=workspace.pk).first()
            if locked is None or locked.current_version_id != version.pk:
                raise ValidationError(errors.ERROR_REMAP_CHANGED)
            remap = Upload.objects.create(
                workspace=workspace,
                created_by=user if getattr(user, "is_authenticated", False) else None,
                original_name=source.original_name,
                storage_key=key,
                size_bytes=source.size_bytes,
                received_bytes=source.size_bytes,
                sha256=None,
                kind=kind,
                mode=UploadMode.REPLACE,
                dataset=locked,
                dataset_name=locked.name,
                options=merged_options,
                # The same bytes read the same way: the original's detection (columns, detected
                # types, samples) stays true, and the pipeline compares the chosen types against it.
                sniff=source.sniff,
                mapping=cleaned,
                mapping_confirmed=True,
                status=UploadStatus.PENDING,
            )
            ColumnMapping.objects.update_or_create(
                workspace=workspace,
                kind=kind,
                defaults={"mapping": {normalize_header(c): e for c, e in cleaned.items()}, "updated_by": user},
            )
            audit_record(
                action="dataset.remapped",
                actor=user,
                workspace=workspace,
                target=locked,
                details={
                    "upload_id": remap.pk,
                    "from_upload_id": source.pk,
                    "from_version": version.number,
                    "kind": kind,
                    "mapped": sum(1 for e in cleaned.values() if e["field"] not in ("", IGNORE_FIELD)),
                },
            )
            upload_enqueue_on_commit(upload=remap)
    except BaseException:
        # No row points at the new name: remove it (the original keeps its own name and bytes).
        storage.key_delete(key)
        raise
    remap.refresh_from_db()
    return remap
