"""Where the analytics pages find saved segments, without importing the app that defines them.

The `segments` app builds on analytics (its builder evaluates filters with the engine), so analytics
must not import it back. Instead, `segments` registers a store here when Django starts
(`SegmentsConfig.ready`), and the attribute explorer asks this module. Without a registered store
the explorer simply offers no segments, and `?segment=` is a 404.
"""

from __future__ import annotations

from typing import Protocol


class SegmentStore(Protocol):
    def get(self, *, workspace, segment_id: int):
        """The segment `segment_id` inside `workspace` (Http404 when it is not there)."""

    def for_dataset(self, *, workspace, dataset) -> list:
        """The workspace's segments of `dataset`, by name."""


_store: SegmentStore | None = None


def register(store: SegmentStore) -> None:
    global _store  # noqa: PLW0603 - one registry, written once at start-up
    _store = store


def store() -> SegmentStore | None:
    return _store
