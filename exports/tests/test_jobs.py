"""Viewer cap, background jobs, download names, audit, tenancy and the janitor."""

import re
from datetime import timedelta

import pytest
from django.core.files.storage import default_storage
from django.urls import reverse
from django.utils import timezone

from analytics.tests.dashboard_data import buyers_dataset, buyers_frame
from audit.models import AuditEvent
from datasets.tests.page_helpers import dataset_row
from exports.models import ExportJob, ExportStatus
from exports.services import export_janitor_run
from exports.tests.helpers import body, job_done, parse_csv, read_csv, read_json
from workspaces.models import Role
from workspaces.tests.factories import MembershipFactory

pytestmark = pytest.mark.django_db

SAFE_DISPOSITION = re.compile(r'^attachment; filename="[A-Za-z0-9_-]+-\d{4}-\d{2}-\d{2}\.(csv|xlsx|json)"$')


def _rows_url(workspace, dataset, query=""):
    return reverse("exports:rows", args=[workspace.slug]) + f"?dataset={dataset.pk}" + (f"&{query}" if query else "")


# --- viewer cap ---------------------------------------------------------------------------------


@pytest.mark.parametrize("file_format", ["csv", "json"])
def test_viewer_export_stops_at_the_cap(client, workspace, viewer, settings, file_format):
    settings.EXPORT_VIEWER_ROW_CAP = 7
    frame = buyers_frame()
    dataset = buyers_dataset(workspace=workspace, frame=frame)
    client.force_login(viewer)
    response = client.post(_rows_url(workspace, dataset), {"file": file_format})
    event = AuditEvent.objects.get(action="export.created")
    assert response.status_code == 200
    assert response["X-Export-Truncated"] == "7"
    if file_format == "csv":
        rows = read_csv(response)[1:]
    else:
        document = read_json(response)
        rows = document["rows"]
        assert (document["truncated"], document["row_cap"], document["total_rows"]) == (True, 7, len(frame))
    assert [r[1] for r in rows] == list(frame.order_id[:7])
    assert (event.details["truncated"], event.details["row_cap"], event.details["rows"]) == (True, 7, 7)
    assert event.details["total_rows"] == len(frame)


def test_analyst_is_not_capped(client, workspace, analyst, settings):
    settings.EXPORT_VIEWER_ROW_CAP = 7
    frame = buyers_frame()
    dataset = buyers_dataset(workspace=workspace, frame=frame)
    client.force_login(analyst)
    response = client.post(_rows_url(workspace, dataset), {"file": "csv"})
    assert len(read_csv(response)) == len(frame) + 1
    assert "X-Export-Truncated" not in response


def test_export_buttons_tell_viewers_the_cap(client, workspace, viewer, owner, settings):
    settings.EXPORT_VIEWER_ROW_CAP = 1234
    dataset = buyers_dataset(workspace=workspace)
    url = reverse("analytics:buyers", args=[workspace.slug]) + f"?dataset={dataset.pk}&in.state=CA"
    client.force_login(viewer)
    viewer_page = client.get(url).content.decode()
    client.force_login(owner)
    owner_page = client.get(url).content.decode()
    report_action = reverse("exports:report", args=[workspace.slug, "buyers"])
    assert "Viewers export up to 1234 rows" in viewer_page
    assert "Viewers export up to" not in owner_page
    assert f'action="{report_action}?dataset={dataset.pk}&amp;version={dataset.current_version_id}' in owner_page
    assert "in.state=CA" in owner_page


# --- background jobs ----------------------------------------------------------------------------


