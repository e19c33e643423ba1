"""The dashboards in Chromium under the strict CSP: Plotly draws from our static files, filters redraw
the charts without a page reload, and hovering data that carries HTML runs nothing (T-XSS-03).
Screenshots: test-output/screenshots/dashboard-*.png."""

import re

import pytest

from accounts.tests.factories import TEST_PASSWORD
from analytics.tests.dashboard_data import XSS_VALUE, buyers_dataset, buyers_frame, visitors_dataset
from datasets.tests.pipeline_helpers import media_root  # noqa: F401
from workspaces.models import Role
from workspaces.tests.factories import MembershipFactory, WorkspaceFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("media_root")]


def _log_in(page, base, email):
    page.goto(f"{base}/accounts/login/")
    page.fill("input[name=login]", email)
    page.fill("input[name=password]", TEST_PASSWORD)
    page.click("main form button[type=submit]")
    page.wait_for_url(re.compile(r"/w/"))


def _hover_every_point(page) -> int:
    points = page.locator(".js-plotly-plot .point")
    for i in range(points.count()):
        points.nth(i).hover(force=True)
    return points.count()


def test_filter_buyers_dashboard_charts_redraw(live_server, new_page, screenshot_dir):
    workspace = WorkspaceFactory(name="Acme Growth", slug="acme-growth")
    viewer = MembershipFactory(workspace=workspace, role=Role.VIEWER).user
    frame = buyers_frame()
    buyers_dataset(workspace=workspace, frame=frame, name="Spring buyers")
    visitors_dataset(workspace=workspace, name="Site visitors")
    base = live_server.url
    page = new_page()
    _log_in(page, base, viewer.email)

    # 1. The whole dataset: every chart drawn by Plotly, KPIs with their definitions.
    page.goto(f"{base}/w/{workspace.slug}/analytics/buyers/")
    page.wait_for_selector("body[data-dashboard-ready]")
    page.wait_for_selector("[data-chart='top_channels'] .main-svg")
    drawn = page.locator("[data-chart] .main-svg").count()
    records = page.inner_text("[data-kpi='buyer_records'] [data-kpi-value]")
    assert drawn >= 8
    assert records == f"{len(frame):,}"
    assert "needs spend data" in page.inner_text("[data-kpi='cac']")
    page.screenshot(path=screenshot_dir / "dashboard-01-buyers.png", full_page=True)

    # 2. Hover every bar, including the one labelled with an <img onerror> payload: text, no script.
    page.locator("[data-chart='top_channels']").scroll_into_view_if_needed()
    hovered = _hover_every_point(page)
    assert hovered > 10
    assert page.locator('a[href^="javascript:"]').count() == 0
    assert XSS_VALUE in page.inner_text("[data-chart='top_channels']")

    # 3. Filter channel = Email (the form's change event fetches ?format=json; no navigation).
    page.evaluate("window.__sameDocument = true")
    page.locator("details.filter:has(summary:text-is('channel'))").locator("summary").click()
    page.select_option("select[name='in.channel']", ["Email"])
    page.wait_for_selector(".filter-badge:has-text('channel is Email')")
    page.wait_for_function(
        "expected => document.querySelector(\"[data-kpi='buyer_records'] [data-kpi-value]\").textContent === expected",
        arg=f"{(frame['channel'] == 'Email').sum():,}",
    )
    assert page.evaluate("window.__sameDocument") is True
    assert "in.channel=Email" in page.url
    bars = page.locator("[data-chart='top_channels'] .point").count()
    assert bars == 1
    page.evaluate("window.scrollTo(0, 0)")  # sticky header and filter panel would land mid-page otherwise
    page.screenshot(path=screenshot_dir / "dashboard-02-buyers-filtered.png", full_page=True)

    # 4. One click removes the filter; the charts come back.
    page.click(".filter-badge:has-text('channel is Email')")
    page.wait_for_function(
        "expected => document.querySelector(\"[data-kpi='buyer_records'] [data-kpi-value]\").textContent === expected",
        arg=f"{len(frame):,}",
    )
    assert page.locator("[data-chart='top_channels'] .point").count() == frame["channel"].nunique()
    assert page.evaluate("window.__sameDocument") is True

    # 5. The shared URL (with a filter) renders the same state without JS help.
    page.goto(f"{base}/w/{workspace.slug}/analytics/buyers/?in.state=CA&grain=month")
    page.wait_for_selector("[data-chart='over_time'] .main-svg")
    assert page.inner_text("[data-kpi='buyer_records'] [data-kpi-value]") == f"{(frame['state'] == 'CA').sum():,}"

    # 6. The visitors dashboard.
    page.goto(f"{base}/w/{workspace.slug}/analytics/visitors/")
    page.wait_for_selector("[data-chart='new_vs_returning'] .main-svg")
    page.screenshot(path=screenshot_dir / "dashboard-03-visitors.png", full_page=True)
