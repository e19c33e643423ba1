"""The export menu in Chromium under the strict CSP: a CSV download from the dashboard, and a large
export that goes to the background, whose page follows the job and then offers the file.
Screenshots: test-output/screenshots/exports-*.png."""

import csv
import io
import re
from pathlib import Path

import pytest
from django.test import override_settings

from accounts.tests.factories import TEST_PASSWORD
from analytics.tests.dashboard_data import buyers_dataset, buyers_frame
from datasets.tests.pipeline_helpers import media_root  # noqa: F401
from exports.models import ExportJob
from workspaces.models import Role
from workspaces.tests.factories import MembershipFactory, WorkspaceFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("media_root")]


def _log_in(page, base, email):
    page.goto(f"{base}/accounts/login/")
    page.fill("input[name=login]", email)
    page.fill("input[name=password]", TEST_PASSWORD)
    page.click("main form button[type=submit]")
    page.wait_for_url(re.compile(r"/w/"))


def test_export_menu_downloads_and_background_job(live_server, new_page, screenshot_dir):
    workspace = WorkspaceFactory(name="Acme Growth", slug="acme-growth")
    analyst = MembershipFactory(workspace=workspace, role=Role.ANALYST).user
    frame = buyers_frame()
    buyers_dataset(workspace=workspace, frame=frame, name="Spring buyers")
    base = live_server.url
    page = new_page()
    _log_in(page, base, analyst.email)
    page.goto(f"{base}/w/{workspace.slug}/analytics/buyers/?in.state=CA")
    page.wait_for_selector("body[data-dashboard-ready]")

    # 1. Export rows -> CSV: the filtered rows, as a download.
    rows_menu = page.locator("details.export-menu", has_text="Export rows")
    rows_menu.locator("summary").click()
    page.screenshot(path=screenshot_dir / "exports-01-menu.png")
    with page.expect_download() as info:
        rows_menu.get_by_role("button", name="CSV").click()
    download = info.value
    text = Path(download.path()).read_text(encoding="utf-8-sig")
    rows = list(csv.reader(io.StringIO(text, newline="")))[1:]
    assert re.fullmatch(r"spring-buyers-rows-\d{4}-\d{2}-\d{2}\.csv", download.suggested_filename)
    assert len(rows) == int((frame.state == "CA").sum())

    # 2. Over the streaming threshold: a background job; its page follows it and offers the file.
    with override_settings(EXPORT_STREAM_MAX_ROWS=5):
        page.goto(f"{base}/w/{workspace.slug}/analytics/buyers/?in.state=CA")
        page.wait_for_selector("body[data-dashboard-ready]")
        rows_menu = page.locator("details.export-menu", has_text="Export rows")
        rows_menu.locator("summary").click()
        rows_menu.get_by_role("button", name="JSON").click()
        page.wait_for_url(re.compile(r"/exports/jobs/\d+/$"))
        page.get_by_role("link", name=re.compile("Download JSON")).wait_for(timeout=30_000)
    job = ExportJob.objects.get()
    page.screenshot(path=screenshot_dir / "exports-02-job.png", full_page=True)
    assert job.status == "done"
    assert job.rows_written == int((frame.state == "CA").sum())
