"""Reads for the global search page: which dataset/version, and one page of matching rows.

The search itself is the engine's (`FilterSet.search` → `search_sql`): a case-insensitive
substring test on every column cast to text, where `%`, `_` and `\\` are literal characters.
Rows come back as the same text the search matched (`Query(as_text=True)`), so the page can
mark the matched part of each cell. Marking never builds HTML: a cell is a list of
(text, matched) parts and the template escapes every part (SECURITY.md T-XSS-07).
Ids from the query string are looked up only inside the URL's workspace (T-IDOR-02).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from analytics.engine import Query, QueryError, count_rows, execute
from analytics.engine.adapter import source_for_version
from analytics.engine.filters import FilterSet
from analytics.engine.schema import Source
from analytics.selectors import Picked, dashboard_pick
from datasets.paging import PagePosition
from workspaces.models import Workspace

PER_PAGE = 50
SEARCH_MAX_LENGTH = 200
# Query-string keys of the page; any other key is a filter (`in.state=CA`...) or a 400.
PAGE_KEYS = ("dataset", "version", "page", "format")
ERROR_BAD_PAGE = "Invalid page number: {page!r}."
ERROR_BAD_FORMAT = "Invalid format: {format!r}."
ERROR_TOO_LONG = f"The search text is longer than {SEARCH_MAX_LENGTH} characters."


@dataclass(frozen=True)
class SearchPage(PagePosition):
    """One page of matches. `rows`: per row, per column, the cell as [(text, matched), ...]
    parts (None for a missing value); `values` the same rows as plain text (the JSON)."""

    q: str
    columns: list[str]
    rows: list[list[list[tuple[str, bool]] | None]]
    values: list[list[str | None]]
    total: int
    page: int
    per_page: int
    num_pages: int

    @property
    def paged_rows(self) -> int:
        return self.total

    def to_dict(self) -> dict:
        return {
            "q": self.q,
            "columns": self.columns,
            "rows": self.values,
            "total": self.total,
            "page": self.page,
            "per_page": self.per_page,
            "num_pages": self.num_pages,
        }


def search_pick(*, workspace: Workspace, dataset_raw: str = "", version_raw: str = "") -> Picked | None:
    """`?dataset=` / `?version=` of any kind, resolved inside `workspace` (another workspace's id →
    404), defaulting to the most recent dataset and its current version. None: the workspace has none."""
    return dashboard_pick(workspace=workspace, kind=None, dataset_raw=dataset_raw, version_raw=version_raw)


def search_source(*, picked: Picked) -> Source:
    return source_for_version(picked.version)


def search_filters(*, source: Source, data) -> FilterSet:
    """The search text (`q`) plus any filter keys, strict: unknown key or bad value → QueryError."""
    filters = FilterSet.from_querydict(source, data, ignore=PAGE_KEYS)
    if len(filters.search) > SEARCH_MAX_LENGTH:
        raise QueryError(ERROR_TOO_LONG)
    return filters


def search_page_number(raw: str) -> int:
    if not raw:
        return 1
    if not raw.isdigit() or int(raw) < 1 or len(raw) > 9:
        raise QueryError(ERROR_BAD_PAGE.format(page=raw))
    return int(raw)


def search_format(raw: str) -> str:
    fmt = raw or "html"
    if fmt not in ("html", "json"):
        raise QueryError(ERROR_BAD_FORMAT.format(format=fmt))
    return fmt


def highlight(text: str, needle: str) -> list[tuple[str, bool]]:
    """`text` split into (part, matched) pieces: every non-overlapping, case-insensitive
    occurrence of `needle` is a matched piece. Lower-cases character by character and maps the
    positions back, so a character whose lower case is longer (İ) cannot shift the marks."""
    if not needle or not text:
        return [(text, False)]
    lowered, origin = [], []
    for index, char in enumerate(text):
        low = char.lower()
        lowered.append(low)
        origin.extend([index] * len(low))
    haystack = "".join(lowered)
    target = needle.lower()
    parts: list[tuple[str, bool]] = []
    done = 0  # original index up to which `text` is emitted
    start = haystack.find(target)
    while start != -1:
        end = start + len(target)
        first, last = origin[start], origin[end - 1] + 1
        if first >= done:
            if first > done:
                parts.append((text[done:first], False))
            parts.append((text[first:last], True))
            done = last
        start = haystack.find(target, end)
    if done < len(text):
        parts.append((text[done:], False))
    return parts


def search_results(*, workspace: Workspace, source: Source, filters: FilterSet, page: int) -> SearchPage:
    """The rows matching `filters` (its search text in any column), `PER_PAGE` at a time in file
    order; a page past the end shows the last one."""
    query = Query(source=source, filters=filters, limit=PER_PAGE, as_text=True)
    total = count_rows(query, workspace_id=workspace.pk)
    num_pages = max(math.ceil(total / PER_PAGE), 1)
    page = min(page, num_pages)
    result = execute(
        Query(source=source, filters=filters, limit=PER_PAGE, offset=(page - 1) * PER_PAGE, as_text=True),
        workspace_id=workspace.pk,
    )
    values = [list(row) for row in result.rows]
    needle = filters.search
    rows = [[None if v is None else highlight(v, needle) for v in row] for row in values]
    return SearchPage(
        q=filters.search,
        columns=list(result.columns),
        rows=rows,
        values=values,
        total=total,
        page=page,
        per_page=PER_PAGE,
        num_pages=num_pages,
    )
