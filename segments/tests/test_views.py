"""Segment pages: save / edit / delete rules, revisions, audit, compare, JSON = page, escaping."""

import re

import pytest
from django.urls import reverse

from analytics.tests.dashboard_data import XSS_VALUE, buyers_dataset, buyers_frame, visitors_dataset, visitors_frame
from audit.models import AuditEvent
from datasets.tests.page_helpers import XSS_IMG, XSS_SCRIPT
from segments.models import Segment, SegmentRevision
from workspaces.models import Role
from workspaces.tests.factories import MembershipFactory

pytestmark = pytest.mark.django_db


def _url(name, workspace, *args):
    return reverse(f"segments:{name}", args=[workspace.slug, *args])


def _segment(workspace, dataset, *, user=None, name="Email CA", query="in.channel=Email&in.state=CA"):
    segment = Segment.objects.create(
        workspace=workspace, dataset=dataset, name=name, query=query, created_by=user, updated_by=user
    )
    SegmentRevision.objects.create(
        workspace=workspace, segment=segment, number=1, name=name, query=query, edited_by=user
    )
    return segment


@pytest.fixture
def visitors(workspace):
    return visitors_dataset(workspace=workspace, frame=visitors_frame())


# --- save ----------------------------------------------------------------------------------------
def test_analyst_saves_a_segment_with_canonical_query(client, workspace, analyst, visitors):
    client.force_login(analyst)
    data = {"dataset": visitors.pk, "name": "Email buyers", "description": "d", "query": "in.state=NY&in.channel=Email"}
    response = client.post(_url("new", workspace), data)
    segment = Segment.objects.get(workspace=workspace)
    assert response.status_code == 302
    assert response["Location"] == _url("detail", workspace, segment.pk)
    assert (segment.name, segment.query, segment.revision) == ("Email buyers", "in.state=NY&in.channel=Email", 1)
    assert segment.created_by == analyst
    assert list(segment.revisions.values_list("number", flat=True)) == [1]
    event = AuditEvent.objects.get(workspace=workspace, action="segment.saved")
    assert (event.actor, event.target_id, event.details["name"]) == (analyst, str(segment.pk), "Email buyers")


def test_viewer_cannot_save_a_segment(client, workspace, viewer, visitors):
    client.force_login(viewer)
    response = client.post(_url("new", workspace), {"dataset": visitors.pk, "name": "Nope", "query": ""})
    assert response.status_code == 403
    assert not Segment.objects.exists()


def test_saving_filters_that_do_not_fit_the_dataset_is_refused(client, workspace, analyst, visitors):
    client.force_login(analyst)
    response = client.post(_url("new", workspace), {"dataset": visitors.pk, "name": "Bad", "query": "in.nope=1"})
    assert response.status_code == 400
    assert "These filters do not fit the dataset: Unknown column: &#x27;nope&#x27;." in response.content.decode()
    assert not Segment.objects.exists()


def test_duplicate_segment_name_is_a_form_error(client, workspace, analyst, visitors):
    _segment(workspace, visitors, name="Taken")
    client.force_login(analyst)
    response = client.post(_url("new", workspace), {"dataset": visitors.pk, "name": "Taken", "query": ""})
    assert response.status_code == 400
    assert "A segment with this name already exists in this workspace." in response.content.decode()
    assert Segment.objects.count() == 1


def test_another_workspaces_dataset_cannot_be_used(client, workspace, other_workspace, analyst):
    foreign = visitors_dataset(workspace=other_workspace)
    client.force_login(analyst)
    response = client.post(_url("new", workspace), {"dataset": foreign.pk, "name": "X", "query": ""})
    assert response.status_code == 404
    assert not Segment.objects.exists()


# --- builder -------------------------------------------------------------------------------------
def test_builder_prefills_from_the_url_and_answers_json(client, workspace, analyst, visitors):
    frame = visitors_frame()
    client.force_login(analyst)
    page = client.get(_url("new", workspace), {"dataset": visitors.pk, "in.state": "TX"})
    data = client.get(_url("new", workspace), {"dataset": visitors.pk, "in.state": "TX", "format": "json"}).json()
    kept = frame[frame.state == "TX"]
    metrics = {m["key"]: m for m in data["metrics"]}
    assert page.status_code == 200
    assert 'name="query" value="in.state=TX"' in page.content.decode()
    assert data["filters"] == {"query": "in.state=TX", "active": ["state is TX"]}
    assert metrics["size"]["value"] == len(kept)
    assert metrics["purchasers"]["value"] == int(kept.converted.sum())
    assert len(data["preview"]["rows"]) == 20


