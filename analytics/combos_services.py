"""Writes for the top-combos pages: the background job that fills the analytics cache.

A page asks `combo_job_ensure` for the job of its question (created once, re-queued when its result
fell out of the cache or its worker vanished); the Celery task calls `combo_job_run`, which claims
the job by compare-and-set, computes through the engine (so the result lands in the same cache entry
the page reads) and records progress on the way.
"""

from __future__ import annotations

import logging
import time
from datetime import timedelta
from urllib.parse import urlencode

from django.conf import settings as django_settings
from django.db import IntegrityError, transaction
from django.http import QueryDict
from django.utils import timezone

from analytics.combo_params import combo_pairs, combo_settings
from analytics.engine import FilterSet, InvalidComboSettings, QueryError
from analytics.engine.adapter import source_for_version
from analytics.engine.combos import combos_cache_key, top_combos, top_combos_cached
from analytics.models import ComboJob, ComboJobStatus
from audit.services import audit_record
from datasets.models import DatasetVersion, Kind

logger = logging.getLogger(__name__)

STEP_QUEUED = "waiting for a worker"
STEP_READING = "reading the rows"
STEP_RANKING = "ranking the combos"
STEP_DONE = "done"
ERROR_UNEXPECTED = "The combos could not be computed. Try again later."
ERROR_FILE_MISSING = "The data file of this dataset version is not available."
ERROR_MATCH_GONE = "the buyers dataset version to match against is no longer available"
PROGRESS_EVERY_SECONDS = 0.5
# A queued or running job untouched for this long lost its worker: the next page view re-queues it.
DEFAULT_STALE_SECONDS = 2 * 3600 + 600


def _stale_after() -> timedelta:
    return timedelta(seconds=getattr(django_settings, "COMBOS_JOB_STALE_SECONDS", DEFAULT_STALE_SECONDS))


def _enqueue(job: ComboJob) -> None:
    from analytics.tasks import combo_job_run_task  # local import: tasks import this module

    workspace_id, job_id = job.workspace_id, job.pk
    transaction.on_commit(lambda: combo_job_run_task.delay(workspace_id=workspace_id, job_id=job_id))


def _requeue(job: ComboJob) -> ComboJob:
    ComboJob.objects.filter(pk=job.pk).update(
        status=ComboJobStatus.QUEUED,
        progress=0.0,
        step=STEP_QUEUED,
        error="",
        started_at=None,
        finished_at=None,
        updated_at=timezone.now(),
    )
    job.refresh_from_db()
    _enqueue(job)
    return job


def combo_job_ensure(
    *, workspace, version, key: str, settings_query: str, filters_query: str, user=None, request=None, cached: bool
) -> ComboJob:
    """The job computing `key` for `version` (both inside `workspace`), queued when needed.

    `cached`: whether the result is in the cache now. A finished job whose result was evicted, a
    failed job asked again, and a job whose worker went silent are queued again.
    """
    if version.workspace_id != workspace.pk:
        raise ValueError("the version is not in this workspace")
    job = ComboJob.objects.for_workspace(workspace).filter(version=version, key=key).first()
    if job is None:
        try:
            with transaction.atomic():
                job = ComboJob.objects.create(
                    workspace=workspace,
                    version=version,
                    key=key,
                    settings_query=settings_query,
                    filters_query=filters_query,
                    created_by=user if getattr(user, "is_authenticated", False) else None,
                    step=STEP_QUEUED,
                )
                audit_record(
                    action="analytics.combos_job_created",
                    actor=user,
                    workspace=workspace,
                    target=job,
                    details={"dataset_id": version.dataset_id, "version_id": version.pk},
                    request=request,
                )
        except IntegrityError:  # another request created it a moment ago
            return ComboJob.objects.for_workspace(workspace).get(version=version, key=key)
        _enqueue(job)
        return job
    if job.status == ComboJobStatus.DONE and not cached:
        return _requeue(job)
    if (
        job.status == ComboJobStatus.FAILED
        and job.finished_at
        and timezone.now() - job.finished_at > timedelta(seconds=60)
    ):
        return _requeue(job)
    if (
        job.status in (ComboJobStatus.QUEUED, ComboJobStatus.RUNNING)
        and timezone.now() - job.updated_at > _stale_after()
    ):
        return _requeue(job)
    return job


