"""The `Query` object and its compilation to parameterised DuckDB SQL.

Everything a caller can name is checked against an allowlist before any SQL exists: columns
against the source's schema, measure functions, time buckets and sort keys against the constants
below. Values only ever travel as bound parameters. SQL text is assembled solely from our own
constants and from internal column aliases (`"c3"`), never from request text.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field

from .cache import ResultCache, cache_key, cached, default_cache, store, touch
from .errors import InvalidLimit, InvalidOperatorForType, QueryError, UnknownBucket, UnknownMeasure, UnknownSortKey
from .filters import FilterSet
from .schema import BOOLEAN, DATE, DATETIME, Source, connection

COUNT = "count"
COUNT_DISTINCT = "count_distinct"
COUNT_TRUE = "count_true"
SUM = "sum"
AVG = "avg"
MIN = "min"
MAX = "max"
MEASURES = frozenset({COUNT, COUNT_DISTINCT, COUNT_TRUE, SUM, AVG, MIN, MAX})
NUMERIC_MEASURES = frozenset({SUM, AVG})

DAY = "day"
WEEK = "week"
MONTH = "month"
BUCKETS = {DAY: "day", WEEK: "week", MONTH: "month"}  # values are SQL date_trunc parts (constants)
MAX_LIMIT = 1_000_000
MAX_GROUPS = 1_000_000


@dataclass(frozen=True)
class Measure:
    fn: str
    column: str | None = None
    label: str = ""

    def __post_init__(self) -> None:
        if self.fn not in MEASURES:
            raise UnknownMeasure(str(self.fn))
        if not self.label:
            object.__setattr__(self, "label", self.fn if self.column is None else f"{self.fn}({self.column})")

    def sql(self, source: Source) -> str:
        if self.column is None:
            if self.fn != COUNT:
                raise UnknownMeasure(self.fn)
            return "count(*)"
        column = source.column(self.column)
        ref = column.ref
        if self.fn in NUMERIC_MEASURES and not column.is_numeric:
            raise InvalidOperatorForType(op=self.fn, name=column.name, type_=column.type)
        if self.fn == COUNT_TRUE:
            if column.type != BOOLEAN:
                raise InvalidOperatorForType(op=self.fn, name=column.name, type_=column.type)
            return f"count(*) FILTER (WHERE {ref})"
        if self.fn == COUNT_DISTINCT:
            return f"count(DISTINCT {ref})"
        return {COUNT: "count({})", SUM: "sum({})", AVG: "avg({})", MIN: "min({})", MAX: "max({})"}[self.fn].format(ref)


@dataclass(frozen=True)
class GroupBy:
    column: str
    bucket: str | None = None  # day / week / month, for date and datetime columns

    def __post_init__(self) -> None:
        if self.bucket is not None and self.bucket not in BUCKETS:
            raise UnknownBucket(str(self.bucket))

    @property
    def label(self) -> str:
        return self.column if self.bucket is None else f"{self.column} ({self.bucket})"

    def sql(self, source: Source) -> str:
        column = source.column(self.column)
        if self.bucket is None:
            return column.ref
        if column.type not in (DATE, DATETIME):
            raise InvalidOperatorForType(op=self.bucket, name=column.name, type_=column.type)
        return f"CAST(date_trunc('{BUCKETS[self.bucket]}', {column.ref}) AS DATE)"


@dataclass(frozen=True)
class Sort:
    key: str
    descending: bool = False

    @classmethod
    def parse(cls, text: str) -> Sort:
        """`"-revenue"` → descending on "revenue" (the URL form of a sort)."""
        text = str(text)
        return cls(text[1:], True) if text.startswith("-") else cls(text, False)


@dataclass(frozen=True)
class Compiled:
    sql: str
    params: list
    columns: tuple[str, ...]


@dataclass(frozen=True)
class Result:
    columns: tuple[str, ...]
    rows: tuple[tuple, ...]

    def records(self) -> list[dict]:
        return [dict(zip(self.columns, row, strict=True)) for row in self.rows]

    def column(self, name: str) -> list:
        index = self.columns.index(name)
        return [row[index] for row in self.rows]


@dataclass(frozen=True)
class Query:
    """What to read: filters, then either rows (`select`) or groups (`group_by` + `measures`),
    sorted, paged. Strings are accepted for group_by and sort entries ("-col" = descending)."""

    source: Source
    filters: FilterSet = field(default_factory=FilterSet)
    measures: tuple[Measure, ...] = ()
    group_by: tuple[GroupBy, ...] = ()
    select: tuple[str, ...] = ()
    sort: tuple[Sort, ...] = ()
    limit: int | None = None
    offset: int = 0
    as_text: bool = False  # row queries only: every selected value cast to text (what a search matches)

    def __post_init__(self) -> None:
        object.__setattr__(self, "measures", tuple(self.measures))
        object.__setattr__(self, "group_by", tuple(g if isinstance(g, GroupBy) else GroupBy(g) for g in self.group_by))
        object.__setattr__(self, "select", tuple(self.select))
        object.__setattr__(self, "sort", tuple(s if isinstance(s, Sort) else Sort.parse(s) for s in self.sort))
        for value in (self.limit, self.offset):
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 0):
                raise InvalidLimit
        if (self.limit is not None and self.limit > MAX_LIMIT) or self.offset > MAX_LIMIT * 100:
            raise InvalidLimit

    @property
    def is_aggregate(self) -> bool:
        return bool(self.measures or self.group_by)

    def compile(self) -> Compiled:
        source = self.source
        relation, params = source.relation(row_ids=not self.is_aggregate)
        where, where_params = self.filters.compile(source)
        params += where_params
        if self.is_aggregate:
            return self._compile_aggregate(relation, where, params)
        names = self.select or tuple(source.names)
        columns = [source.column(n) for n in names]
        order = []
        for s in self.sort:
            if not source.has(s.key):
                raise UnknownSortKey(s.key)
            order.append(f"{source.column(s.key).ref} {'DESC' if s.descending else 'ASC'} NULLS LAST")
        # Ties keep file order, so pages never overlap or skip rows.
        order.append("filename ASC, file_row_number ASC")
        refs = [f"CAST({c.ref} AS VARCHAR)" if self.as_text else c.ref for c in columns]
        sql = f"SELECT {', '.join(refs)} FROM {relation} WHERE {where} ORDER BY {', '.join(order)}"  # noqa: S608 - identifiers are internal aliases
        sql, params = self._page(sql, params)
        return Compiled(sql, params, tuple(names))

    def _compile_aggregate(self, relation: str, where: str, params: list) -> Compiled:
        source = self.source
        labels = [g.label for g in self.group_by] + [m.label for m in self.measures]
        if len(set(labels)) != len(labels):
            raise QueryError("Duplicate output names in the query.")
        select = [f"{g.sql(source)} AS {_alias('g', i)}" for i, g in enumerate(self.group_by)]
        select += [f"{m.sql(source)} AS {_alias('m', i)}" for i, m in enumerate(self.measures)]
        alias_of = {g.label: _alias("g", i) for i, g in enumerate(self.group_by)}
        alias_of.update({m.label: _alias("m", i) for i, m in enumerate(self.measures)})
        order = []
        for s in self.sort:
            if s.key not in alias_of:
                raise UnknownSortKey(s.key)
            order.append(f"{alias_of[s.key]} {'DESC' if s.descending else 'ASC'} NULLS LAST")
        order += [f"{_alias('g', i)} ASC NULLS LAST" for i in range(len(self.group_by))]
        sql = f"SELECT {', '.join(select)} FROM {relation} WHERE {where}"  # noqa: S608 - internal aliases only
        if self.group_by:
            sql += " GROUP BY " + ", ".join(_alias("g", i) for i in range(len(self.group_by)))
        if order:
            sql += " ORDER BY " + ", ".join(order)
        sql, params = self._page(sql, params)
        return Compiled(sql, params, tuple(labels))

    def _page(self, sql: str, params: list) -> tuple[str, list]:
        if self.limit is not None:
            sql += " LIMIT ?"
            params = [*params, self.limit]
        if self.offset:
            sql += " OFFSET ?"
            params = [*params, self.offset]
        return sql, params

    def canonical(self) -> dict:
        """Everything that decides the answer, normalised (the cache key's payload)."""
        source = self.source
        return {
            "filters": self.filters.canonical(source),
            "measures": [(m.fn, m.column, m.label) for m in self.measures],
            "group_by": [(g.column, g.bucket) for g in self.group_by],
            "select": list(self.select),
            "sort": [(s.key, s.descending) for s in self.sort],
            "limit": self.limit,
            "offset": self.offset,
            **({"as_text": True} if self.as_text else {}),
        }


def _alias(prefix: str, index: int) -> str:
    return f'"{prefix}{int(index)}"'


def run_sql(sql: str, params: list) -> list[tuple]:
    """Execute one compiled statement on this thread's connection (engine-internal)."""
    return connection().execute(sql, params).fetchall()


def execute(query: Query, *, workspace_id: int, cache: ResultCache | None = None) -> Result:
    """Run `query`; results are cached per (workspace, source files, canonical query).

    `cache=None` uses the default cache (Django's when configured); pass `NullCache()` to bypass.
    """
    compiled = query.compile()  # validates before any cache lookup: bad input fails the same way twice

    def compute() -> Result:
        return Result(compiled.columns, tuple(run_sql(compiled.sql, compiled.params)))

    return cached(
        cache=cache,
        workspace_id=workspace_id,
        fingerprints=[query.source.fingerprint()],
        kind="query",
        payload=query.canonical(),
        compute=compute,
    )


def counts_query(source: Source, column: str, *, filters: FilterSet | None = None) -> Query:
    """Rows per value of `column`, most rows first, ties by value. Chart distributions, the filter
    panel's counts and the KPIs' splits all ask exactly this, so they share one cache entry."""
    return Query(
        source=source,
        filters=filters or FilterSet(),
        measures=(Measure(COUNT, label="count"),),
        group_by=(GroupBy(column),),
        sort=("-count",),
    )


def count_rows(query: Query, *, workspace_id: int, cache: ResultCache | None = None) -> int:
    """How many rows `query`'s filters keep (for paging; ignores sort, limit and offset)."""
    total = Query(source=query.source, filters=query.filters, measures=(Measure(COUNT, label="rows"),))
    return execute(total, workspace_id=workspace_id, cache=cache).rows[0][0]


# --- several aggregate queries in one scan -------------------------------------------------------
def execute_many(queries: list[Query], *, workspace_id: int, cache: ResultCache | None = None) -> list[Result]:
    """The results of several aggregate queries over the same rows (same source, same filters),
    computed in one scan, each cached under exactly the key `execute(query)` uses.

    A dashboard page asks a dozen group-bys of the same filtered rows (a chart per column, the time
    series, the filter panel's counts); each costs a full decode of its columns, so one GROUPING SETS
    pass over all of them replaces a dozen scans. Each query's rows are then picked out by their
    grouping set, sorted in Python exactly as its own ORDER BY would (sort keys, then the group
    columns, NULLS LAST), and paged. A query already in the cache is not recomputed.
    """
    if not queries:
        return []
    cache = default_cache() if cache is None else cache
    first = queries[0]
    fingerprint = first.source.fingerprint()
    filters = first.filters.canonical(first.source)
    for query in queries:
        query.compile()  # every query validated before any SQL runs, as `execute` does
        if not query.is_aggregate or query.source.fingerprint() != fingerprint:
            raise QueryError("execute_many takes aggregate queries over one source.")
        if query.filters.canonical(query.source) != filters:
            raise QueryError("execute_many takes queries with the same filters.")

    def key(query: Query) -> str:
        return cache_key(workspace_id=workspace_id, fingerprints=[fingerprint], kind="query", payload=query.canonical())

    found = {i: hit for i, q in enumerate(queries) if (hit := cache.get(key(q), _MISSING)) is not _MISSING}
    for i, hit in found.items():
        touch(cache, key(queries[i]), hit)
    # One statement per set of measures: GROUPING SETS computes every aggregate for every set, so
    # a revenue sum asked by one chart would otherwise be paid for every other column too.
    by_measures: dict[tuple, list[int]] = {}
    for i, query in enumerate(queries):
        if i not in found:
            by_measures.setdefault(tuple(sorted({(m.fn, m.column or "") for m in query.measures})), []).append(i)
    for indexes in by_measures.values():
        if len(indexes) == 1:
            found[indexes[0]] = execute(queries[indexes[0]], workspace_id=workspace_id, cache=cache)
            continue
        for i, result in zip(indexes, _grouped([queries[i] for i in indexes]), strict=True):
            store(cache, key(queries[i]), result)
            found[i] = result
    return [found[i] for i in range(len(queries))]


_MISSING = object()


def _grouped(queries: list[Query]) -> list[Result]:
    """One GROUPING SETS statement answering every query (all aggregate, same source and filters)."""
    source = queries[0].source
    relation, params = source.relation()
    where, where_params = queries[0].filters.compile(source)
    groups: dict[tuple, str] = {}  # (column, bucket) -> alias
    measures: dict[tuple, str] = {}  # (fn, column) -> alias
    select: list[str] = []
    for query in queries:
        for g in query.group_by:
            if (g.column, g.bucket) not in groups:
                groups[(g.column, g.bucket)] = _alias("e", len(groups))
                select.append(f"{g.sql(source)} AS {groups[(g.column, g.bucket)]}")
    for query in queries:
        for m in query.measures:
            if (m.fn, m.column) not in measures:
                measures[(m.fn, m.column)] = _alias("a", len(measures))
                select.append(f"{m.sql(source)} AS {measures[(m.fn, m.column)]}")
    group_aliases = list(groups.values())
    sets = list(dict.fromkeys(tuple(groups[(g.column, g.bucket)] for g in q.group_by) for q in queries))
    flags = [f"GROUPING({a})" for a in group_aliases] if group_aliases else []
    grouping = ", ".join("(" + ", ".join(s) + ")" for s in sets)
    sql = f"SELECT {', '.join(flags + select)} FROM {relation} WHERE {where}"  # noqa: S608 - internal aliases only
    if group_aliases:
        sql += f" GROUP BY GROUPING SETS ({grouping})"
    width = len(flags)
    # A row's grouping set, from its GROUPING() flags, in the order of `group_aliases`.
    canonical = {s: tuple(a for a in group_aliases if a in s) for s in sets}
    rows_by_set: dict[tuple, list[tuple]] = {c: [] for c in canonical.values()}
    value_index = {alias: width + i for i, alias in enumerate(group_aliases + list(measures.values()))}
    for row in run_sql(sql, [*params, *where_params]):
        grouped = tuple(a for a, flag in zip(group_aliases, row[:width], strict=True) if flag == 0)
        rows_by_set[grouped].append(row)
    results = []
    for query in queries:
        wanted = tuple(groups[(g.column, g.bucket)] for g in query.group_by)
        picks = [value_index[a] for a in wanted] + [value_index[measures[(m.fn, m.column)]] for m in query.measures]
        rows = [tuple(row[i] for i in picks) for row in rows_by_set[canonical[wanted]]]
        labels = [g.label for g in query.group_by] + [m.label for m in query.measures]
        order = [(labels.index(s.key), s.descending) for s in query.sort]
        order += [(i, False) for i in range(len(query.group_by))]
        rows.sort(key=functools.cmp_to_key(functools.partial(_compare, order)))
        end = None if query.limit is None else query.offset + query.limit
        results.append(Result(tuple(labels), tuple(rows[query.offset : end])))
    return results


def _compare(order: list[tuple[int, bool]], a: tuple, b: tuple) -> int:
    """ORDER BY <keys> ... NULLS LAST, as DuckDB sorts (strings by code point, like UTF-8 bytes)."""
    for index, descending in order:
        x, y = a[index], b[index]
        if x is None or y is None:
            if x is None and y is None:
                continue
            return 1 if x is None else -1
        if x == y:
            continue
        return (1 if x < y else -1) if descending else (-1 if x < y else 1)
    return 0
