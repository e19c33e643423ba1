import re

import pytest
from django.core import mail
from django.urls import reverse

from workspaces import services
from workspaces.decorators import MESSAGE_2FA_REQUIRED
from workspaces.models import Invitation, Membership, Role, Workspace
from workspaces.tests.conftest import give_totp
from workspaces.tests.factories import InvitationFactory, MembershipFactory


def _without_csrf(response) -> str:
    # The CSRF token is masked differently in every response; everything else must match.
    return re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', "", response.content.decode())


def _url(name: str, workspace, **kwargs) -> str:
    return reverse(f"workspaces:{name}", kwargs={"workspace_slug": workspace.slug, **kwargs})


# --- list, create, default -------------------------------------------------------------------


def test_list_shows_only_my_workspaces(client, workspace, other_workspace, viewer):
    client.force_login(viewer)
    body = client.get(reverse("workspaces:list")).content.decode()
    assert "Acme Marketing" in body
    assert "Globex Growth" not in body


def test_list_needs_login(client, db):
    response = client.get(reverse("workspaces:list"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("account_login"))


def test_create_workspace(client, outsider):
    client.force_login(outsider)
    response = client.post(reverse("workspaces:create"), {"name": "Initech", "slug": "hijack", "created_by": "1"})
    workspace = Workspace.objects.get()
    assert response.status_code == 302
    assert response["Location"] == "/w/initech/"
    assert (workspace.slug, workspace.created_by) == ("initech", outsider)
    assert Membership.objects.get(workspace=workspace).role == Role.OWNER


def test_create_with_blank_name_is_400(client, outsider):
    client.force_login(outsider)
    response = client.post(reverse("workspaces:create"), {"name": "  "})
    assert response.status_code == 400
    assert Workspace.objects.count() == 0


def test_set_default_by_any_member(client, workspace, other_workspace, viewer):
    other = MembershipFactory(workspace=other_workspace, user=viewer, is_default=True)
    client.force_login(viewer)
    response = client.post(_url("set_default", workspace))
    other.refresh_from_db()
    assert response.status_code == 302
    assert Membership.objects.get(workspace=workspace, user=viewer).is_default is True
    assert other.is_default is False


def test_set_default_needs_post(client, workspace, viewer):
    client.force_login(viewer)
    response = client.get(_url("set_default", workspace))
    assert response.status_code == 405
    assert Membership.objects.get(workspace=workspace, user=viewer).is_default is False


# --- overview, sidebar -----------------------------------------------------------------------


def test_overview_sidebar_for_a_viewer_has_no_owner_links(client, workspace, viewer):
    client.force_login(viewer)
    body = client.get(_url("detail", workspace)).content.decode()
    assert _url("members", workspace) in body
    assert _url("settings", workspace) not in body
    assert _url("invitations", workspace) not in body
    assert reverse("owner_admin:index") not in body


def test_overview_sidebar_for_an_owner(owner_client, workspace):
    body = owner_client.get(_url("detail", workspace)).content.decode()
    assert _url("settings", workspace) in body
    assert _url("invitations", workspace) in body
    assert reverse("owner_admin:index") in body


def test_anonymous_visitor_is_sent_to_login(client, workspace):
    response = client.get(_url("detail", workspace))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("account_login"))


def test_missing_and_foreign_workspaces_look_the_same(client, workspace, other_workspace, viewer):
    client.force_login(viewer)
    foreign = client.get(_url("detail", other_workspace))
    missing = client.get("/w/no-such-workspace/")
    assert (foreign.status_code, missing.status_code) == (404, 404)
    assert _without_csrf(foreign) == _without_csrf(missing)


def test_page_queries_stay_bounded(client, workspace, viewer, django_assert_max_num_queries):
    for _ in range(5):
        MembershipFactory(workspace=workspace)
    client.force_login(viewer)
    with django_assert_max_num_queries(15):
        client.get(_url("members", workspace))


