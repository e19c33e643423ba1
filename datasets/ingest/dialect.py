"""Delimiter / quote / escape detection (CleverCSV on a small sample) and header detection."""

from __future__ import annotations

import csv
import io
import re
from collections import Counter
from dataclasses import dataclass

import clevercsv

# The single-column "delimiter": NUL bytes are stripped before parsing, so it never matches.
NO_DELIMITER = "\x00"
_NUMBERISH = re.compile(
    r"^\s*[(]?[+-]?\s*[$€£¥]?\s*[+-]?(\d[\d,. ]*)?\d([.,]\d+)?\s*[%$€£¥]?[)]?\s*$"
    r"|^\s*\d{1,4}[-/.]\d{1,2}[-/.]\d{1,4}([ T]\d{1,2}:\d{2}(:\d{2})?.*)?\s*$"
)


# Delimiters worth considering. CleverCSV would otherwise consider any punctuation and split a
# column of e-mail addresses on "@" or of dates on "/". These cover every delimiter of the
# messy-csv-corpus ground truth.
CANDIDATE_DELIMITERS = [",", ";", "\t", "|", " ", ":", "=", "#", "^", "&", "%", "~", "'", "`"]


@dataclass(frozen=True)
class Dialect:
    delimiter: str  # "" for a single-column file
    quotechar: str  # "" when fields are never quoted
    escapechar: str = ""
    skipinitialspace: bool = False
    detected: bool = True
    # The sample never showed a quote character at all: parse with '"' anyway, because a sample
    # without quotes says nothing about row 500,000, where "$1,234.50" gets quoted by the writer.
    quote_fallback: bool = False

    @property
    def parse_quotechar(self) -> str:
        return self.quotechar or ('"' if self.quote_fallback else "")

    def csv_kwargs(self) -> dict:
        """Arguments for :func:`csv.reader`. ``strict`` so malformed quoting is rejected, not guessed."""
        quote = self.parse_quotechar
        return {
            "delimiter": self.delimiter or NO_DELIMITER,
            "quotechar": quote or None,
            "quoting": csv.QUOTE_MINIMAL if quote else csv.QUOTE_NONE,
            "escapechar": self.escapechar or None,
            "doublequote": True,
            "skipinitialspace": self.skipinitialspace,
            "strict": True,
        }

    @property
    def display_delimiter(self) -> str:
        return {"\t": "\\t", " ": "space", "": "(single column)"}.get(self.delimiter, self.delimiter)


def detect_dialect(
    sample: str,
    *,
    delimiter: str | None = None,
    quotechar: str | None = None,
    escapechar: str | None = None,
) -> Dialect:
    """Detect the dialect of ``sample`` (decoded text, keep it small: CleverCSV is slow on
    large inputs); any argument that is not ``None`` is the user's override and wins."""
    if delimiter is not None and quotechar is not None:
        found = Dialect(delimiter, quotechar, escapechar or "", detected=False)
    else:
        detector = clevercsv.Detector()
        guess = detector.detect(sample, delimiters=[delimiter] if delimiter else CANDIDATE_DELIMITERS)
        if guess is None:
            found = Dialect(delimiter or "", "" if quotechar is None else quotechar, escapechar or "", detected=False)
        else:
            found = Dialect(
                guess.delimiter if delimiter is None else delimiter,
                guess.quotechar if quotechar is None else quotechar,
                (guess.escapechar or "") if escapechar is None else escapechar,
            )
    return Dialect(
        found.delimiter,
        found.quotechar,
        found.escapechar,
        skipinitialspace=_spaces_after_delimiter(sample, found),
        detected=found.detected,
        quote_fallback=quotechar is None and not found.quotechar and '"' not in sample,
    )


def _spaces_after_delimiter(sample: str, dialect: Dialect) -> bool:
    """UCI-style ``a, b, c`` files: nearly every field after a delimiter starts with a space."""
    if dialect.delimiter in ("", " ", "\t"):
        return False
    rows = parse_rows(sample, dialect, limit=200)
    later = [cell for row in rows for cell in row[1:]]
    return len(later) >= 5 and sum(cell.startswith(" ") for cell in later) >= 0.9 * len(later)


def parse_rows(text: str, dialect: Dialect, *, limit: int) -> list[list[str]]:
    """Parse the first ``limit`` records of a sample, skipping records csv refuses (detection only)."""
    kwargs = dialect.csv_kwargs() | {"strict": False}
    reader = csv.reader(io.StringIO(text, newline=""), **kwargs)
    rows: list[list[str]] = []
    try:
        for row in reader:
            rows.append(row)
            if len(rows) >= limit:
                break
    except csv.Error:
        pass
    return rows


def is_blank(row: list[str]) -> bool:
    return all(not cell.strip() for cell in row)


@dataclass(frozen=True)
class Header:
    index: int  # 0-based index among non-blank records of the header (or first data) row
    has_header: bool
    width: int
    names: list[str]
    renamed: list[str]


def looks_typed(cell: str) -> bool:
    """A number, amount, percentage or date: something a header cell is not."""
    return bool(_NUMBERISH.match(cell)) if cell.strip() else False


def detect_header(rows: list[list[str]], *, has_header: bool | None = None, header_row: int | None = None) -> Header:
    """Find the header among the first records of a file.

    The data width is the most common field count; records above the first row of that width are
    metadata (titles, export notes) and are skipped. That row is a header when its cells are not
    numbers or dates, its non-empty cells are distinct, and the rows below differ from it: some
    column is typed below a text header cell, or the header cells do not recur in their columns.
    """
    records = [row for row in rows if not is_blank(row)]
    if not records:
        return Header(index=0, has_header=False, width=0, names=[], renamed=[])
    counts = Counter(len(row) for row in records)
    width = max(counts, key=lambda n: (counts[n], n))
    if header_row is not None:
        index = header_row
        width = len(records[index]) if index < len(records) else width
    else:
        index = next(i for i, row in enumerate(records) if len(row) == width)
    candidate = [cell.strip() for cell in records[index]]
    below = [row for row in records[index + 1 : index + 201] if len(row) == width]
    if has_header is None:
        has_header = _is_header(candidate, below)
    if has_header:
        names, renamed = _clean_names(candidate)
    else:
        names, renamed = [f"column_{i + 1}" for i in range(width)], []
    return Header(index=index, has_header=has_header, width=width, names=names, renamed=renamed)


def _is_header(candidate: list[str], below: list[list[str]]) -> bool:
    filled = [cell for cell in candidate if cell]
    if not filled or any(looks_typed(cell) for cell in filled):
        return False
    if len(set(filled)) != len(filled):
        return False
    if not below:
        return True
    for col, head in enumerate(candidate):
        values = [row[col].strip() for row in below if row[col].strip()]
        if head and values and sum(looks_typed(v) for v in values) >= 0.8 * len(values):
            return True
    recurring = sum(1 for col, head in enumerate(candidate) if head and any(row[col].strip() == head for row in below))
    return recurring <= len(filled) // 2


def _clean_names(cells: list[str]) -> tuple[list[str], list[str]]:
    """Empty names become column_N and repeats get a suffix, so every column is addressable."""
    names: list[str] = []
    renamed: list[str] = []
    seen: set[str] = set()
    for i, cell in enumerate(cells):
        name = " ".join(cell.split()) or f"column_{i + 1}"
        base, n = name, 2
        while name.lower() in seen:
            name = f"{base}_{n}"
            n += 1
        if name != cell:
            renamed.append(f"{cell!r} -> {name!r}")
        seen.add(name.lower())
        names.append(name)
    return names, renamed
