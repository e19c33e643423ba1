"""The Celery application.

The worker writes a heartbeat into the shared cache from a bootstep timer, so `/healthz`
can say whether a worker is alive without a broadcast (the filesystem broker has none).
"""

import os
import socket
import time

from celery import Celery, bootsteps

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")

app = Celery("leadnav")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

HEARTBEAT_CACHE_KEY = "health:worker-heartbeat"


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
