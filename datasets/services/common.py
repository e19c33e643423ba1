"""Small helpers shared by the datasets services."""

import math
import os
import re
import unicodedata
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.utils import timezone

from datasets.ingest import IngestOptions, Limits

# User overrides the engine understands (upload.options keys); anything else in options is ours.
ENGINE_OPTION_KEYS = (
    "encoding",
    "delimiter",
    "quotechar",
    "escapechar",
    "has_header",
    "header_row",
    "sheet",
    "date_order",
    "keep_duplicates",
)
# The keys among those that decide how the file is read into columns (a change means: detect again).
READ_OPTION_KEYS = ("encoding", "delimiter", "quotechar", "escapechar", "has_header", "header_row", "sheet")
IGNORE_FIELD = "__ignore__"
# upload.options keys of ours: a re-map load names the upload it re-reads; a re-sniff asks the
# pipeline to stop at the review page whatever its confidence (the user asked to see the columns).
REMAP_OF = "remap_of"
REVIEW_REQUESTED = "review_requested"
MAX_DISPLAY_NAME = 255
FALLBACK_NAME = "upload"
# Bidi overrides (U+202E) and other format characters can make a name read backwards: drop them.
_UNSAFE_CATEGORIES = {"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"}


def display_name_clean(name: str) -> str:
    """The last path component of a client's file name, without control or format characters.

    Only ever shown (and offered back as a download name); storage keys are made up by the server.
    """
    text = unicodedata.normalize("NFC", str(name or ""))
    text = text.replace("\\", "/").rsplit("/", 1)[-1]
    text = "".join(ch for ch in text if unicodedata.category(ch) not in _UNSAFE_CATEGORIES)
    text = re.sub(r"\s+", " ", text).strip().strip(".").strip()
    return text[:MAX_DISPLAY_NAME] or FALLBACK_NAME


def dataset_name_from_file(original_name: str) -> str:
    """'Visitors Q3.csv.gz' -> 'Visitors Q3'."""
    stem = original_name
    for _ in range(2):
        root, ext = os.path.splitext(stem)
        if ext.lower() in {".gz", ".zip", ".csv", ".tsv", ".txt", ".xlsx", ".xls", ".xlsm", ".ods"} and root:
            stem = root
    return stem[:200] or FALLBACK_NAME


def json_safe(value: Any) -> Any:
    """`value` in a form jsonb stores and gives back unchanged: no NUL, no lone surrogates, no NaN."""
    if isinstance(value, dict):
        return {str(json_safe(k)): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [json_safe(v) for v in value]
    if isinstance(value, str):
        return value.replace("\x00", "\ufffd").encode("utf-8", errors="replace").decode("utf-8")
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def ingest_options(options: dict | None, *, kind: str | None = None, column_types: dict | None = None) -> IngestOptions:
    """The engine's options for an upload: the user's overrides plus our limits from settings."""
    options = options or {}
    kwargs: dict[str, Any] = {k: options[k] for k in ENGINE_OPTION_KEYS if options.get(k) not in (None, "")}
    if isinstance(options.get("missing_markers"), list):
        kwargs["missing_markers"] = frozenset(str(m).strip().lower() for m in options["missing_markers"])
    limits = Limits(
        **{
            "max_file_bytes": settings.DATASETS_MAX_UPLOAD_BYTES,
            "max_decompressed_bytes": settings.DATASETS_MAX_DECOMPRESSED_BYTES,
            # Optional finer engine limits (tests lower them): any Limits field by name.
            **getattr(settings, "DATASETS_INGEST_LIMITS", {}),
        }
    )
    return IngestOptions(kind=kind or None, column_types=dict(column_types or {}), limits=limits, **kwargs)


def lease_until():
    return timezone.now() + timedelta(seconds=settings.DATASETS_LEASE_SECONDS)
