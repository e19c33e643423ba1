"""The Celery application.

The worker writes a heartbeat into the shared cache from a bootstep timer, so `/healthz`
can say whether a worker is alive without a broadcast (the filesystem broker has none).
"""

import os
import socket
import time

from celery import Celery, bootsteps
from django.db import InterfaceError, OperationalError

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")

app = Celery("leadnav")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

HEARTBEAT_CACHE_KEY = "health:worker-heartbeat"

# Options of every task that re-fetches rows by id (datasets, analytics, exports): a lost database
# connection is retried with backoff, and the longest backoff (CELERY_TASK_RETRY_BACKOFF_MAX) stays
# below the broker's visibility timeout (ops/tests/test_settings.py), so a waiting retry is never
# redelivered as a duplicate.
RETRY_ON_DATABASE_ERRORS = {
    "acks_late": True,
    "autoretry_for": (OperationalError, InterfaceError),
    "retry_backoff": 5,
    "retry_backoff_max": 600,  # = settings.CELERY_TASK_RETRY_BACKOFF_MAX
    "retry_jitter": True,
    "max_retries": 5,
}


def worker_heartbeat_write() -> None:
    from django.core.cache import cache

    cache.set(HEARTBEAT_CACHE_KEY, {"hostname": socket.gethostname(), "ts": time.time()}, timeout=3600)


class HeartbeatStep(bootsteps.StartStopStep):
    requires = {"celery.worker.components:Timer"}

    def __init__(self, worker, **kwargs):
        super().__init__(worker, **kwargs)
        self.tref = None

    def start(self, worker):
        from django.conf import settings

        worker_heartbeat_write()
        self.tref = worker.timer.call_repeatedly(settings.WORKER_HEARTBEAT_SECONDS, worker_heartbeat_write)

    def stop(self, worker):
        if self.tref is not None:
            self.tref.cancel()


app.steps["worker"].add(HeartbeatStep)
