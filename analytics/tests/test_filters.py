"""Filters and queries against pandas on the same Parquet file, and SQL-injection cases T-SQL-01..04.

The fixture is built here with numpy (not by the ingestion pipeline): every filter category of
the dashboards, missing values, a custom column, hostile column names and hostile cell values.
"""

import datetime as dt
import time

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from django.http import QueryDict

from analytics.engine import (
    Filter,
    FilterSet,
    GroupBy,
    InvalidFilterState,
    InvalidLimit,
    InvalidOperatorForType,
    InvalidValue,
    Measure,
    MemoryCache,
    NullCache,
    Query,
    Source,
    UnknownBucket,
    UnknownColumn,
    UnknownMeasure,
    UnknownOperator,
    UnknownSortKey,
    count_rows,
    execute,
)
from analytics.engine.series import distribution, over_time, top_n

N = 5000
DROP = '"; DROP TABLE t; --'
HTML = "<b>x</b>"
SPACE = " "
LIKE_VALUES = ["' OR '1'='1", "%", "_", "\\", "a%b", "a_b", "50% off"]
SQL_AND_ORM = ["amount DESC; SELECT pg_sleep(5)--", "workspace__owner__password", "-id", "(SELECT 1)", "1", "c0"]
NO_CACHE = NullCache()


def _pick(rng, values, n, missing=0.0):
    out = rng.choice(np.array(values, dtype=object), n)
    out[rng.random(n) < missing] = None
    return out


@pytest.fixture(scope="module")
def frame():
    rng = np.random.default_rng(7)
    start = dt.date(2024, 1, 1)
    df = pd.DataFrame(
        {
            "visitor_id": [f"V{i:05d}" for i in range(N)],
            "visit_date": [start + dt.timedelta(days=int(d)) for d in rng.integers(0, 366, N)],
            "channel": _pick(rng, ["Email", "Social", "Paid Search", "Direct"], N, 0.05),
            "campaign": _pick(rng, ["Spring", "Summer", "Win-back"], N, 0.3),
            "gender": _pick(rng, ["Female", "Male", "Unknown"], N, 0.02),
            "age_range": _pick(rng, ["18-24", "25-34", "35-44", "45-54", "55-64", "65+"], N),
            "income_range": _pick(rng, ["Under $25K", "$25K-$49K", "$100K-$149K", "$250K+"], N),
            "net_worth": _pick(rng, ["Under $50K", "$1M+"], N),
            "credit_rating": _pick(rng, ["Excellent", "Good", "Fair", "Poor"], N),
            "homeowner": rng.random(N) < 0.6,
            "marital_status": _pick(rng, ["Married", "Single"], N),
            "children": _pick(rng, ["Yes", "No"], N),
            "state": _pick(rng, ["CA", "TX", "NY", "FL"], N),
            "converted": rng.random(N) < 0.08,
            "revenue": np.round(rng.gamma(2.0, 40.0, N), 2),
            "loyalty tier": _pick(rng, ["gold", "silver", "bronze"], N, 0.1),  # a custom attribute
            DROP: rng.integers(0, 100, N),
            HTML: _pick(rng, ["<script>alert(1)</script>", "plain"], N),
            SPACE: _pick(rng, ["a", "b"], N),
            "State": _pick(rng, ["dup-looking"], N),
            "": _pick(rng, ["empty name"], N, 0.5),
            "note": [None] * N,
        }
    )
    df.loc[: len(LIKE_VALUES) - 1, "note"] = LIKE_VALUES
    df.loc[len(LIKE_VALUES) : len(LIKE_VALUES) + 99, "note"] = "ordinary text"
    return df


TYPES = {
    "visit_date": ("date", "event_date"),
    "homeowner": ("boolean", "homeowner"),
    "converted": ("boolean", "converted"),
    "revenue": ("decimal", "revenue"),
    DROP: ("integer", None),
    "visitor_id": ("text", "visitor_key"),
}
FIELDS = {"channel", "campaign", "gender", "age_range", "income_range", "net_worth", "credit_rating"}
FIELDS |= {"marital_status", "children", "state"}