def _claim(job: ComboJob) -> bool:
    now = timezone.now()
    claimed = ComboJob.objects.filter(pk=job.pk, status=ComboJobStatus.QUEUED).update(
        status=ComboJobStatus.RUNNING, step=STEP_READING, progress=0.0, started_at=now, updated_at=now
    )
    return claimed == 1


def _finish(job: ComboJob, *, status: str, error: str = "") -> None:
    now = timezone.now()
    ComboJob.objects.filter(pk=job.pk, status=ComboJobStatus.RUNNING).update(
        status=status,
        progress=1.0 if status == ComboJobStatus.DONE else job.progress,
        step=STEP_DONE if status == ComboJobStatus.DONE else "",
        error=error,
        finished_at=now,
        updated_at=now,
    )


def _job_buyers(job: ComboJob, query: QueryDict):
    """The buyers source a job matches to (`match` + `match_version` in its settings query), looked
    up inside the job's workspace; None without a match."""
    dataset_raw, version_raw = query.get("match", ""), query.get("match_version", "")
    if not dataset_raw:
        return None
    if not (dataset_raw.isdigit() and version_raw.isdigit()):
        raise InvalidComboSettings(ERROR_MATCH_GONE)
    version = (
        DatasetVersion.objects.for_workspace(job.workspace_id)
        .filter(pk=int(version_raw), dataset_id=int(dataset_raw), dataset__kind=Kind.BUYERS)
        .first()
    )
    if version is None:
        raise InvalidComboSettings(ERROR_MATCH_GONE)
    return source_for_version(version)


def combo_job_run(*, job: ComboJob) -> ComboJob:
    """Compute the job's combos into the analytics cache (no-op unless the job is queued)."""
    if not _claim(job):
        return job
    last = [0.0]

    def progress(fraction: float) -> None:
        now = time.monotonic()
        if now - last[0] < PROGRESS_EVERY_SECONDS and fraction < 1:
            return
        last[0] = now
        ComboJob.objects.filter(pk=job.pk, status=ComboJobStatus.RUNNING).update(
            progress=min(0.99, float(fraction)), step=STEP_RANKING, updated_at=timezone.now()
        )

    try:
        source = source_for_version(job.version)
        query = QueryDict(job.settings_query)
        settings = combo_settings(source, query)
        filters = FilterSet.from_querydict(source, QueryDict(job.filters_query))
        buyers = _job_buyers(job, query)
        top_combos(source, settings, workspace_id=job.workspace_id, filters=filters, buyers=buyers, progress=progress)
    except QueryError as error:
        _finish(job, status=ComboJobStatus.FAILED, error=str(error))
    except FileNotFoundError:
        _finish(job, status=ComboJobStatus.FAILED, error=ERROR_FILE_MISSING)
    except Exception:
        logger.exception("combo job %s failed", job.pk)
        _finish(job, status=ComboJobStatus.FAILED, error=ERROR_UNEXPECTED)
    else:
        _finish(job, status=ComboJobStatus.DONE)
    job.refresh_from_db()
    return job


def combos_result_or_job(
    *,
    workspace,
    version,
    source,
    settings,
    filters: FilterSet,
    background: bool,
    match=None,
    user=None,
    request=None,
):
    """(result, job) for a page: a small question is computed now (job None); a large one is read
    from the cache, or handed to a worker (result None until the job is done).

    `match`: an `analytics.combos_selectors.Match` (the buyers dataset version the visitors are
    matched to), or None for the converted flag."""
    buyers = match.source if match is not None else None
    if not background:
        return top_combos(source, settings, workspace_id=workspace.pk, filters=filters, buyers=buyers), None
    result = top_combos_cached(source, settings, workspace_id=workspace.pk, filters=filters, buyers=buyers)
    key = combos_cache_key(source, settings, workspace_id=workspace.pk, filters=filters, buyers=buyers)
    if result is not None:
        return result, ComboJob.objects.for_workspace(workspace).filter(version=version, key=key).first()
    job = combo_job_ensure(
        workspace=workspace,
        version=version,
        key=key,
        settings_query=urlencode(combo_pairs(settings) + (match.job_pairs() if match is not None else [])),
        filters_query=filters.to_query_string(),
        user=user,
        request=request,
        cached=False,
    )
    return None, job
