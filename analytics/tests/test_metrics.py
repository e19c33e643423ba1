"""KPIs on hand-made fixtures. Every expected number is worked out by hand in the comments.

Buyers fixture (last order date 2024-12-31, so the LTV cohort is first order ≤ 2024-10-02):

    row buyer  order  date        revenue refund
    1   alice  o1     2024-01-01  100     0       alice: day 0
    2   alice  o2     2024-03-30   50     10      alice: day 89 (inside the window)
    3   alice  o3     2024-03-31   70     0       alice: day 90 (outside)
    4   bob    o4     2024-05-10  200     200     fully refunded
    5   carol  o5     2024-11-15   80     0       first order within 90 days of the end: not in LTV
    6   carol  o6     2024-12-31   20     0
    7   dave   o7     2024-10-02   40     0       first order exactly on the cut-off: in LTV
    8   dave   o8     2024-10-05    0     0       an order with revenue 0 (not in AOV's denominator)
    9   erin   o9     2024-06-01   30     0       one order over two rows
    10  erin   o9     2024-06-01   25     5
"""

import hashlib

import pytest

from analytics.engine import Filter, FilterSet, MemoryCache, NullCache, buyers_dashboard, buyers_kpis, visitors_kpis
from analytics.engine import metrics as M

from .helpers import source_from_csv

BUYERS_CSV = """customer,order,date,total,refund,gender,state,income,age
alice@example.com,o1,2024-01-01,100.00,0,Female,CA,$50K-$74K,25-34
alice@example.com,o2,2024-03-30,50.00,10,Female,CA,$50K-$74K,25-34
alice@example.com,o3,2024-03-31,70.00,0,Female,CA,$50K-$74K,25-34
Bob@Example.com,o4,2024-05-10,200.00,200,Male,TX,$100K-$149K,35-44
carol@example.com,o5,2024-11-15,80.00,0,Female,NY,$50K-$74K,35-44
carol@example.com,o6,2024-12-31,20.00,0,Female,NY,$50K-$74K,35-44
dave@example.com,o7,2024-10-02,40.00,0,Male,TX,Under $25K,35-44
dave@example.com,o8,2024-10-05,0.00,0,Male,TX,Under $25K,35-44
erin@example.com,o9,2024-06-01,30.00,0,,CA,$100K-$149K,18-24
erin@example.com,o9,2024-06-01,25.00,5,,CA,$100K-$149K,18-24
"""
BUYERS_SCHEMA = [
    ("customer", "text", "buyer_key"),
    ("order", "text", "order_id"),
    ("date", "date", "order_date"),
    ("total", "money", "revenue"),
    ("refund", "decimal", "refund"),
    ("gender", "text", "gender"),
    ("state", "text", "state"),
    ("income", "text", "income_range"),
    ("age", "text", "age_range"),
]


@pytest.fixture
def buyers(tmp_path):
    return source_from_csv(tmp_path, "buyers", BUYERS_CSV, BUYERS_SCHEMA)


def test_revenue_refunds_orders_aov(buyers):
    report = buyers_kpis(buyers)
    assert report["revenue"].value == pytest.approx(615.0)  # 100+50+70+200+80+20+40+0+30+25
    assert report["refunds"].value == pytest.approx(215.0)  # 10+200+5
    assert report["net_revenue"].value == pytest.approx(400.0)
    assert report["orders"].value == 9  # o1..o9 (o9 spans two rows)
    # o8 has revenue 0, so 8 orders have revenue > 0: 615 / 8
    assert report["aov"].value == pytest.approx(76.875)
    assert report["aov"].detail["orders_with_revenue"] == 8


def test_buyers_and_repeat_rate(buyers):
    report = buyers_kpis(buyers)
    assert report["buyer_records"].value == 10
    assert report["buyers"].value == 5
    # alice (3 orders), carol (2), dave (2) of 5 buyers
    assert report["repeat_buyer_rate"].value == pytest.approx(0.6)
    assert report["repeat_buyer_rate"].detail == {"repeat_buyers": 3, "buyers": 5}


