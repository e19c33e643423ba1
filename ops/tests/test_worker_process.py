"""A real `celery -A config worker` process: the broker, the result backend and the heartbeat work end to end.

Runs on the zero-server default (SQLite test database + a filesystem broker in a temp dir) and,
with DATABASE_URL / CELERY_BROKER_URL set, on PostgreSQL + Redis. The worker gets its own queue
name, so no other worker on the same broker (a `make run` in this checkout) can take its task.
"""

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path
from urllib.parse import quote

import pytest
from django.conf import settings
from django.db import connection
from django.urls import reverse

from config.celery_app import app as celery_app
from ops.tasks import ping

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]

STARTUP_TIMEOUT_SECONDS = 60
RESULT_TIMEOUT_SECONDS = 60
SHUTDOWN_TIMEOUT_SECONDS = 20


def _database_url() -> str:
    """The URL of the database this test runs against (the test database, not the development one)."""
    db = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{Path(db['NAME']).resolve()}"
    credentials = quote(db["USER"] or "", safe="") + (f":{quote(db['PASSWORD'], safe='')}" if db["PASSWORD"] else "")
    return f"postgres://{credentials}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{quote(db['NAME'], safe='')}"


def _filesystem_broker_options(var_dir: Path) -> dict:
    """Where a worker whose LEADNAV_VAR_DIR is `var_dir` reads and writes filesystem-broker messages."""
    if not settings.CELERY_BROKER_URL.startswith("filesystem://"):
        return {}
    broker = var_dir / "broker"
    for folder in ("out", "control"):
        (broker / folder).mkdir(parents=True, exist_ok=True)
    return {
        "data_folder_in": str(broker / "out"),
        "data_folder_out": str(broker / "out"),
        "control_folder": str(broker / "control"),
    }


def _wait_for_log(log: Path, needle: str, process: subprocess.Popen, timeout: float) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and process.poll() is None:
        text = log.read_text(errors="replace")
        if needle in text:
            return text
        time.sleep(0.2)
    return log.read_text(errors="replace")


@pytest.fixture
def shared_cache_dir(tmp_path, settings):
    # The test process and the worker share a file cache, so the test can see the worker's heartbeat.
    cache_dir = tmp_path / "cache"
    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.filebased.FileBasedCache", "LOCATION": str(cache_dir)}
    }
    return cache_dir


@pytest.fixture
def worker(tmp_path, shared_cache_dir, transactional_db):
    queue = f"ops-test-{uuid.uuid4().hex[:12]}"
    var_dir = tmp_path / "var"
    log = tmp_path / "worker.log"
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
        "LEADNAV_CELERY_EAGER": "0",
        "LEADNAV_VAR_DIR": str(var_dir),
        "LEADNAV_TEST_CACHE_DIR": str(shared_cache_dir),
        "DATABASE_URL": _database_url(),
    }
    command = [
        *(sys.executable, "-m", "celery", "-A", "config", "worker", "--loglevel", "INFO"),
        *("--concurrency", "1", "--queues", queue, "--hostname", f"{queue}@%h", "--without-mingle", "--without-gossip"),
    ]
    with log.open("wb") as out:
        process = subprocess.Popen(
            command, cwd=settings.BASE_DIR, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    startup_log = _wait_for_log(log, " ready.", process, STARTUP_TIMEOUT_SECONDS)
    yield {"process": process, "queue": queue, "startup_log": startup_log, "var_dir": var_dir, "log": log}
    # Stop the worker before the database is flushed: SIGTERM is a warm shutdown; SIGKILL if it hangs.
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=SHUTDOWN_TIMEOUT_SECONDS)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=SHUTDOWN_TIMEOUT_SECONDS)


@pytest.fixture
def not_eager(monkeypatch):
    # The test settings run tasks eagerly; this test must send through the broker instead.
    monkeypatch.setitem(celery_app.conf, "task_always_eager", False)


def test_a_real_worker_runs_a_task_sent_through_the_broker(worker, not_eager):
    assert " ready." in worker["startup_log"], worker["startup_log"][-3000:]
    token = uuid.uuid4().hex
    transport_options = _filesystem_broker_options(worker["var_dir"])

    with celery_app.connection_for_write(transport_options=transport_options) as broker:
        result = ping.apply_async(kwargs={"token": token}, queue=worker["queue"], connection=broker)
    value = result.get(timeout=RESULT_TIMEOUT_SECONDS, interval=0.2)

    assert value == {"pong": token}
    assert f"Task ops.tasks.ping[{result.id}] succeeded" in worker["log"].read_text(errors="replace")


def test_healthz_sees_the_heartbeat_of_a_real_worker(worker, client):
    assert " ready." in worker["startup_log"], worker["startup_log"][-3000:]

    response = client.get(reverse("healthz"))
    body = json.loads(response.content)

    assert body["checks"]["worker"]["ok"] is True
    assert body["checks"]["worker"]["detail"].startswith("worker seen ")
    assert (response.status_code, body["status"]) == (200, "ok")
