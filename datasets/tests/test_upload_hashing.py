# ruff: noqa: F401 - fixtures imported from pipeline_helpers are used as parameters
"""SHA-256 computed while the chunks arrive (issue 4): resumable state, resume, fall back, no re-read."""

import hashlib
import io
import itertools
import random

import pytest
from django.core.exceptions import ValidationError

from datasets import hashing, storage
from datasets.models import Upload, UploadStatus
from datasets.services import ChunkOffsetMismatch, upload_append_chunk, upload_finish, upload_from_path, upload_start
from datasets.services import errors as E

from .pipeline_helpers import media_root

pytestmark = pytest.mark.usefixtures("media_root")


@pytest.fixture
def file_reads(monkeypatch):
    """Counts every read of the received bytes (the finish-time hash pass)."""
    opened = []
    real_open = storage.part_open

    def counting_open(key):
        opened.append(key)
        return real_open(key)

    monkeypatch.setattr(storage, "part_open", counting_open)
    return opened


def _data(size: int, seed: int = 7) -> bytes:
    return random.Random(seed).randbytes(size)


def _start(workspace, user, data: bytes) -> Upload:
    return upload_start(workspace=workspace, user=user, original_name="rows.csv", size_bytes=len(data))


def _send(upload: Upload, data: bytes, cuts: list[int]) -> Upload:
    for start, stop in itertools.pairwise([0, *cuts, len(data)]):
        chunk = data[start:stop]
        upload = upload_append_chunk(upload=upload, offset=start, stream=io.BytesIO(chunk), length=len(chunk))
    return upload


def test_the_resumable_hash_matches_hashlib_on_random_data_split_anywhere():
    assert hashing.available()
    generator = random.Random(11)
    for _ in range(20):
        data = generator.randbytes(generator.randint(0, 300_000))
        cuts = sorted(generator.randint(0, len(data)) for _ in range(generator.randint(0, 6)))
        hasher = hashing.ResumableSha256()
        for start, stop in zip([0, *cuts], [*cuts, len(data)], strict=True):
            hasher = hashing.ResumableSha256.from_state(hasher.state(), length=start)
            hasher.update(data[start:stop])
        assert hasher.hexdigest() == hashlib.sha256(data).hexdigest()


def test_a_state_that_does_not_cover_the_claimed_bytes_is_refused():
    hasher = hashing.ResumableSha256()
    hasher.update(b"x" * 1000)

    with pytest.raises(hashing.StateError):
        hashing.ResumableSha256.from_state(hasher.state(), length=999)
    with pytest.raises(hashing.StateError):
        hashing.ResumableSha256.from_state(hasher.state()[:-1], length=1000)
    assert hashing.ResumableSha256.from_state(hasher.state(), length=1000).hexdigest() == (
        hashlib.sha256(b"x" * 1000).hexdigest()
    )


def test_chunks_advance_the_hash_and_finish_does_not_read_the_file(workspace, analyst, file_reads):
    data = _data(3_000_001)
    upload = _send(_start(workspace, analyst, data), data, [1, 65, 1_048_577, 2_000_000])

    stored = Upload.objects.get(pk=upload.pk)
    assert (stored.hashed_bytes, stored.received_bytes) == (len(data), len(data))
    result = upload_finish(upload=upload, enqueue=False)

    assert result.upload.sha256 == hashlib.sha256(data).hexdigest()
    assert result.upload.status == UploadStatus.PENDING
    assert file_reads == []
    assert result.upload.sha256_state is None  # not kept once the digest is known


def test_a_resent_chunk_is_refused_and_does_not_advance_the_hash(workspace, analyst, file_reads):
    data = _data(50_000)
    upload = _start(workspace, analyst, data)
    upload_append_chunk(upload=upload, offset=0, stream=io.BytesIO(data[:20_000]), length=20_000)

    with pytest.raises(ChunkOffsetMismatch):  # the client re-sends the first chunk (a retried request)
        upload_append_chunk(upload=upload, offset=0, stream=io.BytesIO(data[:20_000]), length=20_000)
    assert Upload.objects.get(pk=upload.pk).hashed_bytes == 20_000
    upload = upload_append_chunk(upload=upload, offset=20_000, stream=io.BytesIO(data[20_000:]), length=30_000)

    assert upload_finish(upload=upload, enqueue=False).upload.sha256 == hashlib.sha256(data).hexdigest()
    assert file_reads == []


