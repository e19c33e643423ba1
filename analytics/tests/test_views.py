"""The buyers and visitors dashboards: numbers against pandas on the same frame, filters, the URL
state, tenancy (T-IDOR-02), strict filter parsing (T-SQL-02), missing inputs and escaping (T-XSS-03/04)."""

import json

import pandas as pd
import pytest
from django.urls import reverse

from analytics.tests.dashboard_data import (
    BUYER_COLUMNS,
    XSS_COLUMN,
    XSS_VALUE,
    buyers_dataset,
    buyers_frame,
    visitors_dataset,
    visitors_frame,
)
from datasets.tests.page_helpers import dataset_row
from datasets.tests.pipeline_helpers import media_root  # noqa: F401

pytestmark = pytest.mark.usefixtures("media_root")


def _url(kind, workspace, query=""):
    return reverse(f"analytics:{kind}", args=[workspace.slug]) + query


def _kpis(response) -> dict:
    return {k["key"]: k for k in response.json()["kpis"]}


def _charts(response) -> dict:
    return {c["key"]: c for c in response.json()["charts"]}


def test_buyers_kpis_equal_pandas(client, workspace, viewer):
    frame = buyers_frame()
    buyers_dataset(workspace=workspace, frame=frame)
    client.force_login(viewer)
    kpis = _kpis(client.get(_url("buyers", workspace, "?format=json")))
    gross = frame["revenue"].sum()
    refunds = frame["refund"].abs().sum()
    per_buyer = frame.groupby("email")["order_id"].nunique()
    assert kpis["revenue"]["value"] == pytest.approx(gross)
    assert kpis["refunds"]["value"] == pytest.approx(refunds)
    assert kpis["net_revenue"]["value"] == pytest.approx(gross - refunds)
    assert kpis["orders"]["value"] == frame["order_id"].nunique()
    assert kpis["aov"]["value"] == pytest.approx(gross / (frame["revenue"] > 0).sum())
    assert kpis["buyer_records"]["value"] == len(frame)
    assert kpis["buyers"]["value"] == frame["email"].nunique()
    assert kpis["repeat_buyer_rate"]["value"] == pytest.approx((per_buyer >= 2).sum() / len(per_buyer))
    assert kpis["revenue"]["display"] == f"${gross:,.2f}"


def test_ltv_over_the_90_day_cohort_equals_pandas(client, workspace, viewer):
    frame = buyers_frame()
    buyers_dataset(workspace=workspace, frame=frame)
    client.force_login(viewer)
    ltv = _kpis(client.get(_url("buyers", workspace, "?format=json")))["ltv_90"]
    dates = pd.to_datetime(frame["order_date"])
    first = dates.groupby(frame["email"]).transform("min")
    cutoff = dates.max() - pd.Timedelta(days=90)
    net = frame["revenue"] - frame["refund"].abs()
    in_window = (dates < first + pd.Timedelta(days=90)) & (first <= cutoff)
    cohort = frame.loc[first <= cutoff, "email"].unique()
    per_buyer = net[in_window].groupby(frame["email"][in_window]).sum().reindex(cohort, fill_value=0)
    assert ltv["value"] == pytest.approx(per_buyer.mean())
    assert ltv["detail"]["buyers"] == len(cohort)
    assert ltv["note"].startswith(f"over {len(cohort):,} buyers")


def test_missing_inputs_say_what_is_missing(client, workspace, viewer):
    buyers_dataset(workspace=workspace)
    client.force_login(viewer)
    response = client.get(_url("buyers", workspace))
    kpis = {k["key"]: k for k in response.context["data"]["kpis"]}
    assert kpis["cac"]["display"] == "needs spend data"
    assert kpis["conversion_rate"]["display"] == "needs visitor data"
    assert kpis["cac"]["value"] is None
    assert "needs spend data" in response.content.decode()
    assert "needs visitor data" in response.content.decode()
    assert "How is this computed?" in response.content.decode()


