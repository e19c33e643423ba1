"""CSV, Excel and JSON writers with formula injection neutralised (SECURITY.md §3.6).

A table is a header (column names) and an iterator of row tuples of typed Python values (what
DuckDB hands back: str, int, float, Decimal, bool, date, datetime, None).

- CSV (T-CSVI-01): RFC 4180 (comma, CRLF, quotes doubled, a field quoted when it holds a comma,
  quote, CR or LF), UTF-8 with a BOM so Excel reads it as UTF-8. Every *text* cell whose first
  character is one of = + - @ TAB CR NUL gets a leading `'`, header cells included (ASVS 5.0
  1.2.10). Numbers, booleans and dates are typed values, written as they are: -5 stays -5.
- XLSX (T-CSVI-02): openpyxl write-only; every text cell is forced to data type "s" (an inline
  string), because openpyxl turns any string starting with "=" into a formula cell otherwise. So no
  cell is ever a formula, and the text is kept exactly (no prefix needed: Excel shows it as text).
- JSON (T-CSVI-03): raw values, no prefix; the response is an attachment with nosniff.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import math
from collections.abc import Callable, Iterable, Iterator
from decimal import Decimal

from django.core.serializers.json import DjangoJSONEncoder
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r", "\0")
BOM = "\ufeff"
XLSX_MAX_TEXT = 32_767  # Excel's limit on the characters of one cell
XLSX_MAX_ROWS = 1_048_576  # Excel's limit on the rows of one sheet (the header takes one)
SHEET_TITLE = "Export"
PROGRESS_EVERY = 5_000

Progress = Callable[[int], None] | None


def neutralise(text: str) -> str:
    """`text` with a leading `'` when a spreadsheet would read it as a formula."""
    return "'" + text if text.startswith(FORMULA_TRIGGERS) else text


def _plain(value) -> str:
    """A non-scalar value (a KPI split, a list) as compact JSON text."""
    return json.dumps(value, cls=DjangoJSONEncoder, ensure_ascii=False, separators=(",", ":"))


def csv_cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value) if math.isfinite(value) else ""
    if isinstance(value, (int, Decimal)):
        return str(value)
    if isinstance(value, (dt.date, dt.datetime, dt.time)):
        return value.isoformat()
    if isinstance(value, str):
        return neutralise(value)
    return neutralise(_plain(value))


class _Line:
    """A file-like object for csv.writer that hands back what was written."""

    def __init__(self) -> None:
        self.text = ""

    def write(self, text: str) -> None:
        self.text += text


def csv_chunks(header: list[str], rows: Iterable[tuple], *, progress: Progress = None) -> Iterator[bytes]:
    """The CSV as UTF-8 byte chunks (a few hundred rows each), for a streaming response or a file."""
    line = _Line()
    writer = csv.writer(line, dialect="excel", lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL)
    writer.writerow([neutralise(str(name)) for name in header])
    yield (BOM + line.text).encode()
    line.text = ""
    count = 0
    for row in rows:
        writer.writerow([csv_cell(v) for v in row])
        count += 1
        if count % 500 == 0:
            yield line.text.encode()
            line.text = ""
        if progress is not None and count % PROGRESS_EVERY == 0:
            progress(count)
    if line.text:
        yield line.text.encode()
    if progress is not None:
        progress(count)


# --- XLSX ------------------------------------------------------------------------------------------
def _xlsx_text(text: str) -> str:
    # Control characters other than TAB, LF and CR are not allowed in the XML; keep the cell readable.
    return ILLEGAL_CHARACTERS_RE.sub("\ufffd", text)[:XLSX_MAX_TEXT]


def xlsx_cell(sheet, value):
    """The value to append: text as a cell forced to an inline string, anything else as is.

    Only text can become a formula in openpyxl, so only text pays for a cell object of its own;
    dates get their number format from openpyxl.
    """
    if isinstance(value, str):
        cell = WriteOnlyCell(sheet, value=_xlsx_text(value))
        cell.data_type = "s"  # never "f": a string is a string, whatever its first character
        return cell
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).replace(tzinfo=None) if value.tzinfo is not None else value  # no zones in Excel
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if value is None or isinstance(value, (bool, int, Decimal, dt.date, dt.time)):
        return value
    return xlsx_cell(sheet, _plain(value) if isinstance(value, (list, dict, tuple)) else str(value))


def xlsx_write(path, header: list[str], rows: Iterable[tuple], *, progress: Progress = None) -> int:
    """Write the table to an .xlsx file at `path` (write-only mode: rows go straight to disk)."""
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(SHEET_TITLE)
    sheet.append([xlsx_cell(sheet, str(name)) for name in header])
    count = 0
    for row in rows:
        sheet.append([xlsx_cell(sheet, v) for v in row])
        count += 1
        if progress is not None and count % PROGRESS_EVERY == 0:
            progress(count)
    workbook.save(path)
    if progress is not None:
        progress(count)
    return count


# --- JSON ------------------------------------------------------------------------------------------
_encode = json.JSONEncoder(ensure_ascii=False, allow_nan=False).encode


def json_value(value) -> str:
    """One value as JSON text: numbers stay numbers (Decimal exactly), dates ISO strings."""
    kind = type(value)
    if kind is str or kind is int or kind is bool or value is None:
        return _encode(value)
    if kind is float:
        return repr(value) if math.isfinite(value) else "null"
    if isinstance(value, (dt.date, dt.datetime, dt.time)):
        return '"' + value.isoformat() + '"'
    if isinstance(value, Decimal):
        return str(value) if value.is_finite() else "null"
    if isinstance(value, float) and not math.isfinite(value):
        return "null"
    return json.dumps(value, cls=DjangoJSONEncoder, ensure_ascii=False)


def json_chunks(
    header: list[str],
    rows: Iterable[tuple],
    *,
    meta: dict,
    tail: Callable[[int], dict],
    progress: Progress = None,
) -> Iterator[bytes]:
    """`{...meta, "columns": [...], "rows": [[...], ...], ...tail(rows written)}`, streamed."""
    head = json.dumps({**meta, "columns": list(header)}, cls=DjangoJSONEncoder, ensure_ascii=False)
    yield (head[:-1] + ', "rows": [').encode()
    buffer: list[str] = []
    count = 0
    for row in rows:
        buffer.append(("," if count else "") + "[" + ",".join(json_value(v) for v in row) + "]")
        count += 1
        if count % 500 == 0:
            yield "\n".join(buffer).encode()
            buffer = []
        if progress is not None and count % PROGRESS_EVERY == 0:
            progress(count)
    if buffer:
        yield "\n".join(buffer).encode()
    end = json.dumps(tail(count), cls=DjangoJSONEncoder, ensure_ascii=False)
    yield ("]" + ("," + end[1:] if end != "{}" else "}")).encode()
    if progress is not None:
        progress(count)


def json_document(payload: dict) -> bytes:
    """A small document (the KPI report) encoded like Django's JsonResponse does."""
    return json.dumps(payload, cls=DjangoJSONEncoder, ensure_ascii=False).encode()
