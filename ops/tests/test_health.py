import json
import time
from unittest import mock

import pytest
from django.core.cache import cache
from django.core.cache.backends.dummy import DummyCache
from django.db import OperationalError
from django.urls import reverse

from config.celery_app import HEARTBEAT_CACHE_KEY
from ops import views

SECRET_IN_ERROR = "password=hunter2 host=db.internal"


@pytest.fixture
def fresh_heartbeat(db):
    cache.set(HEARTBEAT_CACHE_KEY, {"hostname": "worker-7.internal", "ts": time.time() - 5}, timeout=60)
    yield
    cache.delete(HEARTBEAT_CACHE_KEY)


def _get_health(client):
    response = client.get(reverse("healthz"))
    return response, json.loads(response.content)


def test_healthz_is_ok_when_every_part_is_alive(client, fresh_heartbeat):
    response, body = _get_health(client)

    assert response.status_code == 200
    assert body["status"] == "ok"
    assert {name: check["ok"] for name, check in body["checks"].items()} == {
        "database": True,
        "cache": True,
        "storage": True,
        "worker": True,
    }
    assert body["checks"]["worker"]["detail"] == "worker seen 5s ago"


def test_healthz_needs_no_login_and_is_never_cached(client, fresh_heartbeat):
    response, _ = _get_health(client)

    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    assert "max-age=0" in response["Cache-Control"]


def test_healthz_answers_get_only(client, fresh_heartbeat):
    response = client.post(reverse("healthz"))

    assert response.status_code == 405


def test_healthz_is_degraded_when_the_database_fails_and_hides_the_error_text(client, fresh_heartbeat):
    broken = mock.Mock(vendor="postgresql")
    broken.cursor.side_effect = OperationalError(SECRET_IN_ERROR)

    with mock.patch.object(views, "connection", broken):
        response, body = _get_health(client)

    assert response.status_code == 503
    assert body["status"] == "degraded"
    assert body["checks"]["database"] == {"ok": False, "detail": "OperationalError"}
    assert body["checks"]["cache"]["ok"] is True
    assert "hunter2" not in response.content.decode()
    assert "db.internal" not in response.content.decode()


def test_healthz_is_degraded_when_the_cache_keeps_nothing(client, fresh_heartbeat):
    with mock.patch.object(views, "cache", DummyCache("dummy", {})):
        response, body = _get_health(client)

    assert response.status_code == 503
    assert body["status"] == "degraded"
    assert body["checks"]["cache"] == {"ok": False, "detail": "LocMemCache"}
    assert body["checks"]["database"]["ok"] is True


def test_healthz_is_degraded_when_storage_cannot_be_written(client, fresh_heartbeat):
    with mock.patch.object(views.default_storage, "save", side_effect=PermissionError(13, "denied", "/srv/media/x")):
        response, body = _get_health(client)

    assert response.status_code == 503
    assert body["status"] == "degraded"
    assert body["checks"]["storage"] == {"ok": False, "detail": "PermissionError"}
    assert "/srv/media" not in response.content.decode()


def test_healthz_is_degraded_without_a_worker_heartbeat(client, db):
    cache.delete(HEARTBEAT_CACHE_KEY)

    response, body = _get_health(client)

    assert response.status_code == 503
    assert body["status"] == "degraded"
    assert body["checks"]["worker"] == {"ok": False, "detail": views.NO_HEARTBEAT}


def test_healthz_is_degraded_when_the_heartbeat_is_stale(client, db, settings):
    stale_age = settings.WORKER_HEARTBEAT_STALE_AFTER.total_seconds() + 30
    cache.set(HEARTBEAT_CACHE_KEY, {"hostname": "w", "ts": time.time() - stale_age}, timeout=60)

    response, body = _get_health(client)

    assert response.status_code == 503
    assert body["checks"]["worker"]["ok"] is False
    assert body["checks"]["worker"]["detail"].startswith("last worker heartbeat ")
    cache.delete(HEARTBEAT_CACHE_KEY)


def test_healthz_leaks_no_hostname_secret_or_path(client, fresh_heartbeat, settings):
    response, _ = _get_health(client)
    text = response.content.decode()

    assert "worker-7.internal" not in text
    assert settings.SECRET_KEY not in text
    assert str(settings.MEDIA_ROOT) not in text
    assert str(settings.DATABASES["default"]["NAME"]) not in text