def test_ltv_90_days_window_and_cohort(buyers):
    ltv = buyers_kpis(buyers)["ltv_90"]
    # cohort alice, bob, dave, erin (carol's first order 2024-11-15 is after 2024-10-02)
    # alice 100 + (50-10) = 140 (o3 at day 90 excluded); bob 200-200 = 0; dave 40 + 0; erin 30 + 25-5 = 50
    assert ltv.value == pytest.approx((140 + 0 + 40 + 50) / 4)
    assert ltv.detail["buyers"] == 4
    assert ltv.detail["last_order_date"] == "2024-12-31"
    assert ltv.detail["cohort_first_order_on_or_before"] == "2024-10-02"
    assert ltv.state == "ok"
    assert "days 0-89" in ltv.definition


def test_demographic_kpis_count_records(buyers):
    report = buyers_kpis(buyers)
    split = report["gender_split"].value
    # 5 Female rows, 3 Male rows, 2 missing (left out)
    assert split == [
        {"value": "Female", "count": 5, "share": pytest.approx(5 / 8)},
        {"value": "Male", "count": 3, "share": pytest.approx(3 / 8)},
    ]
    assert report["top_state"].value == "CA"
    assert report["top_state"].detail == {"count": 5, "share": pytest.approx(0.5)}
    # $50K-$74K on 5 rows (alice 3, carol 2)
    assert report["top_income_range"].value == "$50K-$74K"
    # 35-44 on 5 rows (bob, carol x2, dave x2)
    assert report["top_age_range"].value == "35-44"


def test_cac_missing_without_spend(buyers):
    cac = buyers_kpis(buyers)["cac"]
    assert cac.value is None
    assert cac.state == "missing"
    assert cac.missing == M.NEEDS_SPEND == "needs spend data"


def test_cac_with_spend_counts_new_customers(buyers):
    assert buyers_kpis(buyers, spend=1000)["cac"].value == pytest.approx(200.0)  # 5 new customers
    # Orders from 2024-03-31: alice's o3 is shown but her first order (2024-01-01) is not, so she
    # is not new; bob, carol, dave and erin are.
    later = FilterSet((Filter("date", "range", ("2024-03-31", None)),))
    cac = buyers_kpis(buyers, filters=later, spend=1000)["cac"]
    assert cac.detail == {"spend": 1000.0, "new_customers": 4}
    assert cac.value == pytest.approx(250.0)


def test_cac_from_a_spend_source(tmp_path, buyers):
    spend = source_from_csv(
        tmp_path,
        "spend",
        "day,ad spend\n2024-01-01,300.5\n2024-02-01,199.5\n",
        [("day", "date", None), ("ad spend", "decimal", None)],
    )
    assert buyers_kpis(buyers, spend=spend)["cac"].value == pytest.approx(500.0 / 5)


def test_conversion_missing_without_visitors(buyers):
    conversion = buyers_kpis(buyers)["conversion_rate"]
    assert conversion.state == "missing"
    assert conversion.missing == M.NEEDS_VISITORS == "needs visitor data"


def test_no_revenue_column(tmp_path):
    csv = (
        "customer,gender,state,income,age\n"
        "a,Female,CA,$25K-$49K,25-34\na,Female,CA,$25K-$49K,25-34\nb,Male,TX,$25K-$49K,45-54\n"
        "c,Male,TX,Under $25K,45-54\nd,Male,TX,Under $25K,45-54\n"
    )
    schema = [
        ("customer", "text", "buyer_key"),
        ("gender", "text", "gender"),
        ("state", "text", "state"),
        ("income", "text", "income_range"),
        ("age", "text", "age_range"),
    ]
    report = buyers_kpis(source_from_csv(tmp_path, "norev", csv, schema))
    for key in ("revenue", "refunds", "net_revenue", "aov", "ltv_90"):
        assert report[key].missing == "needs a revenue column"
        assert report[key].value is None
    assert report["buyer_records"].value == 5
    assert report["buyers"].value == 4
    assert report["repeat_buyer_rate"].value == pytest.approx(1 / 4)  # only "a" has 2 rows
    assert report["gender_split"].value[0] == {"value": "Male", "count": 3, "share": pytest.approx(0.6)}
    assert report["top_state"].value == "TX"
    assert report["top_income_range"].value == "$25K-$49K"
    assert report["top_age_range"].value == "45-54"


