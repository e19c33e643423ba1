"""The one code-defined list of periodic tasks (django-celery-beat's DatabaseScheduler runs them).

`manage.py setup_periodic_tasks` writes these rows; `make run`, the docker-compose web
service and deployments run it after `migrate`. Add a schedule here, never by hand in the admin:
a row edited in the admin is overwritten (or, if its name is ours and no longer listed, deleted)
on the next run. Other apps' periodic work is added to this list too.
"""

import json
from dataclasses import dataclass, field

from django.db import transaction
from django_celery_beat.models import IntervalSchedule, PeriodicTask, PeriodicTasks

# Rows whose name starts with this are managed here; anything else in the table is left alone.
MANAGED_PREFIX = "leadnav: "
UNKNOWN_TASK = "Periodic task {name!r} runs {task!r}, which no installed app registers with Celery."
DUPLICATE_NAME = "Periodic task {name!r} is defined more than once."


@dataclass(frozen=True)
class Schedule:
    name: str
    task: str
    every: int
    period: str  # an IntervalSchedule period: "days", "hours", "minutes", "seconds"
    kwargs: dict = field(default_factory=dict)
    description: str = ""

    @property
    def row_name(self) -> str:
        return MANAGED_PREFIX + self.name


SCHEDULES = (
    Schedule(
        name="audit chain verify",
        task="ops.tasks.audit_chain_verify",
        every=1,
        period=IntervalSchedule.DAYS,
        description="Recompute every audit hash chain; a break is logged as an error.",
    ),
    Schedule(
        name="purge expired sessions",
        task="ops.tasks.purge_expired_sessions",
        every=1,
        period=IntervalSchedule.DAYS,
        description="Django clearsessions: drop expired session rows.",
    ),
    Schedule(
        name="datasets janitor",
        task="datasets.tasks.janitor",
        every=1,
        period=IntervalSchedule.MINUTES,
        description="Re-queue stuck uploads (broker down, worker died), fail poison files, purge orphaned staging.",
    ),
    Schedule(
        name="exports janitor",
        task="exports.tasks.janitor",
        every=15,
        period=IntervalSchedule.MINUTES,
        description="Delete expired export files, re-queue exports never enqueued, fail ones a dead worker left.",
    ),
)


def registered_task_names() -> set[str]:
    from config.celery_app import app

    app.loader.import_default_modules()  # runs autodiscovery, so every app's tasks are registered
    return set(app.tasks.keys())


@transaction.atomic
def periodic_tasks_sync(*, schedules: tuple[Schedule, ...] = SCHEDULES) -> dict[str, list[str]]:
    """Make the managed PeriodicTask rows equal `schedules`. Returns the names created, updated and deleted."""
    names = [schedule.name for schedule in schedules]
    for name in sorted({name for name in names if names.count(name) > 1}):
        raise ValueError(DUPLICATE_NAME.format(name=name))
    known = registered_task_names()
    for schedule in schedules:
        if schedule.task not in known:
            raise ValueError(UNKNOWN_TASK.format(name=schedule.name, task=schedule.task))

    result: dict[str, list[str]] = {"created": [], "updated": [], "deleted": []}
    for schedule in schedules:
        interval, _ = IntervalSchedule.objects.get_or_create(every=schedule.every, period=schedule.period)
        _, created = PeriodicTask.objects.update_or_create(
            name=schedule.row_name,
            defaults={
                "task": schedule.task,
                "interval": interval,
                "crontab": None,
                "solar": None,
                "clocked": None,
                "kwargs": json.dumps(schedule.kwargs, sort_keys=True),
                "args": "[]",
                "enabled": True,
                "one_off": False,
                "description": schedule.description,
            },
        )
        result["created" if created else "updated"].append(schedule.row_name)

    stale = PeriodicTask.objects.filter(name__startswith=MANAGED_PREFIX).exclude(
        name__in=[s.row_name for s in schedules]
    )
    result["deleted"] = sorted(stale.values_list("name", flat=True))
    stale.delete()
    # Tell a running beat to reload its schedule (bulk changes don't always fire the model signals).
    PeriodicTasks.update_changed()
    return result
