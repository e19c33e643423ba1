"""The worker side: claim an upload, sniff it, load it, publish a version (SECURITY.md §2.3).

    PENDING/QUEUED --claim--> SNIFFING --confident--> LOADING --publish--> READY
                                 |                       ^
                                 +--> NEEDS_MAPPING --confirm--> QUEUED --claim--+
    any claimed stage --engine refuses the file--> FAILED(engine code)
    claimed, lease expired --janitor re-enqueues--> claimed again (attempts + 1) ... attempts >= 3 -> FAILED

Rules that make this crash-safe:
- Status changes only through compare-and-set UPDATEs that name the expected status (and, for a
  worker, its lease owner and claim_version); 0 rows updated means someone else owns the upload.
- The attempt counter lives in the database: a file that kills its worker is claimed at most
  DATASETS_MAX_ATTEMPTS times, then FAILED("too_many_attempts").
- The engine's progress callback is the heartbeat: it saves progress and extends the lease; a
  lost lease raises LeaseLost inside the engine, which stops the load.
- A load writes into a per-claim staging directory; publish moves the files to fresh keys and
  points the dataset at the new version in one transaction. Readers see the old version or the
  new one, never half of one.

`upload.sniff` (JSON, for the review page) is the engine's SniffResult.to_dict() plus
`proposed_mapping` = {column: {"field", "type", "source": "saved"|"detected", "confidence"}}
and `saved_mapping_used` (bool).
"""

import logging
import os
import shutil
import socket
import time
import uuid
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.db import InterfaceError, OperationalError, transaction
from django.db.models import F, Max, Q
from django.utils import timezone

from audit.services import audit_record
from datasets import storage
from datasets.ingest import IngestError, IngestResult, Progress, ingest_file, sniff_file
from datasets.ingest import errors as engine_errors
from datasets.ingest.mapping import normalize_header
from datasets.models import (
    CLAIMED_STATUSES,
    ColumnMapping,
    Dataset,
    DatasetVersion,
    Kind,
    Upload,
    UploadMode,
    UploadStatus,
)
from datasets.services import errors
from datasets.services.common import (
    IGNORE_FIELD,
    REMAP_OF,
    REVIEW_REQUESTED,
    dataset_name_from_file,
    ingest_options,
    json_safe,
    lease_until,
)

logger = logging.getLogger(__name__)

APPEND_FILE = "combined.parquet"
PUBLISH_REBUILD_TRIES = 3


class PipelineRefused(Exception):
    """A refusal of ours (not the engine's): fails the upload with `code` and a user-facing message."""

    def __init__(self, code: str, message: str) -> None:
        self.code = code
        self.message = message
        super().__init__(f"{code}: {message}")


class _Rebuild(Exception):
    """The dataset's current version moved while we built an append: build again on the new one."""


def worker_identity(task_id: str) -> str:
    return f"{socket.gethostname()[:40]}:{os.getpid()}:{task_id}"[:100]


# --- claim ------------------------------------------------------------------------------------------


def _claim_target(upload: Upload) -> str:
    """Where a claim resumes: loading when the mapping is settled, else detection (cheap to redo)."""
    if upload.mapping_confirmed or (upload.status == UploadStatus.LOADING and upload.mapping):
        return UploadStatus.LOADING
    return UploadStatus.SNIFFING


