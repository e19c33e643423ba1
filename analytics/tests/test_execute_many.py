"""`execute_many`: several aggregate queries answered by one GROUPING SETS scan per set of measures.

Each result must be exactly what `execute` gives for the same query on its own (rows, order, labels),
checked here against `execute` with no cache (the second method) and, for a few, against pandas.
The fixture has ties in the counts, missing values in the grouped columns and a revenue column.
"""

from decimal import Decimal

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from analytics.engine import (
    Filter,
    FilterSet,
    GroupBy,
    Measure,
    MemoryCache,
    NullCache,
    Query,
    QueryError,
    Source,
    buyers_kpis,
    execute,
)
from analytics.engine import metrics as M
from analytics.engine import query as Q
from analytics.engine.cache import cache_key
from analytics.engine.series import over_time_query, top_n_query

from .helpers import source_from_csv

CSV = """day,channel,state,gender,total,converted
2024-01-01,Email,CA,Female,10.50,yes
2024-01-01,Email,TX,Male,20.00,no
2024-01-02,Search,CA,,5.25,yes
2024-01-02,,NY,Female,,no
2024-01-08,Search,TX,Male,7.00,no
2024-01-09,Email,,Female,1.00,yes
2024-02-01,Social,CA,Male,3.00,no
2024-02-01,Social,NY,,4.00,yes
2024-02-03,Email,TX,Female,2.00,no
,Search,CA,Male,1.00,no
"""
SCHEMA = [
    ("day", "date", "event_date"),
    ("channel", "text", "channel"),
    ("state", "text", "state"),
    ("gender", "text", "gender"),
    ("total", "money", "revenue"),
    ("converted", "boolean", "converted"),
]


@pytest.fixture
def source(tmp_path):
    return source_from_csv(tmp_path, "rows", CSV, SCHEMA)


def _queries(source: Source, filters: FilterSet) -> list[Query]:
    count = Measure("count", label="count")
    return [
        Q.counts_query(source, "channel", filters=filters),
        Q.counts_query(source, "state", filters=filters),
        Q.counts_query(source, "gender", filters=filters),
        top_n_query(source, "state", filters=filters),
        over_time_query(source, "day", grain="day", filters=filters),
        over_time_query(source, "day", grain="week", filters=filters),
        Query(source=source, filters=filters, measures=(count,), group_by=(GroupBy("day", "month"), GroupBy("gender"))),
        # a sort on a measure, ascending, then paged
        Query(
            source=source,
            filters=filters,
            measures=(count, Measure("sum", "total", label="revenue")),
            group_by=(GroupBy("channel"),),
            sort=("revenue",),
            limit=2,
            offset=1,
        ),
        # descending on a group column, and a grand total
        Query(source=source, filters=filters, measures=(count,), group_by=(GroupBy("state"),), sort=("-state",)),
        Query(source=source, filters=filters, measures=(count, Measure("count_true", "converted", label="conv"))),
    ]


@pytest.mark.parametrize(
    "filters",
    [
        FilterSet(),
        FilterSet((Filter("state", "in", ("CA", "TX")),)),
        FilterSet((Filter("day", "range", ("2024-01-02", "2024-02-01")),)),
        FilterSet((Filter("state", "in", ("ZZ",)),)),
    ],
    ids=["unfiltered", "states", "dates", "no row"],
)
def test_each_result_equals_the_query_run_alone(source, filters):
    queries = _queries(source, filters)
    together = Q.execute_many(queries, workspace_id=1, cache=NullCache())
    for query, result in zip(queries, together, strict=True):
        alone = execute(query, workspace_id=1, cache=NullCache())
        assert result.columns == alone.columns
        assert result.rows == alone.rows, query.canonical()


def test_counts_and_time_series_match_pandas(source, tmp_path):
    frame = pd.read_parquet(tmp_path / "rows.parquet")
    channel, top_state, daily = Q.execute_many(
        [
            Q.counts_query(source, "channel"),
            top_n_query(source, "state"),
            over_time_query(source, "day", grain="day"),
        ],
        workspace_id=1,
        cache=NullCache(),
    )
    counts = frame["channel"].value_counts(dropna=False)
    assert {v: n for v, n in channel.rows} == {(None if pd.isna(v) else v): n for v, n in counts.items()}
    # most rows first, ties by value, the missing value last: CA 4, TX 3, NY 2, None 1
    assert [row[:2] for row in top_state.rows] == [("CA", 4), ("TX", 3), ("NY", 2), (None, 1)]
    revenue_ca = frame.loc[frame["state"] == "CA", "total"].dropna().sum()
    assert top_state.rows[0][2] == Decimal(str(revenue_ca))
    # per day: rows, revenue, conversions; the row without a date is its own (last) group
    by_day = frame.groupby("day", dropna=False).agg(n=("channel", "size"), conv=("converted", "sum"))
    assert len(daily.rows) == len(by_day)
    assert daily.rows[-1][0] is None
    for day, n, _revenue, conversions in daily.rows[:-1]:
        assert (n, conversions) == (by_day.loc[day, "n"], by_day.loc[day, "conv"])


