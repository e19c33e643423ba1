"""Site-level views: the landing redirect, the health endpoint and the error pages."""

import time
import uuid

from django.conf import settings
from django.core.cache import cache
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from config.celery_app import HEARTBEAT_CACHE_KEY


def home(request: HttpRequest) -> HttpResponse:
    if not request.user.is_authenticated:
        return redirect("account_login")
    return redirect("workspaces:list")


def _check_database() -> tuple[bool, str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()
    return True, connection.vendor


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
    beat = cache.get(HEARTBEAT_CACHE_KEY)
    if not beat:
        return False, "no worker heartbeat seen"
    age = time.time() - beat["ts"]
    ok = age <= settings.WORKER_HEARTBEAT_STALE_AFTER.total_seconds()
    return ok, f"{beat['hostname']} seen {age:.0f}s ago"


HEALTH_CHECKS = {"database": _check_database, "cache": _check_cache, "storage": _check_storage, "worker": _check_worker}


@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    """Liveness of every moving part, as JSON; 503 when any is down."""
    checks = {}
    for name, check in HEALTH_CHECKS.items():
        try:
            ok, detail = check()
        except Exception as exc:  # a health check reports failures, it never raises them
            ok, detail = False, type(exc).__name__
        checks[name] = {"ok": ok, "detail": detail}
    healthy = all(check["ok"] for check in checks.values())
    return JsonResponse({"status": "ok" if healthy else "degraded", "checks": checks}, status=200 if healthy else 503)


def error_400(request, exception=None):
    return render(request, "errors/400.html", status=400)


def error_403(request, exception=None):
    return render(request, "errors/403.html", status=403)


def error_404(request, exception=None):
    return render(request, "errors/404.html", status=404)


def error_500(request):
    return render(request, "errors/500.html", status=500)
