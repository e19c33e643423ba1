"""Celery entry points for datasets: thin wrappers that re-fetch by id inside the workspace and call a service.

acks_late and reject_on_worker_lost come from settings (SECURITY.md §2.2): a killed worker's
message is redelivered, and the database attempt counter stops a file that keeps killing workers.
Transient database errors retry with backoff; retry_backoff_max (600 s) stays far below the
broker's visibility timeout, so a waiting retry is never redelivered as a duplicate.
"""

from celery import shared_task

from config.celery_app import RETRY_ON_DATABASE_ERRORS
from datasets.models import Upload


@shared_task(
    bind=True,
    name="datasets.tasks.ingest_upload",
    **RETRY_ON_DATABASE_ERRORS,
)
def ingest_upload(self, *, workspace_id: int, upload_id: int) -> dict | None:
    from datasets.services import upload_process  # local import: services import this module to enqueue

    # Scoped by workspace: a message naming another workspace's upload finds nothing (T-IDOR-07).
    upload = Upload.objects.filter(workspace_id=workspace_id, pk=upload_id).first()
    if upload is None:
        return None
    ended = upload_process(upload=upload, task_id=self.request.id or None)
    return {"upload_id": upload_id, "status": ended.status if ended is not None else "not_claimed"}


@shared_task(name="datasets.tasks.janitor")
def janitor() -> dict[str, int]:
    """Every minute (ops/periodic.py): re-queue stuck uploads, fail poison ones, purge orphans."""
    from datasets.janitor import janitor_run

    return janitor_run()
