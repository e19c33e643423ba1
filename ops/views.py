"""`/healthz`: is every moving part alive? For load balancers, docker healthchecks and `.ci/run`.

Anonymous, never cached, and it says nothing an outsider could use: each check reports ok or
not plus a short detail (a backend kind, an exception class name, an age), never a message,
a host name, a path or a setting value.
"""

import time
import uuid
from collections.abc import Callable

from django.conf import settings
from django.core.cache import cache
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import connection, transaction
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from config.celery_app import HEARTBEAT_CACHE_KEY

NO_HEARTBEAT = "no worker heartbeat seen"
STALE_HEARTBEAT = "last worker heartbeat {age:.0f}s ago"
FRESH_HEARTBEAT = "worker seen {age:.0f}s ago"


def _check_database() -> tuple[bool, str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        ok = cursor.fetchone() == (1,)
    return ok, connection.vendor


def _check_cache() -> tuple[bool, str]:
    key = f"health:probe:{uuid.uuid4().hex}"
    cache.set(key, "1", timeout=10)
    ok = cache.get(key) == "1"
    cache.delete(key)
    return ok, settings.CACHES["default"]["BACKEND"].rsplit(".", 1)[-1]


def _check_storage() -> tuple[bool, str]:
    name = default_storage.save(f"health/{uuid.uuid4().hex}.txt", ContentFile(b"ok"))
    try:
        with default_storage.open(name) as fh:
            ok = fh.read() == b"ok"
    finally:
        default_storage.delete(name)
    return ok, type(default_storage).__name__


def _check_worker() -> tuple[bool, str]:
    # The worker's HeartbeatStep (config/celery_app.py) writes this key into the shared cache.
    beat = cache.get(HEARTBEAT_CACHE_KEY)
    if not beat:
        return False, NO_HEARTBEAT
    age = max(0.0, time.time() - beat["ts"])
    if age > settings.WORKER_HEARTBEAT_STALE_AFTER.total_seconds():
        return False, STALE_HEARTBEAT.format(age=age)
    return True, FRESH_HEARTBEAT.format(age=age)


HEALTH_CHECKS: dict[str, Callable[[], tuple[bool, str]]] = {
    "database": _check_database,
    "cache": _check_cache,
    "storage": _check_storage,
    "worker": _check_worker,
}


def health_report() -> dict:
    """Run every check; a check that raises counts as failed, with only its exception class shown."""
    checks = {}
    for name, check in HEALTH_CHECKS.items():
        try:
            ok, detail = check()
        except Exception as exc:  # a health check reports failures, it never raises them
            ok, detail = False, type(exc).__name__
        checks[name] = {"ok": ok, "detail": detail}
    healthy = all(check["ok"] for check in checks.values())
    return {"status": "ok" if healthy else "degraded", "checks": checks}


# Not inside ATOMIC_REQUESTS: opening that transaction would raise before a down database is reported.
@transaction.non_atomic_requests
@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    """200 {"status": "ok"} when database, cache, storage and a worker are all alive, else 503 "degraded"."""
    report = health_report()
    return JsonResponse(report, status=200 if report["status"] == "ok" else 503)