def test_no_refund_column_subtracts_nothing_and_says_so(tmp_path):
    csv = "customer,total\na,10\nb,20\n"
    report = buyers_kpis(
        source_from_csv(tmp_path, "norefund", csv, [("customer", "text", "buyer_key"), ("total", "decimal", "revenue")])
    )
    assert report["refunds"].missing == M.NEEDS_REFUND
    assert report["net_revenue"].value == pytest.approx(30.0)
    assert report["net_revenue"].detail["note"] == M.NOTE_NO_REFUND_COLUMN
    assert report["ltv_90"].missing == M.NEEDS_ORDER_DATE
    assert report["orders"].value == 2  # no order id column: each row is an order


def test_refund_flag_refunds_the_whole_row(tmp_path):
    csv = "customer,total,refunded\na,10,yes\nb,20,no\nc,5,\n"
    schema = [("customer", "text", "buyer_key"), ("total", "decimal", "revenue"), ("refunded", "boolean", "refund")]
    report = buyers_kpis(source_from_csv(tmp_path, "flag", csv, schema))
    assert report["refunds"].value == pytest.approx(10.0)
    assert report["net_revenue"].value == pytest.approx(25.0)


VISITORS_CSV = """visitor,email,day,type,converted,gender
v1, ALICE@example.com,2024-01-01,New,yes,Female
v2,bob@example.com ,2024-01-02,New,no,Male
v1,alice@example.com,2024-01-03,Returning,no,Female
v3,zed@example.com,2024-01-03,New,no,Female
v2,bob@example.com,2024-01-04,Returning,yes,Male
v4,yan@example.com,2024-01-05,New,no,
v1,alice@example.com,2024-01-06,Returning,no,Female
v5,Carol@Example.com,2024-01-07,New,no,Unknown
v6,xavier@example.com,2024-01-08,New,no,Male
"""


def _visitors(tmp_path, key_column):
    schema = [
        ("visitor", "text", "visitor_key" if key_column == "visitor" else None),
        ("email", "text", "visitor_key" if key_column == "email" else None),
        ("day", "date", "event_date"),
        ("type", "text", "new_returning"),
        ("converted", "boolean", "converted"),
        ("gender", "text", "gender"),
    ]
    return source_from_csv(tmp_path, f"visitors_{key_column}", VISITORS_CSV, schema)


def test_visitors_kpis(tmp_path):
    report = visitors_kpis(_visitors(tmp_path, "visitor"))
    assert report["visitors_total"].value == 9
    assert report["visitors_unique"].value == 6  # v1..v6
    # v1 on 3 rows, v2 on 2 rows: 2 of 6 keys
    assert report["repeat_visitor_rate"].value == pytest.approx(2 / 6)
    assert report["new_vs_returning"].value == pytest.approx(3 / 9)  # 3 rows say Returning
    assert report["new_vs_returning"].detail == {"method": "column", "new": 6, "returning": 3}
    assert report["conversion_rate"].value == pytest.approx(2 / 9)
    assert report["conversion_rate"].detail["method"] == "flag"
    # Female 4, Male 3, Unknown 1 (one row missing)
    assert [(g["value"], g["count"]) for g in report["gender_split"].value] == [
        ("Female", 4),
        ("Male", 3),
        ("Unknown", 1),
    ]


def test_conversion_matches_buyers_by_normalised_email(tmp_path, buyers):
    visitors = _visitors(tmp_path, "email")
    conversion = buyers_kpis(buyers, visitors=visitors)["conversion_rate"]
    # visitor emails, trimmed + lower-cased: alice, bob, zed, yan, carol, xavier = 6 visitors;
    # buyers: alice, bob, carol, dave, erin = 5; matched: alice, bob, carol = 3
    assert conversion.detail["method"] == "match"
    assert conversion.detail["key_kind"] == "email"
    assert conversion.detail["visitors"] == 6
    assert conversion.detail["buyers"] == 5
    assert conversion.detail["matched"] == 3
    assert conversion.value == pytest.approx(3 / 6)
    assert conversion.detail["match_rate"] == pytest.approx(3 / 5)


