"""The attribute explorer: one column's distribution over every row and within the URL filter
state, counts and shares against pandas; numeric columns binned; strict input; tenancy; escaping."""

import itertools
from urllib.parse import urlencode

import numpy as np
import pandas as pd
import pytest
from django.core.cache import cache
from django.urls import reverse

from analytics.tests.dashboard_data import (
    XSS_COLUMN,
    XSS_VALUE,
    buyers_dataset,
    buyers_frame,
    dataset_from_frame,
)
from analytics.tests.test_combos_views import COLUMNS, combos_frame
from datasets.models import Kind
from datasets.tests.pipeline_helpers import media_root  # noqa: F401

pytestmark = pytest.mark.usefixtures("media_root", "clear_cache")


@pytest.fixture
def clear_cache():
    cache.clear()
    yield
    cache.clear()


def _url(workspace, query=""):
    return reverse("analytics:explorer", args=[workspace.slug]) + query


def _visitors(workspace, frame):
    return dataset_from_frame(workspace=workspace, kind=Kind.VISITORS, frame=frame, columns=COLUMNS)


def _series(data) -> dict:
    return {s["key"]: s for s in data["series"]}


def test_categorical_distribution_overall_and_filtered_equals_pandas(client, workspace, viewer):
    frame = combos_frame()
    _visitors(workspace, frame)
    client.force_login(viewer)
    data = client.get(_url(workspace, "?attribute=gender&in.state=CA&in.state=NY&format=json")).json()
    series = _series(data)
    overall = frame["gender"].value_counts()
    filtered = frame.loc[frame["state"].isin(["CA", "NY"]), "gender"].value_counts()
    labels = data["rows"] and [r["label"] for r in data["rows"]]
    assert labels == list(overall.index)  # most frequent first
    assert series["overall"]["counts"] == [int(overall[v]) for v in labels]
    assert series["filtered"]["counts"] == [int(filtered.get(v, 0)) for v in labels]
    assert series["overall"]["shares"] == pytest.approx([overall[v] / overall.sum() for v in labels])
    assert series["filtered"]["shares"] == pytest.approx([filtered.get(v, 0) / filtered.sum() for v in labels])
    assert series["overall"]["missing"] == int(frame["gender"].isna().sum())
    assert series["filtered"]["missing"] == int(frame.loc[frame["state"].isin(["CA", "NY"]), "gender"].isna().sum())
    assert series["filtered"]["total"] == int(filtered.sum())


def test_without_filters_only_the_overall_series(client, workspace, viewer):
    _visitors(workspace, combos_frame())
    client.force_login(viewer)
    data = client.get(_url(workspace, "?attribute=state&format=json")).json()
    assert [s["key"] for s in data["series"]] == ["overall"]


def test_numeric_column_is_binned_and_counts_equal_pandas(client, workspace, viewer):
    frame = combos_frame()
    _visitors(workspace, frame)
    client.force_login(viewer)
    data = client.get(_url(workspace, "?attribute=age&in.channel=Email&format=json")).json()
    edges = data["edges"]
    low, high = frame["age"].min(), frame["age"].max()
    # Whole numbers: equal integer widths from the minimum, the last edge closing the range.
    width = int(np.ceil((high - low + 1) / 20))
    assert edges[0] == low
    assert all(b - a == width for a, b in itertools.pairwise(edges[:-1]))
    assert 0 <= edges[-1] - edges[-2] <= width
    assert edges[-1] == high
    assert data["rows"][-1]["label"] == f"{int(edges[-2])}-{int(high)}"
    series = _series(data)

    def by_hand(values):
        counts = []
        for i in range(len(edges) - 1):
            last = i == len(edges) - 2
            inside = (values >= edges[i]) & ((values <= edges[i + 1]) if last else (values < edges[i + 1]))
            counts.append(int(inside.sum()))
        return counts

    assert data["attribute"]["binned"] is True
    assert series["overall"]["counts"] == by_hand(frame["age"])
    assert series["filtered"]["counts"] == by_hand(frame.loc[frame["channel"] == "Email", "age"])
    assert sum(series["overall"]["counts"]) == len(frame)


def test_decimal_column_uses_twenty_equal_bins(client, workspace, viewer):
    frame = buyers_frame()
    buyers_dataset(workspace=workspace, frame=frame)
    client.force_login(viewer)
    data = client.get(_url(workspace, "?attribute=revenue&format=json")).json()
    counts, _ = np.histogram(frame["revenue"], bins=20, range=(frame["revenue"].min(), frame["revenue"].max()))
    assert len(data["edges"]) == 21
    assert _series(data)["overall"]["counts"] == [int(c) for c in counts]


def test_date_column_is_counted_per_month(client, workspace, viewer):
    frame = buyers_frame()
    buyers_dataset(workspace=workspace, frame=frame)
    client.force_login(viewer)
    data = client.get(_url(workspace, "?attribute=order_date&format=json")).json()
    months = pd.to_datetime(frame["order_date"]).dt.to_period("M").value_counts().sort_index()
    assert data["attribute"]["grain"] == "month"
    assert [r["label"][:7] for r in data["rows"]] == [str(p) for p in months.index]
    assert _series(data)["overall"]["counts"] == [int(c) for c in months]


