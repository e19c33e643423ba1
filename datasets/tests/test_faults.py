# ruff: noqa: F401, F811 - fixtures imported from pipeline_helpers are used as parameters
"""Fault tests with real processes (SECURITY.md §3.8): a real `celery -A config worker`, real kills.

- T-REL-01/02: the worker is SIGKILLed at ~30% of a 1.2M-row load; a new worker, after the
  janitor re-queues the expired lease, finishes it: READY, exactly the right rows, attempts == 2,
  one version.
- T-REL-05: the broker (a Redis we start on a spare port) is down when the upload finishes: the
  upload is accepted and stays PENDING; Redis comes back, the janitor re-queues, a worker loads it.
- T-UP-04 with processes: two `manage.py ingest --sync` of the same file at once -> one dataset.

Every subprocess gets the test database, a private media dir and (SQLite) a private filesystem
broker or (PostgreSQL run) the Redis broker of CELERY_BROKER_URL with a private queue name, so a
`make run` worker on this machine can never take these tasks. Every wait is bounded, and every
process is killed on the way out.
"""

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from django.utils import timezone

from datasets import storage
from datasets.ingest.generator import generate_visitors
from datasets.models import Dataset, DatasetVersion, Upload, UploadStatus

from .pipeline_helpers import REPO_ROOT, WORKER_SETTINGS, database_url, media_root

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]

STARTUP_TIMEOUT = 60
LOAD_TIMEOUT = 300
SHUTDOWN_TIMEOUT = 20
KILL_ROWS = 1_200_000


class Processes:
    """Subprocesses started by one test; all killed (process group, SIGKILL) at teardown."""

    def __init__(self, tmp_path: Path, env: dict) -> None:
        self.tmp_path = tmp_path
        self.env = env
        self.running: list[subprocess.Popen] = []

    def start_worker(self, name: str) -> tuple[subprocess.Popen, Path]:
        log = self.tmp_path / f"{name}.log"
        command = [
            *(sys.executable, "-m", "celery", "-A", "config", "worker", "--loglevel", "INFO", "--concurrency", "1"),
            *("--queues", self.env["DATASETS_INGEST_QUEUE"], "--hostname", f"{name}-{uuid.uuid4().hex[:6]}@%h"),
            *("--without-mingle", "--without-gossip"),
        ]
        with log.open("wb") as out:
            process = subprocess.Popen(
                command, cwd=REPO_ROOT, env=self.env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )
        self.running.append(process)
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while (
            time.monotonic() < deadline and process.poll() is None and " ready." not in log.read_text(errors="replace")
        ):
            time.sleep(0.2)
        assert " ready." in log.read_text(errors="replace"), log.read_text(errors="replace")[-3000:]
        return process, log

    def manage(self, *args: str, env: dict | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=REPO_ROOT,
            env=env or self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def janitor(self, env: dict | None = None) -> subprocess.CompletedProcess:
        code = "from datasets.janitor import janitor_run; print(janitor_run())"
        return self.manage("shell", "-c", code, env=env)

    def stop(self) -> None:
        for process in self.running:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=SHUTDOWN_TIMEOUT)


@pytest.fixture
def processes(tmp_path, media_root, settings):
    queue = f"ingest-test-{uuid.uuid4().hex[:10]}"
    # Our staging dirs live in the private media root; the DB rows in the test database.
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": WORKER_SETTINGS,
        "LEADNAV_CELERY_EAGER": "0",
        "LEADNAV_VAR_DIR": str(tmp_path / "var"),  # SQLite run: a private filesystem broker
        "LEADNAV_TEST_MEDIA_ROOT": str(media_root),
        "DATABASE_URL": database_url(),
        "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
        "DATASETS_INGEST_QUEUE": queue,
        "DATASETS_LEASE_SECONDS": "10",
        "DATASETS_HEARTBEAT_SECONDS": "0.3",
    }
    procs = Processes(tmp_path, env)
    yield procs
    procs.stop()


def _wait(predicate, timeout: float, interval: float = 0.2):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    return predicate()


def _upload(pk: int) -> Upload:
    return Upload.objects.get(pk=pk)