# --- settings, delete ------------------------------------------------------------------------


def test_owner_renames(owner_client, workspace):
    response = owner_client.post(_url("settings", workspace), {"name": "Acme Growth", "slug": "evil"})
    workspace.refresh_from_db()
    assert response.status_code == 302
    assert (workspace.name, workspace.slug) == ("Acme Growth", "acme")


def test_turning_on_2fa_without_having_it_is_refused(owner_client, workspace):
    response = owner_client.post(_url("settings", workspace), {"name": "Acme Marketing", "require_2fa": "on"})
    workspace.refresh_from_db()
    assert response.status_code == 400
    assert services.ERROR_ENABLE_2FA_FIRST in response.content.decode()
    assert workspace.require_2fa is False


def test_owner_with_2fa_turns_it_on(owner_client, workspace, owner):
    give_totp(owner)
    owner_client.post(_url("settings", workspace), {"name": "Acme Marketing", "require_2fa": "on"})
    workspace.refresh_from_db()
    assert workspace.require_2fa is True


def test_delete_page_then_wrong_name_then_right_name(owner_client, workspace):
    page = owner_client.get(_url("delete", workspace))
    wrong = owner_client.post(_url("delete", workspace), {"confirm_name": "Acme"})
    still_there = Workspace.objects.filter(pk=workspace.pk).exists()
    right = owner_client.post(_url("delete", workspace), {"confirm_name": "Acme Marketing"})
    assert page.status_code == 200
    assert "Type <strong>Acme Marketing</strong> to confirm" in page.content.decode()
    assert wrong.status_code == 400
    assert services.ERROR_DELETE_CONFIRMATION in wrong.content.decode()
    assert still_there is True
    assert right.status_code == 302
    assert not Workspace.objects.filter(pk=workspace.pk).exists()


# --- members ---------------------------------------------------------------------------------


def test_every_member_sees_the_member_list(client, workspace, owner, analyst, viewer):
    client.force_login(viewer)
    response = client.get(_url("members", workspace))
    body = response.content.decode()
    assert response.status_code == 200
    assert all(u.email in body for u in (owner, analyst, viewer))
    assert "Change role" not in body


def test_owner_changes_a_role(owner_client, workspace, analyst):
    target = Membership.objects.get(workspace=workspace, user=analyst)
    response = owner_client.post(_url("member_role", workspace, member_id=target.pk), {"role": "viewer"})
    target.refresh_from_db()
    assert response.status_code == 302
    assert target.role == Role.VIEWER


def test_owner_cannot_change_own_role(owner_client, workspace, owner):
    MembershipFactory(workspace=workspace, role=Role.OWNER)
    mine = Membership.objects.get(workspace=workspace, user=owner)
    response = owner_client.post(_url("member_role", workspace, member_id=mine.pk), {"role": "viewer"})
    mine.refresh_from_db()
    assert response.status_code == 400
    assert services.ERROR_OWN_ROLE in response.content.decode()
    assert mine.role == Role.OWNER


def test_invalid_role_value_is_400(owner_client, workspace, analyst):
    target = Membership.objects.get(workspace=workspace, user=analyst)
    response = owner_client.post(_url("member_role", workspace, member_id=target.pk), {"role": "superuser"})
    target.refresh_from_db()
    assert response.status_code == 400
    assert target.role == Role.ANALYST


def test_owner_removes_a_member(owner_client, workspace, viewer):
    target = Membership.objects.get(workspace=workspace, user=viewer)
    response = owner_client.post(_url("member_remove", workspace, member_id=target.pk))
    assert response.status_code == 302
    assert not Membership.objects.filter(pk=target.pk).exists()


def test_last_owner_leaving_gets_a_clear_400(owner_client, workspace, owner):
    response = owner_client.post(_url("leave", workspace))
    assert response.status_code == 400
    assert services.ERROR_LAST_OWNER_LEAVE in response.content.decode()
    assert Membership.objects.filter(workspace=workspace, user=owner).exists()


