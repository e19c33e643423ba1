"""Demo segments for `make run` (called by ops.demo after the demo datasets are loaded).

Two segments of the demo visitors dataset, so the segment list and the comparison have something
to show on a fresh machine. Idempotent: a segment already present under its name is left alone.
"""

from urllib.parse import urlencode

from django.core.exceptions import ValidationError

from datasets.demo import DEMO_DATASETS
from datasets.models import Dataset, Kind
from segments.models import Segment
from segments.services import segment_create

DEMO_VISITORS_NAME = next(name for name, _file, kind, _gen, _rows in DEMO_DATASETS if kind == Kind.VISITORS)
DEMO_SEGMENTS = (
    ("Email visitors", "Visits that came from our email campaigns.", [("in.channel", "Email")]),
    ("Paid search visitors", "Visits from paid search ads.", [("in.channel", "Paid Search")]),
)


def demo_segments_seed(*, workspace, user) -> list[str]:
    """Create the demo segments that are missing; return one line per segment to print."""
    dataset = (
        Dataset.objects.for_workspace(workspace)
        .filter(name=DEMO_VISITORS_NAME, kind=Kind.VISITORS, current_version__isnull=False)
        .first()
    )
    if dataset is None:
        return []
    lines = []
    for name, description, pairs in DEMO_SEGMENTS:
        if Segment.objects.for_workspace(workspace).filter(name=name).exists():
            lines.append(f"Segment {name!r}: already there.")
            continue
        try:
            segment_create(
                workspace=workspace,
                dataset=dataset,
                user=user,
                name=name,
                description=description,
                query=urlencode(pairs),
            )
        except ValidationError as error:
            lines.append(f"Segment {name!r}: not created ({'; '.join(error.messages)}).")
            continue
        lines.append(f"Segment {name!r}: created.")
    return lines
