# ruff: noqa: F401, F811, PLR0917 - fixtures imported from pipeline_helpers are used as parameters
"""Upload services: chunks, resume, finish, dedup (T-UP-04, T-IDOR-06), quota (T-UP-05), names (T-UP-03)."""

import hashlib
import io
import threading

import pytest
from django.core.exceptions import ValidationError
from django.db import connection

from audit.models import AuditEvent
from datasets import storage
from datasets.models import Upload, UploadStatus
from datasets.services import (
    ChunkOffsetMismatch,
    upload_append_chunk,
    upload_cancel,
    upload_finish,
    upload_start,
)
from datasets.services import errors as E

from .pipeline_helpers import SIMPLE_CSV, dataset_bare, media_root, upload_bytes

pytestmark = pytest.mark.usefixtures("media_root")


def _start(workspace, user, data=SIMPLE_CSV, **kwargs):
    return upload_start(workspace=workspace, user=user, original_name="people.csv", size_bytes=len(data), **kwargs)


def test_chunks_then_finish_store_the_bytes_and_hash_them(workspace, analyst):
    data = b"a,b\n" + b"1,2\n" * 5000
    upload = _start(workspace, analyst, data)

    upload = upload_append_chunk(upload=upload, offset=0, stream=io.BytesIO(data[:7000]), length=7000)
    upload = upload_append_chunk(upload=upload, offset=7000, stream=io.BytesIO(data[7000:]), length=len(data) - 7000)
    result = upload_finish(upload=upload, enqueue=False)

    assert result.duplicate_of is None
    assert (result.upload.status, result.upload.received_bytes) == (UploadStatus.PENDING, len(data))
    assert result.upload.sha256 == hashlib.sha256(data).hexdigest()
    assert storage.upload_path(result.upload).read_bytes() == data
    assert AuditEvent.objects.filter(workspace=workspace, action="upload.received", target_id=str(upload.pk)).exists()


def test_a_chunk_at_the_wrong_offset_says_where_to_resume(workspace, analyst):
    upload = _start(workspace, analyst)
    upload_append_chunk(upload=upload, offset=0, stream=io.BytesIO(SIMPLE_CSV[:10]), length=10)

    with pytest.raises(ChunkOffsetMismatch) as caught:
        upload_append_chunk(upload=upload, offset=0, stream=io.BytesIO(SIMPLE_CSV[:10]), length=10)

    assert caught.value.expected == 10
    assert Upload.objects.get(pk=upload.pk).received_bytes == 10


def test_a_chunk_past_the_declared_size_or_cut_short_is_refused(workspace, analyst):
    upload = _start(workspace, analyst)

    with pytest.raises(ValidationError) as past_end:
        upload_append_chunk(upload=upload, offset=0, stream=io.BytesIO(SIMPLE_CSV + b"x"), length=len(SIMPLE_CSV) + 1)
    with pytest.raises(ValidationError) as short:
        upload_append_chunk(upload=upload, offset=0, stream=io.BytesIO(SIMPLE_CSV[:5]), length=20)

    assert past_end.value.messages == [E.ERROR_CHUNK_PAST_END]
    assert short.value.messages == [E.ERROR_CHUNK_INCOMPLETE]
    assert Upload.objects.get(pk=upload.pk).received_bytes == 0


def test_finish_refuses_a_partial_upload(workspace, analyst):
    upload = _start(workspace, analyst)
    upload_append_chunk(upload=upload, offset=0, stream=io.BytesIO(SIMPLE_CSV[:10]), length=10)

    with pytest.raises(ValidationError) as caught:
        upload_finish(upload=upload)

    assert caught.value.messages == [E.ERROR_UPLOAD_INCOMPLETE.format(received=10, size=len(SIMPLE_CSV))]


def test_same_fingerprint_resumes_the_unfinished_upload(workspace, analyst, owner):
    first = _start(workspace, analyst, client_fingerprint="people.csv|83|1700000000")

    again = _start(workspace, analyst, client_fingerprint="people.csv|83|1700000000")
    someone_else = _start(workspace, owner, client_fingerprint="people.csv|83|1700000000")

    assert again.pk == first.pk
    assert someone_else.pk != first.pk


@pytest.mark.parametrize(
    ("client_name", "shown"),
    [
        ("../../etc/evil.csv", "evil.csv"),
        ("..\\..\\windows\\evil.csv", "evil.csv"),
        ("/absolute/evil.csv", "evil.csv"),
        ("evil\u202egpj.csv", "evilgpj.csv"),
        ("nul\x00byte.csv", "nulbyte.csv"),
        ("..", "upload"),
    ],
)
def test_path_traversal_names_never_reach_storage(workspace, analyst, media_root, tmp_path, client_name, shown):
    result = upload_bytes(workspace=workspace, user=analyst, data=SIMPLE_CSV, name=client_name, enqueue=False)
    upload = result.upload

    stored = storage.upload_path(upload).resolve()
    assert upload.original_name == shown
    assert upload.storage_key.startswith(f"uploads/{workspace.pk}/")
    assert "evil" not in upload.storage_key and ".." not in upload.storage_key
    assert stored.is_relative_to(media_root.resolve())
    assert [p.name for p in tmp_path.rglob("*evil*")] == []


def test_size_limit_and_dataset_of_another_workspace_are_refused(workspace, other_workspace, analyst, settings):
    settings.DATASETS_MAX_UPLOAD_BYTES = 100
    foreign = dataset_bare(workspace=other_workspace)

    with pytest.raises(ValidationError) as too_big:
        _start(workspace, analyst, b"x" * 101)
    with pytest.raises(ValidationError) as foreign_dataset:
        _start(workspace, analyst, mode="append", dataset=foreign)

    assert too_big.value.messages == [E.ERROR_FILE_TOO_LARGE.format(limit="100\xa0bytes")]
    assert foreign_dataset.value.messages == [E.ERROR_DATASET_OTHER_WORKSPACE]


