"""How audit values are shown: as text, with nothing in them able to act on the reader.

HTML escaping is the template's job (Django autoescapes). What it leaves alone is made visible
here: control characters (CR/LF that fake a new log line, ANSI escapes that repaint a terminal)
and invisible format characters (bidi overrides that reorder text) become backslash escapes.
CSV cells are also neutralised against formula injection (OWASP "CSV Injection").
"""

import json
import unicodedata
from typing import Any

_NAMED_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
_INVISIBLE_CATEGORIES = {"Cc", "Cf", "Zl", "Zp"}
# A spreadsheet treats a cell starting with one of these as a formula (OWASP CSV Injection).
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def _escape_char(char: str) -> str:
    if char in _NAMED_ESCAPES:
        return _NAMED_ESCAPES[char]
    if unicodedata.category(char) in _INVISIBLE_CATEGORIES:
        code = ord(char)
        return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"
    return char


def visible_text(value: Any) -> str:
    """`value` as one line of text whose control and format characters are spelled out."""
    text = "" if value is None else str(value)
    return "".join(_escape_char(char) for char in text)


def details_text(details: Any) -> str:
    """The details as compact JSON (keys sorted), control characters spelled out."""
    return visible_text(json.dumps(details, ensure_ascii=False, sort_keys=True, separators=(", ", ": ")))


def csv_cell(value: Any) -> str:
    """A CSV cell that no spreadsheet will run: a leading formula character gets a ' in front."""
    text = "" if value is None else str(value)
    prefix = "'" if text.startswith(FORMULA_PREFIXES) else ""
    return prefix + visible_text(text)