@pytest.mark.parametrize("file_format", ["csv", "xlsx", "json"])
def test_large_export_runs_in_the_background(
    *, client, workspace, analyst, settings, django_capture_on_commit_callbacks, file_format
):
    settings.EXPORT_STREAM_MAX_ROWS = 10
    frame = buyers_frame()
    dataset = buyers_dataset(workspace=workspace, frame=frame, name="Big buyers")
    client.force_login(analyst)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(_rows_url(workspace, dataset, "in.state=CA"), {"file": file_format})
    job = ExportJob.objects.get()
    expected = frame[frame.state == "CA"]
    assert response.status_code == 302
    assert response["Location"] == reverse("exports:detail", args=[workspace.slug, job.pk])
    assert (job.status, job.rows_written, job.total_rows, job.progress) == ("done", len(expected), len(expected), 100)
    assert job.storage_key.startswith(f"exports/{workspace.pk}/") and "big" not in job.storage_key.lower()
    progress = client.get(reverse("exports:progress", args=[workspace.slug, job.pk])).json()
    assert progress["status"] == "done"
    assert progress["download_url"] == reverse("exports:download", args=[workspace.slug, job.pk])
    detail = client.get(response["Location"])
    assert progress["download_url"] in detail.content.decode()
    download = client.get(progress["download_url"])
    content = body(download)
    assert download.status_code == 200
    assert SAFE_DISPOSITION.match(download["Content-Disposition"])
    assert download["Content-Disposition"].startswith('attachment; filename="big-buyers-rows-')
    assert download["X-Content-Type-Options"] == "nosniff"
    if file_format == "csv":
        order_ids = [r[1] for r in parse_csv(content)[1:]]
    elif file_format == "json":
        import json

        order_ids = [r[1] for r in json.loads(content)["rows"]]
    else:
        import io

        import openpyxl

        sheet = openpyxl.load_workbook(io.BytesIO(content)).active
        assert all(c.data_type != "f" for line in sheet.iter_rows() for c in line)
        order_ids = [line[1] for line in sheet.iter_rows(min_row=2, values_only=True)]
    assert order_ids == list(expected.order_id)
    actions = list(AuditEvent.objects.filter(workspace=workspace).values_list("action", flat=True).order_by("id"))
    assert actions[-2:] == ["export.created", "export.downloaded"]


def test_excel_has_a_cell_limit_for_streaming(owner_client, workspace, settings):
    settings.EXPORT_XLSX_STREAM_MAX_CELLS = 100
    dataset = buyers_dataset(workspace=workspace)
    xlsx = owner_client.post(_rows_url(workspace, dataset), {"file": "xlsx"})
    csv_response = owner_client.post(_rows_url(workspace, dataset), {"file": "csv"})
    assert xlsx.status_code == 302
    assert csv_response.status_code == 200
    assert list(ExportJob.objects.values_list("file_format", flat=True)) == ["xlsx"]


def test_background_viewer_job_is_capped(client, workspace, viewer, settings, django_capture_on_commit_callbacks):
    settings.EXPORT_STREAM_MAX_ROWS = 3
    settings.EXPORT_VIEWER_ROW_CAP = 5
    dataset = buyers_dataset(workspace=workspace)
    client.force_login(viewer)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(_rows_url(workspace, dataset), {"file": "csv"})
    job = ExportJob.objects.get()
    rows = parse_csv(body(client.get(reverse("exports:download", args=[workspace.slug, job.pk]))))[1:]
    page = client.get(response["Location"]).content.decode()
    assert (job.row_cap, job.truncated, job.rows_written) == (5, True, 5)
    assert len(rows) == 5
    assert "Viewers can export up to 5 rows" in page


def test_background_requested_explicitly(client, workspace, owner, django_capture_on_commit_callbacks):
    dataset = buyers_dataset(workspace=workspace)
    client.force_login(owner)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = client.post(_rows_url(workspace, dataset), {"file": "json", "background": "1"})
    assert response.status_code == 302
    assert len(callbacks) == 1
    assert ExportJob.objects.get().status == ExportStatus.DONE


def test_a_job_whose_dataset_was_deleted_fails_cleanly(client, workspace, owner, django_capture_on_commit_callbacks):
    dataset = buyers_dataset(workspace=workspace)
    client.force_login(owner)
    response = client.post(_rows_url(workspace, dataset), {"file": "csv", "background": "1"})
    job = ExportJob.objects.get()
    dataset.delete()
    from exports.tasks import export_run

    export_run.apply(kwargs={"workspace_id": workspace.pk, "export_id": job.pk})
    job.refresh_from_db()
    assert response.status_code == 302
    assert (job.status, job.storage_key) == (ExportStatus.FAILED, "")
    assert job.error
    assert client.get(reverse("exports:download", args=[workspace.slug, job.pk])).status_code == 404