def test_a_chunk_whose_request_died_after_writing_is_resent_correctly(workspace, analyst, monkeypatch, file_reads):
    data = _data(40_000)
    upload = _start(workspace, analyst, data)
    upload_append_chunk(upload=upload, offset=0, stream=io.BytesIO(data[:10_000]), length=10_000)
    real_write = storage.part_write_at

    def write_then_die(*args, **kwargs):
        real_write(*args, **kwargs)
        raise OSError("connection lost after the bytes hit the disk")

    monkeypatch.setattr(storage, "part_write_at", write_then_die)
    with pytest.raises(OSError):
        upload_append_chunk(upload=upload, offset=10_000, stream=io.BytesIO(data[10_000:25_000]), length=15_000)
    monkeypatch.setattr(storage, "part_write_at", real_write)
    stored = Upload.objects.get(pk=upload.pk)
    assert (stored.received_bytes, stored.hashed_bytes) == (10_000, 10_000)  # rolled back together
    assert storage.upload_path(stored).stat().st_size == 25_000  # the dead request's bytes are on disk

    # The client resumes where the server says: the same chunk again, then the rest.
    upload = upload_append_chunk(upload=upload, offset=10_000, stream=io.BytesIO(data[10_000:25_000]), length=15_000)
    upload = upload_append_chunk(upload=upload, offset=25_000, stream=io.BytesIO(data[25_000:]), length=15_000)

    assert upload_finish(upload=upload, enqueue=False).upload.sha256 == hashlib.sha256(data).hexdigest()
    assert storage.upload_path(upload).read_bytes() == data
    assert file_reads == []


@pytest.mark.parametrize("damage", ["no state", "state behind", "garbage state"])
def test_a_missing_or_bad_state_falls_back_to_one_pass_over_the_file(workspace, analyst, file_reads, damage):
    data = _data(30_000)
    upload = _start(workspace, analyst, data)
    upload_append_chunk(upload=upload, offset=0, stream=io.BytesIO(data[:12_000]), length=12_000)
    if damage == "no state":
        Upload.objects.filter(pk=upload.pk).update(sha256_state=None, hashed_bytes=0)
    elif damage == "state behind":
        Upload.objects.filter(pk=upload.pk).update(hashed_bytes=11_000)
    else:
        Upload.objects.filter(pk=upload.pk).update(sha256_state=b"\x00" * hashing.STATE_BYTES)
    upload = upload_append_chunk(upload=upload, offset=12_000, stream=io.BytesIO(data[12_000:]), length=18_000)

    result = upload_finish(upload=upload, enqueue=False)

    assert result.upload.sha256 == hashlib.sha256(data).hexdigest()
    assert file_reads == [upload.storage_key]


def test_without_the_backend_uploads_are_hashed_at_finish(workspace, analyst, monkeypatch, file_reads):
    monkeypatch.setattr(hashing, "_AVAILABLE", False)
    data = _data(20_000)
    upload = _send(_start(workspace, analyst, data), data, [5_000])

    assert Upload.objects.get(pk=upload.pk).sha256_state is None
    assert upload_finish(upload=upload, enqueue=False).upload.sha256 == hashlib.sha256(data).hexdigest()
    assert file_reads == [upload.storage_key]


def test_upload_from_path_hashes_while_copying(workspace, analyst, tmp_path, file_reads):
    data = _data(2_500_000, seed=3)
    source = tmp_path / "visitors.csv"
    source.write_bytes(data)

    result = upload_from_path(workspace=workspace, user=analyst, path=source, enqueue=False)

    assert result.upload.sha256 == hashlib.sha256(data).hexdigest()
    assert storage.upload_path(result.upload).read_bytes() == data
    assert file_reads == []


def test_an_empty_file_gets_the_empty_digest(workspace, analyst, tmp_path):
    source = tmp_path / "empty.csv"
    source.write_bytes(b"")

    result = upload_from_path(workspace=workspace, user=analyst, path=source, enqueue=False)

    assert result.upload.sha256 == hashlib.sha256(b"").hexdigest()


def test_finish_refuses_a_part_that_disagrees_with_the_row(workspace, analyst):
    """A part lost or cut short on disk: the running hash covers bytes that are not there any more,
    so finish must not publish that hash (nor, with S3, upload the short part)."""
    data = _data(10_000)
    upload = _send(_start(workspace, analyst, data), data, [4_000])
    with storage.part_path(upload.storage_key).open("r+b") as part:
        part.truncate(6_000)

    with pytest.raises(ValidationError) as caught:
        upload_finish(upload=upload, enqueue=False)

    assert caught.value.messages == [E.ERROR_UPLOAD_INCOMPLETE.format(received=6_000, size=10_000)]
    assert Upload.objects.get(pk=upload.pk).status == UploadStatus.RECEIVING