def test_member_leaves(client, workspace, analyst):
    client.force_login(analyst)
    response = client.post(_url("leave", workspace))
    after = client.get(_url("detail", workspace))
    assert response.status_code == 302
    assert after.status_code == 404


# --- invitations (owner side) ----------------------------------------------------------------


def test_owner_invites(owner_client, workspace, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = owner_client.post(
            _url("invitations", workspace), {"email": "New@Example.com", "role": "analyst", "workspace": "2"}
        )
    invitation = Invitation.objects.get()
    assert response.status_code == 302
    assert (invitation.workspace, invitation.email, invitation.role) == (workspace, "new@example.com", "analyst")
    assert mail.outbox[0].to == ["new@example.com"]
    assert "http://testserver/invitations/" in mail.outbox[0].body


def test_inviting_a_member_shows_the_error(owner_client, workspace, analyst):
    response = owner_client.post(_url("invitations", workspace), {"email": analyst.email, "role": "viewer"})
    assert response.status_code == 400
    assert services.ERROR_ALREADY_MEMBER in response.content.decode()
    assert Invitation.objects.count() == 0


def test_invitation_list_shows_status_and_not_the_token(owner_client, workspace):
    invitation = InvitationFactory(workspace=workspace, email="pending@example.com")
    body = owner_client.get(_url("invitations", workspace)).content.decode()
    assert "pending@example.com" in body
    assert "Pending" in body
    assert invitation.token not in body
    assert invitation.token_hash not in body


def test_owner_revokes_and_resends(owner_client, workspace, django_capture_on_commit_callbacks):
    revoked = InvitationFactory(workspace=workspace, email="r@example.com")
    resent = InvitationFactory(workspace=workspace, email="s@example.com")
    old_hash = resent.token_hash
    owner_client.post(_url("invitation_revoke", workspace, invitation_id=revoked.pk))
    with django_capture_on_commit_callbacks(execute=True):
        owner_client.post(_url("invitation_resend", workspace, invitation_id=resent.pk))
    revoked.refresh_from_db()
    resent.refresh_from_db()
    assert revoked.revoked_at is not None
    assert resent.token_hash != old_hash
    assert [m.to for m in mail.outbox] == [["s@example.com"]]


# --- "members must use 2FA" ------------------------------------------------------------------


@pytest.mark.parametrize("url_name", ["detail", "members"])
def test_member_without_totp_is_sent_to_set_it_up(client, workspace, analyst, url_name):
    Workspace.objects.filter(pk=workspace.pk).update(require_2fa=True)
    client.force_login(analyst)
    response = client.get(_url(url_name, workspace), follow=False)
    followed = client.get(_url(url_name, workspace), follow=True)
    assert response.status_code == 302
    assert response["Location"] == reverse("mfa_activate_totp")
    assert MESSAGE_2FA_REQUIRED.format(workspace="Acme Marketing") in followed.content.decode()


def test_writes_are_blocked_too_without_totp(client, workspace, analyst):
    Workspace.objects.filter(pk=workspace.pk).update(require_2fa=True)
    client.force_login(analyst)
    response = client.post(_url("leave", workspace))
    assert response.status_code == 302
    assert response["Location"] == reverse("mfa_activate_totp")
    assert Membership.objects.filter(workspace=workspace, user=analyst).exists()


def test_member_with_totp_gets_in(client, workspace, analyst):
    Workspace.objects.filter(pk=workspace.pk).update(require_2fa=True)
    give_totp(analyst)
    client.force_login(analyst)
    assert client.get(_url("detail", workspace)).status_code == 200


def test_2fa_check_does_not_reveal_a_foreign_workspace(client, other_workspace, outsider):
    Workspace.objects.filter(pk=other_workspace.pk).update(require_2fa=True)
    client.force_login(outsider)
    assert client.get(_url("detail", other_workspace)).status_code == 404
