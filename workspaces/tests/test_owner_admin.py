"""The owner admin (/owner/): owners without is_staff, scoped to the workspaces they own."""

import pytest
from django.contrib.contenttypes.models import ContentType
from django.core import mail
from django.urls import reverse

from accounts.tests.factories import UserFactory
from workspaces import services
from workspaces.models import Invitation, Membership, Role, Workspace
from workspaces.tests.conftest import give_totp
from workspaces.tests.factories import InvitationFactory, MembershipFactory

DOES_NOT_EXIST = "doesn\N{RIGHT SINGLE QUOTATION MARK}t exist"  # Django's admin message, typographic apostrophe
CHANGELISTS = ["workspaces_workspace", "workspaces_membership", "workspaces_invitation"]


def _admin(name: str, *args) -> str:
    return reverse(f"owner_admin:{name}", args=args)


@pytest.fixture
def b_rows(other_workspace, other_owner):
    """Workspace B's rows, each with a string that must never appear on A's pages."""
    b_user = UserFactory(email="b-member@globex.example")
    b_member = MembershipFactory(workspace=other_workspace, role=Role.ANALYST, user=b_user)
    b_invite = InvitationFactory(workspace=other_workspace, email="b-invitee@globex.example")
    return {"workspace": other_workspace, "membership": b_member, "invitation": b_invite}


# --- who gets in -------------------------------------------------------------------------------


def test_owner_without_staff_flag_gets_in(owner_client, owner):
    response = owner_client.get(_admin("index"))
    assert owner.is_staff is False
    assert response.status_code == 200


def test_anonymous_is_sent_to_allauth_login(client, db):
    response = client.get(_admin("index"), follow=True)
    final_url, _ = response.redirect_chain[-1]
    assert final_url.startswith(reverse("account_login"))
    assert "next=/owner/" in final_url
    assert 'name="login"' in response.content.decode()


def test_admin_login_page_redirects_to_allauth(client, db):
    response = client.get(_admin("login"), {"next": "/owner/workspaces/"})
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("account_login"))
    assert "next=/owner/workspaces/" in response["Location"]


def test_admin_login_form_post_logs_nobody_in(client, owner):
    from accounts.tests.factories import TEST_PASSWORD

    client.post(_admin("login"), {"username": owner.email, "password": TEST_PASSWORD})
    assert "_auth_user_id" not in client.session


@pytest.mark.parametrize("role", [Role.ANALYST, Role.VIEWER])
def test_non_owners_get_403(client, workspace, role):
    user = MembershipFactory(workspace=workspace, role=role).user
    client.force_login(user)
    response = client.get(_admin("index"), follow=True)
    assert response.status_code == 403


def test_staff_flag_alone_does_not_open_it(client, db):
    client.force_login(UserFactory(is_staff=True))
    assert client.get(_admin("index"), follow=True).status_code == 403


def test_owner_of_a_2fa_workspace_without_totp_does_not_manage_it_here(client, workspace, owner):
    Workspace.objects.filter(pk=workspace.pk).update(require_2fa=True)
    client.force_login(owner)
    without = client.get(_admin("index"), follow=True).status_code
    give_totp(owner)
    with_totp = client.get(_admin("index")).status_code
    assert (without, with_totp) == (403, 200)


# --- scoping -----------------------------------------------------------------------------------


@pytest.mark.parametrize("changelist", CHANGELISTS)
def test_changelists_show_nothing_of_workspace_b(owner_client, workspace, b_rows, changelist):
    body = owner_client.get(_admin(f"{changelist}_changelist")).content.decode()
    assert "Globex" not in body
    assert "globex.example" not in body


def test_changelists_show_my_rows(owner_client, workspace, owner, analyst):
    InvitationFactory(workspace=workspace, email="a-invitee@acme.example")
    workspaces = owner_client.get(_admin("workspaces_workspace_changelist")).content.decode()
    members = owner_client.get(_admin("workspaces_membership_changelist")).content.decode()
    invitations = owner_client.get(_admin("workspaces_invitation_changelist")).content.decode()
    assert "Acme Marketing" in workspaces
    assert analyst.email in members
    assert "a-invitee@acme.example" in invitations


def test_a_workspace_where_i_am_only_analyst_is_not_mine(owner_client, owner, other_workspace, b_rows):
    MembershipFactory(workspace=other_workspace, user=owner, role=Role.ANALYST)
    body = owner_client.get(_admin("workspaces_membership_changelist")).content.decode()
    assert "b-member@globex.example" not in body


