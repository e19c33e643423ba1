"""Where upload and dataset bytes live: Django's default storage, under keys the server makes up.

Keys never contain anything the client sent (SECURITY.md T-UP-03: the display name is only a
label). Layout:

    uploads/<workspace_id>/<uuid>                                   the original file, as received
    datasets/<workspace_id>/<dataset_id>/v<number>-<uuid>/data.parquet   one published version
    datasets/<workspace_id>/<dataset_id>/v<number>-<uuid>/rejected_rows.csv
    staging/<upload_id>-<claim_version>/                            a load in progress (local only)

A version's files are written once, under a fresh uuid, *before* the database row points at
them; until then nobody can reach them, and afterwards they never change.

Two kinds of default storage (settings: STORAGES["default"]):

- local (FileSystemStorage under MEDIA_ROOT, the default): every key has a path; chunks are
  written onto the stored file in place, the engine reads the stored files directly.
- remote (S3-compatible through django-storages, when LEADNAV_S3_BUCKET is set): an object can't
  be appended to, and DuckDB reads local files. So chunks go to a local part under
  MEDIA_ROOT/parts/ and the finished file is uploaded (boto3 streams it in parts); a worker
  downloads the original to a temp file for detection and loading; published files are saved
  through the storage API; readers get a version's Parquet from a local read-through cache
  (`parquet_cache_*`: immutable files under DATASETS_PARQUET_CACHE_DIR, least recently used
  evicted past DATASETS_PARQUET_CACHE_MAX_BYTES).
"""

import contextlib
import logging
import os
import shutil
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO

from django.conf import settings
from django.core.exceptions import SuspiciousFileOperation
from django.core.files import File
from django.core.files.storage import default_storage

logger = logging.getLogger(__name__)

COPY_BUFFER_BYTES = 1 << 20
DATA_FILE = "data.parquet"
REJECTED_FILE = "rejected_rows.csv"


def upload_key_new(*, workspace_id: int) -> str:
    return f"uploads/{int(workspace_id)}/{uuid.uuid4().hex}"


def version_prefix_new(*, workspace_id: int, dataset_id: int, number: int) -> str:
    return f"datasets/{int(workspace_id)}/{int(dataset_id)}/v{int(number)}-{uuid.uuid4().hex}"


def is_local() -> bool:
    """Whether the default storage is a local filesystem (keys have paths)."""
    try:
        default_storage.path("probe")
    except NotImplementedError:
        return False
    return True


def local_path(key: str) -> Path:
    """The filesystem path of `key` in a local default storage (inside MEDIA_ROOT, checked by Django).

    Raises NotImplementedError for a remote storage: callers that only need bytes use the
    storage API, callers that need a file use `upload_local` or `version_parquet_path`.
    """
    # FileSystemStorage.path() refuses keys that resolve outside its location (SuspiciousFileOperation).
    return Path(default_storage.path(key))


def _inside(root: Path, key: str) -> Path:
    """`root / key`, refusing keys that leave `root` (ours never do: they are server-generated)."""
    root = root.resolve()
    path = (root / key).resolve()
    if root not in path.parents:
        raise SuspiciousFileOperation(f"key {key!r} leaves {root}")
    return path


def version_parquet_path(version) -> Path:
    """The local Parquet file of a DatasetVersion (for DuckDB and the analytics engine)."""
    if is_local():
        return local_path(version.parquet_key)
    return parquet_cache_path(version.parquet_key)


def version_rejected_path(version) -> Path | None:
    return local_path(version.rejected_key) if version.rejected_key else None


def upload_path(upload) -> Path:
    """The stored original as a local path (local storage only; see `upload_local`)."""
    return local_path(upload.storage_key)


