"""Segment metrics against an independent pandas computation on the same frame."""

import pytest
from django.http import QueryDict

from analytics.tests.dashboard_data import (
    BUYER_COLUMNS,
    buyers_dataset,
    buyers_frame,
    dataset_from_frame,
    visitors_dataset,
    visitors_frame,
)
from datasets.models import Kind
from segments import selectors
from segments.models import Segment

pytestmark = pytest.mark.django_db


def _metrics(workspace, dataset, query: str) -> dict:
    dataset.refresh_from_db()
    evaluated = selectors.evaluate(dataset=dataset, data=QueryDict(query))
    return {m["key"]: m for m in selectors.segment_metrics(workspace=workspace, evaluated=evaluated)}


def test_visitors_segment_metrics_match_pandas(workspace):
    frame = visitors_frame()
    dataset = visitors_dataset(workspace=workspace, frame=frame)
    metrics = _metrics(workspace, dataset, "in.channel=Email&in.state=CA&in.state=NY")
    kept = frame[(frame.channel == "Email") & frame.state.isin(["CA", "NY"])]
    purchasers = int(kept.converted.sum())
    assert metrics["size"]["value"] == len(kept)
    assert metrics["total"]["value"] == len(frame)
    assert metrics["share"]["value"] == pytest.approx(len(kept) / len(frame))
    assert metrics["visitors"]["value"] == len(kept)
    assert metrics["purchasers"]["value"] == purchasers
    assert metrics["conversion"]["value"] == pytest.approx(purchasers / len(kept))
    assert metrics["conversion"]["display"] == f"{purchasers / len(kept) * 100:.1f}%"
    assert (metrics["revenue"]["value"], metrics["revenue"]["missing"]) == (None, "needs a revenue column")
    assert metrics["orders"]["missing"] == selectors.NEEDS_BUYERS_DATA


def test_buyers_segment_metrics_match_pandas(workspace):
    frame = buyers_frame()
    dataset = buyers_dataset(workspace=workspace, frame=frame)
    metrics = _metrics(workspace, dataset, "in.state=CA&min.revenue=20")
    kept = frame[(frame.state == "CA") & (frame.revenue >= 20)]
    revenue = kept.revenue.sum()
    assert metrics["size"]["value"] == len(kept)
    assert metrics["share"]["value"] == pytest.approx(len(kept) / len(frame))
    assert metrics["buyers"]["value"] == kept.email.nunique()
    assert metrics["orders"]["value"] == kept.order_id.nunique()
    assert metrics["revenue"]["value"] == pytest.approx(revenue)
    assert metrics["aov"]["value"] == pytest.approx(revenue / (kept.revenue > 0).sum())
    assert metrics["revenue"]["display"] == f"${revenue:,.2f}"


def test_buyers_segment_says_what_is_missing(workspace):
    columns = [c for c in BUYER_COLUMNS if c[0] not in ("revenue", "refund")]
    frame = buyers_frame()
    dataset = dataset_from_frame(workspace=workspace, kind=Kind.BUYERS, frame=frame, columns=columns)
    metrics = _metrics(workspace, dataset, "in.state=TX")
    assert metrics["size"]["value"] == int((frame.state == "TX").sum())
    for key in ("revenue", "aov"):
        assert (metrics[key]["value"], metrics[key]["display"]) == (None, "needs a revenue column")
    for key in ("purchasers", "conversion", "visitors"):
        assert (metrics[key]["value"], metrics[key]["display"]) == (None, "needs visitor data")


def test_visitors_without_converted_flag_need_one(workspace):
    frame = visitors_frame().drop(columns=["converted"])
    columns = [
        ("email", "text", "visitor_key"),
        ("channel", "text", "channel"),
        ("state", "text", "state"),
    ]
    dataset = dataset_from_frame(workspace=workspace, kind=Kind.VISITORS, frame=frame, columns=columns)
    metrics = _metrics(workspace, dataset, "")
    assert metrics["size"]["value"] == len(frame)
    assert metrics["share"]["value"] == 1.0
    assert metrics["purchasers"]["missing"] == "needs a converted flag"
    assert metrics["conversion"]["display"] == "needs a converted flag"


def test_empty_segment_has_no_conversion(workspace):
    dataset = visitors_dataset(workspace=workspace)
    metrics = _metrics(workspace, dataset, "in.state=Nowhere")
    assert (metrics["size"]["value"], metrics["share"]["value"]) == (0, 0.0)
    assert metrics["conversion"]["missing"] == "needs at least one row"


def test_stale_segment_query_is_reported_not_raised(workspace):
    dataset = visitors_dataset(workspace=workspace)
    segment = Segment.objects.create(workspace=workspace, dataset=dataset, name="Old", query="in.plan=gold")
    evaluated = selectors.segment_evaluate(segment=segment)
    assert evaluated.filters is None
    assert evaluated.error == "This segment's filter no longer matches the dataset: Unknown column: 'plan'."


def test_preview_rows_are_the_matching_rows_in_file_order(workspace):
    frame = visitors_frame()
    dataset = visitors_dataset(workspace=workspace, frame=frame)
    evaluated = selectors.evaluate(dataset=dataset, data=QueryDict("in.state=OR"))
    preview = selectors.segment_preview_rows(workspace=workspace, evaluated=evaluated)
    expected = frame[frame.state == "OR"].head(20)
    assert preview["columns"][:3] == ["email", "visit_date", "channel"]
    assert [row[0] for row in preview["rows"]] == list(expected.email)
    assert {row[-1] for row in preview["rows"]} == {"OR"}
