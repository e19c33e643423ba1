"""Celery entry points for exports: thin wrappers that re-fetch by id inside the workspace."""

from celery import shared_task

from config.celery_app import RETRY_ON_DATABASE_ERRORS
from exports.models import ExportJob


@shared_task(
    bind=True,
    name="exports.tasks.export_run",
    **RETRY_ON_DATABASE_ERRORS,
)
def export_run(self, *, workspace_id: int, export_id: int) -> dict | None:
    from exports.services import export_job_run

    # Scoped by workspace: a message naming another workspace's export finds nothing (T-IDOR-07).
    job = ExportJob.objects.filter(workspace_id=workspace_id, pk=export_id).select_related("workspace").first()
    if job is None:
        return None
    ended = export_job_run(job=job)
    return {"export_id": export_id, "status": ended.status if ended is not None else "not_claimed"}


@shared_task(name="exports.tasks.janitor")
def janitor() -> dict[str, int]:
    """Every 15 minutes (ops/periodic.py): delete expired files, re-queue lost jobs, fail dead ones."""
    from exports.services import export_janitor_run

    return export_janitor_run()
