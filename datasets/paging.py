"""Where a page of rows stands among all the matching rows (the dataset preview and search pages)."""

from __future__ import annotations


class PagePosition:
    """For a dataclass with `page` (1-based), `per_page` and `num_pages` fields and a `paged_rows`
    property (how many rows match): the pager's previous/next flags and the "rows a to b" range."""

    page: int
    per_page: int
    num_pages: int

    @property
    def paged_rows(self) -> int:
        raise NotImplementedError

    @property
    def has_previous(self) -> bool:
        return self.page > 1

    @property
    def has_next(self) -> bool:
        return self.page < self.num_pages

    @property
    def first_row(self) -> int:
        return (self.page - 1) * self.per_page + 1 if self.paged_rows else 0

    @property
    def last_row(self) -> int:
        return min(self.page * self.per_page, self.paged_rows)