@pytest.fixture(scope="module")
def source(frame, tmp_path_factory):
    path = tmp_path_factory.mktemp("filters") / "visitors.parquet"
    arrow = {"date": pa.date32(), "boolean": pa.bool_(), "decimal": pa.float64(), "integer": pa.int64()}
    arrays, schema = [], []
    for name in frame.columns:
        col_type, field = TYPES.get(name, ("text", name if name in FIELDS else None))
        values = [None if pd.isna(v) else v for v in frame[name].tolist()]
        arrays.append(pa.array(values, arrow.get(col_type, pa.string())))
        schema.append({"name": name, "type": col_type, "field": field})
    pq.write_table(pa.Table.from_arrays(arrays, names=list(frame.columns)), path)
    return Source.from_schema(path, schema)


def rows(source, filters):
    return count_rows(Query(source, filters), workspace_id=1, cache=NO_CACHE)


def test_in_filter_multi_value(source, frame):
    fs = FilterSet((Filter("channel", "in", ("Email", "Social")),))
    assert rows(source, fs) == frame["channel"].isin(["Email", "Social"]).sum()


def test_not_in_keeps_missing_values(source, frame):
    fs = FilterSet((Filter("channel", "not_in", ("Email",)),))
    assert rows(source, fs) == (~frame["channel"].isin(["Email"])).sum()


def test_number_range(source, frame):
    fs = FilterSet((Filter("revenue", "range", ("50", "120.5")),))
    assert rows(source, fs) == frame["revenue"].between(50, 120.5).sum()
    assert rows(source, FilterSet((Filter("revenue", "range", (None, 30)),))) == (frame["revenue"] <= 30).sum()


def test_date_range(source, frame):
    fs = FilterSet((Filter("visit_date", "range", ("2024-03-01", "2024-03-31")),))
    dates = pd.to_datetime(frame["visit_date"])
    assert rows(source, fs) == dates.between("2024-03-01", "2024-03-31").sum()


def test_null_and_not_null(source, frame):
    assert rows(source, FilterSet((Filter("campaign", "is_null"),))) == frame["campaign"].isna().sum()
    assert rows(source, FilterSet((Filter("campaign", "not_null"),))) == frame["campaign"].notna().sum()


def test_boolean_filter(source, frame):
    assert rows(source, FilterSet((Filter("homeowner", "in", ("yes",)),))) == frame["homeowner"].sum()


def test_search_is_case_insensitive_substring_with_literal_wildcards(source, frame):
    notes = frame["note"].fillna("")
    assert rows(source, FilterSet(search="ORDINARY")) == notes.str.contains("ordinary", regex=False).sum()
    # "%" and "_" are characters, not wildcards: only the cells holding them match.
    assert rows(source, FilterSet(search="%")) == 3  # "%", "a%b", "50% off"
    assert rows(source, FilterSet(search="_")) == 2  # "_", "a_b"
    assert rows(source, FilterSet(search="\\")) == 1
    assert rows(source, FilterSet(search="SCRIPT>ALERT")) == (frame[HTML] == "<script>alert(1)</script>").sum()


def test_every_filter_category_and_a_custom_column_combined(source, frame):
    fs = FilterSet(
        (
            Filter("visit_date", "range", ("2024-02-01", "2024-11-30")),
            Filter("channel", "in", ("Email", "Paid Search", "Social")),
            Filter("campaign", "not_in", ("Win-back",)),
            Filter("gender", "in", ("Female", "Male")),
            Filter("age_range", "in", ("25-34", "35-44", "45-54")),
            Filter("income_range", "not_in", ("$250K+",)),
            Filter("net_worth", "not_null"),
            Filter("credit_rating", "in", ("Excellent", "Good", "Fair")),
            Filter("homeowner", "in", ("true",)),
            Filter("marital_status", "in", ("Married", "Single")),
            Filter("children", "in", ("Yes",)),
            Filter("state", "not_in", ("FL",)),
            Filter("revenue", "range", (10, None)),
            Filter("loyalty tier", "in", ("gold", "silver")),
            Filter(DROP, "range", (5, 90)),
        )
    )
    f = frame
    dates = pd.to_datetime(f["visit_date"])
    mask = (
        dates.between("2024-02-01", "2024-11-30")
        & f["channel"].isin(["Email", "Paid Search", "Social"])
        & ~f["campaign"].isin(["Win-back"])
        & f["gender"].isin(["Female", "Male"])
        & f["age_range"].isin(["25-34", "35-44", "45-54"])
        & ~f["income_range"].isin(["$250K+"])
        & f["net_worth"].notna()
        & f["credit_rating"].isin(["Excellent", "Good", "Fair"])
        & f["homeowner"]
        & f["marital_status"].isin(["Married", "Single"])
        & f["children"].isin(["Yes"])
        & ~f["state"].isin(["FL"])
        & (f["revenue"] >= 10)
        & f["loyalty tier"].isin(["gold", "silver"])
        & f[DROP].between(5, 90)
    )
    assert 0 < mask.sum() < N
    assert rows(source, fs) == mask.sum()
    # The same state through a URL and back gives the same answer.
    again = FilterSet.from_querydict(source, QueryDict(fs.to_query_string()))
    assert again.canonical(source) == fs.canonical(source)
    assert rows(source, again) == mask.sum()


