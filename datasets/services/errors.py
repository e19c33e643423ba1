"""User-facing messages of the datasets services (tests assert on these) and the errors they raise."""

from django.core.exceptions import ValidationError

ERROR_FILE_TOO_LARGE = "The file is larger than the upload limit ({limit})."
ERROR_FILE_EMPTY = "The file is empty."
ERROR_QUOTA_BYTES = "This workspace's storage is full ({limit}). Delete old datasets or uploads first."
ERROR_QUOTA_COUNT = "This workspace has reached its limit of {limit} uploads. Delete old ones first."
ERROR_DATASET_OTHER_WORKSPACE = "Choose a dataset in this workspace."
ERROR_DATASET_REQUIRED = "Choose the dataset to replace or append to."
ERROR_MODE_INVALID = "Choose how to add the file: a new dataset, replace or append."
ERROR_KIND_INVALID = "Choose a valid kind of data."
ERROR_NOT_RECEIVING = "This upload is no longer receiving data."
ERROR_CHUNK_PAST_END = "This chunk goes past the declared file size."
ERROR_CHUNK_INCOMPLETE = "The chunk was cut short; send it again."
ERROR_UPLOAD_INCOMPLETE = "Not all of the file has arrived yet ({received} of {size} bytes)."
ERROR_NOT_NEEDS_MAPPING = "This upload is not waiting for a column review."
ERROR_MAPPING_INVALID = "The column mapping is not valid: {detail}."
ERROR_NOT_RETRYABLE = "Only a failed upload can be retried."
ERROR_NOT_CANCELLABLE = "This upload has already finished and cannot be cancelled."
ERROR_NAME_REQUIRED = "A dataset needs a name."
ERROR_VERSION_OTHER_DATASET = "That version belongs to another dataset."
ERROR_VERSION_IS_CURRENT = "The current version cannot be deleted; restore another version first."
ERROR_APPEND_SCHEMA = "The new rows do not fit the current version's columns ({detail})."
ERROR_NOT_RESNIFFABLE = "Only an upload waiting for a column review can be read again."
ERROR_REMAP_NO_VERSION = "This dataset has no loaded version to re-map."
ERROR_REMAP_NO_ORIGINAL = "The original file of the current version is no longer stored; upload it again instead."
ERROR_REMAP_NO_COLUMNS = "The columns of the current version's file are not known; upload it again instead."
ERROR_REMAP_CHANGED = "The dataset changed while you were choosing (a new version, or it was deleted). Open it again."
ERROR_REMAP_APPENDED = (
    "The current version was made by appending rows to an earlier one; re-mapping its file alone would drop "
    "those rows. Upload the combined file instead."
)

# Stored on the upload (error_code) when the failure is ours rather than the file's.
CODE_DUPLICATE = "duplicate"
CODE_TOO_MANY_ATTEMPTS = "too_many_attempts"
CODE_INTERNAL = "internal_error"
CODE_TIMEOUT = "timeout"
CODE_APPEND_SCHEMA = "append_schema_mismatch"
CODE_CANCELLED = "cancelled"
MESSAGE_TOO_MANY_ATTEMPTS = (
    "Loading this file failed {attempts} times (the worker stopped each time). It may be too large or damaged."
)
MESSAGE_INTERNAL = "Something went wrong on our side while loading this file. Try again; if it keeps failing, tell us."
MESSAGE_TIMEOUT = "Loading this file took too long and was stopped."
MESSAGE_DUPLICATE = "This file was already uploaded to this workspace."


class ChunkOffsetMismatch(ValidationError):
    """A chunk arrived for the wrong offset; `expected` is where the client must resume."""

    def __init__(self, expected: int) -> None:
        self.expected = expected
        super().__init__(f"Expected the chunk at offset {expected}.", code="offset_mismatch")


class LeaseLost(Exception):
    """Another worker (or the janitor) took this upload over: stop without touching its status."""