def test_quota_on_upload_count(workspace, analyst, settings):
    settings.DATASETS_WORKSPACE_MAX_UPLOADS = 2
    _start(workspace, analyst, b"one")
    _start(workspace, analyst, b"two")

    with pytest.raises(ValidationError) as caught:
        _start(workspace, analyst, b"three")

    assert caught.value.messages == [E.ERROR_QUOTA_COUNT.format(limit=2)]


def test_quota_on_stored_bytes_counts_this_workspace_only(workspace, other_workspace, analyst, other_owner, settings):
    settings.DATASETS_WORKSPACE_QUOTA_BYTES = 1000
    _start(other_workspace, other_owner, b"x" * 900)
    _start(workspace, analyst, b"x" * 600)

    with pytest.raises(ValidationError) as caught:
        _start(workspace, analyst, b"x" * 401)
    fits = _start(workspace, analyst, b"x" * 400)

    assert caught.value.messages == [E.ERROR_QUOTA_BYTES.format(limit="1000\xa0bytes")]
    assert fits.status == UploadStatus.RECEIVING


def test_same_bytes_in_the_same_workspace_is_a_duplicate(workspace, analyst, owner):
    first = upload_bytes(workspace=workspace, user=analyst, data=SIMPLE_CSV, enqueue=False).upload

    second = upload_bytes(workspace=workspace, user=owner, data=SIMPLE_CSV, name="copy.csv", enqueue=False)

    assert second.duplicate_of.pk == first.pk
    assert (second.upload.status, second.upload.error_code) == (UploadStatus.CANCELLED, E.CODE_DUPLICATE)


def test_same_bytes_in_another_workspace_is_not_a_duplicate(workspace, other_workspace, analyst, other_owner):
    mine = upload_bytes(workspace=workspace, user=analyst, data=SIMPLE_CSV, enqueue=False).upload

    theirs = upload_bytes(workspace=other_workspace, user=other_owner, data=SIMPLE_CSV, enqueue=False)

    assert theirs.duplicate_of is None
    assert theirs.upload.status == UploadStatus.PENDING
    assert theirs.upload.sha256 == mine.sha256


def test_a_duplicate_bytes_are_deleted_after_commit(workspace, analyst, django_capture_on_commit_callbacks):
    upload_bytes(workspace=workspace, user=analyst, data=SIMPLE_CSV, enqueue=False)
    with django_capture_on_commit_callbacks(execute=True):
        second = upload_bytes(workspace=workspace, user=analyst, data=SIMPLE_CSV, enqueue=False).upload

    assert not storage.upload_path(second).exists()


def test_finish_twice_gives_the_same_answer(workspace, analyst):
    result = upload_bytes(workspace=workspace, user=analyst, data=SIMPLE_CSV, enqueue=False)

    again = upload_finish(upload=result.upload, enqueue=False)

    assert (again.upload.pk, again.upload.status, again.duplicate_of) == (result.upload.pk, UploadStatus.PENDING, None)


def test_cancel_receiving_upload_deletes_its_bytes(workspace, analyst, django_capture_on_commit_callbacks):
    upload = _start(workspace, analyst)
    upload_append_chunk(upload=upload, offset=0, stream=io.BytesIO(SIMPLE_CSV[:10]), length=10)

    with django_capture_on_commit_callbacks(execute=True):
        cancelled = upload_cancel(upload=upload, user=analyst)

    assert cancelled.status == UploadStatus.CANCELLED
    assert not storage.upload_path(cancelled).exists()
    assert AuditEvent.objects.filter(action="upload.cancelled", target_id=str(upload.pk)).count() == 1
    with pytest.raises(ValidationError):
        upload_cancel(upload=cancelled, user=analyst)


@pytest.mark.django_db(transaction=True)
def test_concurrent_finishes_of_the_same_bytes_make_one_upload(workspace, analyst, settings):
    """T-UP-04: several requests finish the same bytes at once; the unique constraint picks one."""
    uploads = []
    for _ in range(4):
        upload = _start(workspace, analyst)
        upload_append_chunk(upload=upload, offset=0, stream=io.BytesIO(SIMPLE_CSV), length=len(SIMPLE_CSV))
        uploads.append(upload)
    barrier = threading.Barrier(len(uploads))
    results, failures = {}, []

    def finish(upload):
        try:
            barrier.wait(timeout=10)
            results[upload.pk] = upload_finish(upload=upload, enqueue=False)
        except Exception as exc:  # surfaced by the assert below
            failures.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=finish, args=(u,)) for u in uploads]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    statuses = sorted(Upload.objects.filter(workspace=workspace).values_list("status", flat=True))
    winner = Upload.objects.get(workspace=workspace, status=UploadStatus.PENDING)
    assert failures == []
    assert statuses == [UploadStatus.CANCELLED] * 3 + [UploadStatus.PENDING]
    assert {r.duplicate_of.pk for r in results.values() if r.duplicate_of} == {winner.pk}


def test_owner_admin_lists_only_uploads_of_owned_workspaces(client, workspace, other_workspace, owner, other_owner):
    from django.urls import reverse

    upload_bytes(workspace=workspace, user=owner, data=SIMPLE_CSV, name="mine.csv", enqueue=False)
    upload_bytes(workspace=other_workspace, user=other_owner, data=SIMPLE_CSV, name="theirs.csv", enqueue=False)
    client.force_login(owner)

    response = client.get(reverse("owner_admin:datasets_upload_changelist"))

    assert response.status_code == 200
    assert b"mine.csv" in response.content
    assert b"theirs.csv" not in response.content
