"""Sources: a dataset version's Parquet file(s) plus its column schema, and the DuckDB connection.

Column names from files never reach SQL text (SECURITY.md T-SQL-04). A source reads its Parquet
through `read_parquet(?) AS t("c0", "c1", ...)`: DuckDB renames the physical columns by
position to aliases we generate, and every column the user names is looked up in the schema and
replaced by its alias. So `"; DROP`, `<b>x</b>`, blank-looking or duplicate names are just keys of
a Python dict. Aliases still go through `quote_ident` so the one quoting rule is always applied.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pyarrow.parquet as pq

from .errors import SchemaMismatch, UnknownColumn

# Engine type names (datasets/ingest/types.py).
TEXT = "text"
INTEGER = "integer"
DECIMAL = "decimal"
MONEY = "money"
PERCENT = "percent"
BOOLEAN = "boolean"
DATE = "date"
DATETIME = "datetime"
NUMERIC_TYPES = frozenset({INTEGER, DECIMAL, MONEY, PERCENT})
TEMPORAL_TYPES = frozenset({DATE, DATETIME})
KNOWN_TYPES = frozenset({TEXT, *NUMERIC_TYPES, BOOLEAN, *TEMPORAL_TYPES})


def quote_ident(name: str) -> str:
    """SQL-standard identifier quoting: wrap in double quotes, double any embedded quote."""
    if "\x00" in name:
        raise SchemaMismatch("identifier contains a NUL byte")
    return '"' + name.replace('"', '""') + '"'


@dataclass(frozen=True)
class Column:
    """One column of a source: its user-facing name, engine type, canonical field, physical index."""

    name: str
    type: str
    field: str | None
    index: int

    @property
    def ref(self) -> str:
        """The quoted internal alias to use in SQL (never the user-facing name)."""
        return quote_ident(f"c{self.index}")

    @property
    def is_numeric(self) -> bool:
        return self.type in NUMERIC_TYPES

    @property
    def is_temporal(self) -> bool:
        return self.type in TEMPORAL_TYPES


@dataclass(frozen=True)
class Source:
    """Immutable Parquet file(s) of one dataset version and the schema that describes them.

    Build it with `Source.from_schema(paths, columns)`; `columns` is `DatasetVersion.columns`
    (a list of dicts with at least `name` and `type`, optionally `field`).
    """

    paths: tuple[str, ...]
    columns: tuple[Column, ...]
    physical_width: int
    version_id: int | None = None
    _by_name: dict = field(default_factory=dict, compare=False, hash=False, repr=False)

    @classmethod
    def from_schema(
        cls,
        paths: str | Path | Sequence[str | Path],
        columns: Iterable[Mapping],
        *,
        version_id: int | None = None,
    ) -> Source:
        if isinstance(paths, (str, Path)):
            paths = [paths]
        paths = tuple(str(Path(p)) for p in paths)
        if not paths:
            raise SchemaMismatch("no Parquet file")
        physical = pq.read_schema(paths[0]).names
        # The i-th schema entry named N maps to the i-th Parquet column named N, so duplicate
        # names (which Arrow allows) still resolve one-to-one.
        positions: dict[str, list[int]] = {}
        for index, name in enumerate(physical):
            positions.setdefault(name, []).append(index)
        used: dict[str, int] = {}
        out = []
        by_name: dict[str, Column] = {}
        for spec in columns:
            name = str(spec["name"])
            col_type = str(spec.get("type") or TEXT)
            if col_type not in KNOWN_TYPES:
                raise SchemaMismatch(f"unknown type {col_type!r}")
            nth = used.get(name, 0)
            candidates = positions.get(name, [])
            if nth >= len(candidates):
                raise SchemaMismatch(f"column {name!r} is not in the file")
            used[name] = nth + 1
            column = Column(name=name, type=col_type, field=spec.get("field") or None, index=candidates[nth])
            out.append(column)
            # A user-facing duplicate name resolves to its first occurrence.
            by_name.setdefault(name, column)
        return cls(
            paths=paths, columns=tuple(out), physical_width=len(physical), version_id=version_id, _by_name=by_name
        )

    # --- lookups ----------------------------------------------------------------------------
    def column(self, name: str) -> Column:
        """The column called `name`, or UnknownColumn (the allowlist for every identifier)."""
        if not isinstance(name, str) or name not in self._by_name:
            raise UnknownColumn(str(name))
        return self._by_name[name]

    def has(self, name: str) -> bool:
        return isinstance(name, str) and name in self._by_name

    def by_field(self, field_name: str) -> Column | None:
        """The first column mapped to canonical field `field_name`, if any."""
        return next((c for c in self.columns if c.field == field_name), None)

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.columns]

    # --- SQL --------------------------------------------------------------------------------
    def relation(self, *, row_ids: bool = False) -> tuple[str, list]:
        """`FROM` text and its parameters: the Parquet path(s) are bound, columns renamed by position.

        `row_ids` adds DuckDB's `filename` and `file_row_number` columns (a stable row order).
        """
        aliases = ", ".join(quote_ident(f"c{i}") for i in range(self.physical_width))
        options = ", filename = true, file_row_number = true" if row_ids else ""
        return f"read_parquet(?{options}) AS t({aliases})", [list(self.paths)]

    def fingerprint(self) -> str:
        """Identifies the bytes behind this source: version id, paths, mtimes and sizes.

        Versions are immutable, but the mtime/size make a cache entry die with the file anyway.
        """
        parts = []
        for p in self.paths:
            st = os.stat(p)
            parts.append([p, st.st_mtime_ns, st.st_size])
        payload = json.dumps([self.version_id, parts, [[c.name, c.type, c.field, c.index] for c in self.columns]])
        return hashlib.sha256(payload.encode()).hexdigest()


# --- connection ---------------------------------------------------------------------------------
_local = threading.local()


def connection() -> duckdb.DuckDBPyConnection:
    """A per-thread, per-process in-memory DuckDB connection.

    DuckDB connections are not safe to share between threads, and one inherited through fork
    (Celery prefork, gunicorn --preload) must not be reused, hence the pid check.
    """
    con = getattr(_local, "con", None)
    if con is None or getattr(_local, "pid", None) != os.getpid():
        con = duckdb.connect(":memory:")
        # Parquet files of a version never change: caching their footers is safe and saves the
        # metadata read on every dashboard query.
        con.execute("SET parquet_metadata_cache = true")
        _local.con, _local.pid = con, os.getpid()
    return con
