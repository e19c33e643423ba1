"""The demo segments seeded by `make run` (segments/demo.py): created once, on the demo visitors."""

import pandas as pd

from analytics.tests.dashboard_data import visitors_dataset, visitors_frame
from segments.demo import DEMO_SEGMENTS, DEMO_VISITORS_NAME, demo_segments_seed
from segments.models import Segment
from workspaces.models import Role
from workspaces.tests.factories import MembershipFactory, WorkspaceFactory


def test_demo_segments_are_created_once_on_the_demo_visitors(db):
    workspace = WorkspaceFactory()
    owner = MembershipFactory(workspace=workspace, role=Role.OWNER).user
    frame = visitors_frame()
    frame["channel"] = pd.Series(["Email", "Paid Search", "Social", "Email"] * 100)
    dataset = visitors_dataset(workspace=workspace, frame=frame, name=DEMO_VISITORS_NAME)

    first = demo_segments_seed(workspace=workspace, user=owner)
    again = demo_segments_seed(workspace=workspace, user=owner)

    names = [name for name, _description, _pairs in DEMO_SEGMENTS]
    assert first == [f"Segment {name!r}: created." for name in names]
    assert again == [f"Segment {name!r}: already there." for name in names]
    segments = Segment.objects.filter(workspace=workspace).order_by("name")
    assert [(s.name, s.dataset_id, s.query) for s in segments] == [
        ("Email visitors", dataset.pk, "in.channel=Email"),
        ("Paid search visitors", dataset.pk, "in.channel=Paid+Search"),
    ]


def test_no_demo_visitors_no_segments(db):
    workspace = WorkspaceFactory()
    owner = MembershipFactory(workspace=workspace, role=Role.OWNER).user
    assert demo_segments_seed(workspace=workspace, user=owner) == []
    assert not Segment.objects.filter(workspace=workspace).exists()
