"""Celery entry points for analytics: thin wrappers that re-fetch by id inside the workspace."""

from celery import shared_task

from analytics.models import ComboJob
from config.celery_app import RETRY_ON_DATABASE_ERRORS


@shared_task(
    bind=True,
    name="analytics.tasks.combo_job_run",
    **RETRY_ON_DATABASE_ERRORS,
)
def combo_job_run_task(self, *, workspace_id: int, job_id: int) -> dict | None:
    from analytics.combos_services import combo_job_run  # local import: the services enqueue this task

    # Scoped by workspace: a message naming another workspace's job finds nothing (T-IDOR-07).
    job = ComboJob.objects.filter(workspace_id=workspace_id, pk=job_id).select_related("version").first()
    if job is None:
        return None
    ended = combo_job_run(job=job)
    return {"job_id": job_id, "status": ended.status}


@shared_task(name="analytics.tasks.precompute_version", acks_late=True, ignore_result=True)
def precompute_version_task(*, workspace_id: int, version_id: int) -> list[str]:
    """A just-published version's default dashboards into the result cache (analytics/precompute.py)."""
    from analytics.precompute import precompute_version_safe  # local import: precompute enqueues this task

    return precompute_version_safe(version_id, workspace_id=workspace_id)