def test_querydict_round_trip_keeps_the_whole_state(source):
    fs = FilterSet(
        (
            Filter("channel", "in", ("Email", "Paid Search")),
            Filter(HTML, "not_in", ("plain",)),
            Filter("visit_date", "range", ("2024-01-05", None)),
            Filter("campaign", "is_null"),
        ),
        search="50% off",
    )
    qd = fs.to_querydict()
    assert qd.getlist("in.channel") == ["Email", "Paid Search"]
    assert qd.getlist(f"not.{HTML}") == ["plain"]
    assert qd["min.visit_date"] == "2024-01-05"
    assert qd["null.campaign"] == "1"
    assert qd["q"] == "50% off"
    parsed = FilterSet.from_querydict(source, QueryDict(qd.urlencode()), ignore=("page",))
    assert parsed.canonical(source) == fs.canonical(source)


@pytest.mark.parametrize(
    ("query_string", "error"),
    [
        ("in.owner__password__startswith=a", UnknownColumn),
        ("filter[channel]=Email", InvalidFilterState),
        ("channel=Email", InvalidFilterState),
        ("regex.channel=.*", InvalidFilterState),
        ("in.workspace__owner__password=x", UnknownColumn),
        ("min.revenue=abc", InvalidValue),
        ("min.visit_date=2024-02-30", InvalidValue),
        ("min.channel=a", InvalidOperatorForType),
        ("null.channel=0", InvalidFilterState),
        ("min.revenue=1&min.revenue=2", InvalidFilterState),
        ("page=2", InvalidFilterState),
    ],
)
def test_strict_parsing_rejects_unknown_keys_and_bad_values(source, query_string, error):
    with pytest.raises(error):
        FilterSet.from_querydict(source, QueryDict(query_string))


def test_page_keys_can_be_ignored(source):
    parsed = FilterSet.from_querydict(source, QueryDict("page=2&sort=-count&in.state=CA"), ignore=("page", "sort"))
    assert parsed.filters == (Filter("state", "in", ("CA",)),)


@pytest.mark.parametrize("value", LIKE_VALUES)
def test_sql_like_values_are_exact_matches(source, value):
    assert rows(source, FilterSet((Filter("note", "in", (value,)),))) == 1
    assert rows(source, FilterSet.from_querydict(source, {"in.note": value})) == 1


@pytest.mark.parametrize("key", SQL_AND_ORM)
def test_hostile_sort_keys_are_unknown(source, key):
    started = time.monotonic()
    with pytest.raises(UnknownSortKey):
        Query(source, sort=(key,)).compile()
    with pytest.raises(UnknownSortKey):
        Query(source, measures=(Measure("count"),), group_by=("state",), sort=(key,)).compile()
    assert time.monotonic() - started < 1


@pytest.mark.parametrize("name", ["workspace__owner__password", "(SELECT 1)", "c0", "t.c0", '"c0"', "  "])
def test_unknown_columns_everywhere(source, name):
    with pytest.raises(UnknownColumn):
        Query(source, FilterSet((Filter(name, "in", ("x",)),))).compile()
    with pytest.raises(UnknownColumn):
        Query(source, measures=(Measure("count"),), group_by=(name,)).compile()
    with pytest.raises(UnknownColumn):
        Query(source, select=(name,)).compile()


