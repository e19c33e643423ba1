# ruff: noqa: F401, F811 - fixtures imported from pipeline_helpers are used as parameters
"""The worker side: CAS claims, poison guard, lease loss, sniff -> mapping -> load -> publish, versions."""

import csv
import dataclasses
import threading
from datetime import timedelta

import pyarrow.parquet as pq
import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.db.models import F
from django.utils import timezone

from audit.models import AuditEvent
from datasets import storage
from datasets.ingest import errors as engine_errors
from datasets.ingest.generator import generate_visitors
from datasets.models import ColumnMapping, Dataset, DatasetVersion, Upload, UploadStatus
from datasets.services import (
    LeaseLost,
    dataset_delete,
    dataset_rename,
    dataset_version_delete,
    dataset_version_restore,
    pipeline,
    upload_claim,
    upload_confirm_mapping,
    upload_process,
    upload_retry,
)
from datasets.services import errors as E
from datasets.tasks import ingest_upload

from .pipeline_helpers import (
    SIMPLE_CSV,
    buyers_csv,
    ingest_sync,
    media_root,
    upload_bytes,
    visitors_csv,
    write_file,
)

pytestmark = pytest.mark.usefixtures("media_root")


def _pending(workspace, user, data=SIMPLE_CSV, **kwargs) -> Upload:
    return upload_bytes(workspace=workspace, user=user, data=data, enqueue=False, **kwargs).upload


def _csv_rows(path) -> int:
    with open(path, newline="") as fh:
        return sum(1 for _ in csv.reader(fh)) - 1


# --- claims --------------------------------------------------------------------------------------


def test_a_second_claim_of_the_same_upload_gets_nothing(workspace, analyst):
    upload = _pending(workspace, analyst)

    first = upload_claim(upload=upload, task_id="task-a")
    second = upload_claim(upload=upload, task_id="task-b")

    assert second is None
    assert (first.status, first.attempts, first.claim_version) == (UploadStatus.SNIFFING, 1, 1)
    assert first.lease_owner.endswith(":task-a")
    assert first.lease_expires_at > timezone.now() + timedelta(seconds=250)


