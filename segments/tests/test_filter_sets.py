"""Saved filter sets on the dashboards: personal, audited, applied with a click."""

import pytest
from django.urls import reverse

from analytics.tests.dashboard_data import visitors_dataset
from audit.models import AuditEvent
from segments.models import SavedFilterSet

pytestmark = pytest.mark.django_db


def _save(client, workspace, *, name="Email CA", kind="visitors", query="in.channel=Email&in.state=CA", **extra):
    url = reverse("segments:filter_set_save", args=[workspace.slug])
    return client.post(url, {"name": name, "kind": kind, "query": query, **extra})


def test_viewer_saves_own_filters_and_is_sent_back_to_the_dashboard(client, workspace, viewer):
    dataset = visitors_dataset(workspace=workspace)
    client.force_login(viewer)
    response = _save(client, workspace, query="in.channel=Email&dataset=99&version=3&grain=week", dataset=dataset.pk)
    saved = SavedFilterSet.objects.get()
    assert response.status_code == 302
    assert response["Location"] == (
        reverse("analytics:visitors", args=[workspace.slug]) + f"?dataset={dataset.pk}&in.channel=Email&grain=week"
    )
    assert (saved.user, saved.kind, saved.name, saved.query) == (
        viewer,
        "visitors",
        "Email CA",
        "in.channel=Email&grain=week",
    )
    event = AuditEvent.objects.get(action="filter_set.saved")
    assert (event.actor, event.details["name"]) == (viewer, "Email CA")


def test_filter_sets_are_per_user(client, workspace, viewer, analyst):
    visitors_dataset(workspace=workspace)
    client.force_login(viewer)
    _save(client, workspace, name="Viewer's own")
    client.force_login(analyst)
    _save(client, workspace, name="Analyst's own")
    page = client.get(reverse("analytics:visitors", args=[workspace.slug]), {"in.channel": "Email"}).content.decode()
    viewers, analysts = SavedFilterSet.objects.get(user=viewer), SavedFilterSet.objects.get(user=analyst)
    refused = client.post(reverse("segments:filter_set_delete", args=[workspace.slug, viewers.pk]))
    assert f'data-filter-set="{analysts.pk}"' in page
    assert f'data-filter-set="{viewers.pk}"' not in page
    assert refused.status_code == 404
    assert SavedFilterSet.objects.filter(pk=viewers.pk).exists()


def test_same_name_twice_is_refused_with_a_message(client, workspace, viewer):
    client.force_login(viewer)
    _save(client, workspace)
    response = _save(client, workspace, query="in.channel=Search")
    assert response.status_code == 302
    assert SavedFilterSet.objects.count() == 1
    follow = client.get(response["Location"])
    assert "You already have saved filters with this name on this dashboard." in follow.content.decode()


def test_delete_own_filter_set_is_audited(client, workspace, viewer):
    client.force_login(viewer)
    _save(client, workspace)
    saved = SavedFilterSet.objects.get()
    response = client.post(reverse("segments:filter_set_delete", args=[workspace.slug, saved.pk]))
    assert response.status_code == 302
    assert not SavedFilterSet.objects.exists()
    assert AuditEvent.objects.filter(action="filter_set.deleted", target_id=str(saved.pk)).count() == 1


def test_dashboard_tools_by_role(client, workspace, viewer, analyst):
    dataset = visitors_dataset(workspace=workspace)
    url = reverse("analytics:visitors", args=[workspace.slug])
    client.force_login(viewer)
    viewer_page = client.get(url, {"in.state": "CA"}).content.decode()
    client.force_login(analyst)
    analyst_page = client.get(url, {"in.state": "CA"}).content.decode()
    new_url = reverse("segments:new", args=[workspace.slug]) + f"?dataset={dataset.pk}&amp;in.state=CA"
    assert "Save these filters" in viewer_page
    assert "Save as segment" not in viewer_page
    assert f'href="{new_url}"' in analyst_page
    assert 'name="query" value="in.state=CA"' in analyst_page


def test_applying_a_saved_filter_set_links_to_the_dashboard_with_its_filters(client, workspace, viewer):
    dataset = visitors_dataset(workspace=workspace)
    client.force_login(viewer)
    _save(client, workspace, name="Search", query="in.channel=Search")
    page = client.get(reverse("analytics:visitors", args=[workspace.slug]), {"dataset": dataset.pk}).content.decode()
    link = reverse("analytics:visitors", args=[workspace.slug]) + f"?dataset={dataset.pk}&amp;in.channel=Search"
    assert f'href="{link}"' in page
