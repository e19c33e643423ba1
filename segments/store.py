"""The segments this app saves, offered to the analytics pages (registered in `SegmentsConfig.ready`)."""

from __future__ import annotations

from django.shortcuts import get_object_or_404

from segments.models import Segment


class SavedSegments:
    def get(self, *, workspace, segment_id: int) -> Segment:
        return get_object_or_404(Segment.objects.for_workspace(workspace), pk=segment_id)

    def for_dataset(self, *, workspace, dataset) -> list[Segment]:
        return list(Segment.objects.for_workspace(workspace).filter(dataset=dataset).order_by("name", "id"))
