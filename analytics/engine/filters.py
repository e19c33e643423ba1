"""Filters: a frozen, hashable filter state that compiles to a parameterised WHERE clause and
round-trips through a URL query string.

URL form (every key strict; anything else is an error, never an ORM-style lookup, T-SQL-02):

    in.<column>=v        (repeatable)  column equals one of the values
    not.<column>=v       (repeatable)  column is missing or equals none of the values
    min.<column>=x / max.<column>=y    inclusive range (numbers; dates as yyyy-mm-dd)
    null.<column>=1 / notnull.<column>=1
    q=text                             case-insensitive substring in any column

`<column>` is everything after the first dot, so any column name works (dots included).
"""

from __future__ import annotations

import datetime as dt
import decimal
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from urllib.parse import urlencode

from .errors import InvalidFilterState, InvalidOperatorForType, InvalidValue, UnknownOperator
from .schema import (
    BOOLEAN,
    DATE,
    DATETIME,
    DECIMAL,
    INTEGER,
    MONEY,
    PERCENT,
    TEMPORAL_TYPES,
    Column,
    Source,
)

IN = "in"
NOT_IN = "not_in"
RANGE = "range"
IS_NULL = "is_null"
NOT_NULL = "not_null"
OPERATORS = frozenset({IN, NOT_IN, RANGE, IS_NULL, NOT_NULL})

TRUE_WORDS = frozenset({"true", "yes", "y", "t", "1"})
FALSE_WORDS = frozenset({"false", "no", "n", "f", "0"})

SEARCH_KEY = "q"
_PREFIX_TO_OP = {"in": IN, "not": NOT_IN, "null": IS_NULL, "notnull": NOT_NULL}
_OP_TO_PREFIX = {v: k for k, v in _PREFIX_TO_OP.items()}
_FLAG_VALUES = frozenset({"1", "true", "on", "yes"})
MAX_VALUES = 1000  # one multi-select never needs more; bounds the SQL size


def coerce_value(column: Column, raw: object):
    """`raw` (a URL string or a Python value) as the Python value DuckDB compares with the column.

    Text stays exactly as given: equality is exact, case and all (T-SQL-03).
    """
    if raw is None:
        raise InvalidValue(name=column.name, value=raw, type_=column.type)
    try:
        return _coerce(column.type, raw)
    except (ValueError, TypeError, ArithmeticError):
        raise InvalidValue(name=column.name, value=raw, type_=column.type)


def _to_int(raw: object) -> int:
    if isinstance(raw, bool):
        raise TypeError
    return raw if isinstance(raw, int) else int(str(raw).strip())


def _to_float(raw: object) -> float:
    value = float(raw) if isinstance(raw, (int, float)) and not isinstance(raw, bool) else float(str(raw).strip())
    if not math.isfinite(value):
        raise ValueError
    return value


def _to_money(raw: object) -> decimal.Decimal:
    value = decimal.Decimal(str(raw).strip())
    if not value.is_finite():
        raise ValueError
    return value


def _to_bool(raw: object) -> bool:
    if isinstance(raw, bool):
        return raw
    word = str(raw).strip().lower()
    if word in TRUE_WORDS or word in FALSE_WORDS:
        return word in TRUE_WORDS
    raise ValueError


def _to_date(raw: object) -> dt.date:
    if isinstance(raw, dt.datetime):
        return raw.date()
    return raw if isinstance(raw, dt.date) else dt.date.fromisoformat(str(raw).strip())


def _to_datetime(raw: object) -> dt.date | dt.datetime:
    # A datetime column filtered by a date compares on the calendar day (see _range_sql).
    if isinstance(raw, (dt.date, dt.datetime)):
        return raw
    text = str(raw).strip()
    return dt.date.fromisoformat(text) if len(text) == 10 else dt.datetime.fromisoformat(text)


_COERCERS = {
    INTEGER: _to_int,
    DECIMAL: _to_float,
    PERCENT: _to_float,
    MONEY: _to_money,
    BOOLEAN: _to_bool,
    DATE: _to_date,
    DATETIME: _to_datetime,
}


def _coerce(col_type: str, raw: object):
    return _COERCERS.get(col_type, str)(raw)