def upload_claim(*, upload: Upload, task_id: str) -> Upload | None:
    """Take the upload for this worker, or return None (someone else has it, or it is done).

    Claimable: PENDING or QUEUED; a claimed stage whose lease expired (its worker died); or a
    claimed stage held under this same task id (the broker redelivered the message of a killed
    worker child, or Celery retries after a transient database error).
    """
    now = timezone.now()
    upload = Upload.objects.filter(pk=upload.pk, workspace_id=upload.workspace_id).first()
    if upload is None:
        return None
    claimable = (
        Q(status__in=[UploadStatus.PENDING, UploadStatus.QUEUED])
        | Q(status__in=CLAIMED_STATUSES, lease_expires_at__lt=now)
        | Q(status__in=CLAIMED_STATUSES, lease_owner__endswith=f":{task_id}")
    )
    current = Upload.objects.filter(claimable, pk=upload.pk, claim_version=upload.claim_version)
    if upload.attempts >= settings.DATASETS_MAX_ATTEMPTS:
        # The poison guard: this file was claimed (and its worker lost) too many times.
        current.update(
            status=UploadStatus.FAILED,
            error_code=errors.CODE_TOO_MANY_ATTEMPTS,
            error_message=errors.MESSAGE_TOO_MANY_ATTEMPTS.format(attempts=upload.attempts),
            lease_owner="",
            lease_expires_at=None,
            claim_version=F("claim_version") + 1,
            finished_at=now,
            updated_at=now,
        )
        return None
    target = _claim_target(upload)
    claimed = current.update(
        status=target,
        step=target,
        attempts=F("attempts") + 1,
        lease_owner=worker_identity(task_id),
        lease_expires_at=lease_until(),
        claim_version=F("claim_version") + 1,
        bytes_processed=0,
        rows_processed=0,
        progress_at=now,
        started_at=now,
        error_code="",
        error_message="",
        updated_at=now,
    )
    if not claimed:
        return None
    upload.refresh_from_db()
    return upload


def _ours(upload: Upload, *statuses: str):
    """The CAS filter of a worker that holds `upload`'s lease."""
    return Upload.objects.filter(
        pk=upload.pk,
        lease_owner=upload.lease_owner,
        claim_version=upload.claim_version,
        status__in=statuses or CLAIMED_STATUSES,
    )


class Heartbeat:
    """The engine's progress callback: saves progress and extends the lease every few seconds.

    Raises LeaseLost (inside the engine, which stops the load) when the row is no longer ours.
    """

    def __init__(self, upload: Upload) -> None:
        self.upload = upload
        self.every = settings.DATASETS_HEARTBEAT_SECONDS
        self.last = 0.0

    def __call__(self, progress: Progress) -> None:
        if time.monotonic() - self.last < self.every and progress.stage != "done":
            return
        self.beat(step=progress.stage, bytes_done=progress.bytes_done, rows_done=progress.rows_done)

    def beat(self, *, step: str, bytes_done: int | None = None, rows_done: int | None = None) -> None:
        self.last = time.monotonic()
        now = timezone.now()
        values = {"step": step[:40], "progress_at": now, "lease_expires_at": lease_until(), "updated_at": now}
        if bytes_done is not None:
            values["bytes_processed"] = bytes_done
        if rows_done is not None:
            values["rows_processed"] = rows_done
        if not _ours(self.upload).update(**values):
            raise errors.LeaseLost(f"upload {self.upload.pk}: lease lost")


# --- sniff ------------------------------------------------------------------------------------------


def _proposed_mapping(sniff: dict, saved: ColumnMapping | None) -> tuple[dict, bool]:
    """{column: {field, type, source, confidence}}; a saved mapping for this kind wins per column."""
    saved_entries = saved.mapping if saved is not None else {}
    proposed = {}
    covered = bool(saved_entries)
    for column in sniff["columns"]:
        entry = saved_entries.get(normalize_header(column["name"]))
        if entry is not None:
            proposed[column["name"]] = {
                "field": entry.get("field") or "",
                "type": entry.get("type") or column["type"],
                "source": "saved",
                "confidence": 1.0,
            }
        else:
            covered = False
            proposed[column["name"]] = {
                "field": column.get("field") or "",
                "type": column["type"],
                "source": "detected",
                "confidence": column.get("field_confidence", 0.0),
            }
    return proposed, covered