def test_builder_bad_filter_is_400(client, workspace, analyst, visitors):
    client.force_login(analyst)
    response = client.get(_url("new", workspace), {"dataset": visitors.pk, "in.nope": "x", "format": "json"})
    assert response.status_code == 400
    assert response.json() == {"error": "Unknown column: 'nope'."}


def test_builder_without_data_says_so(client, workspace, analyst):
    client.force_login(analyst)
    response = client.get(_url("new", workspace))
    assert response.status_code == 200
    assert "No buyers or visitors data yet" in response.content.decode()


# --- edit / delete -------------------------------------------------------------------------------
@pytest.mark.parametrize("editor", ["author", "owner"])
def test_author_or_owner_edit_creates_a_revision(client, workspace, analyst, owner, visitors, *, editor):
    segment = _segment(workspace, visitors, user=analyst)
    user = analyst if editor == "author" else owner
    client.force_login(user)
    data = {"name": "Email NY", "description": "now NY", "query": "in.channel=Email&in.state=NY"}
    response = client.post(_url("edit", workspace, segment.pk), data)
    segment.refresh_from_db()
    assert response.status_code == 302
    assert (segment.name, segment.query, segment.revision, segment.updated_by) == (
        "Email NY",
        "in.channel=Email&in.state=NY",
        2,
        user,
    )
    assert list(segment.revisions.values_list("number", "name")) == [(2, "Email NY"), (1, "Email CA")]
    event = AuditEvent.objects.get(workspace=workspace, action="segment.changed")
    assert event.details["changed"] == ["description", "name", "query"]
    assert event.details["before"]["query"] == "in.channel=Email&in.state=CA"


def test_saving_the_same_definition_adds_no_revision(client, workspace, analyst, visitors):
    segment = _segment(workspace, visitors, user=analyst)
    client.force_login(analyst)
    data = {"name": segment.name, "description": "", "query": "in.state=CA&in.channel=Email"}
    response = client.post(_url("edit", workspace, segment.pk), data)
    segment.refresh_from_db()
    assert response.status_code == 302
    assert (segment.revision, segment.revisions.count()) == (1, 1)
    assert not AuditEvent.objects.filter(action="segment.changed").exists()


def test_another_analyst_cannot_edit_or_delete(client, workspace, analyst, visitors):
    segment = _segment(workspace, visitors, user=analyst)
    other = MembershipFactory(workspace=workspace, role=Role.ANALYST).user
    client.force_login(other)
    edit = client.post(_url("edit", workspace, segment.pk), {"name": "Mine now", "query": ""})
    edit_page = client.get(_url("edit", workspace, segment.pk))
    delete = client.post(_url("delete", workspace, segment.pk))
    detail = client.get(_url("detail", workspace, segment.pk))
    segment.refresh_from_db()
    assert (edit.status_code, edit_page.status_code, delete.status_code) == (403, 403, 403)
    assert segment.name == "Email CA"
    assert _url("edit", workspace, segment.pk) not in detail.content.decode()


def test_edit_page_starts_from_the_saved_filters(client, workspace, analyst, visitors):
    segment = _segment(workspace, visitors, user=analyst)
    client.force_login(analyst)
    response = client.get(_url("edit", workspace, segment.pk))
    body = response.content.decode()
    assert response.status_code == 200
    assert 'name="query" value="in.channel=Email&amp;in.state=CA"' in body
    assert 'value="Email CA"' in body


def test_delete_is_audited(client, workspace, analyst, owner, visitors):
    segment = _segment(workspace, visitors, user=analyst)
    client.force_login(owner)
    response = client.post(_url("delete", workspace, segment.pk))
    assert response.status_code == 302
    assert not Segment.objects.filter(pk=segment.pk).exists()
    event = AuditEvent.objects.get(workspace=workspace, action="segment.deleted")
    assert (event.actor, event.target_type, event.target_id) == (owner, "segments.segment", str(segment.pk))
    assert event.details["name"] == "Email CA"


# --- detail --------------------------------------------------------------------------------------
def test_detail_json_equals_the_numbers_on_the_page(client, workspace, viewer, visitors):
    segment = _segment(workspace, visitors)
    client.force_login(viewer)
    page = client.get(_url("detail", workspace, segment.pk)).content.decode()
    data = client.get(_url("detail", workspace, segment.pk), {"format": "json"}).json()
    shown = dict(re.findall(r'data-metric="(\w+)">.*?data-metric-value>([^<]*)<', page, re.S))
    assert shown == {m["key"]: m["display"] for m in data["metrics"]}
    frame = visitors_frame()
    kept = frame[(frame.channel == "Email") & (frame.state == "CA")]
    assert shown["size"] == f"{len(kept):,}"
    assert data["definition"] == ["channel is Email", "state is CA"]