def test_no_revenue_column_shows_the_no_revenue_kpis(client, workspace, viewer):
    columns = [c for c in BUYER_COLUMNS if c[0] not in ("revenue", "refund", "credit_rating")]
    frame = buyers_frame()
    buyers_dataset(workspace=workspace, frame=frame, columns=columns)
    client.force_login(viewer)
    response = client.get(_url("buyers", workspace, "?format=json"))
    kpis = _kpis(response)
    top_state = frame["state"].value_counts()
    assert list(kpis) == [
        "buyer_records",
        "buyers",
        "gender_split",
        "repeat_buyer_rate",
        "top_state",
        "top_income_range",
        "top_age_range",
        "cac",
        "conversion_rate",
    ]
    assert kpis["top_state"]["value"] == top_state.index[0]
    assert kpis["top_state"]["detail"]["count"] == top_state.iloc[0]
    assert _charts(response)["credit_rating"]["missing"] == "No credit rating column"


def test_conversion_matches_buyers_to_visitors_and_shows_the_match_rate(client, workspace, viewer):
    buyers, visitors = buyers_frame(), visitors_frame()
    buyers_dataset(workspace=workspace, frame=buyers)
    visitors_dataset(workspace=workspace, frame=visitors)
    client.force_login(viewer)
    conversion = _kpis(client.get(_url("buyers", workspace, "?format=json")))["conversion_rate"]
    matched = set(buyers["email"]) & set(visitors["email"])
    assert conversion["value"] == pytest.approx(len(matched) / visitors["email"].nunique())
    assert conversion["detail"]["match_rate"] == pytest.approx(len(matched) / buyers["email"].nunique())
    assert conversion["note"].startswith(f"match rate {len(matched) / buyers['email'].nunique() * 100:.1f}%")


def test_combined_filters_give_pandas_counts(client, workspace, viewer):
    frame = buyers_frame()
    buyers_dataset(workspace=workspace, frame=frame)
    client.force_login(viewer)
    query = (
        "?format=json&in.channel=Email&in.channel=Search&in.state=CA&in.state=NY&in.state=TX"
        "&min.order_date=2024-02-01&max.order_date=2024-08-31&in.homeowner=true&in.tier=gold"
        "&in.age_range=25-34&in.age_range=35-44&in.credit_rating=Good&in.credit_rating=Excellent"
    )
    response = client.get(_url("buyers", workspace, query))
    dates = pd.to_datetime(frame["order_date"])
    kept = frame[
        frame["channel"].isin(["Email", "Search"])
        & frame["state"].isin(["CA", "NY", "TX"])
        & (dates >= "2024-02-01")
        & (dates <= "2024-08-31")
        & frame["homeowner"]
        & (frame["tier"] == "gold")
        & frame["age_range"].isin(["25-34", "35-44"])
        & frame["credit_rating"].isin(["Good", "Excellent"])
    ]
    kpis = _kpis(response)
    states = {p["label"]: p["count"] for p in _charts(response)["state"]["series"]["points"]}
    assert len(kept) > 0
    assert kpis["buyer_records"]["value"] == len(kept)
    assert kpis["revenue"]["value"] == pytest.approx(kept["revenue"].sum())
    assert states == kept["state"].value_counts().to_dict()
    assert len(response.json()["filters"]["active"]) == 2 + 3 + 1 + 1 + 1 + 2 + 2


def test_visitors_dashboard_equals_pandas(client, workspace, viewer):
    frame = visitors_frame()
    visitors_dataset(workspace=workspace, frame=frame)
    client.force_login(viewer)
    response = client.get(_url("visitors", workspace, "?format=json&in.channel=Email&in.channel=Social"))
    kept = frame[frame["channel"].isin(["Email", "Social"])]
    kpis = _kpis(response)
    charts = _charts(response)
    per_key = kept.groupby("email").size()
    gender = kept["gender"].value_counts(normalize=True)
    returning_by_month = charts["new_vs_returning"]["series"]["points"]
    assert kpis["visitors_total"]["value"] == len(kept)
    assert kpis["visitors_unique"]["value"] == kept["email"].nunique()
    assert kpis["repeat_visitor_rate"]["value"] == pytest.approx((per_key >= 2).sum() / len(per_key))
    assert {p["value"]: p["share"] for p in kpis["gender_split"]["value"]} == pytest.approx(gender.to_dict())
    assert kpis["conversion_rate"]["value"] == pytest.approx(kept["converted"].mean())
    assert sum(p["count"] for p in returning_by_month) == len(kept)
    assert {p["label"]: p["count"] for p in charts["state"]["series"]["points"]} == kept[
        "state"
    ].value_counts().to_dict()