def test_allowlists_for_operators_measures_buckets_and_limits(source):
    with pytest.raises(UnknownOperator):
        Filter("state", "like")
    with pytest.raises(UnknownMeasure):
        Measure("pg_sleep", "revenue")
    with pytest.raises(UnknownBucket):
        GroupBy("visit_date", "year'); DROP")
    with pytest.raises(InvalidOperatorForType):
        Query(source, measures=(Measure("sum", "state"),)).compile()
    with pytest.raises(InvalidLimit):
        Query(source, limit=-1)
    with pytest.raises(InvalidLimit):
        Query(source, limit="10; DROP")


@pytest.mark.parametrize("name", [DROP, HTML, SPACE, "", "State", "state", "loyalty tier"])
def test_weird_column_names_group_sort_and_filter(source, frame, name):
    query = Query(source, measures=(Measure("count", label="n"),), group_by=(name,), sort=("-n",))
    result = execute(query, workspace_id=1, cache=NO_CACHE)
    expected = frame[name].value_counts()
    assert {row[0]: row[1] for row in result.rows if row[0] is not None} == expected.to_dict()
    assert result.columns == (name, "n")
    assert [row[1] for row in result.rows] == sorted((row[1] for row in result.rows), reverse=True)
    value = expected.index[0]
    assert rows(source, FilterSet((Filter(name, "in", (str(value),)),))) == expected.iloc[0]
    listing = execute(
        Query(source, select=(name, "visitor_id"), sort=(f"-{name}",), limit=3), workspace_id=1, cache=NO_CACHE
    )
    assert listing.columns == (name, "visitor_id")
    assert listing.rows[0][0] == frame[name].dropna().max()


def test_row_listing_pages_in_a_stable_order(source, frame):
    first = execute(Query(source, select=("visitor_id",), sort=("state",), limit=50), workspace_id=1, cache=NO_CACHE)
    second = execute(
        Query(source, select=("visitor_id",), sort=("state",), limit=50, offset=50), workspace_id=1, cache=NO_CACHE
    )
    expected = frame.sort_values("state", kind="stable", na_position="last")["visitor_id"].tolist()[:100]
    assert [r[0] for r in first.rows + second.rows] == expected


def test_query_cache_is_per_workspace(source):
    cache = MemoryCache()
    query = Query(source, measures=(Measure("count"),), group_by=("state",))
    a = execute(query, workspace_id=1, cache=cache)
    assert execute(query, workspace_id=1, cache=cache) is a
    b = execute(query, workspace_id=2, cache=cache)
    assert b is not a
    assert b == a
    keys = sorted(cache._data)
    assert keys[0].startswith("analytics:v1:ws1:query:")
    assert keys[1].startswith("analytics:v1:ws2:query:")


def test_series_over_time_top_n_and_distribution(source, frame):
    monthly = over_time(source, grain="month", workspace_id=1, cache=NO_CACHE)
    months = pd.to_datetime(frame["visit_date"]).dt.to_period("M")
    expected = frame.groupby(months).agg(count=("converted", "size"), conversions=("converted", "sum"))
    assert [(p["period"][:7], p["count"], p["conversions"]) for p in monthly.points] == [
        (str(m), int(g["count"]), int(g["conversions"])) for m, g in expected.iterrows()
    ]
    top = top_n(source, "channel", n=2, workspace_id=1, cache=NO_CACHE)
    counts = frame["channel"].value_counts()
    assert [(p["label"], p["count"]) for p in top.points] == [
        (counts.index[0], counts.iloc[0]),
        (counts.index[1], counts.iloc[1]),
        ("Other", counts.iloc[2:].sum()),
    ]
    assert top.extra["missing_values"] == frame["channel"].isna().sum()
    incomes = distribution(source, "income_range", workspace_id=1, cache=NO_CACHE)
    assert [p["label"] for p in incomes.points] == ["Under $25K", "$25K-$49K", "$100K-$149K", "$250K+"]
    credit = distribution(source, "credit_rating", workspace_id=1, cache=NO_CACHE)
    assert [p["label"] for p in credit.points] == ["Excellent", "Good", "Fair", "Poor"]