def test_one_statement_per_set_of_measures(source, monkeypatch):
    statements = []
    real = Q.run_sql
    monkeypatch.setattr(Q, "run_sql", lambda sql, params: statements.append(sql) or real(sql, params))
    queries = [Q.counts_query(source, name) for name in ("channel", "state", "gender")]
    queries += [top_n_query(source, "channel"), top_n_query(source, "state")]
    Q.execute_many(queries, workspace_id=1, cache=NullCache())
    assert len(statements) == 2  # counts only; counts + revenue
    assert all("GROUPING SETS" in sql for sql in statements)


def test_results_are_cached_under_the_key_execute_uses(source, monkeypatch):
    cache = MemoryCache()
    queries = [Q.counts_query(source, "channel"), Q.counts_query(source, "state")]
    results = Q.execute_many(queries, workspace_id=7, cache=cache)
    for query, result in zip(queries, results, strict=True):
        key = cache_key(workspace_id=7, fingerprints=[source.fingerprint()], kind="query", payload=query.canonical())
        assert cache.get(key) is result
    # `execute` now finds them without running SQL, and only in workspace 7
    monkeypatch.setattr(Q, "run_sql", lambda sql, params: pytest.fail("ran SQL for a cached query"))
    assert execute(queries[1], workspace_id=7, cache=cache) is results[1]
    assert Q.execute_many(queries, workspace_id=7, cache=cache) == results
    with pytest.raises(pytest.fail.Exception):
        execute(queries[0], workspace_id=8, cache=cache)


def test_only_missing_queries_are_computed(source, monkeypatch):
    cache = MemoryCache()
    execute(Q.counts_query(source, "channel"), workspace_id=1, cache=cache)
    statements = []
    real = Q.run_sql
    monkeypatch.setattr(Q, "run_sql", lambda sql, params: statements.append(sql) or real(sql, params))
    Q.execute_many([Q.counts_query(source, n) for n in ("channel", "state", "gender")], workspace_id=1, cache=cache)
    assert len(statements) == 1
    assert '"c1" AS' not in statements[0]  # channel (column 1) was not grouped again


@pytest.mark.parametrize(
    "bad",
    [
        lambda s, o: [
            Q.counts_query(s, "state"),
            Q.counts_query(s, "gender", filters=FilterSet((Filter("state", "in", ("CA",)),))),
        ],
        lambda s, o: [Q.counts_query(s, "state"), Q.counts_query(o, "state")],
        lambda s, o: [Q.counts_query(s, "state"), Query(source=s, select=("state",))],
        lambda s, o: [Q.counts_query(s, "state"), Q.counts_query(s, "no such column")],
    ],
    ids=["different filters", "different sources", "a row query", "unknown column"],
)
def test_rejects_queries_it_cannot_combine(source, tmp_path, bad):
    other = source_from_csv(tmp_path, "other", CSV, SCHEMA)
    with pytest.raises(QueryError):
        Q.execute_many(bad(source, other), workspace_id=1, cache=NullCache())


# --- text keys with empty strings ------------------------------------------------------------------
def _keyed(tmp_path, keys: list) -> Source:
    """A buyers file written by pyarrow directly, so '' stays '' (ingestion would store a null)."""
    table = pa.table({"customer": pa.array(keys, pa.string()), "total": pa.array([Decimal("1.00")] * len(keys))})
    path = tmp_path / "keyed.parquet"
    pq.write_table(table, path)
    return Source.from_schema(
        path,
        [
            {"name": "customer", "type": "text", "field": "buyer_key"},
            {"name": "total", "type": "money", "field": "revenue"},
        ],
    )


def test_an_empty_text_key_is_a_missing_key(tmp_path):
    source = _keyed(tmp_path, ["a", "", "a", "b", None, ""])
    report = buyers_kpis(source)
    assert report["buyer_records"].value == 6
    assert report["buyers"].value == 2  # a and b; '' and null are no buyer
    assert report["repeat_buyer_rate"].detail == {"repeat_buyers": 1, "buyers": 2}


def test_a_key_column_without_empty_text_is_read_as_stored(tmp_path):
    source = _keyed(tmp_path, ["a", "b", "a", None])
    column = source.column("customer")
    assert M._key_expr(column, source) == column.ref
    assert buyers_kpis(source)["buyers"].value == 2
