"""Where upload and dataset bytes live: Django's default storage, under keys the server makes up.

Keys never contain anything the client sent (SECURITY.md T-UP-03: the display name is only a
label). Layout:

    uploads/<workspace_id>/<uuid>                                   the original file, as received
    datasets/<workspace_id>/<dataset_id>/v<number>-<uuid>/data.parquet   one published version
    datasets/<workspace_id>/<dataset_id>/v<number>-<uuid>/rejected_rows.csv
    staging/<upload_id>-<claim_version>/                            a load in progress (local only)

A version's files are written once, under a fresh uuid, *before* the database row points at
them; until then nobody can reach them, and afterwards they never change.

The engine (DuckDB, pyarrow) reads local paths. The default FileSystemStorage has `.path()`;
with a remote storage (django-storages S3) the chunks would go to a multipart upload and DuckDB
would read the Parquet through fsspec/httpfs - not needed for a single machine, so every helper
here that needs a path says so by calling `local_path()`, which raises for remote storage.
"""

import shutil
import uuid
from pathlib import Path
from typing import BinaryIO

from django.conf import settings
from django.core.files.storage import default_storage

COPY_BUFFER_BYTES = 1 << 20
DATA_FILE = "data.parquet"
REJECTED_FILE = "rejected_rows.csv"


def upload_key_new(*, workspace_id: int) -> str:
    return f"uploads/{int(workspace_id)}/{uuid.uuid4().hex}"


def version_prefix_new(*, workspace_id: int, dataset_id: int, number: int) -> str:
    return f"datasets/{int(workspace_id)}/{int(dataset_id)}/v{int(number)}-{uuid.uuid4().hex}"


def local_path(key: str) -> Path:
    """The filesystem path of `key` in the default storage (inside MEDIA_ROOT, checked by Django)."""
    # FileSystemStorage.path() refuses keys that resolve outside its location (SuspiciousFileOperation).
    return Path(default_storage.path(key))


def version_parquet_path(version) -> Path:
    """The local Parquet file of a DatasetVersion (for DuckDB and the analytics engine)."""
    return local_path(version.parquet_key)


def version_rejected_path(version) -> Path | None:
    return local_path(version.rejected_key) if version.rejected_key else None


def upload_path(upload) -> Path:
    return local_path(upload.storage_key)


def staging_root() -> Path:
    return Path(settings.MEDIA_ROOT) / "staging"


def staging_dir(*, upload_id: int, claim_version: int) -> Path:
    """A fresh per-claim directory: a re-claimed upload never reuses a dead attempt's files."""
    return staging_root() / f"{int(upload_id)}-{int(claim_version)}"


def staging_purge_earlier_claims(*, upload_id: int, claim_version: int) -> None:
    """Delete staging left by earlier claims of this upload (their workers died or lost the lease)."""
    for entry in staging_root().glob(f"{int(upload_id)}-*"):
        if entry.name != f"{int(upload_id)}-{int(claim_version)}":
            shutil.rmtree(entry, ignore_errors=True)


def part_create(key: str) -> None:
    path = local_path(key)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch(exist_ok=True)


def part_write_at(key: str, *, offset: int, source: BinaryIO) -> int:
    """Write `source` (a local file opened for reading) onto the part at `offset`; return the bytes written.

    Truncating to `offset` first makes a retried chunk idempotent: bytes a dropped request left
    behind past the last acknowledged offset are discarded.
    """
    path = local_path(key)
    path.parent.mkdir(parents=True, exist_ok=True)
    written = 0
    with path.open("r+b" if path.exists() else "w+b") as target:
        target.truncate(offset)
        target.seek(offset)
        while block := source.read(COPY_BUFFER_BYTES):
            target.write(block)
            written += len(block)
        target.flush()
    return written


def file_open(key: str, mode: str = "rb"):
    return default_storage.open(key, mode)


def file_size(key: str) -> int:
    return default_storage.size(key) if key and default_storage.exists(key) else 0


def key_delete(key: str) -> None:
    if key and default_storage.exists(key):
        default_storage.delete(key)


def prefix_delete(prefix: str) -> None:
    """Delete every file under `prefix` (a version's directory)."""
    if not prefix:
        return
    shutil.rmtree(local_path(prefix), ignore_errors=True)


def files_move_into(*, source_dir: Path, prefix: str, names: list[str]) -> dict[str, str]:
    """Move finished files from a staging dir to their final keys under `prefix`; return name -> key."""
    target = local_path(prefix)
    target.mkdir(parents=True, exist_ok=True)
    keys = {}
    for name in names:
        # Same filesystem (both under MEDIA_ROOT): a rename, not a copy.
        shutil.move(str(source_dir / name), str(target / name))
        keys[name] = f"{prefix}/{name}"
    return keys


def key_prefix(key: str) -> str:
    return key.rsplit("/", 1)[0]
