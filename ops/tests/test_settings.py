"""T-REL-10: a retry countdown can never outlast the broker's visibility timeout, in any settings module."""

import json
import os
import subprocess
import sys

from django.conf import settings

from config.celery_app import app as celery_app

PRODUCTION_ENV = {
    "DJANGO_SETTINGS_MODULE": "config.settings.production",
    "DJANGO_SECRET_KEY": "x" * 60,
    "DJANGO_ALLOWED_HOSTS": "example.com",
    "DATABASE_URL": "postgres://leadnav@db.invalid:5432/leadnav",
    "REDIS_URL": "redis://redis.invalid:6379/0",
}
PRINT_TIMING = (
    "import json; from django.conf import settings as s; print(json.dumps(["
    "s.CELERY_TASK_TIME_LIMIT, s.CELERY_TASK_RETRY_BACKOFF_MAX, s.CELERY_VISIBILITY_TIMEOUT, "
    "s.CELERY_BROKER_TRANSPORT_OPTIONS['visibility_timeout'], "
    "s.CELERY_RESULT_BACKEND_TRANSPORT_OPTIONS['visibility_timeout']]))"
)


def test_retry_backoff_max_plus_hard_time_limit_stays_below_the_visibility_timeout():
    longest = settings.CELERY_TASK_RETRY_BACKOFF_MAX + settings.CELERY_TASK_TIME_LIMIT

    assert longest < settings.CELERY_VISIBILITY_TIMEOUT
    assert longest < settings.CELERY_BROKER_TRANSPORT_OPTIONS["visibility_timeout"]
    assert longest < settings.CELERY_RESULT_BACKEND_TRANSPORT_OPTIONS["visibility_timeout"]


def test_the_celery_app_reads_the_reliability_settings():
    conf = celery_app.conf

    assert conf.task_time_limit == settings.CELERY_TASK_TIME_LIMIT
    assert conf.broker_transport_options["visibility_timeout"] == settings.CELERY_VISIBILITY_TIMEOUT
    assert conf.task_acks_late is True
    assert conf.task_reject_on_worker_lost is True
    assert conf.worker_prefetch_multiplier == 1
    assert conf.accept_content == ["json"]


def test_production_settings_keep_the_same_ordering():
    env = {**os.environ, **PRODUCTION_ENV}
    shell = subprocess.run(
        [sys.executable, "manage.py", "shell", "--no-imports", "-c", PRINT_TIMING],
        cwd=settings.BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    hard_limit, backoff_max, visibility, broker_visibility, result_visibility = json.loads(shell.stdout)

    assert hard_limit + backoff_max < visibility
    assert hard_limit + backoff_max < broker_visibility
    assert hard_limit + backoff_max < result_visibility


def test_tasks_retry_with_the_configured_longest_backoff():
    from config.celery_app import RETRY_ON_DATABASE_ERRORS

    assert RETRY_ON_DATABASE_ERRORS["retry_backoff_max"] == settings.CELERY_TASK_RETRY_BACKOFF_MAX
