"""Handing an upload to the workers without ever failing the request that stored it (SECURITY.md §2.3 step 1).

An exception raised inside a `transaction.on_commit` callback escapes from the commit itself, so a
dead broker would turn an accepted upload into a 500. `upload_enqueue_safe` catches every publish
error, logs it and leaves the row PENDING; the janitor re-enqueues it once the broker is back.
Enqueueing twice is harmless: the worker's compare-and-set claim lets only one run.
"""

import logging
from functools import partial

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from datasets.models import Upload, UploadStatus

logger = logging.getLogger(__name__)


def upload_enqueue_safe(*, upload_id: int, workspace_id: int) -> bool:
    """Publish the ingest task now; True when the broker took it. Never raises."""
    from datasets.tasks import ingest_upload as ingest_upload_task  # tasks import services: avoid a cycle

    try:
        ingest_upload_task.apply_async(
            kwargs={"workspace_id": workspace_id, "upload_id": upload_id}, queue=settings.DATASETS_INGEST_QUEUE
        )
    except Exception:  # kombu OperationalError, ConnectionError, redis errors, a misconfigured broker ...
        logger.warning("could not enqueue upload %s; it stays pending for the janitor", upload_id, exc_info=True)
        return False
    now = timezone.now()
    Upload.objects.filter(pk=upload_id).update(enqueued_at=now)
    # PENDING -> QUEUED only if no worker has claimed it yet (an eager or very fast worker may have).
    Upload.objects.filter(pk=upload_id, status=UploadStatus.PENDING).update(status=UploadStatus.QUEUED, updated_at=now)
    return True


def upload_enqueue_on_commit(*, upload: Upload) -> None:
    transaction.on_commit(partial(upload_enqueue_safe, upload_id=upload.pk, workspace_id=upload.workspace_id))
