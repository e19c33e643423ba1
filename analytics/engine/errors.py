"""Errors the engine raises for bad input. Pages turn every `QueryError` into a 400.

Messages are module constants so tests and pages can match on them; they name the offending
column or key (already known to be the user's own input or schema), never SQL.
"""

from __future__ import annotations

UNKNOWN_COLUMN = "Unknown column: {name!r}."
UNKNOWN_OPERATOR = "Unknown filter operator: {op!r}."
UNKNOWN_SORT_KEY = "Unknown sort key: {key!r}."
UNKNOWN_MEASURE = "Unknown measure: {fn!r}."
UNKNOWN_BUCKET = "Unknown time bucket: {bucket!r}."
BAD_VALUE = "Invalid value {value!r} for column {name!r} ({type})."
BAD_FILTER_STATE = "Invalid filter parameter: {key!r}."
BAD_LIMIT = "Invalid limit or offset."
BAD_OPERATOR_FOR_TYPE = "Operator {op!r} does not apply to column {name!r} ({type})."
BAD_SCHEMA = "The dataset schema does not match its Parquet file: {detail}."
BAD_COMBO_SETTINGS = "Invalid combos settings: {detail}."


class QueryError(ValueError):
    """Base class: the request asked for something the dataset or the engine does not allow."""


class UnknownColumn(QueryError):
    def __init__(self, name: str) -> None:
        super().__init__(UNKNOWN_COLUMN.format(name=name))
        self.name = name


class UnknownOperator(QueryError):
    def __init__(self, op: str) -> None:
        super().__init__(UNKNOWN_OPERATOR.format(op=op))
        self.op = op


class UnknownSortKey(QueryError):
    def __init__(self, key: str) -> None:
        super().__init__(UNKNOWN_SORT_KEY.format(key=key))
        self.key = key


class UnknownMeasure(QueryError):
    def __init__(self, fn: str) -> None:
        super().__init__(UNKNOWN_MEASURE.format(fn=fn))


class UnknownBucket(QueryError):
    def __init__(self, bucket: str) -> None:
        super().__init__(UNKNOWN_BUCKET.format(bucket=bucket))


class InvalidValue(QueryError):
    def __init__(self, *, name: str, value: object, type_: str) -> None:
        super().__init__(BAD_VALUE.format(value=value, name=name, type=type_))


class InvalidOperatorForType(QueryError):
    def __init__(self, *, op: str, name: str, type_: str) -> None:
        super().__init__(BAD_OPERATOR_FOR_TYPE.format(op=op, name=name, type=type_))


class InvalidFilterState(QueryError):
    def __init__(self, key: str) -> None:
        super().__init__(BAD_FILTER_STATE.format(key=key))
        self.key = key


class InvalidLimit(QueryError):
    def __init__(self) -> None:
        super().__init__(BAD_LIMIT)


class SchemaMismatch(QueryError):
    def __init__(self, detail: str) -> None:
        super().__init__(BAD_SCHEMA.format(detail=detail))


class InvalidComboSettings(QueryError):
    def __init__(self, detail: str) -> None:
        super().__init__(BAD_COMBO_SETTINGS.format(detail=detail))
