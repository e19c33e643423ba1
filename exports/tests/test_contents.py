"""What the exports hold: rows equal pandas filtering, the report equals the dashboard's JSON,
the combos table equals combos computed with pandas."""

import io
import itertools

import openpyxl
import pytest
from django.urls import reverse

from analytics.tests.dashboard_data import (
    XSS_COLUMN,
    buyers_dataset,
    buyers_frame,
    visitors_dataset,
    visitors_frame,
)
from exports.tests.helpers import body, parse_csv, read_csv, read_json

pytestmark = pytest.mark.django_db

FILTERS = "in.state=CA&in.state=NY&in.channel=Email&in.channel=Search&min.revenue=50"


def _buyers_expected(frame):
    return frame[frame.state.isin(["CA", "NY"]) & frame.channel.isin(["Email", "Search"]) & (frame.revenue >= 50)]


def _rows_url(workspace, dataset, query=FILTERS):
    return reverse("exports:rows", args=[workspace.slug]) + f"?dataset={dataset.pk}&{query}"


@pytest.mark.parametrize("file_format", ["csv", "json", "xlsx"])
def test_rows_export_equals_pandas_filtering(owner_client, workspace, file_format):
    frame = buyers_frame()
    dataset = buyers_dataset(workspace=workspace, frame=frame)
    expected = _buyers_expected(frame)
    response = owner_client.post(_rows_url(workspace, dataset), {"file": file_format})
    assert response.status_code == 200
    assert 0 < len(expected) < len(frame)
    if file_format == "csv":
        parsed = read_csv(response)
        header, rows = parsed[0], parsed[1:]
        order_ids = [r[header.index("order_id")] for r in rows]
        assert header[: len(frame.columns) - 1] == list(frame.columns[:-1])
        assert header[-1] == XSS_COLUMN  # a column name that is not a formula stays as it is
        assert [r[header.index("revenue")] for r in rows] == [repr(v) for v in expected.revenue]
    elif file_format == "json":
        document = read_json(response)
        header, rows = document["columns"], document["rows"]
        order_ids = [r[header.index("order_id")] for r in rows]
        assert document["rows_written"] == document["total_rows"] == len(expected)
        assert [r[header.index("revenue")] for r in rows] == list(expected.revenue)
        assert [r[header.index("order_date")] for r in rows] == [d.isoformat() for d in expected.order_date]
    else:
        sheet = openpyxl.load_workbook(io.BytesIO(body(response))).active
        lines = list(sheet.iter_rows(values_only=True))
        header, rows = list(lines[0]), lines[1:]
        order_ids = [r[header.index("order_id")] for r in rows]
        assert [r[header.index("revenue")] for r in rows] == list(expected.revenue)
    assert order_ids == list(expected.order_id)
    assert response["X-Export-Rows"] == str(len(expected))


def test_rows_export_of_a_segment_uses_its_filters_and_name(owner_client, workspace):
    frame = buyers_frame()
    dataset = buyers_dataset(workspace=workspace, frame=frame)
    url = _rows_url(workspace, dataset, "in.state=TX&name=Texas+buyers")
    response = owner_client.post(url, {"file": "csv"})
    rows = read_csv(response)[1:]
    assert len(rows) == int((frame.state == "TX").sum())
    assert response["Content-Disposition"].startswith('attachment; filename="texas-buyers-rows-')


def _dashboard_json(client, workspace, kind, query):
    response = client.get(reverse(f"analytics:{kind}", args=[workspace.slug]) + f"?{query}&format=json")
    assert response.status_code == 200
    return response.json()


@pytest.mark.parametrize("kind", ["buyers", "visitors"])
def test_report_json_equals_the_dashboard_json(owner_client, workspace, kind):
    buyers = buyers_dataset(workspace=workspace)
    visitors = visitors_dataset(workspace=workspace)
    dataset = buyers if kind == "buyers" else visitors
    filters = "in.state=CA&in.state=TX&in.channel=Email&in.channel=Search"
    query = f"dataset={dataset.pk}&version={dataset.current_version_id}&grain=week&{filters}"
    dashboard = _dashboard_json(owner_client, workspace, kind, query)
    url = reverse("exports:report", args=[workspace.slug, kind]) + f"?{query}"
    response = owner_client.post(url, {"file": "json"})
    report = read_json(response)
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert report["kpis"] == dashboard["kpis"]
    assert [c["series"] for c in report["charts"]] == [c["series"] for c in dashboard["charts"]]
    assert [c["key"] for c in report["charts"]] == [c["key"] for c in dashboard["charts"]]
    assert report["filters"] == dashboard["filters"]["query"]
    assert (report["grain"], report["dataset"]) == ("week", dashboard["dataset"])


