"""Fast look at a file for the review page: dialect, header, column types on a sample, mapping."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa

from . import errors as E
from . import types as T
from .mapping import ColumnFacts, MappingProposal, propose_mapping
from .options import IngestOptions
from .source import prepare

PREVIEW_ROWS = 20


@dataclass
class SniffColumn:
    name: str
    type: str
    format: str | None
    description: str
    null_rate: float
    samples: list[str]
    field: str | None
    field_confidence: float


@dataclass
class SniffResult:
    container: str
    inner_name: str | None
    sheet: str | None
    sheet_names: list[str]
    encoding: str | None
    encoding_confidence: str | None
    delimiter: str | None
    quotechar: str | None  # as detected from the sample ("" = none seen)
    parse_quotechar: str | None  # what the load will use
    escapechar: str | None
    has_header: bool
    header_row: int | None  # 1-based line or sheet row
    lines_skipped_above_header: int
    kind: str
    mapping_confident: bool
    columns: list[SniffColumn]
    preview: list[list[str]]
    sample_rows: int
    warnings: list[E.IngestWarning] = field(default_factory=list)
    mapping: MappingProposal | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def sniff_file(path: str | Path, options: IngestOptions | None = None) -> SniffResult:
    """Detect everything about ``path`` from its first records (raises IngestError if refused)."""
    options = options or IngestOptions()
    prepared = prepare(path, options)
    header = prepared.header
    start = header.index + (1 if header.has_header else 0)
    data = [row for row in prepared.records[start:] if len(row) == header.width]
    markers = pa.array(sorted(options.missing_markers | {""}), pa.string())
    comma_hint = bool(prepared.dialect and prepared.dialect.delimiter == ";")
    columns: list[SniffColumn] = []
    facts: list[ColumnFacts] = []
    for i, name in enumerate(header.names):
        tracker = T.ColumnTracker(name, markers)
        tracker.update(pa.array([row[i] for row in data], pa.string()))
        ct = tracker.decide(date_order=options.date_order, decimal_comma_hint=comma_hint)
        if options.column_types.get(name) and options.column_types[name] != ct.type:
            ct = tracker.best_partial(options.column_types[name])
        binary01 = ct.type == T.INTEGER and tracker.only01 and tracker.matches_all(T.BOOLEAN)
        facts.append(ColumnFacts(name, ct, binary01, tracker.matches_all("email"), tuple(tracker.samples)))
        rate = round(tracker.missing / tracker.rows, 4) if tracker.rows else 0.0
        columns.append(SniffColumn(name, ct.type, ct.format, ct.description, rate, list(tracker.samples), None, 0.0))
    proposal = propose_mapping(facts, kind=options.kind)
    for column, proposed in zip(columns, proposal.columns, strict=True):
        column.field, column.field_confidence = proposed.field, proposed.confidence
    dialect = prepared.dialect
    warnings = list(prepared.warnings)
    if not header.has_header:
        warnings.append(E.IngestWarning.make(E.W_NO_HEADER))
    if header.index:
        warnings.append(E.IngestWarning.make(E.W_METADATA_LINES_SKIPPED, header.index, count=header.index))
    return SniffResult(
        container=prepared.container.kind,
        inner_name=prepared.container.inner_name,
        sheet=prepared.sheet,
        sheet_names=prepared.sheet_names,
        encoding=prepared.encoding.name if prepared.encoding else None,
        encoding_confidence=prepared.encoding.confidence if prepared.encoding else None,
        delimiter=dialect.delimiter if dialect else None,
        quotechar=dialect.quotechar if dialect else None,
        parse_quotechar=dialect.parse_quotechar if dialect else None,
        escapechar=dialect.escapechar if dialect else None,
        has_header=header.has_header,
        header_row=prepared.header_line if header.has_header else None,
        lines_skipped_above_header=header.index,
        kind=proposal.kind,
        mapping_confident=proposal.confident,
        columns=columns,
        preview=data[:PREVIEW_ROWS],
        sample_rows=len(data),
        warnings=warnings,
        mapping=proposal,
    )
