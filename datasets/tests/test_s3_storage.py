# ruff: noqa: F401, F811, PLR0917 - fixtures imported from pipeline_helpers are used as parameters
"""Uploads and datasets on an S3-compatible storage (a real moto server on 127.0.0.1, no other network).

upload (chunks) -> object in the bucket; ingest (the worker downloads the original) -> Parquet in
the bucket and in the local read-through cache; a dashboard query reads through the cache,
downloading on a miss; least recently used copies are evicted past the cap.
"""

import csv
import hashlib
import io
import os

import boto3
import pyarrow.parquet as pq
import pytest
from moto.server import ThreadedMotoServer

from analytics.engine import Measure, Query, execute
from analytics.engine.adapter import source_for_version
from datasets import storage
from datasets.models import DatasetVersion, UploadStatus
from datasets.services import upload_append_chunk, upload_finish, upload_start
from datasets.services.datasets import dataset_delete

from .pipeline_helpers import ingest_sync, media_root, visitors_csv

BUCKET = "leadnav-test"
CREDENTIALS = {"aws_access_key_id": "test-key", "aws_secret_access_key": "test-secret", "region_name": "us-east-1"}


@pytest.fixture(scope="module")
def s3_server():
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def bucket(s3_server, settings, media_root, tmp_path, monkeypatch):
    """A fresh bucket as the default storage; the Parquet cache in this test's own directory."""
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    client = boto3.client("s3", endpoint_url=s3_server, **CREDENTIALS)
    client.create_bucket(Bucket=BUCKET)
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "storages.backends.s3.S3Storage",
            "OPTIONS": {
                "bucket_name": BUCKET,
                "endpoint_url": s3_server,
                "access_key": CREDENTIALS["aws_access_key_id"],
                "secret_key": CREDENTIALS["aws_secret_access_key"],
                "region_name": CREDENTIALS["region_name"],
                "default_acl": None,
                "file_overwrite": True,
            },
        },
    }
    settings.DATASETS_PARQUET_CACHE_DIR = tmp_path / "parquet-cache"
    yield client
    for item in client.list_objects_v2(Bucket=BUCKET).get("Contents", []):
        client.delete_object(Bucket=BUCKET, Key=item["Key"])
    client.delete_bucket(Bucket=BUCKET)


def _keys(client) -> list[str]:
    return sorted(item["Key"] for item in client.list_objects_v2(Bucket=BUCKET).get("Contents", []))


def _object(client, key: str) -> bytes:
    return client.get_object(Bucket=BUCKET, Key=key)["Body"].read()


def _csv_rows(path) -> int:
    with open(path, newline="", encoding="utf-8") as handle:
        return sum(1 for _ in csv.reader(handle)) - 1


def test_the_storage_is_remote(bucket):
    assert storage.is_local() is False


def test_chunks_are_stored_in_the_bucket_under_our_key(
    bucket, workspace, analyst, media_root, django_capture_on_commit_callbacks
):
    data = b"email,amount\n" + b"".join(b"u%d@example.com,%d\n" % (i, i) for i in range(5000))
    upload = upload_start(workspace=workspace, user=analyst, original_name="../../etc/passwd", size_bytes=len(data))
    upload = upload_append_chunk(upload=upload, offset=0, stream=io.BytesIO(data[:40_000]), length=40_000)
    upload = upload_append_chunk(
        upload=upload, offset=40_000, stream=io.BytesIO(data[40_000:]), length=len(data) - 40_000
    )
    assert _keys(bucket) == []  # nothing in the bucket while the chunks arrive
    assert storage.part_path(upload.storage_key).read_bytes() == data  # a local part meanwhile

    with django_capture_on_commit_callbacks(execute=True):
        result = upload_finish(upload=upload, enqueue=False)

    assert result.upload.status == UploadStatus.PENDING
    assert result.upload.sha256 == hashlib.sha256(data).hexdigest()
    assert _keys(bucket) == [upload.storage_key]
    assert upload.storage_key.startswith(f"uploads/{workspace.pk}/") and "passwd" not in upload.storage_key
    assert _object(bucket, upload.storage_key) == data
    assert [path for path in (media_root / "parts").rglob("*") if path.is_file()] == []  # the part is gone