def test_over_time_by_week_equals_pandas(client, workspace, viewer):
    frame = buyers_frame()
    buyers_dataset(workspace=workspace, frame=frame)
    client.force_login(viewer)
    series = _charts(client.get(_url("buyers", workspace, "?format=json&grain=week")))["over_time"]["series"]
    weeks = pd.to_datetime(frame["order_date"]).dt.to_period("W-SUN").dt.start_time.dt.date.astype(str)
    expected = frame.groupby(weeks).agg(count=("order_id", "size"), revenue=("revenue", "sum"))
    assert [p["period"] for p in series["points"]] == list(expected.index)
    assert [p["count"] for p in series["points"]] == list(expected["count"])
    assert [p["revenue"] for p in series["points"]] == pytest.approx(list(expected["revenue"]))


@pytest.mark.parametrize(
    "query",
    [
        "?owner__password__startswith=a",
        "?in.no_such_column=x",
        "?filter[channel]=Email",
        "?min.order_date=not-a-date",
        "?in.homeowner=maybe",
        "?min.channel=a",
        "?grain=year",
        "?null.channel=yes-please",
    ],
)
def test_bad_filter_keys_and_values_are_400(client, workspace, viewer, query):
    buyers_dataset(workspace=workspace)
    client.force_login(viewer)
    page = client.get(_url("buyers", workspace, query))
    as_json = client.get(_url("buyers", workspace, query + "&format=json"))
    assert page.status_code == 400
    assert as_json.status_code == 400
    assert "Reset the filters" in page.content.decode()


def test_unknown_format_is_400(client, workspace, viewer):
    buyers_dataset(workspace=workspace)
    client.force_login(viewer)
    assert client.get(_url("buyers", workspace, "?format=xml")).status_code == 400


def test_another_workspaces_dataset_or_version_is_404(client, workspace, other_workspace, viewer):
    mine = buyers_dataset(workspace=workspace)
    theirs = buyers_dataset(workspace=other_workspace, name="Globex buyers")
    client.force_login(viewer)
    foreign_dataset = client.get(_url("buyers", workspace, f"?dataset={theirs.pk}"))
    foreign_version = client.get(_url("buyers", workspace, f"?dataset={mine.pk}&version={theirs.current_version_id}"))
    wrong_kind = client.get(_url("visitors", workspace, f"?dataset={mine.pk}"))
    assert foreign_dataset.status_code == 404
    assert foreign_version.status_code == 404
    assert wrong_kind.status_code == 404
    assert "Globex" not in foreign_dataset.content.decode()


def test_version_picker_shows_an_older_version(client, workspace, viewer):
    dataset = buyers_dataset(workspace=workspace, versions=2)
    old = dataset.versions.get(number=1)
    client.force_login(viewer)
    response = client.get(_url("buyers", workspace, f"?dataset={dataset.pk}&version={old.pk}&format=json"))
    assert response.json()["version"] == {"id": old.pk, "number": 1, "rows": old.row_count}


def test_empty_workspace_links_to_the_upload_page(client, workspace, analyst):
    client.force_login(analyst)
    response = client.get(_url("visitors", workspace))
    assert response.status_code == 200
    assert "No visitors dataset yet" in response.content.decode()
    assert reverse("datasets:upload", args=[workspace.slug]) in response.content.decode()


def test_non_member_is_404(client, workspace, outsider):
    buyers_dataset(workspace=workspace)
    client.force_login(outsider)
    assert client.get(_url("buyers", workspace)).status_code == 404


