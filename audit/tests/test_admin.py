"""The audit log in the platform admin (T-AUD-06) and the owner admin (scoping, T-AUD-04, CSV export)."""

import csv
import io
import re

import pytest
from django.contrib import admin
from django.test import RequestFactory
from django.urls import reverse

from accounts.tests.factories import UserFactory
from audit.admin import CSV_COLUMNS
from audit.models import AuditEvent
from audit.services import audit_record
from workspaces.admin import owner_admin_site

CHANGELIST = "owner_admin:audit_auditevent_changelist"
EXPORT = "owner_admin:audit_auditevent_export_csv"
SCRIPT = "<script>alert(1)</script>"
JSON_BREAKOUT = '"}, "admin": true, "x": {"'


def _without_csrf(content: bytes) -> bytes:
    return re.sub(rb'name="csrfmiddlewaretoken" value="[^"]*"', b"", content)


def _csv(response) -> list[list[str]]:
    return list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))


@pytest.fixture
def events(workspace, other_workspace, owner, other_owner):
    """One event in A, one in B, one account-level event."""
    return {
        "a": audit_record(
            action="member.invited", actor=owner, workspace=workspace, details={"email": "a@example.com"}
        ),
        "b": audit_record(
            action="b.private-action", actor=other_owner, workspace=other_workspace, details={"secret": "globex-only"}
        ),
        "account": audit_record(action="account.login", actor=owner),
    }


# --- platform admin (T-AUD-06) ------------------------------------------------------------------


def test_platform_admin_has_no_add_change_or_delete(db):
    model_admin = admin.site._registry[AuditEvent]
    request = RequestFactory().get("/admin/")
    request.user = UserFactory(is_staff=True, is_superuser=True)
    assert model_admin.has_view_permission(request) is True
    assert model_admin.has_add_permission(request) is False
    assert model_admin.has_change_permission(request) is False
    assert model_admin.has_delete_permission(request) is False
    assert "delete_selected" not in model_admin.get_actions(request)


def test_platform_admin_pages_refuse_writes(client, events):
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    event = events["b"]
    count = AuditEvent.objects.count()
    change_url = reverse("admin:audit_auditevent_change", args=[event.pk])
    assert client.get(reverse("admin:audit_auditevent_changelist")).status_code == 200
    assert client.get(change_url).status_code == 200  # read-only view
    assert client.get(reverse("admin:audit_auditevent_add")).status_code == 403
    assert client.post(change_url, {"action": "forged"}).status_code == 403
    assert client.post(reverse("admin:audit_auditevent_delete", args=[event.pk]), {"post": "yes"}).status_code == 403
    assert AuditEvent.objects.get(pk=event.pk).action == "b.private-action"
    assert AuditEvent.objects.count() == count


def test_platform_admin_lists_account_level_events(client, events):
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    response = client.get(reverse("admin:audit_auditevent_changelist"), {"action__exact": "b.private-action"})
    assert response.status_code == 200
    assert response.context["cl"].result_count == 1


# --- owner admin: scoping ---------------------------------------------------------------------


def test_owner_sees_only_their_workspaces_events(owner_client, events):
    response = owner_client.get(reverse(CHANGELIST))
    assert response.status_code == 200
    assert [event.pk for event in response.context["cl"].result_list] == [events["a"].pk]
    content = response.content.decode()
    assert "b.private-action" not in content  # not in the rows, nor in the action filter's choices
    assert "globex" not in content.lower()


def test_other_tenants_event_is_not_found_in_the_owner_admin(owner_client, events):
    own = owner_client.get(reverse("owner_admin:audit_auditevent_change", args=[events["a"].pk]))
    foreign = owner_client.get(reverse("owner_admin:audit_auditevent_change", args=[events["b"].pk]))
    account = owner_client.get(reverse("owner_admin:audit_auditevent_change", args=[events["account"].pk]))
    missing = owner_client.get(reverse("owner_admin:audit_auditevent_change", args=[999_999]))
    assert own.status_code == 200
    assert (foreign.status_code, account.status_code) == (404, 404)
    assert _without_csrf(foreign.content) == _without_csrf(missing.content)
    assert "b.private-action" not in own.content.decode() + foreign.content.decode()
    denied = AuditEvent.objects.filter(action="access.denied").order_by("id")
    assert [(event.workspace_id, event.details["status"]) for event in denied] == [(None, 404)] * 3


def test_owner_admin_permissions(rf, events, owner, analyst, outsider):
    model_admin = owner_admin_site._registry[AuditEvent]
    request = rf.get("/owner/")
    request.user = owner
    assert model_admin.has_view_permission(request) is True
    assert model_admin.has_view_permission(request, events["a"]) is True
    assert model_admin.has_view_permission(request, events["b"]) is False
    assert model_admin.has_view_permission(request, events["account"]) is False
    assert (model_admin.has_add_permission(request), model_admin.has_change_permission(request, events["a"])) == (
        False,
        False,
    )
    assert model_admin.has_delete_permission(request, events["a"]) is False
    request.user = analyst
    assert model_admin.has_view_permission(request) is False
    assert list(model_admin.get_queryset(request)) == []
    request.user = outsider
    assert model_admin.has_view_permission(request) is False


