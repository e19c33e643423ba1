"""access.denied rows for 404 and 403 under /w/ and /owner/ (T-IDOR-01's "failed-authz audit event")."""

import pytest

from audit.models import AuditEvent
from audit.tests.conftest import CLIENT_IP, CLIENT_UA
from audit.tests.urls import ROLLED_BACK_SLUG
from workspaces.models import Workspace

pytestmark = pytest.mark.urls("audit.tests.urls")
CLIENT_HEADERS = {"User-Agent": CLIENT_UA}
VIEW_NAME = "audit_test_owner_only"


def test_non_member_404_is_recorded_without_the_workspace(client, workspace, outsider):
    client.force_login(outsider)
    before = AuditEvent.objects.count()
    response = client.get("/w/acme/owner-only/", headers=CLIENT_HEADERS, REMOTE_ADDR=CLIENT_IP)
    assert response.status_code == 404
    assert AuditEvent.objects.count() == before + 1
    event = AuditEvent.objects.get(action="access.denied")
    assert (event.actor_id, event.workspace_id, event.ip, event.user_agent) == (outsider.pk, None, CLIENT_IP, CLIENT_UA)
    assert event.details == {
        "path": "/w/acme/owner-only/",
        "method": "GET",
        "status": 404,
        "workspace_slug": "acme",
        "view": VIEW_NAME,
    }


def test_missing_workspace_404_is_recorded_with_the_slug(client, outsider):
    client.force_login(outsider)
    response = client.post("/w/no-such-place/owner-only/")
    assert response.status_code == 404
    event = AuditEvent.objects.get(action="access.denied")
    assert (event.workspace_id, event.details["workspace_slug"], event.details["method"]) == (
        None,
        "no-such-place",
        "POST",
    )


def test_member_403_is_recorded_in_the_workspace(client, workspace, viewer):
    client.force_login(viewer)
    response = client.get("/w/acme/owner-only/", headers=CLIENT_HEADERS, REMOTE_ADDR=CLIENT_IP)
    assert response.status_code == 403
    event = AuditEvent.objects.get(action="access.denied")
    assert (event.actor_id, event.workspace_id, event.details["status"]) == (viewer.pk, workspace.pk, 403)
    assert (event.ip, event.user_agent) == (CLIENT_IP, CLIENT_UA)


def test_other_tenants_owner_is_not_put_in_that_tenants_log(client, workspace, other_owner):
    client.force_login(other_owner)
    client.get("/w/acme/owner-only/")
    assert AuditEvent.objects.filter(action="access.denied", workspace=workspace).count() == 0
    assert AuditEvent.objects.filter(action="access.denied", workspace=None).count() == 1


def test_anonymous_404_is_recorded_without_an_actor(client, workspace):
    response = client.get("/w/acme/owner-only/")
    assert response.status_code == 404
    event = AuditEvent.objects.get(action="access.denied")
    assert (event.actor_id, event.actor_email) == (None, "")


def test_owner_admin_permission_denied_is_recorded(client, outsider):
    client.force_login(outsider)
    response = client.get("/owner/denied/")
    assert response.status_code == 403
    event = AuditEvent.objects.get(action="access.denied")
    assert (event.workspace_id, event.details["path"], event.details["status"]) == (None, "/owner/denied/", 403)


def test_404_outside_tenant_urls_is_not_recorded(client, outsider):
    client.force_login(outsider)
    response = client.get("/elsewhere/")
    assert response.status_code == 404
    assert AuditEvent.objects.filter(action="access.denied").count() == 0


@pytest.mark.django_db(transaction=True)
def test_the_row_survives_the_rollback_of_the_denied_request(client, workspace, viewer):
    # Real transactions here: ATOMIC_REQUESTS rolls the view back, then process_exception writes.
    client.force_login(viewer)
    response = client.get("/w/acme/owner-only/")
    assert response.status_code == 403
    assert not Workspace.objects.filter(slug=ROLLED_BACK_SLUG).exists()
    assert AuditEvent.objects.filter(action="access.denied", workspace=workspace, actor=viewer).count() == 1