# (model, admin view, status of GET, status of POST). 302 is the admin's "doesn't exist" redirect to
# the index; 403 where owners may never use that view at all (so it reveals nothing about the id).
GUESSES = [
    ("workspace", "change", (302, 302)),
    ("workspace", "delete", (403, 403)),
    ("workspace", "history", (302, 302)),
    ("membership", "change", (302, 302)),
    ("membership", "delete", (302, 302)),
    ("membership", "history", (302, 302)),
    ("invitation", "change", (302, 403)),
    ("invitation", "delete", (403, 403)),
    ("invitation", "history", (302, 302)),
]


@pytest.mark.parametrize(("model", "view", "statuses"), GUESSES)
def test_guessing_b_ids_reveals_and_changes_nothing(owner_client, b_rows, model, view, statuses):
    target = b_rows[model]
    url = _admin(f"workspaces_{model}_{view}", target.pk)
    before = type(target).objects.filter(pk=target.pk).values().get()
    get = owner_client.get(url)
    post = owner_client.post(url, {"post": "yes", "name": "pwned", "role": "viewer", "require_2fa": "on"})
    assert (get.status_code, post.status_code) == statuses
    assert get.get("Location", reverse("owner_admin:index")) == reverse("owner_admin:index")
    assert "Globex" not in get.content.decode()
    assert type(target).objects.filter(pk=target.pk).values().get() == before


def test_guessed_id_gets_the_doesnt_exist_message(owner_client, b_rows):
    response = owner_client.get(_admin("workspaces_membership_change", b_rows["membership"].pk), follow=True)
    assert DOES_NOT_EXIST in response.content.decode()
    assert "b-member@globex.example" not in response.content.decode()


def test_view_on_site_is_scoped(owner_client, workspace, other_workspace):
    content_type = ContentType.objects.get_for_model(Workspace)
    mine = owner_client.get(_admin("view_on_site", content_type.pk, workspace.pk))
    theirs = owner_client.get(_admin("view_on_site", content_type.pk, other_workspace.pk))
    assert mine.status_code == 302
    assert mine["Location"] == "/w/acme/"
    assert theirs.status_code == 404


# --- workspace settings ------------------------------------------------------------------------


def test_owner_renames_through_the_admin(owner_client, workspace, events):
    response = owner_client.post(
        _admin("workspaces_workspace_change", workspace.pk), {"name": "Acme Growth", "slug": "evil"}
    )
    workspace.refresh_from_db()
    assert response.status_code == 302
    assert (workspace.name, workspace.slug) == ("Acme Growth", "acme")
    assert [action for action, _ in events] == ["workspace.renamed"]


def test_require_2fa_without_totp_is_a_form_error(owner_client, workspace):
    response = owner_client.post(
        _admin("workspaces_workspace_change", workspace.pk), {"name": "Acme Marketing", "require_2fa": "on"}
    )
    workspace.refresh_from_db()
    assert response.status_code == 200
    assert services.ERROR_ENABLE_2FA_FIRST in response.content.decode()
    assert workspace.require_2fa is False


def test_no_workspace_add_or_delete_in_the_owner_admin(owner_client, workspace):
    add = owner_client.get(_admin("workspaces_workspace_add"))
    delete = owner_client.post(_admin("workspaces_workspace_delete", workspace.pk), {"post": "yes"})
    assert add.status_code == 403
    assert delete.status_code == 403
    assert Workspace.objects.filter(pk=workspace.pk).exists()


# --- memberships -------------------------------------------------------------------------------


def test_change_role_goes_through_the_service(owner_client, workspace, analyst, events):
    target = Membership.objects.get(workspace=workspace, user=analyst)
    response = owner_client.post(
        _admin("workspaces_membership_change", target.pk), {"role": "owner", "workspace": "999", "user": "1"}
    )
    target.refresh_from_db()
    assert response.status_code == 302
    assert (target.role, target.workspace_id, target.user_id) == (Role.OWNER, workspace.pk, analyst.pk)
    assert [action for action, _ in events] == ["member.role_changed"]


def test_own_role_change_is_a_form_error(owner_client, workspace, owner):
    mine = Membership.objects.get(workspace=workspace, user=owner)
    response = owner_client.post(_admin("workspaces_membership_change", mine.pk), {"role": "viewer"})
    mine.refresh_from_db()
    assert response.status_code == 200
    assert services.ERROR_OWN_ROLE in response.content.decode()
    assert mine.role == Role.OWNER


def test_remove_member_goes_through_the_service(owner_client, workspace, viewer, events):
    target = Membership.objects.get(workspace=workspace, user=viewer)
    response = owner_client.post(_admin("workspaces_membership_delete", target.pk), {"post": "yes"})
    assert response.status_code == 302
    assert not Membership.objects.filter(pk=target.pk).exists()
    assert [action for action, _ in events] == ["member.removed"]


