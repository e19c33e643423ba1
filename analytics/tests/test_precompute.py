"""The publish-time precomputation (analytics/precompute.py): after it, the default dashboard of a
version is served without running a single DuckDB query, with the very numbers a cold page shows
(expected values by pandas on the same frame), and it never breaks publishing."""

import logging

import pytest
from django.urls import reverse

from analytics import precompute
from analytics.engine import cache as engine_cache
from analytics.engine import metrics, query, series
from analytics.engine.cache import DEFAULT_TIMEOUT, PRECOMPUTED_TIMEOUT, cached, keep_long
from analytics.tests.dashboard_data import (
    BUYER_COLUMNS,
    buyers_dataset,
    buyers_frame,
    dataset_from_frame,
    visitors_dataset,
    visitors_frame,
)
from datasets import storage
from datasets.models import DatasetVersion, Kind
from datasets.tests.pipeline_helpers import media_root  # noqa: F401

pytestmark = pytest.mark.usefixtures("media_root")


class RecordingCache:
    def __init__(self):
        self.data, self.timeouts = {}, {}

    def get(self, key, default=None):
        return self.data.get(key, default)

    def set(self, key, value, timeout=None):
        self.data[key], self.timeouts[key] = value, timeout


def _cached(cache, payload, value):
    return cached(cache=cache, workspace_id=1, fingerprints=["f"], kind="t", payload=payload, compute=lambda: value)


def test_keep_long_stores_for_30_days_and_renews_hits():
    cache = RecordingCache()
    assert _cached(cache, 1, "a") == "a"
    (key_a,) = cache.timeouts
    assert cache.timeouts[key_a] == DEFAULT_TIMEOUT
    with keep_long():
        assert _cached(cache, 2, "b") == "b"
        assert _cached(cache, 1, "ignored") == "a"  # a hit keeps its value, now without expiry
    assert set(cache.timeouts.values()) == {PRECOMPUTED_TIMEOUT} == {30 * 24 * 3600}
    assert _cached(cache, 3, "c") == "c"  # outside the block: the default timeout again
    assert sorted(cache.timeouts.values()) == [86400, PRECOMPUTED_TIMEOUT, PRECOMPUTED_TIMEOUT]
    assert engine_cache._timeout_override.get() is engine_cache._UNSET


@pytest.fixture
def no_duckdb(monkeypatch):
    """From here on any engine query fails the test: the page must come from the cache."""

    def refuse():
        raise AssertionError("a DuckDB query ran after the precomputation")

    for module in (metrics, query, series):
        monkeypatch.setattr(module, "connection", refuse)


def _url(kind, workspace, query_string=""):
    return reverse(f"analytics:{kind}", args=[workspace.slug]) + query_string


def _kpis(response) -> dict:
    return {k["key"]: k for k in response.json()["kpis"]}


def test_precomputed_buyers_page_needs_no_query_and_equals_pandas(client, workspace, viewer, request):
    frame = buyers_frame(seed=31)
    dataset = buyers_dataset(workspace=workspace, frame=frame)
    assert precompute.precompute_version(dataset.current_version) == [Kind.BUYERS]
    request.getfixturevalue("no_duckdb")
    client.force_login(viewer)
    kpis = _kpis(client.get(_url("buyers", workspace, "?format=json")))
    gross = frame["revenue"].sum()
    per_buyer = frame.groupby("email")["order_id"].nunique()
    assert kpis["revenue"]["value"] == pytest.approx(gross)
    assert kpis["orders"]["value"] == frame["order_id"].nunique()
    assert kpis["buyers"]["value"] == frame["email"].nunique()
    assert kpis["repeat_buyer_rate"]["value"] == pytest.approx((per_buyer >= 2).sum() / len(per_buyer))
    # The HTML page (charts and the filter panel's counts) is served from the cache too.
    page = client.get(_url("buyers", workspace))
    assert page.status_code == 200
    panel = {p["column"]: p for p in page.context["panel"]}
    expected = frame["state"].value_counts()
    assert {o["value"]: o["count"] for o in panel["state"]["options"]} == expected.to_dict()
    charts = {c["key"]: c for c in page.context["data"]["charts"]}
    campaigns = {p["label"]: p["count"] for p in charts["top_campaigns"]["series"]["points"]}
    assert campaigns == frame["campaign"].value_counts().to_dict()


