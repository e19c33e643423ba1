# ruff: noqa: F401 - fixtures imported from pipeline_helpers are used as parameters
"""Re-map a loaded dataset (a new version from the same original file), re-read an upload before
review, and cancel a failed upload: state changes by compare-and-set, audited, workspace-scoped."""

import io

import pytest
from django.core.exceptions import ValidationError

from audit.models import AuditEvent
from datasets import storage
from datasets.models import ColumnMapping, Dataset, DatasetVersion, Upload, UploadMode, UploadStatus
from datasets.services import (
    dataset_remap,
    upload_cancel,
    upload_from_path,
    upload_process,
    upload_resniff,
    upload_retry,
)
from datasets.services import errors as E

from .page_helpers import dataset_remappable, upload_failed, upload_needs_mapping
from .pipeline_helpers import SIMPLE_CSV, media_root

pytestmark = pytest.mark.usefixtures("media_root")

SEMICOLON_CSV = b"name;amount;signup\nAlice;10;2024-01-05\nBob;20;2024-02-06\nCarol;30;2024-03-07\n"
BUYERS_MAPPING = {
    "name": {"field": "buyer_key", "type": "text"},
    "amount": {"field": "revenue", "type": "money"},
    "signup": {"field": "__ignore__", "type": ""},
}


def _loaded(workspace, user, data=SIMPLE_CSV, **options) -> Upload:
    """SIMPLE_CSV through the real pipeline (accepting the proposal): a READY upload, version 1."""
    result = upload_from_path(
        workspace=workspace,
        user=user,
        path=io.BytesIO(data),
        original_name="people.csv",
        enqueue=False,
        options={"accept_mapping": True, **options},
    )
    return upload_process(upload=result.upload)


# --- re-map -----------------------------------------------------------------------------------------


def test_remap_loads_the_original_again_into_a_new_version_with_the_new_mapping(workspace, analyst):
    first = _loaded(workspace, analyst)
    dataset = first.dataset

    remap = dataset_remap(dataset=dataset, user=analyst, mapping=BUYERS_MAPPING, kind="buyers", options={})
    done = upload_process(upload=remap)

    dataset.refresh_from_db()
    version = dataset.current_version
    assert (done.status, version.number, version.upload_id) == (UploadStatus.READY, 2, remap.pk)
    assert [(c["name"], c["type"], c["field"]) for c in version.columns] == [
        ("name", "text", "buyer_key"),
        ("amount", "money", "revenue"),
    ]
    assert version.row_count == 3
    assert version.mapping == BUYERS_MAPPING
    assert dataset.kind == "buyers"
    # Version 1 and the upload that made it are untouched: history, and a restore target.
    first.refresh_from_db()
    assert (first.status, first.version.number, first.version.columns[1]["type"]) == (UploadStatus.READY, 1, "integer")
    assert storage.upload_path(first).read_bytes() == SIMPLE_CSV


def test_remap_is_a_new_replace_upload_of_the_same_bytes_outside_the_dedup_constraint(workspace, analyst):
    first = _loaded(workspace, analyst)

    remap = dataset_remap(dataset=first.dataset, user=analyst, mapping={}, kind="custom", options={})

    assert remap.pk != first.pk
    assert (remap.status, remap.mode, remap.dataset_id) == (UploadStatus.PENDING, UploadMode.REPLACE, first.dataset_id)
    assert (remap.sha256, remap.mapping_confirmed, remap.options["remap_of"]) == (None, True, first.pk)
    assert remap.storage_key != first.storage_key
    assert storage.upload_path(remap).read_bytes() == SIMPLE_CSV
    # Columns left out keep the current version's choice (the detected types here).
    assert {c: e["type"] for c, e in remap.mapping.items()} == {"name": "text", "amount": "integer", "signup": "date"}
    event = AuditEvent.objects.get(action="dataset.remapped", target_id=str(first.dataset_id))
    assert (event.actor_id, event.details["upload_id"], event.details["from_version"]) == (analyst.pk, remap.pk, 1)
    assert ColumnMapping.objects.get(workspace=workspace, kind="custom").updated_by_id == analyst.pk