def _canonical(value) -> str:
    """The URL / cache-key text of a coerced value."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    return str(value)


@dataclass(frozen=True)
class Filter:
    """One condition on one column. `values`: IN/NOT_IN the accepted values; RANGE (low, high)
    with None for an open end; IS_NULL/NOT_NULL nothing."""

    column: str
    op: str
    values: tuple = ()

    def __post_init__(self) -> None:
        if self.op not in OPERATORS:
            raise UnknownOperator(str(self.op))
        object.__setattr__(self, "values", tuple(self.values))

    def compile(self, source: Source) -> tuple[str, list]:
        column = source.column(self.column)
        ref = column.ref
        if self.op == IS_NULL:
            return f"{ref} IS NULL", []
        if self.op == NOT_NULL:
            return f"{ref} IS NOT NULL", []
        if self.op == RANGE:
            return _range_sql(column, self.values)
        values = [coerce_value(column, v) for v in self.values]
        if not values or len(values) > MAX_VALUES:
            raise InvalidValue(name=column.name, value=list(self.values)[:3], type_=column.type)
        placeholders = ", ".join("?" for _ in values)
        if self.op == IN:
            return f"{ref} IN ({placeholders})", values
        # NOT IN keeps rows where the column is missing: "everything except CA" includes unknown states.
        return f"({ref} IS NULL OR {ref} NOT IN ({placeholders}))", values

    def canonical(self, source: Source) -> tuple:
        """A normalised, hashable form (coerced values, sorted where order does not matter)."""
        column = source.column(self.column)
        if self.op in (IN, NOT_IN):
            values = tuple(sorted({_canonical(coerce_value(column, v)) for v in self.values}))
        elif self.op == RANGE:
            values = tuple(None if v in (None, "") else _canonical(coerce_value(column, v)) for v in self.values)
        else:
            values = ()
        return (column.name, self.op, values)


def _range_sql(column: Column, values: tuple) -> tuple[str, list]:
    if not (column.is_numeric or column.type in TEMPORAL_TYPES):
        raise InvalidOperatorForType(op=RANGE, name=column.name, type_=column.type)
    if len(values) != 2:
        raise InvalidValue(name=column.name, value=list(values), type_=column.type)
    low, high = (None if v in (None, "") else coerce_value(column, v) for v in values)
    if low is None and high is None:
        raise InvalidValue(name=column.name, value=list(values), type_=column.type)
    ref = column.ref
    if column.type == DATETIME and any(isinstance(v, dt.date) and not isinstance(v, dt.datetime) for v in (low, high)):
        # A date range over timestamps means whole days: "to 2024-03-31" includes 23:59 that day.
        ref = f"CAST({ref} AS DATE)"
        low, high = (v.date() if isinstance(v, dt.datetime) else v for v in (low, high))
    parts, params = [], []
    if low is not None:
        parts.append(f"{ref} >= ?")
        params.append(low)
    if high is not None:
        parts.append(f"{ref} <= ?")
        params.append(high)
    return "(" + " AND ".join(parts) + ")", params


def search_sql(source: Source, text: str) -> tuple[str, list]:
    """Case-insensitive substring in any column. `contains()` is a plain substring test, so `%`,
    `_` and `\\` in the text are literal characters, with no LIKE escaping to get wrong."""
    needle = text.lower()
    parts = [f"contains(lower(CAST({c.ref} AS VARCHAR)), ?)" for c in source.columns]
    return "(" + " OR ".join(parts) + ")", [needle] * len(parts)


@dataclass(frozen=True)
class FilterSet:
    """All the filters of a page (ANDed) plus the free-text search."""

    filters: tuple[Filter, ...] = ()
    search: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "filters", tuple(self.filters))
        object.__setattr__(self, "search", (self.search or "").strip())

    def __bool__(self) -> bool:
        return bool(self.filters or self.search)

    def and_(self, *filters: Filter) -> FilterSet:
        return FilterSet((*self.filters, *filters), self.search)

    def compile(self, source: Source) -> tuple[str, list]:
        """`WHERE` body (or "TRUE") and its parameters; raises for unknown columns or bad values."""
        parts, params = [], []
        for f in self.filters:
            sql, p = f.compile(source)
            parts.append(sql)
            params += p
        if self.search:
            sql, p = search_sql(source, self.search)
            parts.append(sql)
            params += p
        return (" AND ".join(parts) if parts else "TRUE"), params

    def canonical(self, source: Source) -> tuple:
        return (tuple(sorted((f.canonical(source) for f in self.filters), key=repr)), self.search)

    def on_column(self, name: str) -> list[Filter]:
        return [f for f in self.filters if f.column == name]

    # --- URL state --------------------------------------------------------------------------
    def to_pairs(self) -> list[tuple[str, str]]:
        pairs: list[tuple[str, str]] = []
        for f in self.filters:
            if f.op in (IN, NOT_IN):
                pairs += [(f"{_OP_TO_PREFIX[f.op]}.{f.column}", _canonical(v)) for v in f.values]
            elif f.op == RANGE:
                low, high = f.values
                if low not in (None, ""):
                    pairs.append((f"min.{f.column}", _canonical(low)))
                if high not in (None, ""):
                    pairs.append((f"max.{f.column}", _canonical(high)))
            else:
                pairs.append((f"{_OP_TO_PREFIX[f.op]}.{f.column}", "1"))
        if self.search:
            pairs.append((SEARCH_KEY, self.search))
        return pairs

    def to_query_string(self) -> str:
        return urlencode(self.to_pairs())

    def to_querydict(self):
        """A Django QueryDict holding the whole filter state (for links and `?{{ qs }}`)."""
        from django.http import QueryDict

        qd = QueryDict(mutable=True)
        for key, value in self.to_pairs():
            qd.appendlist(key, value)
        qd._mutable = False
        return qd

    @classmethod
    def from_querydict(cls, source: Source, data, *, ignore: Iterable[str] = ()) -> FilterSet:
        """Parse a QueryDict (or `{key: value or [values]}`) strictly against `source`'s schema.

        Keys listed in `ignore` belong to the page (page, sort, format...). Any other key that is
        not a known prefix plus a column of this dataset raises InvalidFilterState/UnknownColumn,
        and every value is checked against the column's type now, not at query time.
        """
        grouped, search = _parse_pairs(source, data, frozenset(ignore))
        filters = []
        ranges: dict[str, list] = {}
        for (prefix, name), values in grouped.items():
            if prefix in ("min", "max"):
                ranges.setdefault(name, [None, None])[0 if prefix == "min" else 1] = values[0] or None
            elif prefix in ("in", "not"):
                kept = tuple(dict.fromkeys(values))
                if len(kept) > MAX_VALUES:
                    raise InvalidFilterState(f"{prefix}.{name}")
                filters.append(Filter(name, _PREFIX_TO_OP[prefix], kept))
            else:
                filters.append(Filter(name, _PREFIX_TO_OP[prefix]))
        for name, (low, high) in ranges.items():
            column = source.column(name)
            if not (column.is_numeric or column.is_temporal):
                raise InvalidOperatorForType(op=RANGE, name=name, type_=column.type)
            if low is not None or high is not None:
                filters.append(Filter(name, RANGE, (low, high)))
        return cls(tuple(filters), search)


def _parse_pairs(source: Source, data, ignore: frozenset) -> tuple[dict[tuple[str, str], list[str]], str]:
    """Group the URL's values by (prefix, column), checking every key and value on the way."""
    grouped: dict[tuple[str, str], list[str]] = {}
    search = ""
    for key, values in _items(data):
        if key in ignore:
            continue
        if key == SEARCH_KEY:
            search = values[-1] if values else ""
            continue
        prefix, dot, name = key.partition(".")
        if not dot or prefix not in (*_PREFIX_TO_OP, "min", "max"):
            raise InvalidFilterState(key)
        column = source.column(name)  # UnknownColumn for names outside the schema
        flag = prefix in ("null", "notnull")
        if flag and not all(v.strip().lower() in _FLAG_VALUES for v in values):
            raise InvalidFilterState(key)
        if prefix in ("min", "max") and len(values) != 1:
            raise InvalidFilterState(key)
        for v in values:
            if not flag and v != "":
                coerce_value(column, v)
        grouped.setdefault((prefix, column.name), []).extend(values)
    return grouped, search


def _items(data) -> Iterable[tuple[str, list[str]]]:
    if hasattr(data, "lists"):
        yield from ((str(k), [str(v) for v in vs]) for k, vs in data.lists())
        return
    if isinstance(data, Mapping):
        for k, v in data.items():
            yield str(k), [str(x) for x in v] if isinstance(v, (list, tuple)) else [str(v)]
        return
    raise InvalidFilterState(type(data).__name__)