def test_last_filters_are_remembered_per_workspace_and_reset_forgets_them(client, workspace, viewer):
    buyers_dataset(workspace=workspace)
    client.force_login(viewer)
    client.get(_url("buyers", workspace, "?in.channel=Email&grain=month"))
    restored = client.get(_url("buyers", workspace))
    reset = client.get(_url("buyers", workspace, "?reset=1"))
    after_reset = client.get(_url("buyers", workspace))
    assert restored.status_code == 302
    assert restored["Location"] == _url("buyers", workspace, "?in.channel=Email&grain=month")
    assert reset["Location"] == _url("buyers", workspace)
    assert after_reset.status_code == 200


def test_active_filter_badges_remove_one_value(client, workspace, viewer):
    dataset = buyers_dataset(workspace=workspace)
    client.force_login(viewer)
    response = client.get(_url("buyers", workspace, "?format=json&in.channel=Email&in.channel=Search"))
    badges = response.json()["filters"]["active"]
    page = f"dataset={dataset.pk}&version={dataset.current_version_id}&grain=day"
    assert [b["text"] for b in badges] == ["channel is Email", "channel is Search"]
    assert badges[0]["remove"] == f"?{page}&in.channel=Search"
    assert response.json()["filters"]["reset"] == f"?{page}"


def test_filter_panel_offers_categorical_columns_with_counts(client, workspace, viewer):
    frame = buyers_frame()
    buyers_dataset(workspace=workspace, frame=frame)
    client.force_login(viewer)
    panel = {f["column"]: f for f in client.get(_url("buyers", workspace)).context["panel"]}
    tier = {o["value"]: o["count"] for o in panel["tier"]["options"]}
    assert tier == frame["tier"].value_counts().to_dict()
    assert panel["order_date"]["widget"] == "date"
    assert "email" not in panel and "order_id" not in panel
    assert {"channel", "campaign", "gender", "age_range", "income_range", "state", "homeowner"} <= set(panel)


def test_user_data_is_escaped_in_html_json_and_figures(client, workspace, viewer):
    buyers_dataset(workspace=workspace)
    client.force_login(viewer)
    page = client.get(_url("buyers", workspace, "?in.channel=" + "%3Cimg+src%3Dx+onerror%3Dalert(1)%3E"))
    body = page.content.decode()
    payload = json.loads(body.split('id="chart-data" type="application/json">')[1].split("</script>")[0])
    labels = payload["figures"]["top_channels"]["data"][0]["y"]
    assert page.status_code == 200
    assert XSS_VALUE not in body
    assert "&lt;img src=x onerror=alert(1)&gt;" in body
    assert "</script><script>" not in body
    assert "&lt;img src=x onerror=alert(1)&gt;" in labels
    assert XSS_VALUE not in labels
    assert XSS_COLUMN not in body


def test_script_breakout_value_stays_inside_json_script(client, workspace, viewer):
    frame = buyers_frame()
    frame.loc[:, "campaign"] = "</script><script>alert(1)</script>"
    buyers_dataset(workspace=workspace, frame=frame)
    client.force_login(viewer)
    body = client.get(_url("buyers", workspace)).content.decode()
    assert "</script><script>alert(1)" not in body
    assert "\\u0026lt;/script\\u0026gt;\\u0026lt;script\\u0026gt;alert(1)" in body  # escaped, then json_script


def test_html_shows_the_numbers_of_the_json(client, workspace, viewer):
    buyers_dataset(workspace=workspace)
    visitors_dataset(workspace=workspace)
    client.force_login(viewer)
    query = "?in.channel=Email&in.channel=Social&grain=month"
    body = client.get(_url("buyers", workspace, query)).content.decode()
    data = client.get(_url("buyers", workspace, query + "&format=json")).json()
    shown = [
        f'data-kpi="{k["key"]}">' in body and f'<p class="kpi-value" data-kpi-value>{k["display"]}</p>' in body
        for k in data["kpis"]
    ]
    assert len(shown) == 11
    assert all(shown)
    assert [c["key"] for c in data["charts"]] == [
        "over_time",
        "top_channels",
        "top_campaigns",
        "age",
        "income",
        "gender",
        "state",
        "credit_rating",
    ]