def test_remap_changes_only_load_options_and_keeps_how_the_file_was_read(workspace, analyst):
    first = _loaded(workspace, analyst, data=SEMICOLON_CSV, delimiter=";")

    remap = dataset_remap(
        dataset=first.dataset,
        user=analyst,
        mapping={},
        kind="custom",
        options={"delimiter": ",", "encoding": "cp1252", "keep_duplicates": True, "date_order": "dmy"},
    )

    expected = {"accept_mapping": True, "delimiter": ";", "keep_duplicates": True, "date_order": "dmy"}
    assert remap.options == {**expected, "remap_of": first.pk}


def test_cancelling_a_remap_keeps_the_original_file(workspace, analyst, django_capture_on_commit_callbacks):
    first = _loaded(workspace, analyst)
    remap = dataset_remap(dataset=first.dataset, user=analyst, mapping={}, kind="custom", options={})

    with django_capture_on_commit_callbacks(execute=True):
        upload_cancel(upload=remap, user=analyst)

    assert not storage.upload_path(remap).exists()
    assert storage.upload_path(first).read_bytes() == SIMPLE_CSV


def test_a_failed_remap_can_be_retried_without_a_hash(workspace, analyst):
    first = _loaded(workspace, analyst)
    remap = dataset_remap(dataset=first.dataset, user=analyst, mapping={}, kind="custom", options={})
    Upload.objects.filter(pk=remap.pk).update(status=UploadStatus.FAILED, error_code="internal_error")

    retried = upload_retry(upload=remap, user=analyst)
    done = upload_process(upload=retried)

    assert (retried.status, done.status, done.version.number) == (UploadStatus.PENDING, UploadStatus.READY, 2)


def test_remap_refuses_a_bad_mapping_or_kind(workspace, analyst):
    first = _loaded(workspace, analyst)

    with pytest.raises(ValidationError) as unknown_column:
        dataset_remap(dataset=first.dataset, user=analyst, mapping={"nope": {"field": ""}}, kind="custom", options={})
    with pytest.raises(ValidationError) as bad_kind:
        dataset_remap(dataset=first.dataset, user=analyst, mapping={}, kind="martians", options={})

    assert unknown_column.value.messages == [E.ERROR_MAPPING_INVALID.format(detail="unknown column 'nope'")]
    assert bad_kind.value.messages == [E.ERROR_KIND_INVALID]
    assert Upload.objects.filter(workspace=workspace).count() == 1
    assert sorted(p.name for p in storage.upload_path(first).parent.iterdir()) == [first.storage_key.rsplit("/", 1)[1]]


def test_remap_refuses_a_dataset_whose_original_is_gone_or_was_appended(workspace, analyst):
    gone = dataset_remappable(workspace=workspace, user=analyst, name="Gone")
    storage.key_delete(gone.current_version.upload.storage_key)
    appended = dataset_remappable(workspace=workspace, user=analyst, name="Appended")
    DatasetVersion.objects.filter(pk=appended.current_version_id).update(receipt={"append": {"previous_version": 1}})
    empty = Dataset.objects.create(workspace=workspace, name="Empty")

    messages = []
    for dataset in (gone, Dataset.objects.get(pk=appended.pk), empty):
        with pytest.raises(ValidationError) as caught:
            dataset_remap(dataset=dataset, user=analyst, mapping={}, kind="custom", options={})
        messages.append(caught.value.messages[0])

    assert messages == [E.ERROR_REMAP_NO_ORIGINAL, E.ERROR_REMAP_APPENDED, E.ERROR_REMAP_NO_VERSION]


def test_remap_refuses_an_original_upload_of_another_workspace(workspace, other_workspace, analyst):
    dataset = dataset_remappable(workspace=workspace, user=analyst)
    foreign = dataset_remappable(workspace=other_workspace, name="Theirs")
    # A tampered row: our version naming their upload. Their bytes must not become our data.
    DatasetVersion.objects.filter(pk=dataset.current_version_id).update(upload=foreign.current_version.upload)
    dataset.refresh_from_db()

    with pytest.raises(ValidationError) as caught:
        dataset_remap(dataset=dataset, user=analyst, mapping={}, kind="custom", options={})

    assert caught.value.messages == [E.ERROR_REMAP_NO_ORIGINAL]
    assert Upload.objects.filter(options__has_key="remap_of").count() == 0