def test_removing_myself_is_refused_with_a_message(owner_client, workspace, owner):
    mine = Membership.objects.get(workspace=workspace, user=owner)
    response = owner_client.post(_admin("workspaces_membership_delete", mine.pk), {"post": "yes"}, follow=True)
    assert services.ERROR_REMOVE_SELF in response.content.decode()
    assert Membership.objects.filter(pk=mine.pk).exists()


def test_bulk_remove_action_keeps_the_rules(owner_client, workspace, owner, viewer):
    mine = Membership.objects.get(workspace=workspace, user=owner)
    theirs = Membership.objects.get(workspace=workspace, user=viewer)
    response = owner_client.post(
        _admin("workspaces_membership_changelist"),
        {"action": "remove_selected", "_selected_action": [mine.pk, theirs.pk]},
        follow=True,
    )
    assert services.ERROR_REMOVE_SELF in response.content.decode()
    assert list(Membership.objects.filter(workspace=workspace).values_list("pk", flat=True)) == [mine.pk]


def test_bulk_action_cannot_reach_b(owner_client, workspace, b_rows):
    b_member = b_rows["membership"]
    owner_client.post(
        _admin("workspaces_membership_changelist"),
        {"action": "remove_selected", "_selected_action": [b_member.pk]},
    )
    assert Membership.objects.filter(pk=b_member.pk).exists()


# --- invitations -------------------------------------------------------------------------------


def test_add_invitation_sends_it(owner_client, workspace, events, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = owner_client.post(
            _admin("workspaces_invitation_add"), {"workspace": workspace.pk, "email": "Z@Example.com", "role": "viewer"}
        )
    invitation = Invitation.objects.get()
    assert response.status_code == 302
    assert (invitation.workspace, invitation.email, invitation.role) == (workspace, "z@example.com", "viewer")
    assert mail.outbox[0].to == ["z@example.com"]
    assert [action for action, _ in events] == ["invitation.sent"]


def test_add_invitation_into_b_is_refused(owner_client, workspace, other_workspace):
    response = owner_client.post(
        _admin("workspaces_invitation_add"),
        {"workspace": other_workspace.pk, "email": "z@example.com", "role": "viewer"},
    )
    assert response.status_code == 200
    assert "Select a valid choice" in response.content.decode()
    assert Invitation.objects.count() == 0


def test_add_invitation_for_a_member_shows_the_rule(owner_client, workspace, analyst):
    response = owner_client.post(
        _admin("workspaces_invitation_add"), {"workspace": workspace.pk, "email": analyst.email, "role": "viewer"}
    )
    assert services.ERROR_ALREADY_MEMBER in response.content.decode()
    assert Invitation.objects.count() == 0


def test_revoke_and_resend_actions(owner_client, workspace, django_capture_on_commit_callbacks):
    to_revoke = InvitationFactory(workspace=workspace, email="r@example.com")
    to_resend = InvitationFactory(workspace=workspace, email="s@example.com")
    old_hash = to_resend.token_hash
    changelist = _admin("workspaces_invitation_changelist")
    owner_client.post(changelist, {"action": "revoke_selected", "_selected_action": [to_revoke.pk]})
    with django_capture_on_commit_callbacks(execute=True):
        owner_client.post(changelist, {"action": "resend_selected", "_selected_action": [to_resend.pk]})
    to_revoke.refresh_from_db()
    to_resend.refresh_from_db()
    assert to_revoke.revoked_at is not None
    assert to_resend.token_hash != old_hash
    assert [m.to for m in mail.outbox] == [["s@example.com"]]


def test_invitation_pages_never_show_the_token_hash(owner_client, workspace):
    invitation = InvitationFactory(workspace=workspace)
    change = owner_client.get(_admin("workspaces_invitation_change", invitation.pk)).content.decode()
    listing = owner_client.get(_admin("workspaces_invitation_changelist")).content.decode()
    assert invitation.token_hash not in change
    assert invitation.token_hash not in listing


# --- platform admin ----------------------------------------------------------------------------


def test_platform_admin_shows_token_hash_read_only(client, workspace):
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    invitation = InvitationFactory(workspace=workspace)
    body = client.get(reverse("admin:workspaces_invitation_change", args=[invitation.pk])).content.decode()
    assert invitation.token_hash in body
    assert 'name="token_hash"' not in body


def test_owner_is_not_let_into_the_platform_admin(owner_client, workspace):
    response = owner_client.get(reverse("admin:workspaces_workspace_change", args=[workspace.pk]))
    assert response.status_code in (302, 403)
    assert "Acme Marketing" not in response.content.decode()
