"""Test helpers: small CSV text → Parquet (pyarrow, independent of the ingestion pipeline) → Source."""

from __future__ import annotations

import io
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from analytics.engine import Source

ARROW_TYPES = {
    "text": pa.string(),
    "integer": pa.int64(),
    "decimal": pa.float64(),
    "percent": pa.float64(),
    "money": pa.decimal128(18, 2),
    "boolean": pa.bool_(),
    "date": pa.date32(),
    "datetime": pa.timestamp("us"),
}
REPO_ROOT = Path(__file__).resolve().parents[2]
SHARED_DATA = REPO_ROOT.parent / "shared" / "data"


def parquet_from_csv(path: Path, text: str, schema: list[tuple[str, str, str | None]]) -> Path:
    """Write `text` (CSV with a header) to Parquet with the given (name, type, field) columns."""
    names = [name for name, _, _ in schema]
    table = pacsv.read_csv(
        io.BytesIO(text.encode()),
        read_options=pacsv.ReadOptions(column_names=names, skip_rows=1),
        convert_options=pacsv.ConvertOptions(
            column_types={name: ARROW_TYPES[t] for name, t, _ in schema},
            true_values=["true", "yes", "Yes", "1"],
            false_values=["false", "no", "No", "0"],
            strings_can_be_null=True,
            null_values=[""],
        ),
    )
    pq.write_table(table, path)
    return path


def source_from_csv(tmp_path: Path, name: str, text: str, schema: list[tuple[str, str, str | None]]) -> Source:
    path = parquet_from_csv(tmp_path / f"{name}.parquet", text, schema)
    return Source.from_schema(path, [{"name": n, "type": t, "field": f} for n, t, f in schema])
