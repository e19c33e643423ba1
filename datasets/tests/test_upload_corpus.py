# ruff: noqa: F401, F811, PLR0917 - fixtures imported from pipeline_helpers are used as parameters
"""The hostile-file corpus (SECURITY.md §3.7) through the whole pipeline: each file ends FAILED with the
engine's specific code and nothing published, or READY with the right rows and warnings.

The files come from the ingest engineer's generator (datasets/tests/hostile.py).
"""

import os
import subprocess
import sys
import textwrap

import pyarrow.parquet as pq
import pytest

from datasets import storage
from datasets.ingest import errors as E
from datasets.models import Dataset, DatasetVersion, UploadStatus

from . import hostile as H
from .pipeline_helpers import REPO_ROOT, WORKER_SETTINGS, database_url, ingest_sync, media_root

pytestmark = pytest.mark.usefixtures("media_root")

SMALL_LIMITS = {"max_zip_entries": 100, "max_field_bytes": 1 << 20}


@pytest.fixture(autouse=True)
def small_limits(settings):
    settings.DATASETS_MAX_DECOMPRESSED_BYTES = 8 << 20
    settings.DATASETS_INGEST_LIMITS = SMALL_LIMITS


def _run(workspace, user, path, **options):
    return ingest_sync(
        workspace=workspace, user=user, path=path, original_name=path.name, options={"accept_mapping": True, **options}
    )


@pytest.mark.parametrize(
    ("make", "code"),
    H.REFUSED_CASES,
    ids=lambda value: getattr(value, "__name__", value),
)
def test_refused_files_fail_with_their_code_and_publish_nothing(make, code, workspace, analyst, tmp_path, media_root):
    upload = _run(workspace, analyst, make(tmp_path))

    assert (upload.status, upload.error_code) == (UploadStatus.FAILED, code)
    assert upload.error_message.startswith(E.ERROR_MESSAGES[code].split("{")[0])
    assert (upload.attempts, upload.lease_owner, upload.version) == (1, "", None)
    assert not Dataset.objects.exists() and not DatasetVersion.objects.exists()
    assert not (media_root / "datasets").exists()
    assert list(storage.staging_root().glob("*")) == []


@pytest.mark.parametrize(
    ("make", "rows", "warnings"),
    [
        (H.ragged, 3, {E.W_ROWS_REJECTED, E.W_TRAILING_EMPTY_FIELDS}),
        (H.one_column, 3, set()),
        (H.many_columns, 3, set()),
        (H.unterminated_quote, 3, set()),
        (H.unterminated_quote_quoted, 1, {E.W_ROWS_REJECTED}),
        (H.embedded_newlines, 4, {E.W_ROWS_REJECTED}),
        (H.cr_only, 3, set()),
        (H.mixed_line_endings, 3, set()),
        (H.big_field, 2, set()),
        (H.nul_bytes, 2, {E.W_NUL_BYTES}),
        (H.mixed_utf8_latin1, 2, {E.W_MIXED_ENCODING}),
        (H.cp1252, 40, set()),
        (H.utf8_bom, 1, set()),
        (H.semicolon_decimal_comma, 3, set()),
        (H.zip_as_csv, 3, set()),
        (H.csv_as_gz, 3, set()),
        (H.csv_as_xlsx, 3, set()),
        (H.gzip_multi_member, 3, set()),
        (H.xlsx_formulas, 2, {E.W_FORMULAS_CACHED}),
        (H.xlsx_two_sheets, 2, {E.W_MULTIPLE_SHEETS}),
        (H.leading_zeros, 3, set()),
        (H.nan_infinity, 5, {E.W_NON_FINITE}),
        (H.impossible_dates, 2, {E.W_ROWS_REJECTED}),
        (H.metadata_above_header, 2, {E.W_METADATA_LINES_SKIPPED}),
        (H.duplicates, 2, {E.W_DUPLICATES_REMOVED}),
    ],
    ids=lambda value: getattr(value, "__name__", None),
)
def test_accepted_files_are_ready_with_the_right_rows_and_warnings(make, rows, warnings, workspace, analyst, tmp_path):
    upload = _run(workspace, analyst, make(tmp_path))

    table = pq.read_table(storage.version_parquet_path(upload.version))
    codes = {w["code"] for w in upload.receipt["warnings"]}
    assert (upload.status, upload.error_code) == (UploadStatus.READY, "")
    assert upload.version.row_count == table.num_rows == rows
    assert warnings <= codes
    assert codes - warnings <= {E.W_ENCODING_UNCERTAIN, E.W_BLANK_LINES}