def _sniff_stage(upload: Upload, heartbeat: Heartbeat) -> bool:
    """Detect format, kind and mapping. True: go on loading now; False: parked in NEEDS_MAPPING."""
    heartbeat.beat(step="sniffing")
    with storage.upload_local(upload) as original:
        result = sniff_file(original, ingest_options(upload.options, kind=upload.kind))
    sniff = json_safe(result.to_dict())
    kind = upload.kind or result.kind
    saved = ColumnMapping.objects.for_workspace(upload.workspace).filter(kind=kind).first()
    proposed, covered = _proposed_mapping(sniff, saved if kind != Kind.CUSTOM else None)
    sniff["proposed_mapping"] = proposed
    sniff["saved_mapping_used"] = covered
    unsure_encoding = engine_errors.W_ENCODING_UNCERTAIN in {w["code"] for w in sniff.get("warnings", [])}
    confident = covered or (result.mapping_confident and not unsure_encoding)
    # No data rows in the sample: nothing to review; the load gives the real verdict (often NO_DATA).
    confident = confident or result.sample_rows == 0
    now = timezone.now()
    go_on = confident or (upload.options or {}).get("accept_mapping")
    if go_on and not (upload.options or {}).get(REVIEW_REQUESTED):
        moved = _ours(upload, UploadStatus.SNIFFING).update(
            status=UploadStatus.LOADING,
            step="loading",
            sniff=sniff,
            mapping=proposed,
            lease_expires_at=lease_until(),
            progress_at=now,
            updated_at=now,
        )
        if not moved:
            raise errors.LeaseLost(f"upload {upload.pk}: lease lost after sniffing")
        upload.refresh_from_db()
        return True
    parked = _ours(upload, UploadStatus.SNIFFING).update(
        status=UploadStatus.NEEDS_MAPPING,
        step="needs_mapping",
        sniff=sniff,
        lease_owner="",
        lease_expires_at=None,
        progress_at=now,
        updated_at=now,
    )
    if not parked:
        raise errors.LeaseLost(f"upload {upload.pk}: lease lost after sniffing")
    return False


# --- load -------------------------------------------------------------------------------------------


def _engine_mapping(upload: Upload) -> tuple[dict[str, str | None], dict[str, str], list[str]]:
    """(column -> canonical field for the engine, forced column types, ignored columns).

    Only types the user (or a saved mapping) changed are forced: the sniffed type comes from a
    sample, and forcing it would reject rows the full-file inference would have typed correctly.
    """
    detected = {c["name"]: c["type"] for c in (upload.sniff or {}).get("columns", [])}
    fields: dict[str, str | None] = {}
    forced: dict[str, str] = {}
    ignored: list[str] = []
    for column, entry in (upload.mapping or {}).items():
        field = entry.get("field") or ""
        if field == IGNORE_FIELD:
            ignored.append(column)
            fields[column] = None
        else:
            fields[column] = field or None
        wanted = entry.get("type") or ""
        if wanted and wanted != detected.get(column):
            forced[column] = wanted
    return fields, forced, ignored


def _drop_columns(parquet_path: Path, ignored: list[str]) -> None:
    """Rewrite the Parquet without the columns the user chose to ignore (streamed, batch by batch)."""
    source = pq.ParquetFile(parquet_path)
    keep = [name for name in source.schema_arrow.names if name not in set(ignored)]
    schema = pa.schema([source.schema_arrow.field(name) for name in keep])
    tmp = parquet_path.with_suffix(".keep.parquet")
    with pq.ParquetWriter(tmp, schema, compression="zstd") as writer:
        for batch in source.iter_batches(columns=keep):
            writer.write_batch(batch)
    tmp.replace(parquet_path)


def _version_columns(result: IngestResult, ignored: list[str]) -> list[dict]:
    return [
        json_safe(
            {
                "name": c.name,
                "type": c.type,
                "format": c.format,
                "description": c.description,
                "field": c.field or "",
                "null_count": c.null_count,
                "null_rate": c.null_rate,
                "source": c.source,
            }
        )
        for c in result.receipt.columns
        if c.name not in set(ignored)
    ]