def test_worker_killed_mid_load_the_upload_still_ends_ready_with_every_row(processes, workspace, owner, tmp_path):
    path = generate_visitors(tmp_path / "big.csv", KILL_ROWS, seed=7)
    first, first_log = processes.start_worker("first")

    queued = processes.manage("ingest", str(path), "--workspace", workspace.slug)
    assert queued.returncode == 0, queued.stderr[-3000:]
    pk = int(queued.stdout.strip())
    loading = _wait(
        lambda: (u := _upload(pk)).step == "reading" and u.rows_processed >= KILL_ROWS * 0.3 and u, LOAD_TIMEOUT
    )
    assert loading, (_upload(pk).status, first_log.read_text(errors="replace")[-3000:])
    os.killpg(first.pid, signal.SIGKILL)  # the whole worker: main process and child
    first.wait(timeout=SHUTDOWN_TIMEOUT)
    killed = _upload(pk)
    assert (killed.status, killed.attempts) == (UploadStatus.LOADING, 1)
    assert killed.rows_processed < KILL_ROWS

    processes.start_worker("second")
    assert _wait(lambda: _upload(pk).lease_expires_at < timezone.now(), 30)
    janitor = processes.janitor()
    assert "'requeued': 1" in janitor.stdout, janitor.stdout + janitor.stderr[-3000:]
    ended = _wait(lambda: (u := _upload(pk)).is_terminal and u, LOAD_TIMEOUT, interval=0.5)

    assert (ended.status, ended.error_code, ended.attempts) == (UploadStatus.READY, "", 2)
    assert ended.receipt["rows_read"] == ended.receipt["rows_loaded"] == KILL_ROWS
    assert DatasetVersion.objects.filter(dataset=ended.dataset).count() == 1
    assert pq.ParquetFile(storage.version_parquet_path(ended.version)).metadata.num_rows == KILL_ROWS
    assert list(storage.staging_root().glob("*")) == []


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def own_redis(tmp_path):
    """A throwaway redis-server on a spare port, started and stopped by the test."""
    binary = shutil.which("redis-server")
    assert binary, "redis-server is needed for the broker-down test"
    port = _free_port()
    command = [binary, "--port", str(port), "--save", "", "--appendonly", "no", "--daemonize", "no"]
    command += ["--dir", str(tmp_path)]
    state = {"process": None, "port": port}

    def start():
        state["process"] = subprocess.Popen(
            command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
        )
        assert _wait(lambda: _port_open(port), 10)

    def stop():
        process = state["process"]
        if process is not None and process.poll() is None:
            process.send_signal(signal.SIGKILL)
            process.wait(timeout=SHUTDOWN_TIMEOUT)
        assert _wait(lambda: not _port_open(port), 10)

    state["start"], state["stop"] = start, stop
    yield state
    stop()


def _port_open(port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(0.2)
        return probe.connect_ex(("127.0.0.1", port)) == 0


def test_broker_down_upload_is_accepted_pending_then_ingested_after_it_returns(
    processes, own_redis, workspace, owner, tmp_path
):
    env = {**processes.env, "CELERY_BROKER_URL": f"redis://127.0.0.1:{own_redis['port']}/0"}
    processes.env = env
    path = generate_visitors(tmp_path / "v.csv", 2_000, seed=8)

    # The broker is down: the upload is stored and accepted (exit 0, no traceback), and stays PENDING.
    accepted = processes.manage("ingest", str(path), "--workspace", workspace.slug)
    assert accepted.returncode == 0, accepted.stderr[-3000:]
    pk = int(accepted.stdout.strip())
    waiting = _upload(pk)
    assert (waiting.status, waiting.enqueued_at, waiting.sha256 is not None) == (UploadStatus.PENDING, None, True)
    assert storage.upload_path(waiting).stat().st_size == path.stat().st_size
    assert "could not enqueue upload" in accepted.stderr

    own_redis["start"]()
    processes.start_worker("after-outage")
    janitor = processes.janitor()
    ended = _wait(lambda: (u := _upload(pk)).is_terminal and u, LOAD_TIMEOUT, interval=0.5)

    assert "'requeued': 1" in janitor.stdout, janitor.stdout + janitor.stderr[-3000:]
    assert (ended.status, ended.attempts, ended.version.row_count) == (UploadStatus.READY, 1, 2_000)


def test_the_same_file_finished_by_two_processes_at_once_makes_one_dataset(processes, workspace, owner, tmp_path):
    path = generate_visitors(tmp_path / "same.csv", 20_000, seed=9)
    command = [sys.executable, "manage.py", "ingest", str(path), "--workspace", workspace.slug, "--sync", "--json"]

    runs = [
        subprocess.Popen(command, cwd=REPO_ROOT, env=processes.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        for _ in range(2)
    ]
    outputs = [run.communicate(timeout=LOAD_TIMEOUT) for run in runs]

    statuses = sorted(Upload.objects.filter(workspace=workspace).values_list("status", flat=True))
    assert statuses == [UploadStatus.CANCELLED, UploadStatus.READY], [o[1][-2000:] for o in outputs]
    assert sorted(run.returncode for run in runs) == [0, 1]
    assert Dataset.objects.filter(workspace=workspace).count() == 1
    assert DatasetVersion.objects.filter(workspace=workspace).count() == 1
