# ruff: noqa: F401, F811 - fixtures imported from pipeline_helpers are used as parameters
"""`manage.py ingest`: queue by default, --sync runs the pipeline here, --json prints one object."""

import io
import json

import pytest
from django.core.management import CommandError, call_command

from datasets.ingest import errors as engine_errors
from datasets.models import Upload, UploadStatus

from .pipeline_helpers import SIMPLE_CSV, media_root, visitors_csv, write_file

pytestmark = pytest.mark.usefixtures("media_root")


def test_sync_json_prints_the_receipt_of_a_confident_file(workspace, owner, visitors_csv):
    out = io.StringIO()

    call_command("ingest", str(visitors_csv), "--workspace", workspace.slug, "--sync", "--json", stdout=out)

    summary = json.loads(out.getvalue())
    upload = Upload.objects.get(pk=summary["upload_id"])
    assert (summary["status"], summary["error"], summary["kind"]) == ("ready", "", "visitors")
    assert (summary["rows_read"], summary["rows_loaded"], summary["rows_rejected"], summary["duplicates"]) == (
        1000,
        1000,
        0,
        0,
    )
    assert (summary["encoding"], summary["delimiter"], summary["quotechar"], summary["header_row"]) == (
        "ascii",  # the generator writes plain ASCII
        ",",
        '"',
        1,
    )
    assert summary["columns"][0] == {"name": "visitor_id", "type": "text", "field": "visitor_key"}
    assert summary["warnings"] == []
    assert upload.created_by == owner


def test_sync_plain_output_names_the_status_and_counts(workspace, owner, tmp_path):
    path = write_file(tmp_path, "dups.csv", b"a,b\n1,2\n1,2\n3,4\n")
    out = io.StringIO()

    call_command("ingest", str(path), "--workspace", workspace.slug, "--sync", "--accept-mapping", stdout=out)

    lines = out.getvalue().splitlines()
    assert lines[0].endswith(": ready")
    assert {"rows_read: 3", "rows_loaded: 2", "duplicates: 1", "delimiter: ,"} <= set(lines)
    assert "warning: 1 exact duplicate rows were removed." in lines


def test_default_mode_queues_and_prints_the_id(workspace, owner, tmp_path, django_capture_on_commit_callbacks):
    out = io.StringIO()

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        call_command(
            "ingest", str(write_file(tmp_path, "p.csv", SIMPLE_CSV)), "--workspace", workspace.slug, stdout=out
        )

    upload = Upload.objects.get(pk=int(out.getvalue().strip()))
    assert upload.status == UploadStatus.PENDING
    assert len(callbacks) == 1  # the enqueue, on commit


def test_a_refused_file_exits_non_zero_with_the_engine_message(workspace, owner, tmp_path):
    out = io.StringIO()

    with pytest.raises(CommandError) as caught:
        call_command(
            "ingest",
            str(write_file(tmp_path, "e.csv", b"")),
            "--workspace",
            workspace.slug,
            "--sync",
            "--json",
            stdout=out,
        )

    summary = json.loads(out.getvalue())
    assert summary["status"] == "failed"
    assert summary["error"] == engine_errors.error_message(engine_errors.EMPTY_FILE)
    assert "ended failed" in str(caught.value)


def test_an_unsure_file_without_accept_mapping_stops_for_review(workspace, owner, tmp_path):
    out = io.StringIO()

    with pytest.raises(CommandError):
        call_command(
            "ingest",
            str(write_file(tmp_path, "p.csv", SIMPLE_CSV)),
            "--workspace",
            workspace.slug,
            "--sync",
            "--json",
            stdout=out,
        )

    assert json.loads(out.getvalue())["status"] == "needs_mapping"


def test_unknown_workspace_or_file(workspace, tmp_path):
    with pytest.raises(CommandError, match="No workspace 'nope'"):
        call_command("ingest", str(write_file(tmp_path, "p.csv", SIMPLE_CSV)), "--workspace", "nope")
    with pytest.raises(CommandError, match="No such file"):
        call_command("ingest", str(tmp_path / "missing.csv"), "--workspace", workspace.slug)
