"""Chart series as plain data (no plotly): over time, top N with "Other", distributions.

Every helper runs through `Query` + `execute`, so series share the engine's allowlists and cache.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from decimal import Decimal

from .cache import ResultCache, cached
from .filters import FilterSet
from .metrics import DEFINITIONS, first_visit_inputs, first_visit_sql
from .query import BUCKETS, COUNT, COUNT_TRUE, SUM, GroupBy, Measure, Query, counts_query, execute, execute_many
from .schema import BOOLEAN, Source, connection

TOP_N = 15
OTHER = "Other"
DEMOGRAPHIC_FIELDS = ("age_range", "income_range", "gender", "state", "credit_rating", "net_worth")
DATE_FIELDS = ("order_date", "event_date", "lead_date", "start_time")
CREDIT_ORDER = ("excellent", "very good", "good", "fair", "poor")
NATURAL_ORDER_FIELDS = frozenset({"age_range", "income_range", "net_worth"})
NEEDS_COLUMN = "needs a {label} column"
NEEDS_DATE = "needs a date column"


@dataclass(frozen=True)
class Series:
    key: str
    points: tuple[dict, ...] = ()
    missing: str | None = None
    extra: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {"key": self.key, "points": list(self.points), "missing": self.missing, **self.extra}


def _num(value):
    return float(value) if isinstance(value, Decimal) else value


def date_column_of(source: Source):
    """The column a time series runs on by default: the first canonical date field present."""
    return next((c for f in DATE_FIELDS if (c := source.by_field(f)) is not None), None)


# --- the queries behind the series (also what `prefetch` hands to `execute_many`) ---------------
def _money_measures(source: Source) -> list[Measure]:
    revenue = source.by_field("revenue")
    return [Measure(SUM, revenue.name, label="revenue")] if revenue is not None and revenue.is_numeric else []


def over_time_query(source: Source, column: str, *, grain: str, filters: FilterSet | None = None) -> Query:
    """Rows per period, with revenue and conversions when the dataset has them."""
    measures = [Measure(COUNT, label="count"), *_money_measures(source)]
    converted = source.by_field("converted")
    if converted is not None and converted.type == BOOLEAN:
        measures.append(Measure(COUNT_TRUE, converted.name, label="conversions"))
    group = GroupBy(column, grain)
    return Query(source=source, filters=filters or FilterSet(), measures=tuple(measures), group_by=(group,))


def top_n_query(source: Source, column: str, *, filters: FilterSet | None = None) -> Query:
    """Rows (and revenue) per value of `column`, most rows first."""
    measures = (Measure(COUNT, label="count"), *_money_measures(source))
    return Query(
        source=source, filters=filters or FilterSet(), measures=measures, group_by=(GroupBy(column),), sort=("-count",)
    )


def over_time(
    source: Source,
    *,
    workspace_id: int,
    grain: str = "day",
    filters: FilterSet | None = None,
    date_column: str | None = None,
    cache: ResultCache | None = None,
) -> Series:
    """Rows (and revenue / conversions when the dataset has them) per day, week or month."""
    GroupBy("x", grain)  # validates the grain against the allowlist before anything else
    column = source.column(date_column) if date_column else date_column_of(source)
    key = f"over_time_{grain}"
    if column is None:
        return Series(key, missing=NEEDS_DATE)
    query = over_time_query(source, column.name, grain=grain, filters=filters)
    measures = query.measures
    result = execute(query, workspace_id=workspace_id, cache=cache)
    points = []
    for row in result.rows:
        if row[0] is None:
            continue  # rows without a date have no place on a time axis
        point = {"period": row[0].isoformat()}
        point.update({m.label: _num(v) for m, v in zip(measures, row[1:], strict=True)})
        points.append(point)
    return Series(key, tuple(points), extra={"grain": grain, "column": column.name, "bucket": BUCKETS[grain]})


def top_n(
    source: Source,
    column: str,
    *,
    workspace_id: int,
    n: int = TOP_N,
    filters: FilterSet | None = None,
    cache: ResultCache | None = None,
) -> Series:
    """The `n` most frequent values (ties by value), everything else summed as "Other";
    missing values are counted apart, not ranked."""
    col = source.column(column)
    query = top_n_query(source, col.name, filters=filters)
    measures = query.measures
    result = execute(query, workspace_id=workspace_id, cache=cache)
    rows = [r for r in result.rows if r[0] is not None]
    missing = sum(r[1] for r in result.rows if r[0] is None)
    total = sum(r[1] for r in rows)

    def point(label, values):
        p = {"label": label, **{m.label: _num(v) for m, v in zip(measures, values, strict=True)}}
        p["share"] = p["count"] / total if total else None
        return p

    points = [point(r[0], r[1:]) for r in rows[:n]]
    rest = rows[n:]
    if rest:
        sums = [sum(_num(r[i + 1]) or 0 for r in rest) for i in range(len(measures))]
        points.append({**point(OTHER, sums), "other": True, "values": len(rest)})
    return Series(f"top_{col.name}", tuple(points), extra={"missing_values": missing, "total": total, "n": n})


def natural_key(label) -> tuple:
    """Order ranges by their first number ("Under $25K" < "$25K-$49K" < "$250K+"; "18-24" < "65+")."""
    text = str(label)
    match = re.search(r"(\d+(?:\.\d+)?)\s*([kKmM])?", text.replace(",", ""))
    if match is None:
        return (1, text.lower())
    value = float(match.group(1)) * {"k": 1e3, "m": 1e6}.get((match.group(2) or "").lower(), 1)
    if re.match(r"^\s*(under|less than|below|<)", text, re.IGNORECASE):
        value -= 0.5
    return (0, value, text.lower())


def distribution(
    source: Source,
    column: str,
    *,
    workspace_id: int,
    filters: FilterSet | None = None,
    cache: ResultCache | None = None,
) -> Series:
    """Every value of `column` with its count and share, in the order its chart wants."""
    col = source.column(column)
    result = execute(counts_query(source, col.name, filters=filters), workspace_id=workspace_id, cache=cache)
    rows = [r for r in result.rows if r[0] is not None]
    missing = sum(r[1] for r in result.rows if r[0] is None)
    total = sum(r[1] for r in rows)
    if col.field in NATURAL_ORDER_FIELDS:
        rows.sort(key=lambda r: natural_key(r[0]))
    elif col.field == "credit_rating":
        rank = {name: i for i, name in enumerate(CREDIT_ORDER)}
        rows.sort(key=lambda r: (rank.get(str(r[0]).strip().lower(), len(rank)), str(r[0])))
    points = tuple({"label": r[0], "count": r[1], "share": r[1] / total} for r in rows)
    return Series(f"distribution_{col.name}", points, extra={"missing_values": missing, "total": total})


def distributions(
    source: Source,
    *,
    workspace_id: int,
    fields: tuple[str, ...] = DEMOGRAPHIC_FIELDS,
    filters: FilterSet | None = None,
    cache: ResultCache | None = None,
) -> dict[str, Series]:
    """One distribution per canonical field; a field the dataset lacks says so."""
    out = {}
    for name in fields:
        column = source.by_field(name)
        if column is None:
            out[name] = Series(f"distribution_{name}", missing=NEEDS_COLUMN.format(label=name.replace("_", " ")))
        else:
            out[name] = distribution(source, column.name, workspace_id=workspace_id, filters=filters, cache=cache)
    return out


NEW = "New"
RETURNING = "Returning"


def new_vs_returning_over_time(
    source: Source,
    *,
    workspace_id: int,
    grain: str = "day",
    filters: FilterSet | None = None,
    cache: ResultCache | None = None,
) -> Series:
    """Visits per period split into new and returning without a new/returning column, by the
    visitor key's first visit date (the `new_vs_returning` KPI's definition, in one query)."""
    GroupBy("x", grain)  # the grain against the allowlist
    key = f"new_vs_returning_{grain}"
    if first_visit_inputs(source) is None:
        return Series(key, missing="needs a visitor key and a date column")
    filters = filters or FilterSet()
    sql, params = first_visit_sql(source, filters, bucket=BUCKETS[grain])

    def compute() -> tuple:
        return tuple(connection().execute(sql, params).fetchall())

    rows = cached(
        cache=cache,
        workspace_id=workspace_id,
        fingerprints=[source.fingerprint()],
        kind="new_vs_returning",
        payload={"filters": filters.canonical(source), "grain": grain},
        compute=compute,
    )
    points = []
    for period, new, returning in rows:
        points.append({"period": period.isoformat(), "value": NEW, "count": new})
        points.append({"period": period.isoformat(), "value": RETURNING, "count": returning})
    return Series(
        key,
        tuple(points),
        extra={"grain": grain, "method": "first_visit_date", "definition": DEFINITIONS["new_vs_returning_first_date"]},
    )


PREFIX_ROWS = 20_000


def categorical_columns(
    source: Source, limits: dict[str, int], *, workspace_id: int, cache: ResultCache | None = None
) -> list[str]:
    """The columns named in `limits` whose first `PREFIX_ROWS` rows hold at most `limit` distinct
    values. A subset never has more distinct values than the whole, so every column left out has
    too many values to be offered as a multi-select (exact, and one cheap scan of a prefix)."""
    names = list(dict.fromkeys(limits))
    if not names:
        return []

    def compute() -> list[str]:
        relation, params = source.relation()
        refs = [source.column(n).ref for n in names]
        distinct = ", ".join(f"count(DISTINCT {r})" for r in refs)
        sql = f"SELECT {distinct} FROM (SELECT {', '.join(refs)} FROM {relation} LIMIT ?)"  # noqa: S608 - aliases
        seen = connection().execute(sql, [*params, PREFIX_ROWS]).fetchone()
        return [name for name, n in zip(names, seen, strict=True) if n <= limits[name]]

    return cached(
        cache=cache,
        workspace_id=workspace_id,
        fingerprints=[source.fingerprint()],
        kind="categorical_columns",
        payload=sorted(limits.items()),
        compute=compute,
    )


def top_values(
    source: Source,
    limits: dict[str, int],
    *,
    workspace_id: int,
    cache: ResultCache | None = None,
) -> dict[str, list[tuple[object, int]] | None]:
    """For each column named in `limits`: its non-missing values with their row counts over the
    whole version, most frequent first (ties by value), at most `limit + 1` of them; None when the
    column has more than `limit + 1` distinct values (not categorical).

    Two scans whatever the number of columns, instead of one group-by per column: a prefix scan
    rules out the columns with too many distinct values (`categorical_columns`), then one
    `execute_many` pass counts the rest, each column's counts cached as the unfiltered `counts_query`
    (which a dashboard's unfiltered distribution charts read too). No filters: the filter panel's counts.
    """
    kept = categorical_columns(source, limits, workspace_id=workspace_id, cache=cache)
    out: dict[str, list | None] = dict.fromkeys(limits)
    queries = [counts_query(source, name) for name in kept]
    for name, result in zip(kept, execute_many(queries, workspace_id=workspace_id, cache=cache), strict=True):
        counts = [(value, n) for value, n in result.rows if value is not None]
        out[name] = counts[: limits[name] + 1] if len(counts) <= limits[name] else None
    return out