def _duckdb(staging: Path) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect(config={"memory_limit": "512MB"})
    con.execute(f"SET temp_directory = '{(staging / 'duckdb_tmp').as_posix()}'")
    return con


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _append_build(*, base: DatasetVersion, new_parquet: Path, staging: Path, keep_duplicates: bool) -> dict:
    """The previous current version's rows followed by the new rows, as one Parquet (DuckDB COPY).

    Exact duplicate rows across both are dropped (first kept) unless the user keeps duplicates.
    """
    out = staging / APPEND_FILE
    old_path = storage.version_parquet_path(base)
    con = _duckdb(staging)
    try:
        described = con.execute(
            "SELECT column_name FROM (DESCRIBE SELECT * FROM read_parquet($old) "
            "UNION ALL BY NAME SELECT * FROM read_parquet($new))",
            {"old": str(old_path), "new": str(new_parquet)},
        ).fetchall()
        names = [row[0] for row in described]
        cols = ", ".join(_quote(n) for n in names)
        union = (
            "SELECT *, 0 AS __src, row_number() OVER () AS __rn FROM read_parquet($old) "
            "UNION ALL BY NAME SELECT *, 1 AS __src, row_number() OVER () AS __rn FROM read_parquet($new)"
        )
        dedup = "" if keep_duplicates else f"QUALIFY row_number() OVER (PARTITION BY {cols} ORDER BY __src, __rn) = 1"
        # Parameters can't name the output file in COPY; the path is ours (staging dir), quoted.
        target = str(out).replace("'", "''")
        copy = (
            f"COPY (SELECT {cols} FROM ({union}) {dedup} ORDER BY __src, __rn) "  # noqa: S608 - names quoted
            f"TO '{target}' (FORMAT parquet, COMPRESSION zstd)"
        )
        con.execute(
            copy,
            {"old": str(old_path), "new": str(new_parquet)},
        )
        nulls = con.execute(
            "SELECT "  # noqa: S608 - column names quoted by _quote
            + ", ".join(f"count(*) - count({_quote(n)})" for n in names)
            + " FROM read_parquet($out)",
            {"out": str(out)},
        ).fetchone()
    except duckdb.Error as exc:
        raise PipelineRefused(errors.CODE_APPEND_SCHEMA, errors.ERROR_APPEND_SCHEMA.format(detail=str(exc)[:200]))
    finally:
        con.close()
    rows = pq.ParquetFile(out).metadata.num_rows
    previous = base.row_count
    new_rows = pq.ParquetFile(new_parquet).metadata.num_rows
    return {
        "path": out,
        "rows": rows,
        "null_counts": dict(zip(names, nulls, strict=True)),
        "names": names,
        "receipt": {
            "previous_version": base.number,
            "previous_rows": previous,
            "new_rows": new_rows,
            "duplicates_removed": previous + new_rows - rows,
            "rows": rows,
        },
    }


def _load_stage(upload: Upload, heartbeat: Heartbeat, staging: Path) -> Upload:
    fields, forced, ignored = _engine_mapping(upload)
    kind = upload.kind or (upload.sniff or {}).get("kind") or Kind.CUSTOM
    options = ingest_options(upload.options, kind=kind, column_types=forced)
    heartbeat.beat(step="loading", bytes_done=0, rows_done=0)
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    with storage.upload_local(upload) as original:
        result = ingest_file(original, out_dir=staging, options=options, progress=heartbeat, mapping=fields or None)
    if result.single_pass:
        how = "single pass" + (", duplicates found after writing" if result.single_pass_dedup else "")
    else:
        how = "two passes: " + (result.single_pass_abandoned or result.fallback_reason or "single pass off")
    logger.info("upload %s: %s rows loaded (%s)", upload.pk, result.receipt.rows_loaded, how)
    heartbeat.beat(step="publishing", rows_done=result.receipt.rows_loaded)
    if ignored:
        _drop_columns(result.parquet_path, ignored)
    return _publish(upload, result, staging, kind=kind, ignored=ignored)


