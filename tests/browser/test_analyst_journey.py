"""One analyst's afternoon in Chromium, across the analytics features (issue #5's browser test):
filter the buyers dashboard, save two segments from it, compare them, open the top combos and
deep-dive into rank 3, export the filtered rows as CSV. Every number checked on the way is computed
here with pandas from the same frames. Screenshots: test-output/screenshots/journey-*.png."""

import csv
import io
import re

import pytest

from accounts.tests.factories import TEST_PASSWORD
from analytics.tests.dashboard_data import buyers_dataset, buyers_frame, visitors_dataset, visitors_frame
from datasets.tests.pipeline_helpers import media_root  # noqa: F401
from segments.models import Segment
from workspaces.models import Role
from workspaces.tests.factories import MembershipFactory, WorkspaceFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("media_root")]

COMBO_ATTRIBUTES = ("channel", "gender", "age_range", "state")


def _log_in(page, base, email):
    page.goto(f"{base}/accounts/login/")
    page.fill("input[name=login]", email)
    page.fill("input[name=password]", TEST_PASSWORD)
    page.click("main form button[type=submit]")
    page.wait_for_url(re.compile(r"/w/"))


def _filter_dashboard(page, state: str) -> None:
    page.wait_for_selector("body[data-dashboard-ready]")
    page.locator("details.filter", has_text="state").locator("summary").click()
    page.select_option("select[name='in.state']", [state])
    page.wait_for_selector(f"body[data-dashboard-state*='in.state={state}']")


def _save_segment_from_dashboard(page, name: str) -> None:
    page.click("[data-save-segment]")
    page.wait_for_selector("body[data-builder-ready]")
    page.fill("input[name=name]", name)
    page.click("[data-save-form] button[type=submit]")
    page.wait_for_selector("[data-segment-name]")
    assert page.inner_text("[data-segment-name]") == name


def test_filter_save_two_segments_compare_combos_deep_dive_and_export(live_server, new_page, screenshot_dir):
    workspace = WorkspaceFactory(name="Acme Growth", slug="acme-growth")
    analyst = MembershipFactory(workspace=workspace, role=Role.ANALYST).user
    buyers = buyers_frame()
    buyers_ds = buyers_dataset(workspace=workspace, frame=buyers, name="Spring buyers")
    visitors = visitors_frame(rows=3000)
    visitors_ds = visitors_dataset(workspace=workspace, frame=visitors, name="Site visitors")
    base = live_server.url
    dashboard = f"{base}/w/{workspace.slug}/analytics/buyers/"
    page = new_page()
    _log_in(page, base, analyst.email)

    # 1. Filter the buyers dashboard in place, then save it as a segment; a second one for CA.
    page.goto(dashboard)
    _filter_dashboard(page, "TX")
    page.screenshot(path=screenshot_dir / "journey-01-buyers-filtered.png", full_page=True)
    _save_segment_from_dashboard(page, "Texas buyers")
    page.goto(dashboard + "?reset")
    _filter_dashboard(page, "CA")
    _save_segment_from_dashboard(page, "California buyers")
    texas = Segment.objects.get(workspace=workspace, name="Texas buyers")
    california = Segment.objects.get(workspace=workspace, name="California buyers")
    assert (texas.dataset_id, california.dataset_id) == (buyers_ds.pk, buyers_ds.pk)
    assert "in.state=TX" in texas.query and "in.state=CA" in california.query

    # 2. Compare them: the sizes are the rows of each state, the charts are drawn.
    page.goto(f"{base}/w/{workspace.slug}/segments/compare/?s={texas.pk}&s={california.pk}")
    page.wait_for_selector("[data-chart='volume'] .main-svg")
    # Buyers segments have no conversion (that needs visitors with a converted flag): said, not drawn.
    assert "needs a visitors dataset" in page.inner_text("[data-chart-card='conversion']")
    compared = page.request.get(page.url + "&format=json").json()
    sizes = {seg["name"]: seg for seg in compared["segments"]}
    for name, state in (("Texas buyers", "TX"), ("California buyers", "CA")):
        assert sizes[name]["metrics"]["size"]["value"] == int((buyers.state == state).sum())
        assert f"{int((buyers.state == state).sum()):,}" in page.inner_text("main")
    page.screenshot(path=screenshot_dir / "journey-02-compare.png", full_page=True)

    # 3. Top combos on the visitors, then the deep dive of rank 3 from the ranked table.
    query = "&".join(f"attr={a}" for a in COMBO_ATTRIBUTES)
    page.goto(
        f"{base}/w/{workspace.slug}/analytics/combos/?dataset={visitors_ds.pk}&{query}"
        "&min_size=2&max_size=3&min_purchasers=5&min_conversion=0"
    )
    page.wait_for_selector("[data-combo-rank='3']")
    page.screenshot(path=screenshot_dir / "journey-03-combos.png", full_page=True)
    page.locator("[data-combo-rank='3'] a").first.click()
    page.wait_for_selector("[data-combo='3']")
    dive = page.request.get(page.url + "&format=json").json()
    combo = dive["combo"]
    assert combo["rank"] == 3
    matching = visitors
    for item in combo["items"]:
        matching = matching[matching[item["attribute"]] == item["value"]]
    assert combo["visitors"] == len(matching)
    assert combo["purchasers"] == int(matching.converted.sum())
    assert f"{combo['purchasers']:,}" in page.inner_text("[data-kpi='purchasers']")
    assert page.locator("[data-neighbours] tr[aria-current='true']").get_attribute("data-combo-rank") == "3"
    page.screenshot(path=screenshot_dir / "journey-04-deep-dive.png", full_page=True)

    # 4. Export the Texas rows from the dashboard as CSV: every Texas order, nothing else.
    page.goto(dashboard + "?reset")
    _filter_dashboard(page, "TX")
    menu = page.locator("details.export-menu", has_text="Export rows")
    menu.locator("summary").click()
    with page.expect_download() as download:
        menu.locator("button", has_text="CSV").click()
    assert download.value.suggested_filename.endswith(".csv")
    text = download.value.path().read_bytes().decode("utf-8-sig")
    rows = list(csv.DictReader(io.StringIO(text)))
    assert len(rows) == int((buyers.state == "TX").sum())
    assert {row["state"] for row in rows} == {"TX"}
    assert sorted(row["order_id"] for row in rows) == sorted(buyers[buyers.state == "TX"].order_id)
    page.screenshot(path=screenshot_dir / "journey-05-exported.png", full_page=True)
