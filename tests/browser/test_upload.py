"""Uploading in a real browser: a chunked upload that survives a dropped connection and a closed tab,
the column review, live progress, the receipt and the preview (screenshots in test-output/)."""

import random
import re
from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.tests.factories import TEST_PASSWORD
from datasets.models import Dataset, Upload, UploadStatus
from datasets.tests.page_helpers import XSS_SCRIPT, upload_row
from datasets.tests.pipeline_helpers import media_root  # noqa: F401
from workspaces.models import Role
from workspaces.tests.factories import MembershipFactory, WorkspaceFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("media_root")]

CHUNK = 2048
BLOCK_FROM = 3 * CHUNK  # the "network" drops every chunk from here on, until the test lets it through


def _ambiguous_csv(path):
    """Headers the engine cannot map with confidence (so the upload stops for a review); ~17 KB."""
    rnd = random.Random(7)
    lines = ["vid,when,src,amt,flag,note", f"V99999,2024-01-01,{XSS_SCRIPT},1.00,Y,<b>bold</b>"]
    for i in range(400):
        channel = rnd.choice(["Email", "Search", "Social", "Direct"])
        amount = f"{rnd.randint(0, 500)}.{rnd.randint(0, 99):02d}"
        lines.append(f"V{i:05d},2024-{1 + i % 12:02d}-{1 + i % 28:02d},{channel},{amount},{rnd.choice('YN')},note {i}")
    path.write_text("\n".join(lines) + "\n")
    return path


def _log_in(page, base, email):
    page.goto(f"{base}/accounts/login/")
    page.fill("input[name=login]", email)
    page.fill("input[name=password]", TEST_PASSWORD)
    page.click("main form button[type=submit]")
    page.wait_for_url(re.compile(r"/w/"))


def test_upload_review_receipt_and_preview(live_server, new_page, screenshot_dir, settings, tmp_path):
    settings.DATASETS_CHUNK_BYTES = CHUNK
    workspace = WorkspaceFactory(name="Acme Growth", slug="acme-growth")
    owner = MembershipFactory(workspace=workspace, role=Role.OWNER).user
    base = live_server.url
    datasets_url = f"{base}/w/{workspace.slug}/datasets/"
    csv_path = _ambiguous_csv(tmp_path / "spring-campaign.csv")
    size = csv_path.stat().st_size
    shot = lambda page, name: page.screenshot(path=screenshot_dir / f"upload-{name}.png", full_page=True)  # noqa: E731

    # 1. An empty workspace invites the first upload.
    first = new_page()
    _log_in(first, base, owner.email)
    first.goto(datasets_url)
    assert "No datasets yet" in first.inner_text("main")
    shot(first, "01-empty")

    # 2. Upload in chunks; the connection "drops" after three chunks: the page retries with backoff.
    blocked = {"on": True}
    chunk_offsets = []

    def network(route):
        offset = int(re.search(r"offset=(\d+)", route.request.url).group(1))
        chunk_offsets.append(offset)
        if blocked["on"] and offset >= BLOCK_FROM:
            route.abort("connectionreset")
        else:
            route.continue_()

    first.route("**/chunk/?offset=*", network)
    first.click("text=Upload a file")
    first.wait_for_url(re.compile(r"/datasets/upload/$"))
    shot(first, "02-upload-page")
    first.set_input_files("input[type=file]", str(csv_path))
    assert first.inner_text("[data-selected-name]") == "spring-campaign.csv"
    first.fill("input[name=dataset_name]", "Spring campaign")
    first.click("[data-submit]")
    first.wait_for_selector("[data-progress-state]:has-text('Connection problem')")
    assert first.inner_text("[data-progress-bytes]") == f"6.0 KB of {size / 1024:.1f} KB"
    shot(first, "03-connection-dropped")
    upload = Upload.objects.get(workspace=workspace)
    assert (upload.status, upload.received_bytes) == (UploadStatus.RECEIVING, BLOCK_FROM)

    # 3. The tab is closed mid-upload. Later, choosing the same file resumes where it stopped.
    first.close()
    blocked["on"] = False
    page = new_page()
    _log_in(page, base, owner.email)
    page.goto(f"{datasets_url}upload/")
    assert "spring-campaign.csv" in page.inner_text(".card-notice")
    shot(page, "04-unfinished-upload")
    page.set_input_files("input[type=file]", str(csv_path))
    page.fill("input[name=dataset_name]", "Spring campaign")
    page.click("[data-submit]")
    page.wait_for_url(re.compile(rf"/datasets/uploads/{upload.pk}/$"))
    upload.refresh_from_db()
    assert Upload.objects.filter(workspace=workspace).count() == 1
    assert (upload.received_bytes, upload.status) == (size, UploadStatus.NEEDS_MAPPING)

    # 4. The engine was unsure of the columns: review them.
    assert "Check the columns before loading" in page.inner_text("main")
    shot(page, "05-needs-review")
    page.click("a:has-text('Review columns')")
    page.wait_for_url(re.compile(r"/mapping/$"))
    shot(page, "06-review-columns")
    page.select_option("select[name=kind]", "visitors")
    page.select_option("select[name=col_0_field]", "visitor_key")
    page.select_option("select[name=col_1_field]", "event_date")
    page.select_option("select[name=col_2_field]", "channel")
    page.select_option("select[name=col_4_field]", "converted")
    page.select_option("select[name=col_5_field]", "__ignore__")
    assert "is-ignored" in page.get_attribute("tr:has(select[name=col_5_field])", "class")
    shot(page, "07-review-filled")
    page.click("text=Load the rows")
    page.wait_for_url(re.compile(rf"/datasets/uploads/{upload.pk}/$"))
    upload.refresh_from_db()
    assert upload.status == UploadStatus.READY
    assert "Loaded into Spring campaign as version 1" in " ".join(page.inner_text("main").split())
    assert page.inner_text(".stat-success .stat-value") == "401"
    shot(page, "08-ready-receipt")

    # 5. The dataset: preview (escaped cells), sort, search, schema, receipt, versions.
    page.click("text=Open the dataset")
    page.wait_for_url(re.compile(r"/datasets/\d+/$"))
    assert page.locator(f"td:has-text('{XSS_SCRIPT}')").count() == 1
    assert page.locator("main b").count() == 0
    shot(page, "09-preview")
    page.click("th a:has-text('amt')")
    page.click("th a:has-text('amt')")
    page.wait_for_selector("th[aria-sort=descending]")
    page.fill("input[name=q]", "social")
    page.click("form[role=search] button[type=submit]")
    page.wait_for_selector("[data-matching]")
    matching = page.inner_text("[data-matching]")
    assert re.fullmatch(r"\d+ matching rows of 401", matching.strip())
    shot(page, "10-preview-sorted-searched")
    page.click("nav.tabs >> text=Schema")
    assert "visitor_key" in page.inner_text("main")
    shot(page, "11-schema")
    page.click("nav.tabs >> text=Receipt")
    assert "How the file was read" in page.inner_text("main")
    shot(page, "12-receipt")
    page.click("nav.tabs >> text=Versions")
    assert "Current" in page.inner_text("main")
    shot(page, "13-versions")

    # 6. The same bytes again: "This file is already here", with a link to the dataset.
    page.goto(f"{datasets_url}upload/")
    page.set_input_files("input[type=file]", str(csv_path))
    page.click("[data-submit]")
    page.wait_for_selector("[data-duplicate]:visible")
    dataset = Dataset.objects.get(workspace=workspace)
    assert page.get_attribute("[data-duplicate-link]", "href") == f"/w/{workspace.slug}/datasets/{dataset.pk}/"
    shot(page, "14-duplicate")

    # 7. Live progress: the page follows a worker's progress without a reload, then shows the result.
    now = timezone.now()
    loading = upload_row(
        workspace=workspace,
        user=owner,
        status=UploadStatus.LOADING,
        name="big-export.csv.gz",
        size_bytes=512 * 1024 * 1024,
        sha256="b" * 64,
        step="reading",
        started_at=now - timedelta(seconds=20),
        progress_at=now,
    )
    page.goto(f"{datasets_url}uploads/{loading.pk}/")
    shot(page, "15-progress-start")
    later = timezone.now()
    Upload.objects.filter(pk=loading.pk).update(
        bytes_processed=200 * 1024 * 1024,
        rows_processed=1_234_567,
        progress_at=later,
        started_at=later - timedelta(seconds=40),
    )
    page.wait_for_selector("[data-live=rows]:has-text('1,234,567')")
    assert page.inner_text("[data-live=bytes]") == "200.0 MB of 512.0 MB"
    assert page.inner_text("[data-live=rate]") == "5.0 MB/s"
    shot(page, "16-progress-live")
    Upload.objects.filter(pk=loading.pk).update(
        status=UploadStatus.FAILED, error_message="The compressed file is cut short (truncated); upload it again."
    )
    page.wait_for_selector("text=This file could not be loaded.")
    shot(page, "17-failed")

    # 8. The history lists both uploads.
    page.goto(f"{datasets_url}uploads/")
    assert page.locator("tbody tr").count() == 3
    shot(page, "18-history")