@contextlib.contextmanager
def upload_local(upload) -> Iterator[Path]:
    """The stored original as a local file for the engine: its own path with local storage, else
    a temp copy streamed from the storage (deleted on exit)."""
    if is_local():
        yield local_path(upload.storage_key)
        return
    root = staging_root()
    root.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=root, prefix=f"original-{int(upload.pk)}-", delete=False) as target:
        temp = Path(target.name)
        try:
            with default_storage.open(upload.storage_key, "rb") as source:
                shutil.copyfileobj(source, target, COPY_BUFFER_BYTES)
        except BaseException:
            temp.unlink(missing_ok=True)
            raise
    try:
        yield temp
    finally:
        temp.unlink(missing_ok=True)


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


def parts_root() -> Path:
    return Path(settings.MEDIA_ROOT) / "parts"


def part_path(key: str) -> Path:
    """Where an upload's bytes are written while its chunks arrive: the stored file itself with
    local storage, else a local part (uploaded to the storage by `part_commit`)."""
    return local_path(key) if is_local() else _inside(parts_root(), key)


def part_create(key: str) -> None:
    path = part_path(key)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch(exist_ok=True)


def part_size(key: str) -> int:
    return part_path(key).stat().st_size


def part_open(key: str) -> BinaryIO:
    """The received bytes, for reading (the finish-time hash pass when the running hash is gone)."""
    return part_path(key).open("rb")


def part_commit(key: str) -> None:
    """Make the received bytes the stored file: nothing to do locally; else stream the part to
    the storage under `key` (boto3 uploads it in parts, never whole in memory). The local part
    stays until `part_discard` (after the database says the upload is stored)."""
    if is_local():
        return
    with part_path(key).open("rb") as handle:
        saved = default_storage.save(key, File(handle, name=key))
    if saved != key:  # S3Storage keeps the name (file_overwrite); anything else would lose the bytes
        raise SuspiciousFileOperation(f"storage saved {key!r} as {saved!r}")


def part_discard(key: str) -> None:
    """Delete the local part of a remote-storage upload (nothing with local storage)."""
    if key and not is_local():
        part_path(key).unlink(missing_ok=True)


def part_write_at(key: str, *, offset: int, source: BinaryIO, on_block: Callable[[bytes], None] | None = None) -> int:
    """Write `source` (a local file opened for reading) onto the part at `offset`; return the bytes written.

    Truncating to `offset` first makes a retried chunk idempotent: bytes a dropped request left
    behind past the last acknowledged offset are discarded. `on_block` sees every block written,
    in order (the upload's running SHA-256), so the bytes are read once.
    """
    path = part_path(key)
    path.parent.mkdir(parents=True, exist_ok=True)
    written = 0
    with path.open("r+b" if path.exists() else "w+b") as target:
        target.truncate(offset)
        target.seek(offset)
        while block := source.read(COPY_BUFFER_BYTES):
            target.write(block)
            if on_block is not None:
                on_block(block)
            written += len(block)
        target.flush()
    return written


def file_open(key: str, mode: str = "rb"):
    return default_storage.open(key, mode)


def file_size(key: str) -> int:
    return default_storage.size(key) if key and default_storage.exists(key) else 0


def key_delete(key: str) -> None:
    if not key:
        return
    part_discard(key)
    if default_storage.exists(key):
        default_storage.delete(key)


def key_copy(source_key: str, target_key: str) -> None:
    """Copy a stored file to a new key (a hard link when local and possible)."""
    if is_local():
        source, target = local_path(source_key), local_path(target_key)
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.link(source, target)
        except FileNotFoundError:
            raise  # the original is gone (deleted meanwhile): a copy would fail the same way
        except OSError:  # no hard links here (EPERM, EXDEV, ...): pay for a copy
            shutil.copyfile(source, target)
        return
    with default_storage.open(source_key, "rb") as handle:
        default_storage.save(target_key, File(handle, name=target_key))


def prefix_delete(prefix: str) -> None:
    """Delete every file under `prefix` (a version's directory), and its cached copies."""
    if not prefix:
        return
    if is_local():
        shutil.rmtree(local_path(prefix), ignore_errors=True)
        return
    _, names = default_storage.listdir(prefix)
    for name in names:
        default_storage.delete(f"{prefix}/{name}")
    shutil.rmtree(_inside(parquet_cache_root(), prefix), ignore_errors=True)


