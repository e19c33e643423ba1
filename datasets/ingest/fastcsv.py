"""Native fast path for pass 1: Arrow's multi-threaded CSV parser instead of Python's csv module.

It must give exactly what the Python path gives (same records, same physical line numbers, same
blank-line and wrong-field-count handling), so it only runs where that is provable and hands
over to the Python path (:class:`Fallback`) the moment it is not:

- UTF-8 text (invalid bytes are read as Windows-1252 by the Python path: Arrow refuses them, so
  the first invalid byte means fallback), a one-character delimiter, no escape character, no
  ``skipinitialspace`` (Arrow has no such option);
- every record on one physical line: line numbers are then counted, not parsed. A block holding
  the quote character has each line that contains it checked against the strict-CSV grammar
  (what ``csv.reader(strict=True)`` accepts); a quoted newline, a stray character after a
  closing quote or an unterminated quote all fail that check -> fallback;
- line breaks ``\\n`` or ``\\r\\n`` (a lone ``\\r`` ends a line for Python but not our counter).

Rows Arrow refuses (wrong field count) come back through ``invalid_row_handler`` and are then
judged by Python's csv exactly as the Python path judges them (blank, trailing empty fields,
reject). They are rare, so that costs nothing on healthy files.
"""

from __future__ import annotations

import codecs
import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pcsv

from .dialect import is_blank
from .source import Prepared, _csv_records

READ_BYTES = 16 << 20  # bytes handed to Arrow per parse
# One Arrow block per read: small blocks cost twice the CPU, and a single chunk per column lets
# the loader cut its batches without copying. Parallelism comes from the loader's pool instead.
ARROW_BLOCK = 4 * READ_BYTES
# str.strip()'s whitespace, so "blank" means exactly what dialect.is_blank means.
PY_WHITESPACE = "".join(chr(c) for c in range(0x110000) if chr(c).isspace())
UTF8_BOM = codecs.BOM_UTF8


class Fallback(Exception):
    """The fast path cannot guarantee the Python path's result for this file."""


def ineligible(prepared: Prepared) -> str | None:
    """Why the fast path cannot take this file, or None when it can try."""
    if prepared.container.is_spreadsheet or prepared.encoding is None or prepared.dialect is None:
        return "not delimited text"
    encoding, dialect = prepared.encoding, prepared.dialect
    if encoding.codec not in ("utf-8", "utf-8-sig") or encoding.mixed:
        return f"encoding {encoding.codec}"
    if len(dialect.delimiter) != 1 or dialect.delimiter in "\r\n":
        return "delimiter"
    quote = dialect.parse_quotechar
    if len(quote) > 1 or (quote and quote in "\r\n" + dialect.delimiter):
        return "quote character"
    if dialect.escapechar or dialect.skipinitialspace:
        return "escape character or spaces after delimiters"
    return None


def _re_char(ch: str) -> str:
    return f"\\x{{{ord(ch):x}}}"


def strict_line_regex(delimiter: str, quote: str) -> str:
    """A whole physical line that ``csv.reader(strict=True)`` reads as one record: fields either
    quoted (doubled quotes inside, delimiter or end of line right after the closing quote) or
    unquoted (not starting with a quote; a quote later in the field is literal)."""
    d, q = _re_char(delimiter), _re_char(quote)
    quoted = f"{q}(?:[^{q}]|{q}{q})*{q}"
    plain = f"(?:[^{q}{d}\\r\\n][^{d}\\r\\n]*)?"
    one = f"(?:{quoted}|{plain})"
    return f"^{one}(?:{d}{one})*\\r?$"


@dataclass
class FastEvents:
    """What one parsed block adds to the loader's accounting (Python-path semantics)."""

    rows_read: int = 0
    blank: int = 0
    trailing: int = 0
    rejects: list[tuple[int, list[str]]] = field(default_factory=list)  # (line, fields), wrong field count