def test_detail_of_a_stale_segment_explains(client, workspace, viewer, visitors):
    segment = _segment(workspace, visitors, query="in.plan=gold")
    client.force_login(viewer)
    response = client.get(_url("detail", workspace, segment.pk))
    data = client.get(_url("detail", workspace, segment.pk), {"format": "json"}).json()
    assert response.status_code == 200
    assert "This segment&#x27;s filter no longer matches the dataset: Unknown column: &#x27;plan&#x27;." in (
        response.content.decode()
    )
    assert data["metrics"] == []


def test_list_search_by_name(client, workspace, viewer, visitors):
    _segment(workspace, visitors, name="Email CA")
    _segment(workspace, visitors, name="Search TX", query="in.channel=Search")
    client.force_login(viewer)
    body = client.get(_url("list", workspace), {"q": "search"}).content.decode()
    assert "Search TX" in body
    assert "Email CA" not in body


def test_another_workspaces_segment_is_404(client, workspace, other_workspace, owner):
    foreign = _segment(other_workspace, visitors_dataset(workspace=other_workspace))
    client.force_login(owner)
    assert client.get(_url("detail", workspace, foreign.pk)).status_code == 404
    assert client.get(_url("compare", workspace), {"s": foreign.pk}).status_code == 404


# --- compare -------------------------------------------------------------------------------------
@pytest.mark.parametrize("count", [2, 3, 4])
def test_compare_two_to_four(client, workspace, viewer, visitors, count):
    buyers = buyers_dataset(workspace=workspace, frame=buyers_frame())
    segments = [
        _segment(workspace, visitors, name="V Email", query="in.channel=Email"),
        _segment(workspace, buyers, name="B CA", query="in.state=CA"),
        _segment(workspace, visitors, name="V all", query=""),
        _segment(workspace, buyers, name="B all", query=""),
    ][:count]
    client.force_login(viewer)
    ids = [s.pk for s in segments]
    response = client.get(_url("compare", workspace), {"s": ids})
    data = client.get(_url("compare", workspace), {"s": ids, "format": "json"}).json()
    assert response.status_code == 200
    assert [e["id"] for e in data["segments"]] == ids
    frame = visitors_frame()
    email = frame[frame.channel == "Email"]
    first = data["segments"][0]["metrics"]
    assert first["size"]["value"] == len(email)
    assert first["conversion"]["value"] == pytest.approx(email.converted.mean())
    assert data["segments"][1]["metrics"]["conversion"]["missing"] == "needs visitor data"
    size_row = next(row for row in data["table"] if row["key"] == "size")
    assert [c["value"] for c in size_row["cells"]] == [e["metrics"]["size"]["value"] for e in data["segments"]]
    assert response.content.decode().count("data-compare-segment=") == count
    assert 'id="chart-data"' in response.content.decode()


def test_compare_five_is_400(client, workspace, viewer, visitors):
    ids = [_segment(workspace, visitors, name=f"S{i}", query="").pk for i in range(5)]
    client.force_login(viewer)
    response = client.get(_url("compare", workspace), {"s": ids})
    assert response.status_code == 400
    assert "Compare at most 4 segments at a time." in response.content.decode()


def test_compare_without_segments_is_a_picker(client, workspace, viewer, visitors):
    _segment(workspace, visitors, name="Pick me")
    client.force_login(viewer)
    response = client.get(_url("compare", workspace))
    assert response.status_code == 200
    assert "Pick me" in response.content.decode()


# --- escaping ------------------------------------------------------------------------------------
def test_xss_in_names_descriptions_and_cells_is_escaped(client, workspace, owner):
    buyers = buyers_dataset(workspace=workspace, frame=buyers_frame())
    segment = Segment.objects.create(
        workspace=workspace,
        dataset=buyers,
        name=XSS_SCRIPT,
        description=XSS_IMG,
        query="in.channel=" + XSS_VALUE.replace("&", "%26").replace("=", "%3D").replace(" ", "+"),
        created_by=owner,
    )
    client.force_login(owner)
    pages = [
        client.get(_url("detail", workspace, segment.pk)),
        client.get(_url("list", workspace)),
        client.get(_url("compare", workspace), {"s": [segment.pk]}),
        client.get(_url("edit", workspace, segment.pk)),
    ]
    for response in pages:
        body = response.content.decode()
        assert response.status_code == 200
        assert XSS_SCRIPT not in body
        assert XSS_IMG not in body
        assert XSS_VALUE not in body
    detail = pages[0].content.decode()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in detail
    assert "&lt;img src=x onerror=alert(1)&gt;" in detail  # the channel cells of the preview
