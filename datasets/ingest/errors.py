"""Error and warning codes of the ingestion engine.

Codes are stable identifiers (stored on uploads, asserted in tests); messages are
the user-facing text. Keep both as module constants so callers never build them ad hoc.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# --- Fatal errors: the whole file is refused -------------------------------------------------
EMPTY_FILE = "EMPTY_FILE"
NO_DATA = "NO_DATA"
UNSUPPORTED_BINARY = "UNSUPPORTED_BINARY"
BINARY_CONTENT = "BINARY_CONTENT"
DECOMPRESSION_LIMIT = "DECOMPRESSION_LIMIT"
COMPRESSION_RATIO = "COMPRESSION_RATIO"
GZIP_TRUNCATED = "GZIP_TRUNCATED"
GZIP_CORRUPT = "GZIP_CORRUPT"
NESTED_ARCHIVE = "NESTED_ARCHIVE"
ZIP_CORRUPT = "ZIP_CORRUPT"
ZIP_EMPTY = "ZIP_EMPTY"
ZIP_MULTIPLE_FILES = "ZIP_MULTIPLE_FILES"
ZIP_TOO_MANY_ENTRIES = "ZIP_TOO_MANY_ENTRIES"
ZIP_UNSAFE_PATH = "ZIP_UNSAFE_PATH"
ZIP_ENCRYPTED = "ZIP_ENCRYPTED"
MACROS_NOT_ALLOWED = "MACROS_NOT_ALLOWED"
SPREADSHEET_UNREADABLE = "SPREADSHEET_UNREADABLE"
SHEET_NOT_FOUND = "SHEET_NOT_FOUND"
ENCODING_UNKNOWN = "ENCODING_UNKNOWN"
FIELD_TOO_LARGE = "FIELD_TOO_LARGE"
TOO_MANY_COLUMNS = "TOO_MANY_COLUMNS"
FILE_TOO_LARGE = "FILE_TOO_LARGE"

ERROR_MESSAGES: dict[str, str] = {
    EMPTY_FILE: "The file is empty.",
    NO_DATA: "The file has no data rows (it is blank or holds only a header).",
    UNSUPPORTED_BINARY: (
        "This is not a data file we can read ({detail}). Upload CSV, TSV, TXT, .gz, .zip, .xlsx or .xls."
    ),
    BINARY_CONTENT: "The file looks like binary data, not text or a spreadsheet.",
    DECOMPRESSION_LIMIT: "The file expands to more than {detail} when decompressed, above the limit.",
    COMPRESSION_RATIO: "The file expands more than {detail} times when decompressed; it looks like a compression bomb.",
    GZIP_TRUNCATED: "The compressed file is cut short (truncated); upload it again.",
    GZIP_CORRUPT: "The compressed file is damaged ({detail}).",
    NESTED_ARCHIVE: "The archive contains another archive ({detail}); upload the data file itself.",
    ZIP_CORRUPT: "The zip file is damaged ({detail}).",
    ZIP_EMPTY: "The zip file holds no data file.",
    ZIP_MULTIPLE_FILES: "The zip file holds {detail} files; it must hold exactly one data file.",
    ZIP_TOO_MANY_ENTRIES: "The zip file has too many entries ({detail}).",
    ZIP_UNSAFE_PATH: "The archive contains an unsafe file path ({detail}).",
    ZIP_ENCRYPTED: "The zip file is password-protected.",
    MACROS_NOT_ALLOWED: "Workbooks with macros (.xlsm, vbaProject.bin) are not accepted; save it as .xlsx or CSV.",
    SPREADSHEET_UNREADABLE: "The spreadsheet could not be read ({detail}).",
    SHEET_NOT_FOUND: "The workbook has no sheet {detail}.",
    ENCODING_UNKNOWN: "The text encoding could not be determined; choose it explicitly.",
    FIELD_TOO_LARGE: (
        "A line is longer than the limit ({detail}); the file may be binary or have an unterminated quote."
    ),
    TOO_MANY_COLUMNS: "The file has {detail} columns, above the limit.",
    FILE_TOO_LARGE: "The file is larger than the upload limit ({detail}).",
}

# --- Row rejection reasons --------------------------------------------------------------------
ROW_FIELD_COUNT = "ROW_FIELD_COUNT"
ROW_UNTERMINATED_QUOTE = "ROW_UNTERMINATED_QUOTE"
ROW_PARSE_ERROR = "ROW_PARSE_ERROR"
ROW_INVALID_VALUE = "ROW_INVALID_VALUE"

# --- Warnings: the load went ahead, the user should know -----------------------------------------
W_ENCODING_UNCERTAIN = "ENCODING_UNCERTAIN"
W_MIXED_ENCODING = "MIXED_ENCODING"
W_DECODE_REPLACED = "DECODE_REPLACED"
W_NUL_BYTES = "NUL_BYTES_STRIPPED"
W_DUPLICATES_REMOVED = "DUPLICATES_REMOVED"
W_DUPLICATES_KEPT = "DUPLICATES_KEPT"
W_ROWS_REJECTED = "ROWS_REJECTED"
W_NO_HEADER = "NO_HEADER"
W_METADATA_LINES_SKIPPED = "METADATA_LINES_SKIPPED"
W_BLANK_LINES = "BLANK_LINES_SKIPPED"
W_TRAILING_EMPTY_FIELDS = "TRAILING_EMPTY_FIELDS"
W_DATE_AMBIGUOUS = "DATE_AMBIGUOUS"
W_NON_FINITE = "NON_FINITE_VALUES"
W_MULTIPLE_SHEETS = "MULTIPLE_SHEETS"
W_HEADER_RENAMED = "HEADER_RENAMED"
W_FORMULAS_CACHED = "FORMULA_CACHED_VALUES"

WARNING_MESSAGES: dict[str, str] = {
    W_ENCODING_UNCERTAIN: "The text encoding was guessed as {detail} with low confidence; check accented characters.",
    W_MIXED_ENCODING: "The file mixes UTF-8 with another encoding; {detail} bytes were read as Windows-1252.",
    W_DECODE_REPLACED: "{detail} bytes could not be decoded and were replaced.",
    W_NUL_BYTES: "{detail} NUL bytes were removed.",
    W_DUPLICATES_REMOVED: "{detail} exact duplicate rows were removed.",
    W_DUPLICATES_KEPT: "{detail} exact duplicate rows were kept, as requested.",
    W_ROWS_REJECTED: "{detail} rows could not be read and were rejected; see the rejected rows.",
    W_NO_HEADER: "No header row was found; columns were named column_1, column_2, ...",
    W_METADATA_LINES_SKIPPED: "{detail} lines above the header were skipped.",
    W_BLANK_LINES: "{detail} blank lines were skipped.",
    W_TRAILING_EMPTY_FIELDS: "{detail} rows had extra empty fields at the end; they were ignored.",
    W_DATE_AMBIGUOUS: "Dates in {detail} could be day-first or month-first; month-first (US) was used.",
    W_NON_FINITE: "{detail} NaN or infinite values were stored as empty.",
    W_MULTIPLE_SHEETS: "The workbook has several sheets ({detail}); only the chosen one was loaded.",
    W_HEADER_RENAMED: "Some column names were empty or repeated and were renamed: {detail}.",
    W_FORMULAS_CACHED: "Formulas were read as their last saved values.",
}


def error_message(code: str, detail: Any = "") -> str:
    return ERROR_MESSAGES[code].format(detail=detail)


def warning_message(code: str, detail: Any = "") -> str:
    return WARNING_MESSAGES[code].format(detail=detail)


class IngestError(Exception):
    """A file the engine refuses as a whole; ``code`` is stable, ``message`` is for the user."""

    def __init__(self, code: str, detail: Any = "") -> None:
        self.code = code
        self.detail = detail
        self.message = error_message(code, detail)
        super().__init__(f"{code}: {self.message}")


@dataclass(frozen=True)
class IngestWarning:
    code: str
    message: str
    count: int | None = None
    columns: list[str] = field(default_factory=list)

    @classmethod
    def make(cls, code: str, detail: Any = "", *, count: int | None = None, columns: list[str] | None = None):
        return cls(code=code, message=warning_message(code, detail), count=count, columns=list(columns or []))