def test_task_refuses_a_mismatched_workspace(workspace, other_workspace, owner):
    job = ExportJob.objects.create(
        workspace=workspace, created_by=owner, what="rows", params={"query": ""}, file_format="csv", filename="x.csv"
    )
    from exports.tasks import export_run

    result = export_run.apply(kwargs={"workspace_id": other_workspace.pk, "export_id": job.pk}).get()
    job.refresh_from_db()
    assert result is None
    assert job.status == ExportStatus.QUEUED


# --- file names ---------------------------------------------------------------------------------

HOSTILE_NAMES = [
    '"quoted"; filename="evil.exe"',
    "line\r\nSet-Cookie: x=1",
    "../../etc/passwd",
    "..\\..\\windows\\system32",
    "ünïcødé 数据 📈",
    "=cmd|' /C calc'!A0",
    "",
]


@pytest.mark.parametrize("name", HOSTILE_NAMES)
@pytest.mark.parametrize("file_format", ["csv", "json", "xlsx"])
def test_content_disposition_is_safe_for_hostile_names(owner_client, workspace, name, file_format):
    dataset = dataset_row(workspace=workspace, name=name or "x")
    from urllib.parse import urlencode

    url = _rows_url(workspace, dataset, urlencode({"name": name}))
    response = owner_client.post(url, {"file": file_format})
    disposition = response["Content-Disposition"]
    assert response.status_code == 200
    assert SAFE_DISPOSITION.match(disposition), disposition
    assert "/" not in disposition.split("filename=")[1] and "\\" not in disposition
    assert "\r" not in disposition and "\n" not in disposition


# --- audit --------------------------------------------------------------------------------------


def test_streamed_export_is_audited_with_what_format_rows_and_filters(owner_client, workspace, owner):
    frame = buyers_frame()
    dataset = buyers_dataset(workspace=workspace, frame=frame)
    owner_client.post(_rows_url(workspace, dataset, "in.state=TX"), {"file": "xlsx"}, HTTP_USER_AGENT="pytest-agent")
    event = AuditEvent.objects.get(action="export.created")
    assert (event.workspace_id, event.actor_id, event.user_agent) == (workspace.pk, owner.pk, "pytest-agent")
    assert event.details["what"] == "rows"
    assert event.details["format"] == "xlsx"
    assert event.details["rows"] == int((frame.state == "TX").sum())
    assert "in.state=TX" in event.details["filters"]
    assert (event.details["truncated"], event.details["mode"]) == (False, "stream")


def test_refused_exports_write_nothing(owner_client, workspace, other_workspace):
    mine = buyers_dataset(workspace=workspace)
    theirs = buyers_dataset(workspace=other_workspace)
    cases = [
        (_rows_url(workspace, theirs), {"file": "csv"}, 404),  # T-IDOR-02: B's dataset id under A's URL
        (_rows_url(workspace, mine) + f"&version={theirs.current_version_id}", {"file": "csv"}, 404),
        (_rows_url(workspace, mine), {"file": "exe"}, 400),
        (_rows_url(workspace, mine, "in.nope=1"), {"file": "csv"}, 400),
        (_rows_url(workspace, mine), {"file": "csv", "evil.x": "1"}, 400),  # posted state is checked too
        (reverse("exports:rows", args=[workspace.slug]), {"file": "csv"}, 400),
        (reverse("exports:combos", args=[workspace.slug]) + f"?dataset={mine.pk}&attr=nope", {"file": "csv"}, 400),
        (reverse("exports:report", args=[workspace.slug, "buyers"]) + "?grain=decade", {"file": "json"}, 400),
    ]
    statuses = [owner_client.post(url, data).status_code for url, data, _ in cases]
    assert statuses == [expected for *_, expected in cases]
    assert not AuditEvent.objects.filter(action__startswith="export.").exists()
    assert not ExportJob.objects.exists()


def test_get_cannot_create_an_export(owner_client, workspace):
    dataset = buyers_dataset(workspace=workspace)
    response = owner_client.get(_rows_url(workspace, dataset) + "&file=csv")
    assert response.status_code == 405
    assert not AuditEvent.objects.filter(action__startswith="export.").exists()


# --- job access ---------------------------------------------------------------------------------

JOB_ROUTES = ["exports:detail", "exports:progress", "exports:download"]


