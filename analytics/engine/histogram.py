"""Numeric histograms for the attribute explorer: equal-width bins over fixed edges.

The edges come from the caller (the explorer takes them from the whole version, so the overall and
the filtered histogram share them). Bin i holds edges[i] ≤ x < edges[i + 1]; the last bin also
holds x == edges[-1]. Values outside the edges are not counted. SQL text is built only from the
column's internal alias; the edges travel as bound parameters.
"""

from __future__ import annotations

import math

from .cache import ResultCache, cached
from .errors import InvalidOperatorForType
from .filters import FilterSet
from .query import run_sql
from .schema import Source

DEFAULT_BINS = 20


def numeric_range(
    source: Source,
    column: str,
    *,
    workspace_id: int,
    filters: FilterSet | None = None,
    cache: ResultCache | None = None,
) -> tuple[float | None, float | None]:
    """(min, max) of a numeric column's non-missing values, or (None, None) when it has none."""
    col = source.column(column)
    if not col.is_numeric:
        raise InvalidOperatorForType(op="histogram", name=col.name, type_=col.type)
    filters = filters or FilterSet()
    relation, params = source.relation()
    where, where_params = filters.compile(source)
    sql = f"SELECT min(CAST({col.ref} AS DOUBLE)), max(CAST({col.ref} AS DOUBLE)) FROM {relation} WHERE {where}"  # noqa: S608 - internal aliases

    def compute():
        low, high = run_sql(sql, params + where_params)[0]
        return (low, high)

    return cached(
        cache=cache,
        workspace_id=workspace_id,
        fingerprints=[source.fingerprint()],
        kind="numeric_range",
        payload={"column": col.name, "filters": filters.canonical(source)},
        compute=compute,
    )


def bin_edges(low: float, high: float, *, integer: bool, bins: int = DEFAULT_BINS) -> list[float]:
    """Equal-width edges from low to high (the last bin may be narrower for whole numbers).
    Whole numbers get whole-number widths (one bin per value when the range is small), so a bin
    never splits an integer."""
    if high <= low:
        return [low, low + 1]
    if integer:
        width = max(1, math.ceil((high - low + 1) / bins))
        count = math.ceil((high - low + 1) / width)
        # The last bin ends at the maximum (closed), so its label never names values beyond the data.
        return [low + i * width for i in range(count)] + [high]
    width = (high - low) / bins
    return [low + i * width for i in range(bins)] + [high]


def histogram(
    source: Source,
    column: str,
    edges: list[float],
    *,
    workspace_id: int,
    filters: FilterSet | None = None,
    cache: ResultCache | None = None,
) -> list[int]:
    """Rows per bin (len(edges) - 1 counts) of a numeric column under `filters`."""
    col = source.column(column)
    if not col.is_numeric:
        raise InvalidOperatorForType(op="histogram", name=col.name, type_=col.type)
    if len(edges) < 2:
        raise ValueError("a histogram needs at least two edges")
    filters = filters or FilterSet()
    edges = [float(e) for e in edges]
    relation, params = source.relation()
    where, where_params = filters.compile(source)
    value = f"CAST({col.ref} AS DOUBLE)"
    # The bin is the number of inner edges at or below the value (a value on the top edge joins the last bin).
    inner = edges[1:-1]
    bin_sql = " + ".join(f"CAST({value} >= ? AS INTEGER)" for _ in inner) or "0"
    sql = (
        f"SELECT {bin_sql} AS b, count(*) FROM {relation} "  # noqa: S608 - internal aliases
        f"WHERE {where} AND {value} >= ? AND {value} <= ? GROUP BY b"
    )
    args = inner + params + where_params + [edges[0], edges[-1]]

    def compute():
        counts = [0] * (len(edges) - 1)
        for b, n in run_sql(sql, args):
            counts[int(b)] = int(n)
        return counts

    return cached(
        cache=cache,
        workspace_id=workspace_id,
        fingerprints=[source.fingerprint()],
        kind="histogram",
        payload={"column": col.name, "edges": edges, "filters": filters.canonical(source)},
        compute=compute,
    )