def files_move_into(*, source_dir: Path, prefix: str, names: list[str]) -> dict[str, str]:
    """Move finished files from a staging dir to their final keys under `prefix`; return name -> key.

    Remote storage: each file is saved through the storage API, and a Parquet file then moves
    into the local cache (the worker's readers need not download what it just wrote).
    """
    keys = {}
    if is_local():
        target = local_path(prefix)
        target.mkdir(parents=True, exist_ok=True)
        for name in names:
            # Same filesystem (both under MEDIA_ROOT): a rename, not a copy.
            shutil.move(str(source_dir / name), str(target / name))
            keys[name] = f"{prefix}/{name}"
        return keys
    for name in names:
        key = f"{prefix}/{name}"
        with (source_dir / name).open("rb") as handle:
            saved = default_storage.save(key, File(handle, name=key))
        if saved != key:
            raise SuspiciousFileOperation(f"storage saved {key!r} as {saved!r}")
        keys[name] = key
        if name.endswith(".parquet"):
            _cache_put(source_dir / name, key)
    return keys


# --- the local read-through cache of published Parquet files (remote storage) -----------------
def parquet_cache_root() -> Path:
    return Path(settings.DATASETS_PARQUET_CACHE_DIR)


def parquet_cache_path(key: str, *, size: int | None = None) -> Path:
    """A local copy of the stored Parquet file `key`, downloaded on a miss.

    Published files never change (a fresh uuid prefix per version), so a cached copy of the
    right size is the file. The download goes to a temp file renamed into place, so a reader
    never sees half a file and two processes may race harmlessly. Each hit marks the copy as
    recently used; the cache is then trimmed to its size cap, least recently used first.
    """
    path = _inside(parquet_cache_root(), key)
    try:
        found = path.stat().st_size
    except FileNotFoundError:
        found = None
    if found is not None and (size is None or found == size):
        os.utime(path)
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=path.parent, prefix=".download-", delete=False) as target:
        temp = Path(target.name)
        try:
            with default_storage.open(key, "rb") as source:
                shutil.copyfileobj(source, target, COPY_BUFFER_BYTES)
        except BaseException:
            temp.unlink(missing_ok=True)
            raise
    os.replace(temp, path)
    logger.info("parquet cache: downloaded %s (%s bytes)", key, path.stat().st_size)
    parquet_cache_trim(keep=path)
    return path


def _cache_put(source: Path, key: str) -> None:
    path = _inside(parquet_cache_root(), key)
    path.parent.mkdir(parents=True, exist_ok=True)
    shutil.move(str(source), str(path))
    os.utime(path)
    parquet_cache_trim(keep=path)


# A copy used this recently is kept even past the cap: a reader may be about to open it.
CACHE_GRACE_SECONDS = 60.0


def parquet_cache_trim(*, keep: Path | None = None) -> list[Path]:
    """Evict least recently used copies until the cache fits DATASETS_PARQUET_CACHE_MAX_BYTES;
    return the evicted paths."""
    root = parquet_cache_root()
    if not root.is_dir():
        return []
    entries = []
    for path in root.rglob("*.parquet"):
        with contextlib.suppress(FileNotFoundError):
            stat = path.stat()
            entries.append((stat.st_mtime, stat.st_size, path))
    total = sum(size for _, size, _ in entries)
    cap = int(settings.DATASETS_PARQUET_CACHE_MAX_BYTES)
    evicted = []
    now = time.time()
    for used, size, path in sorted(entries, key=lambda entry: entry[0]):
        if total <= cap:
            break
        if path == keep or now - used < CACHE_GRACE_SECONDS:
            continue
        path.unlink(missing_ok=True)
        evicted.append(path)
        total -= size
    return evicted


def key_prefix(key: str) -> str:
    return key.rsplit("/", 1)[0]
