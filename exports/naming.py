"""Download names built by the server (SECURITY.md T-UP-03, T-XSS-08).

`<slug of the dataset or segment name>-<what>-<yyyy-mm-dd>.<ext>`: ASCII letters, digits and
hyphens only (no quotes, no path parts, no control characters), at most MAX_LENGTH characters.
Responses send it through Django's `content_disposition_header` (RFC 6266).
"""

from __future__ import annotations

import datetime as dt
import unicodedata

from django.utils.text import slugify

MAX_STEM = 60
MAX_LENGTH = 100
FALLBACK = "export"
EXTENSIONS = {"csv": "csv", "xlsx": "xlsx", "json": "json"}
CONTENT_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "json": "application/json",
}


def _ascii_slug(text: str) -> str:
    # NFKD splits accents off letters ("é" -> "e" + accent) so slugify keeps the letter.
    folded = unicodedata.normalize("NFKD", str(text or "")).encode("ascii", "ignore").decode("ascii")
    return slugify(folded)[:MAX_STEM].strip("-_")


def export_filename(*, name: str, what: str, file_format: str, on: dt.date) -> str:
    stem = _ascii_slug(name) or FALLBACK
    suffix = _ascii_slug(what)
    parts = [stem, suffix, on.isoformat()] if suffix else [stem, on.isoformat()]
    base = "-".join(parts)[: MAX_LENGTH - 6]
    return f"{base}.{EXTENSIONS[file_format]}"
