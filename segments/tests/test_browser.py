"""Segments in Chromium under the strict CSP: the builder updates its numbers and preview without a
reload, the save uses the live filters, compare draws both charts, and the dashboards' "Save these
filters" saves the filters changed in place. Screenshots: test-output/screenshots/segments-*.png."""

import re

import pytest

from accounts.tests.factories import TEST_PASSWORD
from analytics.tests.dashboard_data import XSS_VALUE, buyers_dataset, buyers_frame, visitors_dataset, visitors_frame
from segments.models import SavedFilterSet, Segment
from workspaces.models import Role
from workspaces.tests.factories import MembershipFactory, WorkspaceFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _log_in(page, base, email):
    page.goto(f"{base}/accounts/login/")
    page.fill("input[name=login]", email)
    page.fill("input[name=password]", TEST_PASSWORD)
    page.click("main form button[type=submit]")
    page.wait_for_url(re.compile(r"/w/"))


def test_build_save_and_compare(live_server, new_page, screenshot_dir):
    workspace = WorkspaceFactory(name="Acme Growth", slug="acme-growth")
    analyst = MembershipFactory(workspace=workspace, role=Role.ANALYST).user
    frame = visitors_frame()
    visitors = visitors_dataset(workspace=workspace, frame=frame, name="Site visitors")
    buyers = buyers_dataset(workspace=workspace, frame=buyers_frame(), name="Spring buyers")
    base = live_server.url
    page = new_page()
    _log_in(page, base, analyst.email)

    # 1. The builder: pick a value, the numbers and the preview change without a reload.
    page.goto(f"{base}/w/{workspace.slug}/segments/new/?dataset={visitors.pk}")
    page.wait_for_selector("body[data-builder-ready]")
    assert page.inner_text("[data-metric='size'] [data-metric-value]") == f"{len(frame):,}"
    page.locator("details.filter", has_text="state").locator("summary").click()
    page.select_option("select[name='in.state']", ["TX"])
    page.wait_for_selector("body[data-builder-state='in.state=TX']")
    kept = frame[frame.state == "TX"]
    assert page.inner_text("[data-metric='size'] [data-metric-value]") == f"{len(kept):,}"
    assert page.inner_text("[data-metric='purchasers'] [data-metric-value]") == f"{int(kept.converted.sum()):,}"
    assert set(page.locator("[data-preview] tbody tr td:last-child").all_inner_texts()) == {"TX"}
    page.screenshot(path=screenshot_dir / "segments-01-builder.png", full_page=True)

    # 2. Save: the live filters go with it.
    page.fill("input[name=name]", "Texas visitors")
    page.click("[data-save-form] button[type=submit]")
    page.wait_for_selector("[data-segment-name]")
    segment = Segment.objects.get(name="Texas visitors")
    assert segment.query == "in.state=TX"
    page.screenshot(path=screenshot_dir / "segments-02-detail.png", full_page=True)

    # 3. Compare with a buyers segment whose channel is an HTML payload: both charts drawn, text only.
    other = Segment.objects.create(
        workspace=workspace, dataset=buyers, name=XSS_VALUE, query="", created_by=analyst, updated_by=analyst
    )
    page.goto(f"{base}/w/{workspace.slug}/segments/compare/?s={segment.pk}&s={other.pk}")
    page.wait_for_selector("[data-chart='volume'] .main-svg")
    page.wait_for_selector("[data-chart='conversion'] .main-svg")
    for point in page.locator(".js-plotly-plot .point").all():
        point.hover(force=True)
    assert XSS_VALUE in page.inner_text("[data-chart='volume']")
    assert page.locator('a[href^="javascript:"]').count() == 0
    page.screenshot(path=screenshot_dir / "segments-03-compare.png", full_page=True)


def test_dashboard_save_these_filters_uses_the_live_filters(live_server, new_page, screenshot_dir):
    workspace = WorkspaceFactory(name="Acme Growth", slug="acme-growth")
    viewer = MembershipFactory(workspace=workspace, role=Role.VIEWER).user
    visitors_dataset(workspace=workspace, name="Site visitors")
    base = live_server.url
    page = new_page()
    _log_in(page, base, viewer.email)
    page.goto(f"{base}/w/{workspace.slug}/analytics/visitors/")
    page.wait_for_selector("body[data-dashboard-ready]")
    page.locator("details.filter", has_text="state").locator("summary").click()
    page.select_option("select[name='in.state']", ["OR"])
    page.wait_for_selector("body[data-dashboard-state*='in.state=OR']")
    page.fill("#filter-set-name", "Oregon")
    page.click("[data-filter-set-form] button[type=submit]")
    page.wait_for_selector("[data-filter-set]")
    saved = SavedFilterSet.objects.get(user=viewer)
    assert "in.state=OR" in saved.query
    assert page.locator("[data-filter-set] a", has_text="Oregon").count() == 1
    page.screenshot(path=screenshot_dir / "segments-04-dashboard-tools.png")