def test_ingest_then_dashboard_query_through_s3(bucket, workspace, analyst, viewer, client, visitors_csv, media_root):
    upload = ingest_sync(workspace=workspace, user=analyst, path=visitors_csv)

    assert upload.status == UploadStatus.READY, upload.error_message
    version = upload.version
    assert _keys(bucket) == sorted([upload.storage_key, version.parquet_key])
    assert not (media_root / "datasets").exists()  # published files live in the bucket only
    assert list(storage.staging_root().glob("*")) == []  # the downloaded original is gone too
    cached = storage.parquet_cache_root() / version.parquet_key
    assert cached.read_bytes() == _object(bucket, version.parquet_key)  # the worker's copy, kept

    # A reader on another machine (empty cache): the query downloads the file, then reads it locally.
    cached.unlink()
    query = Query(source_for_version(version), measures=(Measure("count"),))
    assert execute(query, workspace_id=workspace.pk, cache=None).rows[0][0] == _csv_rows(visitors_csv) == 1000
    assert cached.exists()

    cached.unlink()
    client.force_login(viewer)
    page = client.get(f"/w/{workspace.slug}/analytics/visitors/")
    assert page.status_code == 200
    assert cached.exists()
    assert pq.read_table(cached).num_rows == 1000


def test_deleting_a_dataset_deletes_its_objects_and_cached_copies(
    bucket, workspace, analyst, owner, visitors_csv, django_capture_on_commit_callbacks
):
    upload = ingest_sync(workspace=workspace, user=analyst, path=visitors_csv)
    cached = storage.parquet_cache_root() / upload.version.parquet_key
    assert cached.exists()

    with django_capture_on_commit_callbacks(execute=True):
        dataset_delete(dataset=upload.dataset, user=owner)

    assert _keys(bucket) == []
    assert not cached.exists()


def test_the_cache_evicts_the_least_recently_used_copy(bucket, workspace, analyst, settings, monkeypatch, tmp_path):
    from datasets.ingest.generator import generate_visitors

    monkeypatch.setattr(storage, "CACHE_GRACE_SECONDS", 0.0)
    first = ingest_sync(workspace=workspace, user=analyst, path=generate_visitors(tmp_path / "a.csv", 400, seed=1))
    second = ingest_sync(workspace=workspace, user=analyst, path=generate_visitors(tmp_path / "b.csv", 500, seed=2))
    one, two = first.version, second.version
    size_one = len(_object(bucket, one.parquet_key))
    size_two = len(_object(bucket, two.parquet_key))
    # Room for the larger of the two files, not both.
    settings.DATASETS_PARQUET_CACHE_MAX_BYTES = max(size_one, size_two)
    path_one = storage.parquet_cache_root() / one.parquet_key
    path_two = storage.parquet_cache_root() / two.parquet_key
    path_one.unlink(missing_ok=True)
    path_two.unlink(missing_ok=True)

    assert storage.version_parquet_path(DatasetVersion.objects.get(pk=one.pk)) == path_one
    os.utime(path_one, (1_000_000, 1_000_000))  # used long ago
    assert storage.version_parquet_path(DatasetVersion.objects.get(pk=two.pk)) == path_two

    assert not path_one.exists()  # evicted: least recently used, and both did not fit
    assert path_two.exists()
    # Asked for again: downloaded again, the other one evicted in turn.
    os.utime(path_two, (1_000_000, 1_000_000))
    assert pq.read_table(storage.version_parquet_path(one)).num_rows == 400
    assert path_one.exists() and not path_two.exists()


def test_a_copy_in_use_is_not_evicted(bucket, workspace, analyst, settings, visitors_csv):
    upload = ingest_sync(workspace=workspace, user=analyst, path=visitors_csv)
    settings.DATASETS_PARQUET_CACHE_MAX_BYTES = 1  # nothing fits
    path = storage.version_parquet_path(upload.version)

    assert storage.parquet_cache_trim() == []  # just used (within the grace period): kept
    assert path.exists()