def test_owner_filters_by_user_action_and_workspace(owner_client, workspace, owner, analyst, events):
    audit_record(action="member.removed", actor=analyst, workspace=workspace)
    by_user = owner_client.get(reverse(CHANGELIST), {"actor_email": analyst.email})
    by_action = owner_client.get(reverse(CHANGELIST), {"action": "member.invited"})
    by_workspace = owner_client.get(reverse(CHANGELIST), {"workspace": str(workspace.pk)})
    by_search = owner_client.get(reverse(CHANGELIST), {"q": "removed"})
    assert [e.action for e in by_user.context["cl"].result_list] == ["member.removed"]
    assert [e.action for e in by_action.context["cl"].result_list] == ["member.invited"]
    assert f'href="{reverse(EXPORT)}?action=member.invited"' in by_action.content.decode()
    assert by_workspace.context["cl"].result_count == 2
    assert [e.action for e in by_search.context["cl"].result_list] == ["member.removed"]


def test_asking_for_the_other_workspace_by_filter_shows_nothing(owner_client, other_workspace, events):
    response = owner_client.get(reverse(CHANGELIST), {"workspace": str(other_workspace.pk)})
    assert list(response.context["cl"].result_list) == []


# --- T-AUD-04: stored as given, shown encoded -------------------------------------------------------


def test_hostile_payloads_are_stored_as_given_and_rendered_escaped(owner_client, workspace, owner, rf):
    details = {"segment": SCRIPT, "name": "evil\r\nINFO admin logged in", "ansi": "\x1b[31mred", "json": JSON_BREAKOUT}
    user_agent = "<script>alert('ua')</script>\r\n\x1b[2J"
    request = rf.get("/", HTTP_USER_AGENT=user_agent)
    event = audit_record(action="segment.saved", actor=owner, workspace=workspace, details=details, request=request)
    stored = AuditEvent.objects.get(pk=event.pk)
    assert (stored.details, stored.user_agent) == (details, user_agent)

    listing = owner_client.get(reverse(CHANGELIST)).content.decode()
    detail = owner_client.get(reverse("owner_admin:audit_auditevent_change", args=[event.pk])).content.decode()
    for page in (listing, detail):  # the listing shows the details cut short, the detail page in full
        assert "<script>alert" not in page
        assert "\x1b" not in page
        assert "\r\nINFO" not in page
        assert '"admin": true' not in page
    assert "\\u001b[31mred" in listing  # the first key ("ansi"), spelled out
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in detail
    assert "evil\\r\\nINFO admin logged in" in detail
    assert "\\x1b[2J" in detail  # the user agent's escape, spelled out
    assert "&lt;script&gt;alert(&#x27;ua&#x27;)&lt;/script&gt;\\r\\n" in detail


# --- CSV export ------------------------------------------------------------------------------


def test_export_streams_the_filtered_events_as_an_attachment(owner_client, workspace, owner, events):
    audit_record(action="member.removed", actor=owner, workspace=workspace)
    response = owner_client.get(reverse(EXPORT), {"action": "member.removed"})
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith('attachment; filename="audit-log-')
    rows = _csv(response)
    assert rows[0] == CSV_COLUMNS
    assert [row[CSV_COLUMNS.index("action")] for row in rows[1:]] == ["member.removed"]


def test_export_never_contains_another_workspace_or_account_events(owner_client, events):
    rows = _csv(owner_client.get(reverse(EXPORT)))
    assert [row[0] for row in rows[1:]] == [str(events["a"].pk)]
    assert "globex-only" not in str(rows)


def test_export_neutralises_formulas(owner_client, workspace, owner, rf):
    request = rf.get("/", HTTP_USER_AGENT="\tcmd")
    audit_record(
        action='=HYPERLINK("http://evil.example")',
        actor=owner,
        workspace=workspace,
        target_type="@SUM(A1)",
        target_id="-2+3",
        details={"cr": "\r=1"},
        request=request,
    )
    row = _csv(owner_client.get(reverse(EXPORT)))[1]
    assert row[CSV_COLUMNS.index("action")] == '\'=HYPERLINK("http://evil.example")'
    assert row[CSV_COLUMNS.index("target_type")] == "'@SUM(A1)"
    assert row[CSV_COLUMNS.index("target_id")] == "'-2+3"
    assert row[CSV_COLUMNS.index("user_agent")] == "'\\tcmd"
    assert row[CSV_COLUMNS.index("details")] == '{"cr": "\\r=1"}'
    assert row[CSV_COLUMNS.index("time_utc")].endswith("+00:00")


def test_export_of_selected_events_stays_in_scope(owner_client, events):
    response = owner_client.post(
        reverse(CHANGELIST), {"action": "export_csv", "_selected_action": [events["a"].pk, events["b"].pk]}
    )
    assert response["Content-Disposition"].startswith("attachment;")
    assert [row[0] for row in _csv(response)[1:]] == [str(events["a"].pk)]


def test_export_is_itself_recorded(owner_client, owner, events):
    _csv(owner_client.get(reverse(EXPORT)))
    exported = AuditEvent.objects.get(action="audit.exported")
    assert (exported.actor_id, exported.workspace_id, exported.details["site"]) == (owner.pk, None, "owner_admin")


def test_export_is_refused_to_a_non_owner(client, analyst, events):
    client.force_login(analyst)
    response = client.get(reverse(EXPORT))
    assert response.status_code in (302, 403)
    assert not response.has_header("Content-Disposition")
    assert AuditEvent.objects.filter(action="audit.exported").count() == 0
