# ruff: noqa: F401, F811 - fixtures imported from pipeline_helpers are used as parameters
"""The janitor: re-queues stuck uploads, fails poison ones, purges orphans; running it twice is harmless."""

import os
import time
from datetime import timedelta

import pytest
from django.utils import timezone
from kombu.exceptions import OperationalError as BrokerDown

from datasets import storage
from datasets.janitor import CODE_ABANDONED, janitor_run
from datasets.models import Upload, UploadStatus
from datasets.services import errors as E
from datasets.services import upload_claim, upload_start
from datasets.tasks import ingest_upload

from .pipeline_helpers import media_root, upload_bytes, visitors_csv

pytestmark = pytest.mark.usefixtures("media_root")


def _old(upload, **fields):
    Upload.objects.filter(pk=upload.pk).update(**fields)
    upload.refresh_from_db()
    return upload


def test_a_dead_broker_leaves_the_upload_pending_and_the_janitor_enqueues_it_later(
    workspace,
    analyst,
    visitors_csv,
    monkeypatch,
    django_capture_on_commit_callbacks,
):
    def broker_down(*args, **kwargs):
        raise BrokerDown("Error 111 connecting to redis:6379. Connection refused.")

    with monkeypatch.context() as broken:
        broken.setattr(ingest_upload, "apply_async", broker_down)
        with django_capture_on_commit_callbacks(execute=True):
            result = upload_bytes(workspace=workspace, user=analyst, data=visitors_csv.read_bytes(), name="v.csv")
    upload = Upload.objects.get(pk=result.upload.pk)
    assert (upload.status, upload.enqueued_at) == (UploadStatus.PENDING, None)

    counts = janitor_run()  # the broker is back (eager in tests): the task runs

    upload.refresh_from_db()
    assert counts["requeued"] == 1
    assert upload.status == UploadStatus.READY
    assert janitor_run()["requeued"] == 0


def test_recently_enqueued_uploads_are_left_alone(workspace, analyst):
    upload = upload_bytes(workspace=workspace, user=analyst, data=b"a,b\n1,2\n", enqueue=False).upload
    _old(upload, status=UploadStatus.QUEUED, enqueued_at=timezone.now() - timedelta(minutes=5))
    pending = upload_bytes(workspace=workspace, user=analyst, data=b"a,b\n3,4\n", enqueue=False).upload
    _old(pending, enqueued_at=timezone.now() - timedelta(seconds=30))

    counts = janitor_run()

    assert counts["requeued"] == 0
    assert Upload.objects.get(pk=upload.pk).status == UploadStatus.QUEUED


def test_an_expired_lease_is_requeued_and_loaded_by_another_attempt(workspace, analyst, visitors_csv):
    upload = upload_bytes(workspace=workspace, user=analyst, data=visitors_csv.read_bytes(), enqueue=False).upload
    upload_claim(upload=upload, task_id="worker-that-died")
    _old(upload, lease_expires_at=timezone.now() - timedelta(seconds=1))

    counts = janitor_run()

    upload.refresh_from_db()
    assert counts["requeued"] == 1
    assert (upload.status, upload.attempts) == (UploadStatus.READY, 2)


def test_an_expired_lease_without_attempts_left_fails(workspace, analyst):
    upload = upload_bytes(workspace=workspace, user=analyst, data=b"a,b\n1,2\n", enqueue=False).upload
    _old(upload, status=UploadStatus.LOADING, attempts=3, lease_expires_at=timezone.now() - timedelta(seconds=1))

    counts = janitor_run()

    upload.refresh_from_db()
    assert (counts["failed"], counts["requeued"]) == (1, 0)
    assert (upload.status, upload.error_code) == (UploadStatus.FAILED, E.CODE_TOO_MANY_ATTEMPTS)


def test_orphaned_staging_is_purged_and_live_staging_kept(workspace, analyst):
    upload = upload_bytes(workspace=workspace, user=analyst, data=b"a,b\n1,2\n", enqueue=False).upload
    live = upload_claim(upload=upload, task_id="alive")
    live_dir = storage.staging_dir(upload_id=live.pk, claim_version=live.claim_version)
    dead_dir = storage.staging_dir(upload_id=live.pk, claim_version=live.claim_version - 1 or 99)
    for directory in (live_dir, dead_dir):
        directory.mkdir(parents=True)
        (directory / "staging.parquet").write_bytes(b"x")
        an_hour_ago = time.time() - 3600
        os.utime(directory, (an_hour_ago, an_hour_ago))

    counts = janitor_run()

    assert counts["staging_purged"] == 1
    assert live_dir.exists() and not dead_dir.exists()


def test_receiving_uploads_untouched_for_a_day_are_discarded(workspace, analyst):
    import io

    from datasets.services import upload_append_chunk

    upload = upload_start(workspace=workspace, user=analyst, original_name="big.csv", size_bytes=100)
    upload_append_chunk(upload=upload, offset=0, stream=io.BytesIO(b"x" * 10), length=10)
    fresh = upload_start(workspace=workspace, user=analyst, original_name="new.csv", size_bytes=100)
    _old(upload, updated_at=timezone.now() - timedelta(hours=25))

    counts = janitor_run()

    upload.refresh_from_db()
    assert counts["receiving_abandoned"] == 1
    assert (upload.status, upload.error_code) == (UploadStatus.CANCELLED, CODE_ABANDONED)
    assert not storage.upload_path(upload).exists()
    assert Upload.objects.get(pk=fresh.pk).status == UploadStatus.RECEIVING
