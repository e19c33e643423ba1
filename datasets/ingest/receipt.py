"""The import receipt: everything the user needs to know about what happened to their rows."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

from .errors import IngestWarning


@dataclass
class ColumnReceipt:
    name: str
    type: str
    format: str | None
    description: str
    null_count: int
    null_rate: float
    field: str | None = None  # canonical field from the mapping, if any
    source: str | None = None  # for derived columns (age_range from age)


@dataclass
class Receipt:
    rows_read: int = 0
    rows_loaded: int = 0
    rows_rejected: int = 0
    rejected_reasons: dict[str, int] = field(default_factory=dict)
    rejected_line_numbers: list[int] = field(default_factory=list)  # the first N, ascending
    rejected_examples: list[dict[str, Any]] = field(default_factory=list)
    rejected_rows_file: str | None = None
    duplicates_found: int = 0
    duplicates_removed: int = 0
    blank_lines: int = 0
    container: str = ""
    inner_name: str | None = None
    sheet: str | None = None
    sheet_names: list[str] = field(default_factory=list)
    encoding: str | None = None
    encoding_confidence: str | None = None
    delimiter: str | None = None
    quotechar: str | None = None  # the one used to parse ("" = quotes are literal text)
    escapechar: str | None = None
    header_row: int | None = None  # 1-based line (or sheet row) of the header
    has_header: bool = True
    lines_skipped_above_header: int = 0
    kind: str = "custom"
    columns: list[ColumnReceipt] = field(default_factory=list)
    warnings: list[IngestWarning] = field(default_factory=list)
    bytes_read: int = 0
    decompressed_bytes: int = 0
    elapsed_seconds: float = 0.0

    @property
    def warning_codes(self) -> set[str]:
        return {w.code for w in self.warnings}

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def to_json(self, **kwargs: Any) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False, **kwargs)