@pytest.mark.django_db(transaction=True)
def test_concurrent_claims_one_wins(workspace, analyst, media_root):
    """T-REL-08: the web and the janitor both enqueued; two workers claim at the same moment."""
    upload = _pending(workspace, analyst)
    barrier = threading.Barrier(4)
    won = []

    def claim(task_id):
        try:
            barrier.wait(timeout=10)
            won.append(upload_claim(upload=upload, task_id=task_id))
        finally:
            connection.close()

    threads = [threading.Thread(target=claim, args=(f"task-{i}",)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    upload.refresh_from_db()
    assert len([w for w in won if w is not None]) == 1
    assert (upload.attempts, upload.claim_version) == (1, 1)


def test_an_expired_lease_is_claimed_again_and_the_old_worker_loses(workspace, analyst):
    upload = _pending(workspace, analyst)
    dead = upload_claim(upload=upload, task_id="dead-worker")
    Upload.objects.filter(pk=upload.pk).update(lease_expires_at=timezone.now() - timedelta(seconds=1))

    fresh = upload_claim(upload=upload, task_id="new-worker")

    assert (fresh.attempts, fresh.claim_version) == (2, 2)
    with pytest.raises(LeaseLost):
        pipeline.Heartbeat(dead).beat(step="reading", rows_done=10)


def test_the_same_task_redelivered_takes_its_own_live_claim_back(workspace, analyst):
    upload = _pending(workspace, analyst)
    upload_claim(upload=upload, task_id="task-a")

    redelivered = upload_claim(upload=upload, task_id="task-a")

    assert (redelivered.attempts, redelivered.claim_version) == (2, 2)


def test_poison_guard_fails_an_upload_claimed_too_often(workspace, analyst):
    upload = _pending(workspace, analyst)
    Upload.objects.filter(pk=upload.pk).update(status=UploadStatus.LOADING, attempts=3, lease_expires_at=timezone.now())

    ended = upload_process(upload=upload, task_id="task-x")

    upload.refresh_from_db()
    assert ended is None
    assert (upload.status, upload.error_code) == (UploadStatus.FAILED, E.CODE_TOO_MANY_ATTEMPTS)
    assert upload.error_message == E.MESSAGE_TOO_MANY_ATTEMPTS.format(attempts=3)


# --- the whole pipeline ------------------------------------------------------------------------------


def test_a_confident_file_goes_straight_to_ready(workspace, analyst, visitors_csv):
    upload = ingest_sync(workspace=workspace, user=analyst, path=visitors_csv)

    version = upload.version
    table = pq.read_table(storage.version_parquet_path(version))
    assert (upload.status, upload.attempts, upload.lease_owner) == (UploadStatus.READY, 1, "")
    assert upload.dataset.current_version == version
    assert (upload.dataset.name, upload.dataset.kind) == ("visitors", "visitors")
    assert (version.number, version.row_count, table.num_rows) == (1, 1000, 1000)
    assert upload.receipt["rows_read"] == _csv_rows(visitors_csv) == 1000
    assert table.column("zip").type == "string"  # leading zeros kept
    assert [c["name"] for c in version.columns] == table.column_names
    assert AuditEvent.objects.filter(workspace=workspace, action="dataset.version_published").count() == 1
    assert list(storage.staging_root().glob("*")) == []


def test_the_engine_refusing_a_file_fails_the_upload_with_its_code(workspace, analyst, tmp_path):
    upload = ingest_sync(workspace=workspace, user=analyst, path=write_file(tmp_path, "h.csv", b"a,b,c\n"))

    assert (upload.status, upload.error_code) == (UploadStatus.FAILED, engine_errors.NO_DATA)
    assert upload.error_message == engine_errors.error_message(engine_errors.NO_DATA)
    assert not Dataset.objects.filter(workspace=workspace).exists()


def test_an_unexpected_error_fails_with_a_generic_message(workspace, analyst, visitors_csv, monkeypatch):
    def boom(*args, **kwargs):
        raise RuntimeError("secret internals")

    monkeypatch.setattr(pipeline, "ingest_file", boom)

    upload = ingest_sync(workspace=workspace, user=analyst, path=visitors_csv)

    assert (upload.status, upload.error_code, upload.error_message) == (
        UploadStatus.FAILED,
        E.CODE_INTERNAL,
        E.MESSAGE_INTERNAL,
    )


def test_lease_lost_during_the_load_aborts_without_publishing(workspace, analyst, tmp_path, settings, monkeypatch):
    settings.DATASETS_HEARTBEAT_SECONDS = 0
    path = generate_visitors(tmp_path / "v.csv", 3_000, seed=5)
    real_ingest = pipeline.ingest_file

    def ingest_then_lose_the_lease(*args, progress, **kwargs):
        def stolen(p):
            Upload.objects.filter(pk=upload.pk).update(claim_version=F("claim_version") + 1, lease_owner="thief")
            progress(p)

        small_chunks = dataclasses.replace(kwargs.pop("options"), chunk_rows=1000)
        return real_ingest(*args, progress=stolen, options=small_chunks, **kwargs)

    monkeypatch.setattr(pipeline, "ingest_file", ingest_then_lose_the_lease)
    upload = _pending(workspace, analyst, path.read_bytes(), kind="visitors")

    upload_process(upload=upload, task_id="victim")

    upload.refresh_from_db()
    assert (upload.status, upload.lease_owner) == (UploadStatus.LOADING, "thief")  # the thief's, untouched
    assert not DatasetVersion.objects.exists()
    assert list(storage.staging_root().glob("*")) == []


def test_a_failure_inside_publish_leaves_the_current_version_and_no_files(
    workspace,
    analyst,
    visitors_csv,
    tmp_path,
    monkeypatch,
):
    first = ingest_sync(workspace=workspace, user=analyst, path=visitors_csv)
    dataset = first.dataset
    files_before = sorted(p.name for p in storage.local_path(f"datasets/{workspace.pk}").rglob("*"))

    def audit_fails(**kwargs):
        raise RuntimeError("audit down")

    monkeypatch.setattr(pipeline, "audit_record", audit_fails)
    replacement = generate_visitors(tmp_path / "v2.csv", 300, seed=99)
    second = ingest_sync(workspace=workspace, user=analyst, path=replacement, mode="replace", dataset=dataset)

    dataset.refresh_from_db()
    files_after = sorted(p.name for p in storage.local_path(f"datasets/{workspace.pk}").rglob("*"))
    assert (second.status, second.error_code) == (UploadStatus.FAILED, E.CODE_INTERNAL)
    assert dataset.current_version == first.version
    assert list(dataset.versions.values_list("number", flat=True)) == [1]
    assert files_after == files_before


# --- versions -----------------------------------------------------------------------------------------


def test_replace_append_restore_and_delete_versions(
    workspace, analyst, owner, tmp_path, django_capture_on_commit_callbacks
):
    v1_file = generate_visitors(tmp_path / "v1.csv", 400, seed=1)
    v1 = ingest_sync(workspace=workspace, user=analyst, path=v1_file)
    dataset = v1.dataset
    v2_file = generate_visitors(tmp_path / "v2.csv", 250, seed=2)
    v2 = ingest_sync(workspace=workspace, user=analyst, path=v2_file, mode="replace", dataset=dataset)
    # Append: 100 rows already in v2 (its first lines) plus 150 new ones.
    lines = v2_file.read_text().splitlines()
    fresh = generate_visitors(tmp_path / "fresh.csv", 150, seed=3).read_text().splitlines()[1:]
    fresh = [line.replace(",", "X,", 1) for line in fresh]  # new visitor ids
    appended = write_file(tmp_path, "v3.csv", ("\n".join([lines[0], *lines[1:101], *fresh]) + "\n").encode())
    v3 = ingest_sync(workspace=workspace, user=analyst, path=appended, mode="append", dataset=dataset)

    dataset.refresh_from_db()
    assert [v.row_count for v in dataset.versions.order_by("number")] == [400, 250, 400]
    assert dataset.current_version == v3.version
    assert v3.version.receipt["append"] == {
        "previous_version": 2,
        "previous_rows": 250,
        "new_rows": 250,
        "duplicates_removed": 100,
        "rows": 400,
    }
    combined = pq.read_table(storage.version_parquet_path(v3.version)).column("visitor_id").to_pylist()
    assert combined[:250] == pq.read_table(storage.version_parquet_path(v2.version)).column("visitor_id").to_pylist()

    restored = dataset_version_restore(dataset=dataset, version=v1.version, user=owner)
    with pytest.raises(ValidationError) as current:
        dataset_version_delete(dataset=dataset, version=v1.version, user=owner)
    v2_dir = storage.version_parquet_path(v2.version).parent
    with django_capture_on_commit_callbacks(execute=True):
        dataset_version_delete(dataset=dataset, version=v2.version, user=owner)

    assert restored.current_version == v1.version
    assert current.value.messages == [E.ERROR_VERSION_IS_CURRENT]
    assert list(dataset.versions.order_by("number").values_list("number", flat=True)) == [1, 3]
    assert not v2_dir.exists()
    actions = list(AuditEvent.objects.filter(workspace=workspace).values_list("action", flat=True))
    assert actions.count("dataset.version_published") == 3
    assert {"dataset.version_restored", "dataset.version_deleted"} <= set(actions)


def test_a_version_of_another_dataset_cannot_be_restored(workspace, analyst, owner, visitors_csv, buyers_csv):
    visitors = ingest_sync(workspace=workspace, user=analyst, path=visitors_csv)
    buyers = ingest_sync(workspace=workspace, user=analyst, path=buyers_csv)

    with pytest.raises(ValidationError) as caught:
        dataset_version_restore(dataset=visitors.dataset, version=buyers.version, user=owner)

    assert caught.value.messages == [E.ERROR_VERSION_OTHER_DATASET]


def test_delete_dataset_removes_files_and_frees_the_bytes_for_upload_again(
    workspace,
    analyst,
    owner,
    visitors_csv,
    django_capture_on_commit_callbacks,
):
    upload = ingest_sync(workspace=workspace, user=analyst, path=visitors_csv)
    parquet = storage.version_parquet_path(upload.version)
    original = storage.upload_path(upload)
    dataset_rename(dataset=upload.dataset, user=owner, name="  Q3 visitors ")

    with django_capture_on_commit_callbacks(execute=True):
        dataset_delete(dataset=upload.dataset, user=owner)
    again = ingest_sync(workspace=workspace, user=analyst, path=visitors_csv)

    assert not parquet.exists() and not original.exists()
    assert Upload.objects.get(pk=upload.pk).dataset is None
    assert again.status == UploadStatus.READY
    deleted = AuditEvent.objects.get(workspace=workspace, action="dataset.deleted")
    assert deleted.details["name"] == "Q3 visitors"
    assert AuditEvent.objects.filter(workspace=workspace, action="dataset.renamed").count() == 1


# --- mapping review --------------------------------------------------------------------------------------


def test_an_unsure_file_waits_for_review_then_loads_with_the_confirmed_mapping(workspace, analyst, tmp_path):
    data = b"name,phone,signup,notes\nAlice,555-0101,2024-01-05,x\nBob,555-0102,2024-02-06,y\n"
    upload = ingest_sync(workspace=workspace, user=analyst, path=write_file(tmp_path, "people.csv", data))
    assert (upload.status, upload.lease_owner, upload.mapping_confirmed) == (UploadStatus.NEEDS_MAPPING, "", False)
    assert [c["name"] for c in upload.sniff["columns"]] == ["name", "phone", "signup", "notes"]
    assert set(upload.sniff["proposed_mapping"]) == {"name", "phone", "signup", "notes"}

    mapping = {
        "name": {"field": "lead_name", "type": "text"},
        "phone": {"field": "lead_phone", "type": "text"},
        "signup": {"field": "lead_date", "type": "date"},
        "notes": {"field": "__ignore__", "type": "text"},
    }
    confirmed = upload_confirm_mapping(upload=upload, user=analyst, mapping=mapping, kind="leads", options={})
    assert confirmed.status == UploadStatus.QUEUED
    ready = upload_process(upload=confirmed)

    table = pq.read_table(storage.version_parquet_path(ready.version))
    saved = ColumnMapping.objects.get(workspace=workspace, kind="leads")
    assert (ready.status, ready.dataset.kind) == (UploadStatus.READY, "leads")
    assert table.column_names == ["name", "phone", "signup"]
    assert saved.mapping["name"] == {"field": "lead_name", "type": "text"}
    assert AuditEvent.objects.filter(action="upload.mapping_confirmed", target_id=str(upload.pk)).count() == 1

    # Next time, the same columns for the same kind skip the review with the saved mapping.
    data2 = b"name,phone,signup,notes\nCarol,555-0103,2024-03-07,z\n"
    next_upload = ingest_sync(
        workspace=workspace, user=analyst, path=write_file(tmp_path, "people2.csv", data2), kind="leads"
    )
    assert next_upload.status == UploadStatus.READY
    assert next_upload.sniff["saved_mapping_used"] is True
    assert next_upload.sniff["proposed_mapping"]["notes"]["field"] == "__ignore__"


def test_a_mapping_naming_unknown_columns_or_fields_is_refused(workspace, analyst, tmp_path):
    upload = ingest_sync(workspace=workspace, user=analyst, path=write_file(tmp_path, "p.csv", SIMPLE_CSV))

    with pytest.raises(ValidationError) as column:
        upload_confirm_mapping(upload=upload, user=analyst, mapping={"nope": {"field": ""}}, kind="custom")
    with pytest.raises(ValidationError) as field:
        upload_confirm_mapping(upload=upload, user=analyst, mapping={"name": {"field": "drop table"}}, kind="custom")

    assert column.value.messages == [E.ERROR_MAPPING_INVALID.format(detail="unknown column 'nope'")]
    assert field.value.messages == [E.ERROR_MAPPING_INVALID.format(detail="unknown field 'drop table'")]
    assert Upload.objects.get(pk=upload.pk).status == UploadStatus.NEEDS_MAPPING


def test_accept_mapping_option_loads_an_unsure_file(workspace, analyst, tmp_path):
    upload = ingest_sync(
        workspace=workspace,
        user=analyst,
        path=write_file(tmp_path, "p.csv", SIMPLE_CSV),
        options={"accept_mapping": True},
    )

    assert (upload.status, upload.version.row_count, upload.dataset.kind) == (UploadStatus.READY, 3, "custom")


# --- retry, tasks ------------------------------------------------------------------------------------------


def test_retry_a_failed_upload(workspace, analyst, visitors_csv, monkeypatch, django_capture_on_commit_callbacks):
    real_ingest = pipeline.ingest_file
    monkeypatch.setattr(pipeline, "ingest_file", lambda *a, **k: (_ for _ in ()).throw(RuntimeError("flaky")))
    failed = ingest_sync(workspace=workspace, user=analyst, path=visitors_csv)
    monkeypatch.setattr(pipeline, "ingest_file", real_ingest)

    with django_capture_on_commit_callbacks(execute=True):  # the eager task runs on commit
        upload_retry(upload=failed, user=analyst)

    failed.refresh_from_db()
    assert (failed.status, failed.attempts, failed.error_code) == (UploadStatus.READY, 1, "")
    assert AuditEvent.objects.filter(action="upload.retried", target_id=str(failed.pk)).count() == 1
    with pytest.raises(ValidationError):
        upload_retry(upload=failed, user=analyst)


def test_finish_enqueues_on_commit_and_the_task_ingests(
    workspace, analyst, visitors_csv, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        result = upload_bytes(workspace=workspace, user=analyst, data=visitors_csv.read_bytes(), name="v.csv")

    upload = Upload.objects.get(pk=result.upload.pk)
    assert upload.status == UploadStatus.READY
    assert upload.enqueued_at is not None


def test_the_task_ignores_an_upload_named_with_another_workspace(workspace, other_workspace, analyst):
    """T-IDOR-07: a message carrying someone else's workspace id does nothing."""
    upload = _pending(workspace, analyst)

    result = ingest_upload.apply(kwargs={"workspace_id": other_workspace.pk, "upload_id": upload.pk}).get()

    upload.refresh_from_db()
    assert result is None
    assert (upload.status, upload.attempts) == (UploadStatus.PENDING, 0)


def test_the_task_retries_transient_database_errors_within_the_visibility_timeout(settings):
    """T-REL-10: a retry countdown can never outlive the broker's visibility timeout."""
    from django.db import InterfaceError, OperationalError

    assert {OperationalError, InterfaceError} <= set(ingest_upload.autoretry_for)
    assert ingest_upload.retry_backoff_max + settings.CELERY_TASK_TIME_LIMIT < settings.CELERY_VISIBILITY_TIMEOUT
    assert ingest_upload.acks_late is True


def test_a_transient_database_error_is_raised_for_celery_to_retry(workspace, analyst, monkeypatch):
    from django.db import OperationalError

    upload = _pending(workspace, analyst)
    monkeypatch.setattr(pipeline, "_sniff_stage", lambda *a: (_ for _ in ()).throw(OperationalError("db restarting")))

    with pytest.raises(OperationalError):
        upload_process(upload=upload, task_id="task-t")

    upload.refresh_from_db()
    assert upload.status == UploadStatus.SNIFFING  # still ours: the retry (same task id) takes it back
    assert upload_claim(upload=upload, task_id="task-t").attempts == 2
