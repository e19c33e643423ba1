"""The datasets janitor (django-celery-beat, every minute; SECURITY.md §2.3 step 8).

- PENDING uploads never handed to the broker, or handed over more than 2 minutes ago (the broker
  was down, or the message was lost), are enqueued again; QUEUED ones after 30 minutes.
- Claimed uploads whose lease expired (their worker died) are enqueued again while they have
  attempts left, and FAILED("too_many_attempts") when they don't.
- Staging directories no live claim owns are deleted; RECEIVING uploads untouched for 24 hours
  are cancelled and their partial bytes deleted.

Idempotent: running it twice at once (two beats) only sends duplicate messages, and the
worker's compare-and-set claim lets exactly one of them run.
"""

import logging
import shutil
import time
from datetime import timedelta

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from datasets import storage
from datasets.models import CLAIMED_STATUSES, Upload, UploadStatus
from datasets.services import errors
from datasets.services.enqueue import upload_enqueue_safe

logger = logging.getLogger(__name__)

REQUEUE_PENDING_AFTER = timedelta(minutes=2)
REQUEUE_QUEUED_AFTER = timedelta(minutes=30)
ABANDON_RECEIVING_AFTER = timedelta(hours=24)
STAGING_MIN_AGE_SECONDS = 60
BATCH = 500
CODE_ABANDONED = "abandoned"
MESSAGE_ABANDONED = "The upload was not finished within a day and was discarded."


def _requeue_candidates(now):
    expired = Q(status__in=CLAIMED_STATUSES, lease_expires_at__lt=now, attempts__lt=settings.DATASETS_MAX_ATTEMPTS)
    pending = Q(status=UploadStatus.PENDING) & (
        Q(enqueued_at__isnull=True) | Q(enqueued_at__lt=now - REQUEUE_PENDING_AFTER)
    )
    queued = Q(status=UploadStatus.QUEUED) & (
        Q(enqueued_at__isnull=True) | Q(enqueued_at__lt=now - REQUEUE_QUEUED_AFTER)
    )
    # An expired lease is re-sent at most every 2 minutes, however long no worker picks it up.
    expired &= (
        Q(enqueued_at__isnull=True)
        | Q(enqueued_at__lt=now - REQUEUE_PENDING_AFTER)
        | Q(lease_expires_at__gt=now - REQUEUE_PENDING_AFTER)
    )
    return Upload.objects.filter(pending | queued | expired).order_by("created_at").values_list("pk", "workspace_id")


def _fail_poison(now) -> int:
    return Upload.objects.filter(
        status__in=CLAIMED_STATUSES, lease_expires_at__lt=now, attempts__gte=settings.DATASETS_MAX_ATTEMPTS
    ).update(
        status=UploadStatus.FAILED,
        step="failed",
        error_code=errors.CODE_TOO_MANY_ATTEMPTS,
        error_message=errors.MESSAGE_TOO_MANY_ATTEMPTS.format(attempts=settings.DATASETS_MAX_ATTEMPTS),
        lease_owner="",
        lease_expires_at=None,
        finished_at=now,
        updated_at=now,
    )


def _purge_staging() -> int:
    root = storage.staging_root()
    if not root.is_dir():
        return 0
    purged = 0
    for entry in root.iterdir():
        upload_id, _, claim_version = entry.name.partition("-")
        if not (upload_id.isdigit() and claim_version.isdigit()):
            continue
        if time.time() - entry.stat().st_mtime < STAGING_MIN_AGE_SECONDS:
            continue  # a claim that has just started
        live = Upload.objects.filter(
            pk=int(upload_id), claim_version=int(claim_version), status__in=CLAIMED_STATUSES
        ).exists()
        if not live:
            shutil.rmtree(entry, ignore_errors=True)
            purged += 1
    return purged


def _abandon_receiving(now) -> int:
    abandoned = 0
    stale = Upload.objects.filter(status=UploadStatus.RECEIVING, updated_at__lt=now - ABANDON_RECEIVING_AFTER)
    for pk, key, updated_at in stale.values_list("pk", "storage_key", "updated_at")[:BATCH]:
        # CAS on updated_at too: a chunk that lands right now keeps the upload alive.
        if Upload.objects.filter(pk=pk, status=UploadStatus.RECEIVING, updated_at=updated_at).update(
            status=UploadStatus.CANCELLED,
            error_code=CODE_ABANDONED,
            error_message=MESSAGE_ABANDONED,
            finished_at=now,
            updated_at=now,
        ):
            storage.key_delete(key)
            abandoned += 1
    return abandoned


def janitor_run() -> dict[str, int]:
    now = timezone.now()
    counts = {"failed": _fail_poison(now), "requeued": 0, "enqueue_errors": 0}
    for pk, workspace_id in _requeue_candidates(now)[:BATCH]:
        if upload_enqueue_safe(upload_id=pk, workspace_id=workspace_id):
            counts["requeued"] += 1
        else:
            counts["enqueue_errors"] += 1
    counts["staging_purged"] = _purge_staging()
    counts["receiving_abandoned"] = _abandon_receiving(now)
    if any(counts.values()):
        logger.info("datasets janitor: %s", counts)
    return counts