def test_report_csv_has_one_row_per_kpi_then_the_chart_points(owner_client, workspace):
    dataset = buyers_dataset(workspace=workspace)
    query = f"dataset={dataset.pk}&grain=month&in.state=CA"
    dashboard = _dashboard_json(owner_client, workspace, "buyers", query)
    url = reverse("exports:report", args=[workspace.slug, "buyers"]) + f"?{query}"
    parsed = read_csv(owner_client.post(url, {"file": "csv"}))
    header, rows = parsed[0], parsed[1:]
    kpi_rows = [r for r in rows if r[0] == "kpi"]
    assert header[:5] == ["section", "item", "label", "measure", "value"]
    assert [r[1] for r in kpi_rows] == [k["key"] for k in dashboard["kpis"]]
    assert [r[5] for r in kpi_rows] == [k["display"] for k in dashboard["kpis"]]
    over_time = next(c for c in dashboard["charts"] if c["key"] == "over_time")
    counts = [r for r in rows if r[1] == "over_time" and r[3].endswith("| count")]
    assert [int(r[4]) for r in counts] == [p["count"] for p in over_time["series"]["points"]]


def test_report_kind_must_be_a_dashboard(owner_client, workspace):
    buyers_dataset(workspace=workspace)
    response = owner_client.post(reverse("exports:report", args=[workspace.slug, "combos"]), {"file": "json"})
    assert response.status_code == 404


def _pandas_combos(frame, attributes, *, min_size, max_size, min_purchasers):
    """Every combination of k attributes and their values: visitors, purchasers (independent of the engine)."""
    out = []
    for k in range(min_size, max_size + 1):
        for subset in itertools.combinations(attributes, k):
            grouped = frame.groupby(list(subset)).agg(visitors=("converted", "size"), purchasers=("converted", "sum"))
            for key, row in grouped.iterrows():
                values = key if isinstance(key, tuple) else (key,)
                if row.purchasers >= min_purchasers:
                    items = tuple(zip(subset, values, strict=True))
                    out.append((items, int(row.visitors), int(row.purchasers)))
    return out


@pytest.mark.parametrize("file_format", ["csv", "json"])
def test_combos_export_equals_pandas(owner_client, workspace, file_format):
    frame = visitors_frame()
    dataset = visitors_dataset(workspace=workspace, frame=frame)
    attributes = ["channel", "gender", "age_range"]
    settings = "&".join(f"attr={a}" for a in attributes) + "&min_size=2&max_size=3&min_purchasers=3&min_conversion=0"
    url = reverse("exports:combos", args=[workspace.slug]) + f"?dataset={dataset.pk}&{settings}"
    response = owner_client.post(url, {"file": file_format})
    assert response.status_code == 200
    if file_format == "csv":
        parsed = read_csv(response)
        header, rows = parsed[0], parsed[1:]
    else:
        document = read_json(response)
        header, rows = document["columns"], document["rows"]
        assert document["settings"]["attributes"] == attributes
    assert header == [
        "rank",
        "combo",
        *attributes,
        "visitors",
        "purchasers",
        "conversion",
        "ci_low",
        "ci_high",
        "small_sample",
    ]
    expected = _pandas_combos(frame, attributes, min_size=2, max_size=3, min_purchasers=3)
    got = []
    for r in rows:
        items = tuple((a, r[2 + i]) for i, a in enumerate(attributes) if r[2 + i] not in ("", None))
        got.append((items, int(r[5]), int(r[6])))
    assert len(expected) > 10
    assert sorted(got) == sorted(expected)
    assert [int(r[0]) for r in rows] == list(range(1, len(rows) + 1))
    # Ranked by conversion, then purchasers, both descending.
    keys = [(int(r[6]) / int(r[5]), int(r[6])) for r in rows]
    assert keys == sorted(keys, reverse=True)


def test_combos_export_xlsx_matches_csv(owner_client, workspace):
    dataset = visitors_dataset(workspace=workspace)
    url = reverse("exports:combos", args=[workspace.slug]) + (
        f"?dataset={dataset.pk}&attr=channel&attr=gender&min_purchasers=1&min_conversion=0"
    )
    csv_rows = parse_csv(body(owner_client.post(url, {"file": "csv"})))
    sheet = openpyxl.load_workbook(io.BytesIO(body(owner_client.post(url, {"file": "xlsx"})))).active
    lines = list(sheet.iter_rows(values_only=True))
    assert len(lines) == len(csv_rows) > 1
    assert [(int(r[0]), r[2], r[3], int(r[4])) for r in csv_rows[1:]] == [(r[0], r[2], r[3], r[4]) for r in lines[1:]]
