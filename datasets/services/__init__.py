"""Writes for the datasets app. Views, tasks, commands and the admin call these, never the models."""

from datasets.services.datasets import (
    dataset_delete,
    dataset_rename,
    dataset_version_delete,
    dataset_version_restore,
)
from datasets.services.enqueue import upload_enqueue_on_commit, upload_enqueue_safe
from datasets.services.errors import ChunkOffsetMismatch, LeaseLost
from datasets.services.pipeline import upload_claim, upload_process
from datasets.services.remap import dataset_remap, upload_resniff
from datasets.services.uploads import (
    FinishResult,
    upload_append_chunk,
    upload_cancel,
    upload_confirm_mapping,
    upload_finish,
    upload_from_path,
    upload_retry,
    upload_start,
)

__all__ = [
    "ChunkOffsetMismatch",
    "FinishResult",
    "LeaseLost",
    "dataset_delete",
    "dataset_remap",
    "dataset_rename",
    "dataset_version_delete",
    "dataset_version_restore",
    "upload_append_chunk",
    "upload_cancel",
    "upload_claim",
    "upload_confirm_mapping",
    "upload_enqueue_on_commit",
    "upload_enqueue_safe",
    "upload_finish",
    "upload_from_path",
    "upload_process",
    "upload_resniff",
    "upload_retry",
    "upload_start",
]