def test_precomputed_visitors_page_needs_no_query_and_equals_pandas(client, workspace, viewer, request):
    frame = visitors_frame(seed=32)
    dataset = visitors_dataset(workspace=workspace, frame=frame)
    assert precompute.precompute_version(dataset.current_version) == [Kind.VISITORS]
    request.getfixturevalue("no_duckdb")
    client.force_login(viewer)
    kpis = _kpis(client.get(_url("visitors", workspace, "?format=json")))
    assert kpis["visitors_total"]["value"] == len(frame)
    assert kpis["visitors_unique"]["value"] == frame["email"].nunique()
    assert kpis["conversion_rate"]["value"] == pytest.approx(frame["converted"].mean())
    assert client.get(_url("visitors", workspace)).status_code == 200


def test_a_filtered_page_is_still_computed_on_demand(client, workspace, viewer):
    frame = buyers_frame(seed=33)
    dataset = buyers_dataset(workspace=workspace, frame=frame)
    precompute.precompute_version(dataset.current_version)
    client.force_login(viewer)
    kpis = _kpis(client.get(_url("buyers", workspace, "?format=json&in.state=CA")))
    assert kpis["buyer_records"]["value"] == int((frame["state"] == "CA").sum())


def test_publishing_visitors_refreshes_the_buyers_conversion_rate(client, workspace, viewer, request):
    buyers = buyers_frame(seed=34)
    visitors = visitors_frame(seed=35)
    buyers_dataset(workspace=workspace, frame=buyers)
    dataset = visitors_dataset(workspace=workspace, frame=visitors)
    assert precompute.precompute_version(dataset.current_version) == [Kind.VISITORS, Kind.BUYERS]
    request.getfixturevalue("no_duckdb")
    client.force_login(viewer)
    conversion = _kpis(client.get(_url("buyers", workspace, "?format=json")))["conversion_rate"]
    visitor_keys = set(visitors["email"].str.strip().str.lower())
    buyer_keys = set(buyers["email"].str.strip().str.lower())
    assert conversion["value"] == pytest.approx(len(visitor_keys & buyer_keys) / len(visitor_keys))
    assert conversion["detail"]["matched"] == len(visitor_keys & buyer_keys)


def test_other_kinds_of_data_are_not_precomputed(workspace):
    dataset = dataset_from_frame(workspace=workspace, kind=Kind.CUSTOM, frame=buyers_frame(), columns=BUYER_COLUMNS)
    assert precompute.precompute_version(dataset.current_version) == []


def test_a_failure_is_logged_and_never_raised(workspace, caplog):
    dataset = buyers_dataset(workspace=workspace)
    storage.key_delete(dataset.current_version.parquet_key)
    with caplog.at_level(logging.ERROR, logger="analytics.precompute"):
        assert precompute.precompute_version_safe(dataset.current_version.pk) == []
    assert "dashboard precomputation failed" in caplog.text
    assert precompute.precompute_version_safe(10**9) == []  # a version deleted meanwhile


def test_publishing_queues_the_precomputation_after_commit(
    workspace, django_capture_on_commit_callbacks, monkeypatch, settings
):
    settings.ANALYTICS_PRECOMPUTE = True
    seen = []
    monkeypatch.setattr(precompute, "precompute_version_safe", lambda pk, workspace_id: seen.append((pk, workspace_id)))
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        dataset = buyers_dataset(workspace=workspace)
    assert seen == []  # nothing before the commit
    for callback in callbacks:
        callback()  # the task is queued; the test settings run it eagerly
    assert seen == [(dataset.current_version.pk, workspace.pk)]
    version = DatasetVersion.objects.get(pk=dataset.current_version.pk)
    seen.clear()
    with django_capture_on_commit_callbacks(execute=True):
        version.save()  # an update, not a publish
    assert seen == []


def test_no_precomputation_when_it_is_switched_off(
    workspace, django_capture_on_commit_callbacks, monkeypatch, settings
):
    settings.ANALYTICS_PRECOMPUTE = False
    seen = []
    monkeypatch.setattr(precompute, "precompute_version_safe", lambda pk, workspace_id: seen.append(pk))
    with django_capture_on_commit_callbacks(execute=True):
        buyers_dataset(workspace=workspace)
    assert seen == []


def test_the_task_looks_the_version_up_inside_its_workspace(workspace, other_workspace):
    dataset = buyers_dataset(workspace=workspace)
    # A message naming another workspace finds nothing (T-IDOR-07), whatever the version id.
    assert precompute.precompute_version_safe(dataset.current_version.pk, workspace_id=other_workspace.pk) == []
    assert precompute.precompute_version_safe(dataset.current_version.pk, workspace_id=workspace.pk) == ["buyers"]