def _publish(upload: Upload, result: IngestResult, staging: Path, *, kind: str, ignored: list[str]) -> Upload:
    """Move the staged files to a fresh version prefix and make it current, all or nothing."""
    receipt = json_safe(result.receipt.to_dict())
    columns = _version_columns(result, ignored)
    for _ in range(PUBLISH_REBUILD_TRIES):
        data_file = result.parquet_path
        row_count = result.receipt.rows_loaded
        version_receipt = dict(receipt)
        version_columns = columns
        base = None
        if upload.mode == UploadMode.APPEND:
            dataset = Dataset.objects.filter(pk=upload.dataset_id, workspace_id=upload.workspace_id).first()
            base = dataset.current_version if dataset is not None else None
            if base is not None:
                built = _append_build(
                    base=base,
                    new_parquet=result.parquet_path,
                    staging=staging,
                    keep_duplicates=bool((upload.options or {}).get("keep_duplicates")),
                )
                data_file, row_count = built["path"], built["rows"]
                version_receipt["append"] = built["receipt"]
                version_columns = _append_columns(columns, base.columns, built)
        try:
            return _publish_once(
                upload,
                data_file=data_file,
                rejected_file=result.rejected_rows_path,
                row_count=row_count,
                columns=version_columns,
                receipt=version_receipt,
                base=base,
                kind=kind,
            )
        except _Rebuild:
            (staging / APPEND_FILE).unlink(missing_ok=True)
            continue
    raise PipelineRefused(errors.CODE_INTERNAL, errors.MESSAGE_INTERNAL)


def _append_columns(new_columns: list[dict], old_columns: list[dict], built: dict) -> list[dict]:
    by_name = {c["name"]: c for c in old_columns} | {c["name"]: c for c in new_columns}
    rows = built["rows"]
    out = []
    for name in built["names"]:
        column = dict(by_name.get(name, {"name": name, "type": "text", "field": ""}))
        column["null_count"] = int(built["null_counts"][name])
        column["null_rate"] = round(column["null_count"] / rows, 6) if rows else 0.0
        out.append(column)
    return out


def _publish_once(
    upload: Upload,
    *,
    data_file: Path,
    rejected_file: Path | None,
    row_count: int,
    columns: list[dict],
    receipt: dict,
    base: DatasetVersion | None,
    kind: str,
) -> Upload:
    prefix = ""
    try:
        with transaction.atomic():
            dataset = _dataset_for_publish(upload, kind=kind)
            if not _ours(upload, UploadStatus.LOADING).select_for_update().exists():
                raise errors.LeaseLost(f"upload {upload.pk}: lease lost before publishing")
            if upload.mode == UploadMode.APPEND and dataset.current_version_id != (base.pk if base else None):
                raise _Rebuild
            if (upload.options or {}).get(REMAP_OF) and kind in Kind.values and dataset.kind != kind:
                # A re-map may change the kind of data (the user chose it); a plain replace keeps it.
                dataset.kind = kind
                dataset.save(update_fields=["kind", "updated_at"])
            number = (dataset.versions.aggregate(top=Max("number"))["top"] or 0) + 1
            prefix = storage.version_prefix_new(workspace_id=upload.workspace_id, dataset_id=dataset.pk, number=number)
            # Files first, under a fresh prefix nobody references yet; the row makes them visible.
            staged = Path(data_file).parent
            keys = storage.files_move_into(source_dir=staged, prefix=prefix, names=[Path(data_file).name])
            rejected_key = ""
            if rejected_file is not None and Path(rejected_file).exists():
                rejected_key = storage.files_move_into(
                    source_dir=Path(rejected_file).parent, prefix=prefix, names=[Path(rejected_file).name]
                )[Path(rejected_file).name]
            parquet_key = keys[Path(data_file).name]
            version = DatasetVersion.objects.create(
                workspace_id=upload.workspace_id,
                dataset=dataset,
                number=number,
                upload=upload,
                created_by=upload.created_by,
                parquet_key=parquet_key,
                rejected_key=rejected_key,
                row_count=row_count,
                column_count=len(columns),
                columns=columns,
                mapping=upload.mapping or {},
                receipt=receipt,
                size_bytes=storage.file_size(parquet_key) + storage.file_size(rejected_key),
            )
            dataset.current_version = version
            dataset.save(update_fields=["current_version", "updated_at"])
            now = timezone.now()
            done = _ours(upload, UploadStatus.LOADING).update(
                status=UploadStatus.READY,
                step="done",
                dataset=dataset,
                version=version,
                receipt=receipt,
                rows_processed=row_count,
                lease_owner="",
                lease_expires_at=None,
                finished_at=now,
                progress_at=now,
                updated_at=now,
            )
            if done != 1:
                raise errors.LeaseLost(f"upload {upload.pk}: lease lost while publishing")
            audit_record(
                action="dataset.version_published",
                actor=upload.created_by,
                workspace=dataset.workspace,
                target=version,
                details={
                    "dataset_id": dataset.pk,
                    "dataset": dataset.name,
                    "version": number,
                    "upload_id": upload.pk,
                    "mode": upload.mode,
                    "rows": row_count,
                    "rows_rejected": receipt.get("rows_rejected", 0),
                },
            )
    except BaseException:
        # Rolled back: nothing points at these files; remove them so no half version lingers.
        if prefix:
            storage.prefix_delete(prefix)
        raise
    upload.refresh_from_db()
    return upload


