"""Caller-tunable knobs of the engine. Every limit is a parameter so tests can set them low."""

from __future__ import annotations

from dataclasses import dataclass, field

GIB = 1 << 30
MIB = 1 << 20

DEFAULT_MISSING_MARKERS = frozenset({"", "na", "n/a", "nan", "null", "none", "?", "-", "unknown", "#n/a"})


@dataclass(frozen=True)
class Limits:
    max_file_bytes: int = 2 * GIB + 1024  # stored size; the upload layer enforces it first
    max_decompressed_bytes: int = 10 * GIB
    # Real CSVs compress 5-30x; 200x only happens with absurdly repetitive content or bombs.
    max_compression_ratio: float = 200.0
    # The ratio is only judged after this many output bytes, so tiny files never trip it.
    ratio_grace_bytes: int = 8 * MIB
    max_zip_entries: int = 1000
    max_columns: int = 5000
    max_field_bytes: int = 16 * MIB


@dataclass(frozen=True)
class IngestOptions:
    """What the user (or the review page) may force; ``None`` means detect."""

    encoding: str | None = None
    delimiter: str | None = None
    quotechar: str | None = None
    escapechar: str | None = None
    has_header: bool | None = None
    header_row: int | None = None  # 0-based row index of the header among parsed rows
    sheet: str | int | None = None  # name or 0-based index; default the first sheet
    kind: str | None = None
    column_types: dict[str, str] = field(default_factory=dict)  # column name -> type name
    date_order: str = "auto"  # "auto" | "mdy" | "dmy"; ambiguous columns fall back to mdy (US product)
    missing_markers: frozenset[str] = DEFAULT_MISSING_MARKERS
    keep_duplicates: bool = False
    limits: Limits = field(default_factory=Limits)
    sample_bytes: int = 2 * MIB  # encoding + type sample
    dialect_sample_bytes: int = 64 * 1024  # CleverCSV is quadratic-ish: keep this small
    chunk_rows: int = 65_536
    max_rejected_line_numbers: int = 100
    max_rejected_rows_saved: int = 100_000
    progress_every_rows: int = 65_536
    duckdb_memory_limit: str = "512MB"
    # Plain UTF-8 text: decide the types from the first chunk and write the final Parquet while
    # reading, proving at the end that the two-pass load would give the same result (else it
    # runs the two-pass load from scratch). Off: always two passes.
    single_pass: bool = True
