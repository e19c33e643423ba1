"""From a stored file to records: detection of container, encoding, dialect and header, then a
streaming iterator of ``(line_number, fields, error)`` for the loader.

Memory is bounded: text is read line by line with a line-length cap; only the detection sample
(``IngestOptions.sample_bytes``) is held whole.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import io
import unicodedata
import zipfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

import python_calamine

from . import container as C
from . import errors as E
from .dialect import Dialect, Header, detect_dialect, detect_header, is_blank
from .encoding import DecodeStats, EncodingResult, detect_encoding, track_decoding, untrack_decoding
from .options import IngestOptions

Record = tuple[int, list[str] | None, str | None]
SAMPLE_RECORDS = 1000
# Share of control characters (NUL included) above which "text" is really binary.
BINARY_CONTROL_SHARE = 0.02
BINARY_NUL_SHARE = 0.10
_ALLOWED_CONTROLS = frozenset("\t\n\r\f\v")


@dataclass
class SourceStats:
    blank: int = 0
    decode: DecodeStats = field(default_factory=DecodeStats)
    stream: C.GuardedStream | None = None

    @property
    def nul(self) -> int:
        return self.decode.nul + (self.stream.nul_stripped if self.stream else 0)


@dataclass
class Prepared:
    """The result of sniffing: enough to show a preview and to start the full load."""

    container: C.Container
    header: Header
    records: list[list[str]]  # first non-blank records of the file (header and metadata included)
    sample_complete: bool  # the sample is the whole file
    encoding: EncodingResult | None = None
    dialect: Dialect | None = None
    sheet: str | None = None
    sheet_names: list[str] = field(default_factory=list)
    header_line: int | None = None  # 1-based physical line (or sheet row) of the header
    record_lines: list[int] = field(default_factory=list)
    warnings: list[E.IngestWarning] = field(default_factory=list)


# --- text ------------------------------------------------------------------------------------
def _read_sample(container: C.Container, size: int) -> tuple[bytes, bool]:
    with container.open() as stream:
        data = stream.read(size)
        complete = len(data) < size or not stream.read(1)
    return data, complete


def _check_binary(text: str) -> None:
    """Refuse decoded text that is mostly control characters. NUL bytes are judged apart (a few
    stray NULs are stripped and reported, not fatal)."""
    probe = text[:65536]
    if not probe:
        return
    nul = probe.count("\x00")
    controls = sum(
        1 for ch in probe if ch != "\x00" and ch not in _ALLOWED_CONTROLS and unicodedata.category(ch) == "Cc"
    )
    if controls > BINARY_CONTROL_SHARE * len(probe) or nul > BINARY_NUL_SHARE * len(probe):
        raise E.IngestError(E.BINARY_CONTENT)


def _decode_sample(sample: bytes, encoding: EncodingResult, complete: bool) -> str:
    stats = DecodeStats()
    token = track_decoding(stats)
    try:
        decoder = codecs.getincrementaldecoder(encoding.codec)(encoding.errors)
        return decoder.decode(sample, final=complete)
    finally:
        untrack_decoding(token)


def _sample_lines(text: str) -> Iterator[str]:
    """Physical lines (\\n, \\r\\n or \\r), as csv reads them from a file opened with newline=''."""
    return iter(io.StringIO(text, newline=""))


def _csv_records(lines: Iterable[str], dialect: Dialect, stats: SourceStats) -> Iterator[Record]:
    """``(first line of the record, fields, None)`` per record, or ``(line, None, error)`` for a
    record csv refuses; blank records are counted and skipped. This is the hot loop: keep it lean."""
    reader = csv.reader(lines, **dialect.csv_kwargs())
    previous = 0
    while True:
        try:
            for row in reader:
                start = previous + 1
                previous = reader.line_num
                first = row[0] if row else ""
                if (first and not first.isspace()) or not is_blank(row):
                    yield start, row, None
                else:
                    stats.blank += 1
            return
        except csv.Error as exc:
            start, previous = previous + 1, reader.line_num
            yield start, None, str(exc)


def _prepare_text(container: C.Container, options: IngestOptions) -> Prepared:
    sample, complete = _read_sample(container, options.sample_bytes)
    if not sample.strip(b" \t\r\n\x00"):
        raise E.IngestError(E.EMPTY_FILE if not sample else E.NO_DATA)
    encoding = detect_encoding(sample, complete=complete, override=options.encoding)
    text = _decode_sample(sample, encoding, complete)
    _check_binary(text)
    text = text.replace("\x00", "")
    if not text.strip():
        raise E.IngestError(E.NO_DATA)
    if not complete and "\n" not in text and "\r" not in text:
        # Not one line break in the whole sample: a giant line (or binary); don't parse it.
        raise E.IngestError(E.FIELD_TOO_LARGE, C.human_bytes(len(sample)))
    dialect = detect_dialect(
        text[: options.dialect_sample_bytes],
        delimiter=options.delimiter,
        quotechar=options.quotechar,
        escapechar=options.escapechar,
    )
    rows: list[list[str]] = []
    lines: list[int] = []
    for number, row, _error in _csv_records(_sample_lines(text), dialect, SourceStats()):
        if row is not None:
            rows.append(row)
            lines.append(number)
        if len(rows) > SAMPLE_RECORDS:
            break
    if not complete and len(rows) > 1:
        rows, lines = rows[:-1], lines[:-1]  # the sample may end inside the last record
    if not rows:
        raise E.IngestError(E.NO_DATA)
    header = detect_header(rows, has_header=options.has_header, header_row=options.header_row)
    warnings = []
    if encoding.confidence == "low" and not encoding.mixed:
        warnings.append(E.IngestWarning.make(E.W_ENCODING_UNCERTAIN, encoding.name))
    return Prepared(
        container=container,
        header=header,
        records=rows,
        sample_complete=complete,
        encoding=encoding,
        dialect=dialect,
        header_line=lines[header.index],
        record_lines=lines,
        warnings=warnings,
    )


def _open_text_records(prepared: Prepared, options: IngestOptions, stats: SourceStats):
    assert prepared.encoding is not None and prepared.dialect is not None
    # NUL bytes are stripped on the byte stream for ASCII-compatible encodings (fast), and line
    # length is capped there too, before the text layer could buffer an endless line.
    ascii_compatible = not prepared.encoding.codec.startswith(("utf-16", "utf-32"))
    stream = prepared.container.open(strip_nul=ascii_compatible, max_line_bytes=options.limits.max_field_bytes)
    buffered = io.BufferedReader(stream, buffer_size=1 << 20)
    text = io.TextIOWrapper(buffered, encoding=prepared.encoding.codec, errors=prepared.encoding.errors, newline="")
    # Process-wide setting in the csv module; only ever raised, never lowered.
    csv.field_size_limit(max(csv.field_size_limit(), options.limits.max_field_bytes))
    stats.stream = stream
    lines = text if ascii_compatible else _strip_nul_lines(text, stats)
    records = _csv_records(lines, prepared.dialect, stats)
    return records, stream, text.close


def _strip_nul_lines(text: io.TextIOBase, stats: SourceStats) -> Iterator[str]:
    for line in text:
        if "\x00" in line:
            stats.decode.nul += line.count("\x00")
            yield line.replace("\x00", "")
        else:
            yield line


# --- spreadsheets ----------------------------------------------------------------------------
def _cell(value: object) -> str:
    """Spreadsheet cell -> the text a CSV export would hold (so one type inference serves both)."""
    if value is None or value == "":
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() and abs(value) < 1e15 else repr(value)
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    return str(value)


def _open_workbook(container: C.Container) -> python_calamine.CalamineWorkbook:
    try:
        return python_calamine.CalamineWorkbook.from_path(str(container.path))
    except Exception as exc:  # calamine raises several unrelated types for damaged files
        raise E.IngestError(E.SPREADSHEET_UNREADABLE, type(exc).__name__) from exc


def _choose_sheet(workbook, wanted: str | int | None):
    names = list(workbook.sheet_names)
    if not names:
        raise E.IngestError(E.SPREADSHEET_UNREADABLE, "no sheets")
    try:
        if isinstance(wanted, str):
            return workbook.get_sheet_by_name(wanted), names
        return workbook.get_sheet_by_index(wanted or 0), names
    except Exception as exc:
        raise E.IngestError(E.SHEET_NOT_FOUND, repr(wanted)) from exc


def _sheet_records(sheet, stats: SourceStats) -> Iterator[Record]:
    for number, row in enumerate(sheet.iter_rows(), start=1):
        cells = [_cell(value) for value in row]
        if is_blank(cells):
            stats.blank += 1
            continue
        yield number, cells, None


def _has_formulas(container: C.Container) -> bool:
    """xlsx only: does any worksheet hold a formula (<f> element)? Streams, bounded by the limits."""
    if container.kind != C.XLSX:
        return False
    with zipfile.ZipFile(container.path) as archive:
        for info in archive.infolist():
            if info.filename.startswith("xl/worksheets/") and info.filename.endswith(".xml"):
                with archive.open(info) as member:
                    tail = b""
                    while chunk := member.read(1 << 20):
                        if b"<f>" in tail + chunk or b"<f " in tail + chunk:
                            return True
                        tail = chunk[-3:]
    return False


def _prepare_sheet(container: C.Container, options: IngestOptions) -> Prepared:
    workbook = _open_workbook(container)
    sheet, names = _choose_sheet(workbook, options.sheet)
    rows: list[list[str]] = []
    lines: list[int] = []
    stats = SourceStats()
    for number, cells, _ in _sheet_records(sheet, stats):
        rows.append(cells or [])
        lines.append(number)
        if len(rows) >= SAMPLE_RECORDS:
            break
    if not rows:
        raise E.IngestError(E.NO_DATA)
    header = detect_header(rows, has_header=options.has_header, header_row=options.header_row)
    warnings = []
    if len(names) > 1:
        warnings.append(E.IngestWarning.make(E.W_MULTIPLE_SHEETS, ", ".join(names)))
    if _has_formulas(container):
        warnings.append(E.IngestWarning.make(E.W_FORMULAS_CACHED))
    return Prepared(
        container=container,
        header=header,
        records=rows,
        sample_complete=len(rows) < SAMPLE_RECORDS,
        sheet=sheet.name,
        sheet_names=names,
        header_line=lines[header.index],
        record_lines=lines,
        warnings=warnings,
    )


def _open_sheet_records(prepared: Prepared, options: IngestOptions, stats: SourceStats):
    workbook = _open_workbook(prepared.container)
    sheet, _ = _choose_sheet(workbook, prepared.sheet)
    return _sheet_records(sheet, stats), None, workbook.close


# --- public ----------------------------------------------------------------------------------
def prepare(path, options: IngestOptions) -> Prepared:
    """Sniff a stored file: container, encoding, dialect, header (raises IngestError)."""
    container = C.detect_container(path, options.limits)
    prepared = _prepare_sheet(container, options) if container.is_spreadsheet else _prepare_text(container, options)
    if prepared.header.width > options.limits.max_columns:
        raise E.IngestError(E.TOO_MANY_COLUMNS, prepared.header.width)
    return prepared


def open_records(
    prepared: Prepared, options: IngestOptions, stats: SourceStats
) -> tuple[Iterator[Record], Callable[[], int], Callable[[], int], Callable[[], None]]:
    """(records, stored bytes read so far, decompressed bytes so far, close)."""
    if prepared.container.is_spreadsheet:
        records, _stream, close = _open_sheet_records(prepared, options, stats)
        size = prepared.container.size_bytes
        return records, lambda: size, lambda: size, close
    records, stream, close = _open_text_records(prepared, options, stats)
    return records, lambda: stream.progress_bytes, lambda: stream.produced, close
