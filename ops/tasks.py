"""Celery entry points for operations: thin wrappers, registered as periodic tasks by `setup_periodic_tasks`."""

import logging

from celery import shared_task
from django.core.management import call_command

logger = logging.getLogger(__name__)


@shared_task(name="ops.tasks.ping")
def ping(*, token: str) -> dict[str, str]:
    """Echo `token` back: the round trip the worker-process test and operators use to prove a live worker."""
    return {"pong": token}


@shared_task(name="ops.tasks.audit_chain_verify")
def audit_chain_verify() -> int:
    """Recompute every audit hash chain; log an error per broken chain. Returns the number of breaks."""
    from audit.selectors import audit_chain_verify as audit_chain_verify_selector

    breaks = list(audit_chain_verify_selector())
    for chain_break in breaks:
        logger.error(
            "audit chain broken: workspace_id=%s event_id=%s reason=%s",
            chain_break.workspace_id,
            chain_break.event_id,
            chain_break.reason,
        )
    return len(breaks)


@shared_task(name="ops.tasks.purge_expired_sessions")
def purge_expired_sessions() -> None:
    """Delete expired rows from the session table (Django's `clearsessions`)."""
    call_command("clearsessions")