def test_boolean_filter_words_select_the_option(client, workspace, viewer):
    buyers_dataset(workspace=workspace)
    client.force_login(viewer)
    panel = {f["column"]: f for f in client.get(_url("buyers", workspace, "?in.homeowner=yes")).context["panel"]}
    assert sorted((o["value"], o["selected"]) for o in panel["homeowner"]["options"]) == [
        ("false", False),
        ("true", True),
    ]


def test_a_missing_data_file_is_a_404_page_not_a_crash(client, workspace, viewer):
    dataset = dataset_row(workspace=workspace, name="No file", files=False)
    dataset.kind = "buyers"
    dataset.save(update_fields=["kind"])
    client.force_login(viewer)
    response = client.get(_url("buyers", workspace))
    assert response.status_code == 404
    assert "not available" in response.content.decode()


def test_new_vs_returning_without_a_column_uses_first_visit_dates(client, workspace, viewer):
    from analytics.tests.dashboard_data import VISITOR_COLUMNS, dataset_from_frame

    frame = visitors_frame()
    columns = [c for c in VISITOR_COLUMNS if c[2] != "new_returning"]
    dataset_from_frame(workspace=workspace, kind="visitors", frame=frame, columns=columns)
    client.force_login(viewer)
    # Filtered to the second half: "first visit" still comes from every row of the version.
    response = client.get(_url("visitors", workspace, "?format=json&grain=month&min.visit_date=2024-06-01"))
    dates = pd.to_datetime(frame["visit_date"])
    firsts = dates.groupby(frame["email"]).transform("min")
    kept = frame.assign(kind=["New" if d == f else "Returning" for d, f in zip(dates, firsts, strict=True)])[
        dates >= "2024-06-01"
    ]
    months = pd.to_datetime(kept["visit_date"]).dt.to_period("M").dt.start_time.dt.date.astype(str)
    expected = kept.groupby([months, "kind"]).size().to_dict()
    chart = _charts(response)["new_vs_returning"]
    got = {(p["period"], p["value"]): p["count"] for p in chart["series"]["points"] if p["count"]}
    kpi = _kpis(response)["new_vs_returning"]
    returning = (kept["kind"] == "Returning").sum()
    assert got == expected
    assert kpi["value"] == pytest.approx(returning / len(kept))
    assert kpi["detail"] == {"method": "first_visit_date", "new": len(kept) - returning, "returning": returning}
    assert chart["definition"] == kpi["definition"]
    html = client.get(_url("visitors", workspace, "?min.visit_date=2024-06-01")).content.decode()
    assert "data-chart-definition" in html and "over all rows of the dataset version" in html


def test_filtered_ltv_and_repeat_buyers_equal_pandas(client, workspace, viewer):
    # One row per order id: the LTV and the repeat-buyer counts come from one group-by per buyer.
    frame = buyers_frame()
    buyers_dataset(workspace=workspace, frame=frame)
    client.force_login(viewer)
    kpis = _kpis(client.get(_url("buyers", workspace, "?format=json&in.channel=Email&in.channel=Search")))
    cutoff = pd.to_datetime(frame["order_date"]).max() - pd.Timedelta(days=90)  # over all rows
    kept = frame[frame["channel"].isin(["Email", "Search"])]
    dates = pd.to_datetime(kept["order_date"])
    first = dates.groupby(kept["email"]).transform("min")  # first order among the rows shown
    net = kept["revenue"] - kept["refund"].abs()
    in_window = (dates < first + pd.Timedelta(days=90)) & (first <= cutoff)
    cohort = kept.loc[first <= cutoff, "email"].unique()
    per_buyer = net[in_window].groupby(kept["email"][in_window]).sum().reindex(cohort, fill_value=0)
    orders_per_buyer = kept.groupby("email").size()
    assert kpis["ltv_90"]["value"] == pytest.approx(per_buyer.mean())
    assert kpis["ltv_90"]["detail"]["buyers"] == len(cohort)
    assert kpis["buyers"]["value"] == kept["email"].nunique()
    assert kpis["repeat_buyer_rate"]["value"] == pytest.approx((orders_per_buyer >= 2).mean())
    assert kpis["aov"]["value"] == pytest.approx(kept["revenue"].sum() / (kept["revenue"] > 0).sum())
