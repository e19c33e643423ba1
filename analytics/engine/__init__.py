"""The analytics engine: parameterised DuckDB over a dataset version's Parquet file(s).

    source = Source.from_schema(parquet_path, version.columns)      # or source_for_version(version)
    query = Query(source, FilterSet.from_querydict(source, request.GET, ignore=("page",)),
                  measures=(Measure("count"),), group_by=("state",), sort=("-count",), limit=15)
    result = execute(query, workspace_id=workspace.id)

Every `QueryError` raised here is the caller's input being wrong: pages answer 400.
"""

from .cache import DjangoCache, MemoryCache, NullCache, ResultCache, cache_key, default_cache
from .combos import Combo, ComboResult, ComboSettings, compute_combos, top_combos, wilson
from .errors import (
    InvalidComboSettings,
    InvalidFilterState,
    InvalidLimit,
    InvalidOperatorForType,
    InvalidValue,
    QueryError,
    SchemaMismatch,
    UnknownBucket,
    UnknownColumn,
    UnknownMeasure,
    UnknownOperator,
    UnknownSortKey,
)
from .filters import IN, IS_NULL, NOT_IN, NOT_NULL, OPERATORS, RANGE, Filter, FilterSet
from .metrics import KPI, Report, buyers_dashboard, buyers_kpis, conversion_kpi, visitors_dashboard, visitors_kpis
from .query import GroupBy, Measure, Query, Result, Sort, count_rows, counts_query, execute, execute_many
from .schema import Column, Source, quote_ident
from .series import Series, distribution, distributions, over_time, top_n

__all__ = [
    "IN",
    "IS_NULL",
    "KPI",
    "NOT_IN",
    "NOT_NULL",
    "OPERATORS",
    "RANGE",
    "Column",
    "Combo",
    "ComboResult",
    "ComboSettings",
    "DjangoCache",
    "Filter",
    "FilterSet",
    "GroupBy",
    "InvalidComboSettings",
    "InvalidFilterState",
    "InvalidLimit",
    "InvalidOperatorForType",
    "InvalidValue",
    "Measure",
    "MemoryCache",
    "NullCache",
    "Query",
    "QueryError",
    "Report",
    "Result",
    "ResultCache",
    "SchemaMismatch",
    "Series",
    "Sort",
    "Source",
    "UnknownBucket",
    "UnknownColumn",
    "UnknownMeasure",
    "UnknownOperator",
    "UnknownSortKey",
    "buyers_dashboard",
    "buyers_kpis",
    "cache_key",
    "compute_combos",
    "conversion_kpi",
    "count_rows",
    "counts_query",
    "default_cache",
    "distribution",
    "distributions",
    "execute",
    "execute_many",
    "over_time",
    "quote_ident",
    "top_combos",
    "top_n",
    "visitors_dashboard",
    "visitors_kpis",
    "wilson",
]