def test_conversion_matches_phones_by_digits(tmp_path):
    visitors = source_from_csv(
        tmp_path,
        "vphone",
        "phone\n(555) 123-4567\n555.987.6543\n+1 555 000 1111\n",
        [("phone", "text", "visitor_key")],
    )
    buyers = source_from_csv(
        tmp_path,
        "bphone",
        "phone\n5551234567\n555-987-6543\n5550001111\n555 222 3333\n",
        [("phone", "text", "buyer_key")],
    )
    conversion = buyers_kpis(buyers, visitors=visitors)["conversion_rate"]
    # digits only: 15550001111 does not equal 5550001111, so 2 matches
    assert conversion.detail["key_kind"] == "phone"
    assert conversion.detail["matched"] == 2
    assert conversion.value == pytest.approx(2 / 3)
    assert conversion.detail["match_rate"] == pytest.approx(2 / 4)


def test_conversion_matches_hashed_emails(tmp_path):
    alice = hashlib.sha256(b"alice@example.com").hexdigest()
    zed = hashlib.sha256(b"zed@example.com").hexdigest()
    visitors = source_from_csv(tmp_path, "vhash", f"h\n{alice.upper()}\n{zed}\n", [("h", "text", "visitor_key")])
    buyers = source_from_csv(
        tmp_path, "bplain", "e\n Alice@Example.com \nbob@example.com\n", [("e", "text", "buyer_key")]
    )
    conversion = buyers_kpis(buyers, visitors=visitors)["conversion_rate"]
    assert conversion.detail["key_kind"] == "email+hashed_email"
    assert conversion.detail["matched"] == 1
    assert conversion.value == pytest.approx(1 / 2)
    assert conversion.detail["match_rate"] == pytest.approx(1 / 2)


def test_every_kpi_has_a_definition(buyers):
    report = buyers_kpis(buyers)
    assert all(k.definition for k in report.kpis)
    assert report.to_dict()["kpis"][0]["definition"] == M.DEFINITIONS["revenue"]


def test_dashboard_cache_key_includes_the_workspace(buyers):
    cache = MemoryCache()
    first = buyers_dashboard(buyers, workspace_id=1, cache=cache)
    second = buyers_dashboard(buyers, workspace_id=2, cache=cache)
    again = buyers_dashboard(buyers, workspace_id=1, cache=cache)
    # One KPI entry per workspace (the splits' counts are cached too, also per workspace).
    assert len([key for key in cache._data if ":buyers_kpis:" in key]) == 2
    per_workspace = [key.split(":")[2] for key in cache._data]
    assert sorted(set(per_workspace)) == ["ws1", "ws2"]
    assert per_workspace.count("ws1") == per_workspace.count("ws2")
    assert again is first
    assert second is not first
    assert buyers_dashboard(buyers, workspace_id=1, cache=NullCache()) == first


def test_source_for_version_reads_the_versions_parquet(tmp_path, settings):
    from types import SimpleNamespace

    from analytics.engine.adapter import source_for_version

    settings.MEDIA_ROOT = str(tmp_path)
    key = "datasets/1/2/v1-abc/data.parquet"
    (tmp_path / "datasets/1/2/v1-abc").mkdir(parents=True)
    source_from_csv(
        tmp_path / "datasets/1/2/v1-abc",
        "data",
        "customer,total\na,10\n",
        [("customer", "text", "buyer_key"), ("total", "decimal", "revenue")],
    )
    version = SimpleNamespace(
        pk=7,
        parquet_key=key,
        columns=[
            {"name": "customer", "type": "text", "field": "buyer_key"},
            {"name": "total", "type": "decimal", "field": "revenue", "null_rate": 0},
        ],
    )
    source = source_for_version(version)
    assert source.version_id == 7
    assert buyers_kpis(source)["revenue"].value == pytest.approx(10.0)


def test_unique_order_ids_take_the_row_per_order_path(tmp_path):
    # The fixture without erin's second line: every order id is on one row.
    source = source_from_csv(tmp_path, "unique", BUYERS_CSV.rsplit("erin", 1)[0].rstrip(",\n") + "\n", BUYERS_SCHEMA)
    assert M.order_ids_unique(source, source.column("order")) is True
    report = buyers_kpis(source)
    assert report["revenue"].value == pytest.approx(590.0)
    assert report["refunds"].value == pytest.approx(210.0)
    assert report["orders"].value == 9
    assert report["aov"].value == pytest.approx(590.0 / 8)
    assert report["buyers"].value == 5
    assert report["repeat_buyer_rate"].value == pytest.approx(0.6)