def test_utf16_files_are_ready(workspace, analyst, tmp_path):
    le = _run(workspace, analyst, H.utf16(tmp_path, "le"))
    be = _run(workspace, analyst, H.utf16(tmp_path, "be"))

    assert (le.receipt["encoding"], be.receipt["encoding"]) == ("utf-16-le", "utf-16-be")
    assert le.version.row_count == be.version.row_count == 2


def test_rejected_rows_are_kept_with_the_version(workspace, analyst, tmp_path):
    upload = _run(workspace, analyst, H.ragged(tmp_path))

    rejected = storage.version_rejected_path(upload.version).read_text().splitlines()
    assert upload.receipt["rejected_line_numbers"] == [3, 4]
    assert rejected[0] == "line,reason,a,b,c"
    assert len(rejected) == 3


def test_keep_duplicates_option(workspace, analyst, tmp_path):
    upload = _run(workspace, analyst, H.duplicates(tmp_path), keep_duplicates=True)

    assert (upload.version.row_count, upload.receipt["duplicates_removed"]) == (4, 0)


BOUNDED_RUN = textwrap.dedent(
    """
    import resource, sys
    limit = int(sys.argv[2])
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    import django
    django.setup()
    from datasets.models import Upload
    from datasets.services import upload_process
    ended = upload_process(upload=Upload.objects.get(pk=int(sys.argv[1])))
    print("ENDED", ended.status, ended.error_code)
    print("MAXRSS_KIB", resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
    """
)


@pytest.mark.django_db(transaction=True)
def test_gzip_bomb_in_a_memory_bounded_worker_stops_at_the_limit(workspace, analyst, tmp_path, media_root):
    """A 1 GiB bomb (under 3 MiB on disk) in a process limited to 1.5 GB of address space."""
    from datasets.services import upload_from_path

    bomb = H.gzip_bomb(tmp_path, size=1 << 30)
    options = {"accept_mapping": True}
    upload = upload_from_path(workspace=workspace, user=analyst, path=bomb, options=options, enqueue=False).upload
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": WORKER_SETTINGS,
        "LEADNAV_TEST_MEDIA_ROOT": str(media_root),
        "DATABASE_URL": database_url(),
        "DATASETS_MAX_DECOMPRESSED_BYTES": str(64 << 20),
        # Only the size limit: the ratio guard would otherwise stop this bomb first.
        "LEADNAV_TEST_INGEST_LIMITS": '{"max_compression_ratio": 1e12}',
        # pyarrow's default allocator (mimalloc) reserves ~1 GiB of address space up front, and a
        # DuckDB connection ~0.7 GiB more: under RLIMIT_AS use the system allocator. (In production
        # bound workers by resident memory - a cgroup or container limit - not address space.)
        "ARROW_DEFAULT_MEMORY_POOL": "system",
        "MALLOC_ARENA_MAX": "2",  # glibc reserves 64 MiB of address space per thread arena otherwise
    }

    done = subprocess.run(
        [sys.executable, "-c", BOUNDED_RUN, str(upload.pk), str(1536 << 20)],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )

    upload.refresh_from_db()
    max_rss_kib = int(done.stdout.split("MAXRSS_KIB")[-1]) if "MAXRSS_KIB" in done.stdout else -1
    assert bomb.stat().st_size < 4 << 20  # ~1 GiB inflated
    assert done.returncode == 0, done.stderr[-3000:]
    assert f"ENDED failed {E.DECOMPRESSION_LIMIT}" in done.stdout, done.stdout + done.stderr[-5000:]
    assert (upload.status, upload.error_code) == (UploadStatus.FAILED, E.DECOMPRESSION_LIMIT)
    assert 0 < max_rss_kib < 768 * 1024, done.stdout  # far below the 1 GiB the bomb inflates to