class FastReader:
    """Yields ``(table of c0..cN + line, events)`` per block of the data after the header."""

    def __init__(self, prepared: Prepared, width: int, skip: int, line_column: str, stats) -> None:
        self.prepared = prepared
        self.width = width
        self.skip = skip
        self.line_column = line_column
        self.stats = stats
        dialect = prepared.dialect
        assert dialect is not None and prepared.encoding is not None
        self.dialect = dialect
        self.quote = dialect.parse_quotechar
        self.quote_bytes = self.quote.encode("utf-8")
        self.line_regex = strict_line_regex(dialect.delimiter, self.quote) if self.quote else None
        self.names = [f"c{i}" for i in range(width)]
        self.header_line: int | None = None

    # --- the lines above the data ------------------------------------------------------------
    def _prefix(self, stream) -> tuple[bytes, int]:
        """Consume metadata + header lines; return (bytes after them, first data line number).

        The Python reader itself parses the prefix, so skipped records, blank lines and the
        header line number are its own; the split must land exactly on a line boundary."""
        prepared = self.prepared
        if self.skip == 0:
            first = prepared.record_lines[0] if prepared.record_lines else 1
        elif self.skip < len(prepared.record_lines):
            first = prepared.record_lines[self.skip]
        else:
            raise Fallback("no data record in the sample")
        buffer = b""
        while buffer.count(b"\n") < first - 1:
            data = stream.read(READ_BYTES)
            if not data:
                raise Fallback("short prefix")
            buffer += data
        cut = 0
        for _ in range(first - 1):
            cut = buffer.index(b"\n", cut) + 1
        prefix, rest = buffer[:cut], buffer[cut:]
        if b"\r" in prefix.replace(b"\r\n", b""):
            raise Fallback("lone carriage return")
        encoding = prepared.encoding
        assert encoding is not None
        text = codecs.decode(prefix, encoding.codec, encoding.errors)
        if encoding.codec == "utf-8-sig" and not prefix:
            rest = rest.removeprefix(UTF8_BOM)
        seen = 0
        for line, row, _error in _csv_records(io.StringIO(text, newline=""), self.dialect, self.stats):
            if row is None:
                raise Fallback("unreadable record above the data")
            seen += 1
            self.header_line = line
        if seen != self.skip:
            raise Fallback("prefix records do not match the sample")
        return rest, first

    # --- blocks --------------------------------------------------------------------------------
    def blocks(self, stream) -> Iterator[tuple[pa.Table, FastEvents]]:
        tail, line = self._prefix(stream)
        eof = False
        while not eof:
            data = stream.read(READ_BYTES)
            eof = not data
            block = tail + data
            if not eof:
                cut = block.rfind(b"\n") + 1
                if cut == 0:
                    tail = block  # a line longer than one read: the stream's line cap bounds it
                    continue
                block, tail = block[:cut], block[cut:]
            else:
                tail = b""
            if not block:
                continue
            yield self._parse_block(block, line)
            line += block.count(b"\n")

    def _check_block(self, block: bytes) -> None:
        if b"\r" in block and block.count(b"\r") != block.count(b"\r\n"):
            raise Fallback("lone carriage return")
        if self.quote_bytes and self.quote_bytes in block:
            try:
                lines = pc.split_pattern(pa.array([block], pa.binary()), "\n").flatten().cast(pa.string())
            except pa.ArrowInvalid as exc:
                raise Fallback(f"not UTF-8: {exc}") from exc
            quoted = lines.filter(pc.match_substring(lines, self.quote))
            if len(quoted) and not pc.all(pc.match_substring_regex(quoted, self.line_regex)).as_py():
                raise Fallback("quoted newline or non-strict quoting")

    def _read(self, block: bytes, threads: bool) -> tuple[pa.Table, list]:
        invalid: list = []

        def handler(row) -> str:
            invalid.append((row.number, row.text))
            return "skip"

        quote = self.quote or False
        try:
            table = pcsv.read_csv(
                io.BytesIO(block),
                read_options=pcsv.ReadOptions(column_names=self.names, block_size=ARROW_BLOCK, use_threads=threads),
                parse_options=pcsv.ParseOptions(
                    delimiter=self.dialect.delimiter,
                    quote_char=quote,
                    double_quote=True,
                    escape_char=False,
                    newlines_in_values=False,
                    ignore_empty_lines=False,
                    invalid_row_handler=handler,
                ),
                convert_options=pcsv.ConvertOptions(
                    column_types={n: pa.string() for n in self.names},
                    strings_can_be_null=False,
                    quoted_strings_can_be_null=False,
                    check_utf8=True,
                ),
            )
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
            raise Fallback(f"arrow: {exc}") from exc
        return table, invalid

    def _parse_block(self, block: bytes, first_line: int) -> tuple[pa.Table, FastEvents]:
        self._check_block(block)
        # Serial: Arrow only knows the row numbers of refused rows when it reads serially.
        table, invalid = self._read(block, threads=False)
        if any(number is None for number, _ in invalid):
            raise Fallback("row numbers unknown")
        events = FastEvents()
        invalid.sort()
        n = table.num_rows
        good = np.arange(n, dtype=np.int64)
        if invalid:
            positions = np.array([number - 1 for number, _ in invalid], dtype=np.int64)
            before = positions - np.arange(len(positions), dtype=np.int64)
            lines = first_line + good + np.searchsorted(before, good, side="right")
        else:
            lines = first_line + good
        table = table.append_column(self.line_column, pa.array(lines, pa.int64()))
        table = self._drop_blank(table, events)
        extra: list[list[str]] = []
        extra_lines: list[int] = []
        for number, text in invalid:
            fields = next(csv.reader([text], **self.dialect.csv_kwargs()), [])
            if is_blank(fields):
                events.blank += 1
                continue
            events.rows_read += 1
            line = first_line + number - 1
            if len(fields) < self.width or any(cell.strip() for cell in fields[self.width :]):
                events.rejects.append((line, fields))
                continue
            events.trailing += 1
            extra.append(fields[: self.width])
            extra_lines.append(line)
        if extra:
            columns = [pa.array([row[i] for row in extra], pa.string()) for i in range(self.width)]
            added = pa.Table.from_arrays([*columns, pa.array(extra_lines, pa.int64())], schema=table.schema)
            table = pa.concat_tables([table, added])
            table = table.take(pc.sort_indices(table.column(self.line_column)))
        events.rows_read += table.num_rows - len(extra)
        return table, events

    def _drop_blank(self, table: pa.Table, events: FastEvents) -> pa.Table:
        """Records whose every field is whitespace are blank lines for the Python path."""
        if table.num_rows == 0:
            return table
        blank = pc.equal(pc.utf8_length(pc.utf8_trim(table.column(0), PY_WHITESPACE)), 0)
        if not pc.any(blank).as_py():
            return table
        for i in range(1, self.width):
            blank = pc.and_(blank, pc.equal(pc.utf8_length(pc.utf8_trim(table.column(i), PY_WHITESPACE)), 0))
        count = pc.sum(blank).as_py() or 0
        if not count:
            return table
        events.blank += count
        return table.filter(pc.invert(blank))