def test_key_uniqueness_is_shared_between_processes_through_the_cache(buyers, monkeypatch):
    """A web process reads the fact the worker's precomputation found (no second 10M-row scan)."""
    order, customer = buyers.column("order"), buyers.column("customer")
    M.forget_facts(buyers, order)
    M.forget_facts(buyers, customer)
    assert M.order_ids_unique(buyers, order) is False  # o9 is on two rows
    assert M.keys_unique(buyers, customer) is False
    # Another process: nothing in its memo, and no query may run.
    M._unique_order_ids.clear()
    monkeypatch.setattr(M, "_rows", lambda sql, params: pytest.fail("scanned the file again"))
    assert M.order_ids_unique(buyers, order) is False
    assert M.keys_unique(buyers, customer) is False
    M.forget_facts(buyers, order)
    with pytest.raises(pytest.fail.Exception):
        M.order_ids_unique(buyers, order)


def test_conversion_without_any_matching_key_is_missing_not_zero(tmp_path):
    visitors = source_from_csv(
        tmp_path, "vnone", "e\nzed@example.com\nyan@example.com\n", [("e", "text", "visitor_key")]
    )
    buyers = source_from_csv(tmp_path, "bnone", "e\nalice@example.com\n", [("e", "text", "buyer_key")])
    conversion = buyers_kpis(buyers, visitors=visitors)["conversion_rate"]
    assert conversion.state == "missing"
    assert conversion.missing == M.NEEDS_MATCHING_KEYS


def test_conversion_without_any_matching_key_falls_back_to_the_converted_flag(tmp_path):
    # No visitor email is nobody@example.com; the visitors' own flag says 2 of 9 rows converted.
    buyers = source_from_csv(tmp_path, "bnobody", "e\nnobody@example.com\n", [("e", "text", "buyer_key")])
    conversion = buyers_kpis(buyers, visitors=_visitors(tmp_path, "email"))["conversion_rate"]
    assert conversion.detail["method"] == "flag"
    assert conversion.value == pytest.approx(2 / 9)


# --- new vs returning without a new/returning column ---------------------------------------------
# A visit is new on its key's first visit date over ALL rows of the version, returning after it.
#
#   visitor day         channel   first date   class
#   a       2024-01-01  Email     2024-01-01   new
#   a       2024-01-01  Search    2024-01-01   new   (same first day: every visit that day is new)
#   a       2024-01-05  Email                  returning
#   b       2024-01-03  Email     2024-01-03   new
#   b       2024-02-01  Search                 returning
#   c       2024-02-02  Email     2024-02-02   new
#   -       2024-02-03  Email     (no key: not counted)
#   d       -           Email     (no date: not counted)
#   a       2024-02-10  Search                 returning
#   c       2024-02-02  Search                 new
FIRST_VISIT_CSV = """visitor,day,channel
a,2024-01-01,Email
a,2024-01-01,Search
a,2024-01-05,Email
b,2024-01-03,Email
b,2024-02-01,Search
c,2024-02-02,Email
,2024-02-03,Email
d,,Email
a,2024-02-10,Search
c,2024-02-02,Search
"""
FIRST_VISIT_SCHEMA = [("visitor", "text", "visitor_key"), ("day", "date", "event_date"), ("channel", "text", "channel")]


def _first_visit_frame():
    import pandas as pd

    frame = pd.read_csv(__import__("io").StringIO(FIRST_VISIT_CSV), parse_dates=["day"])
    firsts = frame.dropna(subset=["visitor", "day"]).groupby("visitor")["day"].min()  # over ALL rows
    frame["first"] = frame["visitor"].map(firsts)
    known = frame.dropna(subset=["visitor", "day"]).copy()
    known["kind"] = ["New" if d == f else "Returning" for d, f in zip(known["day"], known["first"], strict=True)]
    return known


@pytest.fixture
def first_visits(tmp_path):
    return source_from_csv(tmp_path, "first_visits", FIRST_VISIT_CSV, FIRST_VISIT_SCHEMA)


