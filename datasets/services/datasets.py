"""Writes on datasets and their versions: rename, delete, restore a version, delete a version.

Who may call these (owner, or the uploader for delete) is the view's check; the services keep the
invariants: the version belongs to the dataset, the current version is never deleted, files go
only after the transaction that stopped referencing them has committed.
"""

from functools import partial

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q

from audit.services import audit_record
from datasets import storage
from datasets.models import Dataset, DatasetVersion, Upload, UploadStatus
from datasets.services import errors


def _files_delete(*, prefixes: list[str], keys: list[str]) -> None:
    for prefix in prefixes:
        storage.prefix_delete(prefix)
    for key in keys:
        storage.key_delete(key)


def dataset_rename(*, dataset: Dataset, user, name: str) -> Dataset:
    name = (name or "").strip()[:200]
    if not name:
        raise ValidationError(errors.ERROR_NAME_REQUIRED)
    old = dataset.name
    with transaction.atomic():
        dataset.name = name
        dataset.save(update_fields=["name", "updated_at"])
        details = {"from": old, "to": name}
        audit_record(action="dataset.renamed", actor=user, workspace=dataset.workspace, target=dataset, details=details)
    return dataset


def dataset_delete(*, dataset: Dataset, user) -> None:
    """Delete the dataset, its versions and their files, and the original files of its uploads.

    The uploads stay in the history (without bytes); their hash is cleared so the same file can be
    uploaded again. Uploads still loading into it fail at publish ("dataset_deleted").
    """
    with transaction.atomic():
        locked = Dataset.objects.select_for_update().get(pk=dataset.pk, workspace_id=dataset.workspace_id)
        versions = list(DatasetVersion.objects.filter(dataset=locked))
        prefixes = [storage.key_prefix(v.parquet_key) for v in versions if v.parquet_key]
        uploads = Upload.objects.filter(Q(dataset=locked) | Q(pk__in=[v.upload_id for v in versions if v.upload_id]))
        uploads = uploads.exclude(status__in=[UploadStatus.SNIFFING, UploadStatus.LOADING])
        keys = [key for key in uploads.values_list("storage_key", flat=True) if key]
        uploads.update(sha256=None, storage_key="")
        rows = locked.current_version.row_count if locked.current_version else 0
        details = {"name": locked.name, "versions": len(versions), "rows": rows}
        workspace = locked.workspace
        locked.current_version = None
        locked.save(update_fields=["current_version", "updated_at"])
        locked.delete()
        audit_record(
            action="dataset.deleted",
            actor=user,
            workspace=workspace,
            target_type="datasets.dataset",
            target_id=dataset.pk,
            details=details,
        )
        transaction.on_commit(partial(_files_delete, prefixes=prefixes, keys=keys))


def _version_of(dataset: Dataset, version: DatasetVersion) -> DatasetVersion:
    if version.dataset_id != dataset.pk or version.workspace_id != dataset.workspace_id:
        raise ValidationError(errors.ERROR_VERSION_OTHER_DATASET)
    return version


def dataset_version_restore(*, dataset: Dataset, version: DatasetVersion, user) -> Dataset:
    """Make an older (or newer) version current again; its files never changed."""
    _version_of(dataset, version)
    with transaction.atomic():
        locked = Dataset.objects.select_for_update().get(pk=dataset.pk, workspace_id=dataset.workspace_id)
        previous = locked.current_version.number if locked.current_version else None
        locked.current_version = version
        locked.save(update_fields=["current_version", "updated_at"])
        audit_record(
            action="dataset.version_restored",
            actor=user,
            workspace=locked.workspace,
            target=version,
            details={"dataset_id": locked.pk, "version": version.number, "previous": previous},
        )
    dataset.refresh_from_db()
    return dataset


def dataset_version_delete(*, dataset: Dataset, version: DatasetVersion, user) -> None:
    _version_of(dataset, version)
    with transaction.atomic():
        locked = Dataset.objects.select_for_update().get(pk=dataset.pk, workspace_id=dataset.workspace_id)
        if locked.current_version_id == version.pk:
            raise ValidationError(errors.ERROR_VERSION_IS_CURRENT)
        prefix = storage.key_prefix(version.parquet_key) if version.parquet_key else ""
        number = version.number
        version_pk = version.pk
        version.delete()
        audit_record(
            action="dataset.version_deleted",
            actor=user,
            workspace=locked.workspace,
            target_type="datasets.datasetversion",
            target_id=version_pk,
            details={"dataset_id": locked.pk, "version": number},
        )
        transaction.on_commit(partial(_files_delete, prefixes=[prefix] if prefix else [], keys=[]))