def test_high_cardinality_text_shows_the_top_values_then_other(client, workspace, viewer):
    frame = combos_frame()
    _visitors(workspace, frame)
    client.force_login(viewer)
    data = client.get(_url(workspace, "?attribute=email&format=json")).json()
    counts = _series(data)["overall"]["counts"]
    assert data["other"] is True
    assert data["rows"][-1]["label"] == "Other"
    assert len(counts) == 31
    assert sum(counts) == len(frame)


def test_html_shows_the_numbers_of_the_json(client, workspace, viewer):
    _visitors(workspace, combos_frame())
    client.force_login(viewer)
    query = "?attribute=channel&in.state=TX"
    body = client.get(_url(workspace, query)).content.decode()
    data = client.get(_url(workspace, query + "&format=json")).json()
    for row in data["rows"]:
        for cell in row["cells"]:
            assert cell["share_display"] in body
    assert 'id="chart-distribution"' in body


@pytest.mark.parametrize("query", ["?attribute=nope", "?in.nope=1", "?attribute=age&min.channel=3", "?format=csv"])
def test_bad_input_is_400(client, workspace, viewer, query):
    _visitors(workspace, combos_frame())
    client.force_login(viewer)
    assert client.get(_url(workspace, query)).status_code == 400


def test_another_workspaces_dataset_is_404(client, workspace, other_workspace, viewer):
    _visitors(workspace, combos_frame())
    foreign = _visitors(other_workspace, combos_frame())
    client.force_login(viewer)
    assert client.get(_url(workspace, f"?dataset={foreign.pk}")).status_code == 404


def _segment(workspace, dataset, query="in.state=CA&in.channel=Email"):
    from segments.models import Segment

    return Segment.objects.create(workspace=workspace, dataset=dataset, name="CA email <b>", query=query)


def test_segment_distribution_equals_pandas(client, workspace, viewer):
    frame = combos_frame()
    dataset = _visitors(workspace, frame)
    segment = _segment(workspace, dataset)
    client.force_login(viewer)
    data = client.get(_url(workspace, f"?attribute=gender&segment={segment.pk}&in.state=TX&format=json")).json()
    body = client.get(_url(workspace, f"?attribute=gender&segment={segment.pk}")).content.decode()
    series = _series(data)
    labels = [r["label"] for r in data["rows"]]
    inside = frame.loc[(frame["state"] == "CA") & (frame["channel"] == "Email"), "gender"].value_counts()
    filtered = frame.loc[frame["state"] == "TX", "gender"].value_counts()
    assert [s["key"] for s in data["series"]] == ["overall", "filtered", "segment"]
    assert series["segment"]["counts"] == [int(inside.get(v, 0)) for v in labels]
    assert series["filtered"]["counts"] == [int(filtered.get(v, 0)) for v in labels]
    assert data["segment"] == {"id": segment.pk, "name": "CA email <b>"}
    assert "CA email &lt;b&gt;" in body


def test_a_foreign_segment_or_one_of_another_dataset_is_404(client, workspace, other_workspace, viewer):
    mine = _visitors(workspace, combos_frame())
    second = _visitors(workspace, combos_frame())
    foreign = _segment(other_workspace, _visitors(other_workspace, combos_frame()))
    of_second = _segment(workspace, second)
    client.force_login(viewer)
    assert client.get(_url(workspace, f"?segment={foreign.pk}")).status_code == 404
    assert client.get(_url(workspace, f"?segment={foreign.pk}&dataset={mine.pk}")).status_code == 404
    assert client.get(_url(workspace, f"?segment={of_second.pk}&dataset={mine.pk}")).status_code == 404
    assert client.get(_url(workspace, f"?segment={of_second.pk}")).status_code == 200
    assert client.get(_url(workspace, "?segment=x")).status_code == 404


def test_any_dataset_kind_can_be_explored_and_xss_is_escaped(client, workspace, viewer):
    buyers_dataset(workspace=workspace)
    client.force_login(viewer)
    response = client.get(_url(workspace, "?" + urlencode({"attribute": "channel", f"in.{XSS_COLUMN}": "a"})))
    body = response.content.decode()
    other = client.get(_url(workspace, "?" + urlencode({"attribute": XSS_COLUMN})))
    assert response.status_code == 200
    assert XSS_VALUE not in body
    assert "&lt;img src=x onerror=alert(1)&gt;" in body
    assert "\\u0026lt;img src=x onerror=alert(1)\\u0026gt;" in body  # chart label: escaped, then json_script
    assert other.status_code == 200
    assert XSS_COLUMN not in other.content.decode()


def test_boolean_and_empty_columns(client, workspace, viewer):
    frame = combos_frame()
    frame["age"] = None
    frame["gender"] = None
    _visitors(workspace, frame)
    client.force_login(viewer)
    flags = client.get(_url(workspace, "?attribute=converted&format=json")).json()
    empty_text = client.get(_url(workspace, "?attribute=gender&format=json")).json()
    empty_number = client.get(_url(workspace, "?attribute=age&format=json"))
    counts = frame["converted"].value_counts()
    assert {r["label"]: c for r, c in zip(flags["rows"], _series(flags)["overall"]["counts"], strict=True)} == {
        bool(k): int(v) for k, v in counts.items()
    }
    assert empty_text["rows"] == []
    assert _series(empty_text)["overall"]["missing"] == len(frame)
    assert empty_number.status_code == 200
    assert empty_number.json()["rows"] == []