@pytest.mark.parametrize(
    ("filters", "keep", "by_hand"),
    [
        (FilterSet(), lambda f: f, (5, 3)),
        (FilterSet((Filter("channel", "in", ("Search",)),)), lambda f: f[f["channel"] == "Search"], (2, 2)),
        # Filtered to February: a and b were first seen in January, so they stay returning.
        (
            FilterSet((Filter("day", "range", ("2024-02-01", None)),)),
            lambda f: f[f["day"] >= "2024-02-01"],
            (2, 2),
        ),
    ],
)
def test_new_vs_returning_kpi_by_first_visit_date(first_visits, filters, keep, by_hand):
    kept = keep(_first_visit_frame())
    new, returning = (kept["kind"] == "New").sum(), (kept["kind"] == "Returning").sum()
    kpi = visitors_kpis(first_visits, filters=filters)["new_vs_returning"]
    assert (new, returning) == by_hand
    assert kpi.detail == {"method": "first_visit_date", "new": new, "returning": returning}
    assert kpi.value == pytest.approx(returning / (new + returning))
    assert "over all rows of the dataset version" in kpi.definition


@pytest.mark.parametrize("grain", ["day", "week", "month"])
@pytest.mark.parametrize("channel", [None, "Search"])
def test_new_vs_returning_series_by_first_visit_date(first_visits, grain, channel):
    from analytics.engine.series import new_vs_returning_over_time

    kept = _first_visit_frame()
    filters = FilterSet()
    if channel:
        kept = kept[kept["channel"] == channel]
        filters = FilterSet((Filter("channel", "in", (channel,)),))
    freq = {"day": "D", "week": "W-SUN", "month": "M"}[grain]
    kept = kept.assign(period=kept["day"].dt.to_period(freq).dt.start_time.dt.date.astype(str))
    expected = kept.groupby(["period", "kind"]).size().unstack(fill_value=0)
    series = new_vs_returning_over_time(first_visits, workspace_id=1, grain=grain, filters=filters, cache=NullCache())
    got = {(p["period"], p["value"]): p["count"] for p in series.points}
    want = {
        (period, kind): int(expected.loc[period].get(kind, 0))
        for period in expected.index
        for kind in ("New", "Returning")
    }
    assert got == want
    kpi = visitors_kpis(first_visits, filters=filters)["new_vs_returning"]
    assert sum(n for (_, kind), n in got.items() if kind == "Returning") == kpi.detail["returning"]
    assert series.extra["definition"] == kpi.definition


def test_new_vs_returning_needs_key_and_date(tmp_path):
    source = source_from_csv(
        tmp_path,
        "no_key",
        "day,channel\n2024-01-01,Email\n",
        [
            ("day", "date", "event_date"),
            ("channel", "text", "channel"),
        ],
    )
    kpi = visitors_kpis(source)["new_vs_returning"]
    assert kpi.missing == "needs a new/returning column or a visitor key"
    from analytics.engine.series import new_vs_returning_over_time

    assert new_vs_returning_over_time(source, workspace_id=1, cache=NullCache()).missing


# --- filter-panel counts: all columns in two scans ------------------------------------------------
def test_top_values_equal_pandas(tmp_path, monkeypatch):
    import pandas as pd

    from analytics.engine import series as S

    # 60 rows. tier: ties (20 each) and missing values; flag: boolean; uid: one value per row;
    # late: one value in the first 10 rows, then a new value per row (prefix says low, whole file high).
    lines = ["tier,flag,uid,late"]
    for i in range(60):
        tier = ["gold", "silver", "", "bronze"][i % 4] if i % 4 != 2 else ""
        lines.append(f"{tier},{'true' if i % 3 == 0 else 'false'},u{i},{'same' if i < 10 else f'x{i}'}")
    text = "\n".join(lines) + "\n"
    schema = [("tier", "text", None), ("flag", "boolean", None), ("uid", "text", None), ("late", "text", None)]
    source = source_from_csv(tmp_path, "top_values", text, schema)
    monkeypatch.setattr(S, "PREFIX_ROWS", 10)
    got = S.top_values(source, {"tier": 5, "flag": 5, "uid": 30, "late": 30}, workspace_id=1, cache=NullCache())
    frame = pd.read_csv(__import__("io").StringIO(text))

    def expected(name, limit):
        counts = frame[name].dropna().value_counts()
        if len(counts) > limit:
            return None
        return sorted(((v, int(n)) for v, n in counts.items()), key=lambda vn: (-vn[1], vn[0]))

    assert got["tier"] == expected("tier", 5) == [("bronze", 15), ("gold", 15), ("silver", 15)]
    assert got["flag"] == expected("flag", 5) == [(False, 40), (True, 20)]
    assert got["uid"] is None and expected("uid", 30) is None
    assert got["late"] is None and expected("late", 30) is None
    # A limit that the column fits exactly is kept.
    assert S.top_values(source, {"tier": 3}, workspace_id=1, cache=NullCache())["tier"] == expected("tier", 3)
    assert S.top_values(source, {"tier": 2}, workspace_id=1, cache=NullCache())["tier"] is None