def test_remap_counts_against_the_workspace_quota(workspace, analyst, settings):
    dataset = dataset_remappable(workspace=workspace, user=analyst)
    settings.DATASETS_WORKSPACE_MAX_UPLOADS = Upload.objects.filter(workspace=workspace).count()

    with pytest.raises(ValidationError) as caught:
        dataset_remap(dataset=dataset, user=analyst, mapping={}, kind="custom", options={})

    assert caught.value.messages == [E.ERROR_QUOTA_COUNT.format(limit=settings.DATASETS_WORKSPACE_MAX_UPLOADS)]


# --- re-sniff ---------------------------------------------------------------------------------------


def test_resniff_reads_the_file_again_with_the_new_delimiter_and_stops_for_review(workspace, analyst):
    result = upload_from_path(
        workspace=workspace,
        user=analyst,
        path=io.BytesIO(SEMICOLON_CSV),
        original_name="people.csv",
        enqueue=False,
        options={"delimiter": ",", "encoding": "cp1252"},
    )
    parked = upload_process(upload=result.upload)
    wrong_columns = [c["name"] for c in parked.sniff["columns"]]

    queued = upload_resniff(upload=parked, user=analyst, options={"delimiter": ";"})
    again = upload_process(upload=queued)

    assert wrong_columns == ["name;amount;signup"]
    assert (queued.status, queued.sniff, queued.mapping_confirmed) == (UploadStatus.QUEUED, {}, False)
    # The encoding chosen before is dropped: left out means "detect" again.
    assert queued.options == {"delimiter": ";", "review_requested": True}
    assert again.status == UploadStatus.NEEDS_MAPPING
    assert [c["name"] for c in again.sniff["columns"]] == ["name", "amount", "signup"]
    event = AuditEvent.objects.get(action="upload.resniffed", target_id=str(parked.pk))
    assert (event.actor_id, event.details) == (analyst.pk, {"options": {"delimiter": ";"}})


def test_resniff_only_from_review(workspace, analyst):
    failed = upload_failed(workspace=workspace, user=analyst)

    with pytest.raises(ValidationError) as caught:
        upload_resniff(upload=failed, user=analyst, options={})

    assert caught.value.messages == [E.ERROR_NOT_RESNIFFABLE]
    assert Upload.objects.get(pk=failed.pk).status == UploadStatus.FAILED


def test_resniff_never_touches_another_workspaces_upload(workspace, other_workspace, analyst):
    theirs = upload_needs_mapping(workspace=other_workspace)
    # A forged object claiming our workspace: the compare-and-set names the row's real workspace too.
    forged = Upload.objects.get(pk=theirs.pk)
    forged.workspace_id = workspace.pk

    with pytest.raises(ValidationError):
        upload_resniff(upload=forged, user=analyst, options={"delimiter": ";"})

    assert Upload.objects.get(pk=theirs.pk).status == UploadStatus.NEEDS_MAPPING


# --- cancel a failed upload ---------------------------------------------------------------------------


def test_cancel_a_failed_upload_deletes_its_bytes(workspace, analyst, django_capture_on_commit_callbacks):
    failed = upload_failed(workspace=workspace, user=analyst)
    storage.part_write_at(failed.storage_key, offset=0, source=io.BytesIO(SIMPLE_CSV))

    with django_capture_on_commit_callbacks(execute=True):
        cancelled = upload_cancel(upload=failed, user=analyst)

    assert (cancelled.status, cancelled.error_code) == (UploadStatus.CANCELLED, E.CODE_CANCELLED)
    assert not storage.upload_path(failed).exists()
    assert AuditEvent.objects.filter(action="upload.cancelled", actor=analyst, target_id=str(failed.pk)).count() == 1
    with pytest.raises(ValidationError):
        upload_retry(upload=cancelled, user=analyst)


def test_a_ready_upload_cannot_be_cancelled(workspace, analyst):
    ready = _loaded(workspace, analyst)

    with pytest.raises(ValidationError) as caught:
        upload_cancel(upload=ready, user=analyst)

    assert caught.value.messages == [E.ERROR_NOT_CANCELLABLE]
    assert storage.upload_path(ready).exists()