def _dataset_for_publish(upload: Upload, *, kind: str) -> Dataset:
    if upload.mode == UploadMode.NEW and upload.dataset_id is None:
        return Dataset.objects.create(
            workspace_id=upload.workspace_id,
            name=upload.dataset_name or dataset_name_from_file(upload.original_name),
            kind=kind if kind in Kind.values else Kind.CUSTOM,
            created_by=upload.created_by,
        )
    dataset = (
        Dataset.objects.select_for_update()
        .filter(pk=upload.dataset_id, workspace_id=upload.workspace_id)
        .select_related("workspace")
        .first()
    )
    if dataset is None:
        raise PipelineRefused("dataset_deleted", "The dataset this file was adding to has been deleted.")
    return dataset


# --- the whole thing --------------------------------------------------------------------------------


def _fail(upload: Upload, *, code: str, message: str) -> None:
    now = timezone.now()
    _ours(upload).update(
        status=UploadStatus.FAILED,
        step="failed",
        error_code=code[:60],
        error_message=message,
        lease_owner="",
        lease_expires_at=None,
        finished_at=now,
        updated_at=now,
    )


def upload_process(*, upload: Upload, task_id: str | None = None) -> Upload | None:
    """Claim `upload` and run it as far as it goes (NEEDS_MAPPING, READY or FAILED). Idempotent.

    Returns the upload as it ended, or None when it could not be claimed. Transient database
    errors propagate (the task retries them); everything else ends the upload FAILED with a code.
    """
    task_id = task_id or f"inline-{uuid.uuid4().hex}"
    claimed = upload_claim(upload=upload, task_id=task_id)
    if claimed is None:
        return None
    staging = storage.staging_dir(upload_id=claimed.pk, claim_version=claimed.claim_version)
    storage.staging_purge_earlier_claims(upload_id=claimed.pk, claim_version=claimed.claim_version)
    heartbeat = Heartbeat(claimed)
    try:
        if claimed.status == UploadStatus.SNIFFING and not _sniff_stage(claimed, heartbeat):
            claimed.refresh_from_db()
            return claimed
        claimed = _load_stage(claimed, heartbeat, staging)
    except errors.LeaseLost:
        logger.warning("upload %s: lease lost; another worker owns it now", claimed.pk)
    except IngestError as exc:
        _fail(claimed, code=exc.code, message=exc.message)
    except PipelineRefused as exc:
        _fail(claimed, code=exc.code, message=exc.message)
    except SoftTimeLimitExceeded:
        _fail(claimed, code=errors.CODE_TIMEOUT, message=errors.MESSAGE_TIMEOUT)
    except (OperationalError, InterfaceError):
        raise  # transient: Celery's autoretry claims it again under the same task id
    except Exception:
        logger.exception("upload %s: unexpected error while ingesting", claimed.pk)
        _fail(claimed, code=errors.CODE_INTERNAL, message=errors.MESSAGE_INTERNAL)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    claimed.refresh_from_db()
    return claimed