def test_visitor_kpis_with_one_row_per_key(tmp_path):
    # Every key once (plus one row without a key): the memoised unique-key path.
    text = "visitor,day,channel\nv1,2024-01-01,Email\nv2,2024-01-02,Search\n,2024-01-03,Email\nv3,2024-01-04,Email\n"
    schema = [("visitor", "text", "visitor_key"), ("day", "date", "event_date"), ("channel", "text", "channel")]
    source = source_from_csv(tmp_path, "unique_visitors", text, schema)
    assert M.keys_unique(source, source.column("visitor")) is True
    report = visitors_kpis(source)
    assert report["visitors_total"].value == 4
    assert report["visitors_unique"].value == 3
    assert report["repeat_visitor_rate"].value == 0
    email = visitors_kpis(source, filters=FilterSet((Filter("channel", "in", ("Email",)),)))
    assert (email["visitors_total"].value, email["visitors_unique"].value) == (3, 2)
    assert email["repeat_visitor_rate"].detail == {"repeat_visitors": 0, "visitors": 2}


def test_value_counts_of_several_columns_in_one_scan_equal_pandas(tmp_path):
    import io

    import pandas as pd

    text = "a,b,c\nx,1,true\ny,1,false\nx,2,\n,2,true\ny,3,true\nz,,false\n"
    schema = [("a", "text", None), ("b", "integer", None), ("c", "boolean", None)]
    source = source_from_csv(tmp_path, "many", text, schema)
    frame = pd.read_csv(io.StringIO(text))
    got = M.value_counts_many(source, [source.column(n) for n in ("a", "b", "c")], FilterSet())
    for name in ("a", "b", "c"):
        counts = frame[name].dropna().value_counts()
        expected = sorted(((v, int(n)) for v, n in counts.items()), key=lambda vn: (-vn[1], vn[0]))
        assert [(v, n) for v, n in got[source.column(name).index]] == expected
    # Ties by value, as the single-column query orders them: x and y have 2 rows each.
    assert got[source.column("a").index] == [("x", 2), ("y", 2), ("z", 1)]
    assert got[source.column("b").index] == M.value_counts(source, source.column("b"), FilterSet())


def test_visitor_kpis_when_the_filters_keep_no_row(tmp_path):
    source = _visitors(tmp_path, "visitor")
    report = visitors_kpis(source, filters=FilterSet((Filter("gender", "in", ("Nobody",)),)))
    assert report["visitors_total"].value == 0
    assert report["visitors_unique"].value == 0
    assert report["new_vs_returning"].missing == M.NEEDS_ROWS
    assert report["conversion_rate"].missing == M.NEEDS_ROWS
    assert report["gender_split"].value == []


@pytest.mark.parametrize(
    ("kind", "raw", "expected"),
    [
        ("email", " Alice@Example.COM\t", "alice@example.com"),
        ("email", "\u00a0bob@x.io\r\n", "bob@x.io"),
        ("email", " \t ", None),
        ("id", "\tA-17 ", "A-17"),
        ("id", "a b", "a b"),  # inner whitespace is part of the key
        ("phone", "+1 (555) 010-2030", "15550102030"),
    ],
)
def test_match_keys_are_trimmed_of_any_whitespace(kind, raw, expected):
    import duckdb

    from analytics.engine.metrics import KEY_NORMALISERS

    sql = "SELECT " + KEY_NORMALISERS[kind].format("x") + " FROM (SELECT CAST(? AS VARCHAR) AS x)"  # noqa: S608 - constant SQL
    assert duckdb.sql(sql, params=[raw]).fetchall() == [(expected,)]