def test_dataset_pages_with_rejections_on_a_phone(live_server, new_page, screenshot_dir, tmp_path):
    """The receipt of a messy file, the datasets list, and the delete confirmation, also at phone width."""
    from datasets.tests.page_helpers import VISITORS_CSV, dataset_loaded

    workspace = WorkspaceFactory(name="Acme Growth", slug="acme-growth")
    owner = MembershipFactory(workspace=workspace, role=Role.OWNER).user
    messy = VISITORS_CSV + b"v4,2024-04-01\n" + b"v5,2024-04-02,Email,no\n" * 3 + b"v6,2024-04-03,Email,no,extra\n"
    upload = dataset_loaded(workspace=workspace, user=owner, data=messy, name="visitors-april.csv")
    dataset_url = f"{live_server.url}/w/{workspace.slug}/datasets/{upload.dataset_id}/"
    page = new_page()
    _log_in(page, live_server.url, owner.email)

    page.goto(f"{live_server.url}/w/{workspace.slug}/datasets/")
    assert "visitors-april" in page.inner_text("main table")
    page.screenshot(path=screenshot_dir / "upload-20-datasets-list.png", full_page=True)
    page.goto(f"{dataset_url}receipt/")
    text = " ".join(page.inner_text("main").split())
    assert "2 rows could not be read" in text
    assert "Download rejected rows (CSV)" in text
    page.screenshot(path=screenshot_dir / "upload-21-receipt-rejections.png", full_page=True)
    page.goto(f"{dataset_url}delete/")
    page.screenshot(path=screenshot_dir / "upload-22-delete-confirm.png", full_page=True)

    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(f"{dataset_url}receipt/")
    page.screenshot(path=screenshot_dir / "upload-23-receipt-phone.png", full_page=True)
    page.goto(dataset_url)
    page.screenshot(path=screenshot_dir / "upload-24-preview-phone.png", full_page=True)
    page.goto(f"{live_server.url}/w/{workspace.slug}/datasets/upload/")
    page.screenshot(path=screenshot_dir / "upload-25-upload-phone.png", full_page=True)