@pytest.mark.parametrize("name", JOB_ROUTES)
def test_another_workspaces_job_is_404(owner_client, workspace, other_workspace, other_owner, name):
    theirs = job_done(workspace=other_workspace, user=other_owner)
    for slug in (workspace.slug, other_workspace.slug):
        assert owner_client.get(reverse(name, args=[slug, theirs.pk])).status_code == 404
    assert not AuditEvent.objects.filter(action="export.downloaded").exists()


@pytest.mark.parametrize("name", JOB_ROUTES)
def test_a_viewer_sees_only_their_own_jobs(client, workspace, viewer, analyst, name):
    analysts = job_done(workspace=workspace, user=analyst)
    own = job_done(workspace=workspace, user=viewer)
    client.force_login(viewer)
    assert client.get(reverse(name, args=[workspace.slug, analysts.pk])).status_code == 404
    assert client.get(reverse(name, args=[workspace.slug, own.pk])).status_code == 200
    client.force_login(analyst)
    assert client.get(reverse(name, args=[workspace.slug, own.pk])).status_code == 200


def test_list_shows_viewers_their_own_jobs_only(*, client, workspace, viewer, analyst, other_workspace, other_owner):
    job_done(workspace=workspace, user=analyst, name="Analyst data", filename="analyst-data-rows-2024-01-01.csv")
    job_done(workspace=workspace, user=viewer, name="Viewer data", filename="viewer-data-rows-2024-01-01.csv")
    job_done(workspace=other_workspace, user=other_owner, filename="globex-rows-2024-01-01.csv")
    client.force_login(viewer)
    viewer_page = client.get(reverse("exports:list", args=[workspace.slug])).content.decode()
    client.force_login(analyst)
    analyst_page = client.get(reverse("exports:list", args=[workspace.slug])).content.decode()
    assert "viewer-data-rows" in viewer_page and "analyst-data-rows" not in viewer_page
    assert "viewer-data-rows" in analyst_page and "analyst-data-rows" in analyst_page
    assert "globex" not in analyst_page and "globex" not in viewer_page


def test_download_of_an_unfinished_or_expired_job_is_404(owner_client, workspace, owner):
    queued = job_done(workspace=workspace, user=owner, status=ExportStatus.QUEUED)
    expired = job_done(workspace=workspace, user=owner, expires_at=timezone.now() - timedelta(minutes=1))
    for job in (queued, expired):
        assert owner_client.get(reverse("exports:download", args=[workspace.slug, job.pk])).status_code == 404


def test_a_removed_member_loses_their_jobs(client, workspace):
    member = MembershipFactory(workspace=workspace, role=Role.ANALYST)
    job = job_done(workspace=workspace, user=member.user)
    client.force_login(member.user)
    allowed = client.get(reverse("exports:download", args=[workspace.slug, job.pk])).status_code
    member.delete()
    assert (allowed, client.get(reverse("exports:download", args=[workspace.slug, job.pk])).status_code) == (200, 404)


# --- janitor ------------------------------------------------------------------------------------


def test_janitor_deletes_expired_files_and_keeps_fresh_ones(workspace, owner):
    old = job_done(workspace=workspace, user=owner, expires_at=timezone.now() - timedelta(hours=1))
    fresh = job_done(workspace=workspace, user=owner)
    old_key = old.storage_key
    result = export_janitor_run()
    old.refresh_from_db()
    fresh.refresh_from_db()
    assert result["expired"] == 1
    assert (old.status, old.storage_key) == (ExportStatus.EXPIRED, "")
    assert not default_storage.exists(old_key)
    assert fresh.status == ExportStatus.DONE and default_storage.exists(fresh.storage_key)


def test_janitor_requeues_jobs_the_broker_never_took(workspace, owner):
    dataset = buyers_dataset(workspace=workspace)
    job = ExportJob.objects.create(
        workspace=workspace,
        created_by=owner,
        what="rows",
        params={"query": f"dataset={dataset.pk}"},
        file_format="csv",
        filename="x.csv",
    )
    ExportJob.objects.filter(pk=job.pk).update(created_at=timezone.now() - timedelta(minutes=10))
    result = export_janitor_run()
    job.refresh_from_db()
    assert result["requeued"] == 1
    assert job.status == ExportStatus.DONE  # eager Celery ran it
    assert job.enqueued_at is not None


def test_janitor_is_scheduled():
    from ops.periodic import SCHEDULES

    assert "exports.tasks.janitor" in {s.task for s in SCHEDULES}
