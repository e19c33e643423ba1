import hashlib
from datetime import timedelta

import pytest
from django.core import mail
from django.core.exceptions import ValidationError
from django.utils import timezone
from freezegun import freeze_time

from accounts.tests.factories import UserFactory
from workspaces import services
from workspaces.models import Invitation, InvitationEmail, Membership, Role, Workspace
from workspaces.tests.conftest import give_totp
from workspaces.tests.factories import InvitationFactory, MembershipFactory, WorkspaceFactory

# --- workspaces --------------------------------------------------------------------------------


def test_create_makes_the_creator_owner_and_default(outsider, events):
    workspace = services.workspace_create(user=outsider, name="  Northwind Traders ")
    membership = Membership.objects.get(workspace=workspace, user=outsider)
    assert workspace.name == "Northwind Traders"
    assert workspace.slug == "northwind-traders"
    assert workspace.created_by == outsider
    assert membership.role == Role.OWNER
    assert membership.is_default is True
    assert [action for action, _ in events] == ["workspace.created"]


def test_second_workspace_is_not_the_default(outsider):
    services.workspace_create(user=outsider, name="First")
    second = services.workspace_create(user=outsider, name="Second")
    assert Membership.objects.get(workspace=second, user=outsider).is_default is False


def test_slugs_are_unique_and_avoid_reserved_words(outsider):
    first = services.workspace_create(user=outsider, name="Acme")
    second = services.workspace_create(user=outsider, name="ACME!")
    third = services.workspace_create(user=outsider, name="acme")
    reserved = services.workspace_create(user=outsider, name="New")
    unsluggable = services.workspace_create(user=outsider, name="***")
    assert [first.slug, second.slug, third.slug] == ["acme", "acme-2", "acme-3"]
    assert reserved.slug == "new-workspace"
    assert unsluggable.slug == "workspace"


def test_create_refuses_a_blank_name(outsider):
    with pytest.raises(ValidationError) as excinfo:
        services.workspace_create(user=outsider, name="   ")
    assert excinfo.value.messages == [services.ERROR_NAME_REQUIRED]
    assert Workspace.objects.count() == 0


def test_rename_keeps_the_slug(workspace, owner, events):
    services.workspace_rename(workspace=workspace, actor=owner, name="Acme Growth")
    workspace.refresh_from_db()
    assert (workspace.name, workspace.slug) == ("Acme Growth", "acme")
    assert events[0][0] == "workspace.renamed"
    assert events[0][1]["details"] == {"old_name": "Acme Marketing", "new_name": "Acme Growth"}


def test_rename_to_the_same_name_sends_nothing(workspace, owner, events):
    services.workspace_rename(workspace=workspace, actor=owner, name="Acme Marketing")
    assert events == []


def test_require_2fa_needs_the_owner_to_have_2fa(workspace, owner, events):
    with pytest.raises(ValidationError) as excinfo:
        services.workspace_update_settings(workspace=workspace, actor=owner, require_2fa=True)
    workspace.refresh_from_db()
    assert excinfo.value.messages == [services.ERROR_ENABLE_2FA_FIRST]
    assert workspace.require_2fa is False
    assert events == []


def test_require_2fa_is_saved_for_an_owner_with_2fa(workspace, owner, events):
    give_totp(owner)
    services.workspace_update_settings(workspace=workspace, actor=owner, require_2fa=True)
    workspace.refresh_from_db()
    assert workspace.require_2fa is True
    assert events[0][0] == "workspace.settings_changed"
    assert events[0][1]["details"] == {"require_2fa": True}


def test_delete_needs_the_exact_name(workspace, owner):
    with pytest.raises(ValidationError) as excinfo:
        services.workspace_delete(workspace=workspace, actor=owner, confirm_name="acme marketing")
    assert excinfo.value.messages == [services.ERROR_DELETE_CONFIRMATION]
    assert Workspace.objects.filter(pk=workspace.pk).exists()


def test_delete_removes_the_workspace_and_its_rows(workspace, owner, analyst, events):
    InvitationFactory(workspace=workspace)
    workspace_id = workspace.pk
    services.workspace_delete(workspace=workspace, actor=owner, confirm_name="Acme Marketing")
    assert not Workspace.objects.filter(pk=workspace_id).exists()
    assert Membership.objects.filter(workspace_id=workspace_id).count() == 0
    assert Invitation.objects.filter(workspace_id=workspace_id).count() == 0
    assert events[0][0] == "workspace.deleted"
    assert events[0][1]["details"] == {"name": "Acme Marketing", "slug": "acme"}


# --- memberships -------------------------------------------------------------------------------


def test_set_default_moves_the_flag(workspace, other_workspace, outsider):
    first = MembershipFactory(workspace=workspace, user=outsider, is_default=True)
    second = MembershipFactory(workspace=other_workspace, user=outsider)
    services.membership_set_default(membership=second)
    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.is_default, second.is_default) == (False, True)


def test_last_owner_cannot_leave(workspace, owner, events):
    membership = Membership.objects.get(workspace=workspace, user=owner)
    with pytest.raises(ValidationError) as excinfo:
        services.membership_leave(membership=membership)
    assert excinfo.value.messages == [services.ERROR_LAST_OWNER_LEAVE]
    assert Membership.objects.filter(pk=membership.pk).exists()
    assert events == []


def test_an_owner_can_leave_when_another_owner_remains(workspace, owner, events):
    MembershipFactory(workspace=workspace, role=Role.OWNER)
    membership = Membership.objects.get(workspace=workspace, user=owner)
    services.membership_leave(membership=membership)
    assert not Membership.objects.filter(pk=membership.pk).exists()
    assert [action for action, _ in events] == ["member.left"]


def test_a_viewer_can_leave(workspace, owner, viewer):
    services.membership_leave(membership=Membership.objects.get(workspace=workspace, user=viewer))
    assert list(Membership.objects.filter(workspace=workspace).values_list("user", flat=True)) == [owner.pk]


def test_last_owner_cannot_be_demoted(workspace, owner):
    # The platform operator (not a member) is the only actor who can even try this.
    operator = UserFactory(is_staff=True, is_superuser=True)
    membership = Membership.objects.get(workspace=workspace, user=owner)
    with pytest.raises(ValidationError) as excinfo:
        services.membership_change_role(membership=membership, actor=operator, role=Role.ANALYST)
    membership.refresh_from_db()
    assert excinfo.value.messages == [services.ERROR_LAST_OWNER_DEMOTE]
    assert membership.role == Role.OWNER


def test_last_owner_cannot_be_removed(workspace, owner):
    operator = UserFactory(is_staff=True, is_superuser=True)
    membership = Membership.objects.get(workspace=workspace, user=owner)
    with pytest.raises(ValidationError) as excinfo:
        services.membership_remove(membership=membership, actor=operator)
    assert excinfo.value.messages == [services.ERROR_LAST_OWNER_REMOVE]
    assert Membership.objects.filter(pk=membership.pk).exists()


def test_nobody_changes_their_own_role(workspace, owner):
    MembershipFactory(workspace=workspace, role=Role.OWNER)
    membership = Membership.objects.get(workspace=workspace, user=owner)
    with pytest.raises(ValidationError) as excinfo:
        services.membership_change_role(membership=membership, actor=owner, role=Role.VIEWER)
    membership.refresh_from_db()
    assert excinfo.value.messages == [services.ERROR_OWN_ROLE]
    assert membership.role == Role.OWNER


def test_owner_changes_a_members_role(workspace, owner, analyst, events):
    membership = Membership.objects.get(workspace=workspace, user=analyst)
    services.membership_change_role(membership=membership, actor=owner, role=Role.VIEWER)
    membership.refresh_from_db()
    assert membership.role == Role.VIEWER
    assert events[0][0] == "member.role_changed"
    assert events[0][1]["details"] == {"user": analyst.email, "old_role": "analyst", "new_role": "viewer"}


def test_a_second_owner_can_be_demoted(workspace, owner):
    second = MembershipFactory(workspace=workspace, role=Role.OWNER)
    services.membership_change_role(membership=second, actor=owner, role=Role.ANALYST)
    second.refresh_from_db()
    assert second.role == Role.ANALYST


def test_owner_removes_a_member(workspace, owner, viewer, events):
    membership = Membership.objects.get(workspace=workspace, user=viewer)
    services.membership_remove(membership=membership, actor=owner)
    assert not Membership.objects.filter(pk=membership.pk).exists()
    assert [action for action, _ in events] == ["member.removed"]


def test_removing_yourself_is_leaving(workspace, owner):
    MembershipFactory(workspace=workspace, role=Role.OWNER)
    membership = Membership.objects.get(workspace=workspace, user=owner)
    with pytest.raises(ValidationError) as excinfo:
        services.membership_remove(membership=membership, actor=owner)
    assert excinfo.value.messages == [services.ERROR_REMOVE_SELF]


# --- invitation_send ---------------------------------------------------------------------------


def test_send_stores_only_the_hash_and_emails_the_link(workspace, owner, events, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        invitation = services.invitation_send(
            workspace=workspace, inviter=owner, email=" New.Person@Example.com ", role=Role.ANALYST
        )
    stored = Invitation.objects.get(pk=invitation.pk)
    assert stored.email == "new.person@example.com"
    assert stored.token_hash == hashlib.sha256(invitation.token.encode()).hexdigest()
    assert invitation.token not in str(Invitation.objects.filter(pk=invitation.pk).values().get())
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == ["new.person@example.com"]
    assert f"/invitations/{invitation.token}/" in mail.outbox[0].body
    assert "Acme Marketing" in mail.outbox[0].subject
    assert [action for action, _ in events] == ["invitation.sent"]
    assert invitation.token not in str(events[0][1]["details"])


def test_token_has_at_least_128_bits(workspace, owner):
    invitation = services.invitation_send(workspace=workspace, inviter=owner, email="x@example.com", role=Role.VIEWER)
    # token_urlsafe(32): 32 random bytes -> 43 base64url characters (T-INV-07).
    assert len(invitation.token) == 43


def test_expiry_is_the_configured_ttl(workspace, owner, settings):
    with freeze_time("2026-03-01 12:00:00"):
        invitation = services.invitation_send(
            workspace=workspace, inviter=owner, email="x@example.com", role=Role.VIEWER
        )
    assert invitation.expires_at.isoformat() == "2026-03-08T12:00:00+00:00"


def test_no_email_when_the_transaction_rolls_back(workspace, owner, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        services.invitation_send(workspace=workspace, inviter=owner, email="x@example.com", role=Role.VIEWER)
    assert len(callbacks) == 1
    assert mail.outbox == []


def test_inviting_an_existing_member_is_refused(workspace, owner, analyst):
    with pytest.raises(ValidationError) as excinfo:
        services.invitation_send(workspace=workspace, inviter=owner, email=analyst.email.upper(), role=Role.VIEWER)
    assert excinfo.value.messages == [services.ERROR_ALREADY_MEMBER]
    assert Invitation.objects.count() == 0


def test_inviting_a_pending_address_again_is_refused(workspace, owner):
    services.invitation_send(workspace=workspace, inviter=owner, email="x@example.com", role=Role.VIEWER)
    with pytest.raises(ValidationError) as excinfo:
        services.invitation_send(workspace=workspace, inviter=owner, email="X@example.com", role=Role.VIEWER)
    assert excinfo.value.messages == [services.ERROR_ALREADY_INVITED]
    assert Invitation.objects.count() == 1


def test_role_above_the_inviters_is_refused(workspace, analyst):
    with pytest.raises(ValidationError) as excinfo:
        services.invitation_send(workspace=workspace, inviter=analyst, email="x@example.com", role=Role.OWNER)
    assert excinfo.value.messages == [services.ERROR_ROLE_ABOVE_INVITER]
    assert Invitation.objects.count() == 0


def test_owner_may_invite_any_role(workspace, owner):
    roles = [Role.OWNER, Role.ANALYST, Role.VIEWER]
    for n, role in enumerate(roles):
        services.invitation_send(workspace=workspace, inviter=owner, email=f"p{n}@example.com", role=role)
    assert sorted(Invitation.objects.values_list("role", flat=True)) == ["analyst", "owner", "viewer"]


def test_non_member_cannot_invite(workspace, outsider):
    with pytest.raises(ValidationError) as excinfo:
        services.invitation_send(workspace=workspace, inviter=outsider, email="x@example.com", role=Role.VIEWER)
    assert excinfo.value.messages == [services.ERROR_NOT_A_MEMBER]


def test_invitations_are_rate_limited_per_workspace(workspace, other_workspace, owner, settings):
    """T-INV-08: with a limit of 3 an hour, the 4th send (or resend) is refused; other workspaces are unaffected."""
    settings.INVITATION_RATE_LIMIT_PER_HOUR = 3
    first = services.invitation_send(workspace=workspace, inviter=owner, email="p0@example.com", role=Role.VIEWER)
    services.invitation_send(workspace=workspace, inviter=owner, email="p1@example.com", role=Role.VIEWER)
    services.invitation_resend(invitation=first, actor=owner)
    with pytest.raises(ValidationError) as excinfo:
        services.invitation_send(workspace=workspace, inviter=owner, email="p3@example.com", role=Role.VIEWER)
    with pytest.raises(ValidationError):
        services.invitation_resend(invitation=first, actor=owner)
    other_owner = MembershipFactory(workspace=other_workspace, role=Role.OWNER).user
    services.invitation_send(workspace=other_workspace, inviter=other_owner, email="p3@example.com", role=Role.VIEWER)
    assert excinfo.value.messages == [services.ERROR_RATE_LIMITED]
    assert Invitation.objects.for_workspace(workspace).count() == 2
    assert InvitationEmail.objects.for_workspace(workspace).count() == 3


def test_rate_limit_window_is_one_hour(workspace, owner, settings):
    settings.INVITATION_RATE_LIMIT_PER_HOUR = 1
    with freeze_time("2026-03-01 12:00:00"):
        services.invitation_send(workspace=workspace, inviter=owner, email="p0@example.com", role=Role.VIEWER)
    with freeze_time("2026-03-01 13:00:01"):
        services.invitation_send(workspace=workspace, inviter=owner, email="p1@example.com", role=Role.VIEWER)
    assert Invitation.objects.count() == 2


# --- resend / revoke ---------------------------------------------------------------------------


def test_resend_kills_the_old_token(workspace, owner, django_capture_on_commit_callbacks, events):
    invitation = InvitationFactory(workspace=workspace, invited_by=owner, email="bob@example.com")
    old_token = invitation.token
    with django_capture_on_commit_callbacks(execute=True):
        resent = services.invitation_resend(invitation=invitation, actor=owner)
    bob = UserFactory(email="bob@example.com")
    with pytest.raises(ValidationError) as excinfo:
        services.invitation_accept(token=old_token, user=bob)
    membership = services.invitation_accept(token=resent.token, user=bob)
    assert resent.token != old_token
    assert excinfo.value.messages == [services.ERROR_INVITATION_INVALID]
    assert membership.workspace == workspace
    assert f"/invitations/{resent.token}/" in mail.outbox[0].body
    assert Invitation.objects.get(pk=invitation.pk).sent_count == 2
    assert [action for action, _ in events] == ["invitation.resent", "invitation.accepted"]


def test_resend_renews_an_expired_invitation(workspace, owner):
    with freeze_time("2026-03-01 12:00:00"):
        invitation = InvitationFactory(workspace=workspace, invited_by=owner)
    with freeze_time("2026-03-20 12:00:00"):
        resent = services.invitation_resend(invitation=invitation, actor=owner)
    assert resent.expires_at.isoformat() == "2026-03-27T12:00:00+00:00"


def test_revoke_kills_the_token(workspace, owner, events):
    invitation = InvitationFactory(workspace=workspace, invited_by=owner, email="bob@example.com")
    services.invitation_revoke(invitation=invitation, actor=owner)
    bob = UserFactory(email="bob@example.com")
    with pytest.raises(ValidationError) as excinfo:
        services.invitation_accept(token=invitation.token, user=bob)
    assert excinfo.value.messages == [services.ERROR_INVITATION_INVALID]
    assert not Membership.objects.filter(user=bob).exists()
    assert [action for action, _ in events] == ["invitation.revoked"]


def test_an_accepted_invitation_cannot_be_revoked_or_resent(workspace, owner):
    invitation = InvitationFactory(workspace=workspace, invited_by=owner, accepted_at=timezone.now())
    with pytest.raises(ValidationError) as revoke_error:
        services.invitation_revoke(invitation=invitation, actor=owner)
    with pytest.raises(ValidationError) as resend_error:
        services.invitation_resend(invitation=invitation, actor=owner)
    assert revoke_error.value.messages == [services.ERROR_INVITATION_NOT_PENDING]
    assert resend_error.value.messages == [services.ERROR_INVITATION_NOT_PENDING]


# --- accept / reject ---------------------------------------------------------------------------


def test_accept_creates_the_membership_with_the_invited_role(workspace, owner, events):
    invitation = InvitationFactory(workspace=workspace, invited_by=owner, email="bob@example.com", role=Role.VIEWER)
    bob = UserFactory(email="bob@example.com")
    membership = services.invitation_accept(token=invitation.token, user=bob)
    invitation.refresh_from_db()
    assert (membership.workspace, membership.user, membership.role) == (workspace, bob, "viewer")
    assert membership.is_default is True
    assert invitation.accepted_by == bob
    assert invitation.accepted_at is not None
    assert [action for action, _ in events] == ["invitation.accepted"]


def test_accept_twice_gives_one_membership(workspace, owner):
    """T-INV-01 (sequential replay): the second accept says the invitation was used."""
    invitation = InvitationFactory(workspace=workspace, email="bob@example.com")
    bob = UserFactory(email="bob@example.com")
    services.invitation_accept(token=invitation.token, user=bob)
    with pytest.raises(ValidationError) as excinfo:
        services.invitation_accept(token=invitation.token, user=bob)
    assert excinfo.value.messages == [services.ERROR_INVITATION_USED]
    assert Membership.objects.filter(workspace=workspace, user=bob).count() == 1


def test_a_copy_loaded_before_the_first_accept_is_refused(workspace):
    """T-INV-01 (race): both requests looked the invitation up while it was pending; the second loses."""
    invitation = InvitationFactory(workspace=workspace, email="bob@example.com")
    stale_copy = Invitation.objects.get(pk=invitation.pk)
    bob = UserFactory(email="bob@example.com")
    services.invitation_accept(token=invitation.token, user=bob)
    Membership.objects.filter(user=bob).delete()  # so only the invitation's own state can stop the second
    with pytest.raises(ValidationError) as excinfo:
        services.invitation_accept_loaded(invitation=stale_copy, user=bob)
    assert excinfo.value.messages == [services.ERROR_INVITATION_USED]
    assert Membership.objects.filter(user=bob).count() == 0


def test_expired_invitation_is_refused(workspace):
    """T-INV-02."""
    with freeze_time("2026-03-01 12:00:00"):
        invitation = InvitationFactory(workspace=workspace, email="bob@example.com")
    bob = UserFactory(email="bob@example.com")
    with freeze_time("2026-03-08 12:00:01"), pytest.raises(ValidationError) as excinfo:
        services.invitation_accept(token=invitation.token, user=bob)
    assert excinfo.value.messages == [services.ERROR_INVITATION_EXPIRED]
    assert not Membership.objects.filter(user=bob).exists()


def test_accept_just_before_expiry_works(workspace):
    with freeze_time("2026-03-01 12:00:00"):
        invitation = InvitationFactory(workspace=workspace, email="bob@example.com")
    bob = UserFactory(email="bob@example.com")
    with freeze_time("2026-03-08 11:59:59"):
        services.invitation_accept(token=invitation.token, user=bob)
    assert Membership.objects.filter(user=bob, workspace=workspace).exists()


def test_other_email_is_refused(workspace):
    """T-INV-03."""
    invitation = InvitationFactory(workspace=workspace, email="alice@example.com")
    mallory = UserFactory(email="mallory@example.com")
    with pytest.raises(ValidationError) as excinfo:
        services.invitation_accept(token=invitation.token, user=mallory)
    invitation.refresh_from_db()
    assert excinfo.value.messages == [services.ERROR_INVITATION_OTHER_EMAIL]
    assert invitation.accepted_at is None
    assert not Membership.objects.filter(user=mallory).exists()


def test_unverified_matching_email_is_refused(workspace):
    invitation = InvitationFactory(workspace=workspace, email="alice@example.com")
    alice = UserFactory(email="alice@example.com", verified=False)
    with pytest.raises(ValidationError) as excinfo:
        services.invitation_accept(token=invitation.token, user=alice)
    assert excinfo.value.messages == [services.ERROR_INVITATION_OTHER_EMAIL]


def test_a_verified_secondary_address_matches(workspace):
    from allauth.account.models import EmailAddress

    invitation = InvitationFactory(workspace=workspace, email="alice@work.example")
    alice = UserFactory(email="alice@home.example")
    EmailAddress.objects.create(user=alice, email="Alice@Work.example", verified=True, primary=False)
    membership = services.invitation_accept(token=invitation.token, user=alice)
    assert membership.user == alice


@pytest.mark.parametrize(
    "tamper",
    [
        pytest.param(lambda t: t[:-1] + ("A" if t[-1] != "A" else "B"), id="flipped-last-char"),
        pytest.param(lambda t: t[:20], id="truncated"),
        pytest.param(lambda t: t + "x", id="extended"),
        pytest.param(lambda t: "", id="empty"),
        pytest.param(lambda t: hashlib.sha256(t.encode()).hexdigest(), id="the-stored-hash"),
    ],
)
def test_tampered_token_is_a_generic_invalid(workspace, tamper):
    """T-INV-04."""
    invitation = InvitationFactory(workspace=workspace, email="bob@example.com")
    bob = UserFactory(email="bob@example.com")
    with pytest.raises(ValidationError) as excinfo:
        services.invitation_accept(token=tamper(invitation.token), user=bob)
    assert excinfo.value.messages == [services.ERROR_INVITATION_INVALID]
    assert not Membership.objects.filter(user=bob).exists()


def test_existing_member_accepting_is_refused(workspace, analyst):
    invitation = InvitationFactory(workspace=workspace, email=analyst.email, role=Role.OWNER)
    with pytest.raises(ValidationError) as excinfo:
        services.invitation_accept(token=invitation.token, user=analyst)
    assert excinfo.value.messages == [services.ERROR_ALREADY_MEMBER]
    assert Membership.objects.get(workspace=workspace, user=analyst).role == Role.ANALYST


def test_reject_marks_it_and_the_token_dies(workspace, events):
    invitation = InvitationFactory(workspace=workspace, email="bob@example.com")
    services.invitation_reject(token=invitation.token, user=None)
    bob = UserFactory(email="bob@example.com")
    with pytest.raises(ValidationError) as excinfo:
        services.invitation_accept(token=invitation.token, user=bob)
    invitation.refresh_from_db()
    assert invitation.rejected_at is not None
    assert excinfo.value.messages == [services.ERROR_INVITATION_INVALID]
    assert [action for action, _ in events] == ["invitation.rejected"]


def test_reject_by_another_signed_in_user_is_refused(workspace):
    invitation = InvitationFactory(workspace=workspace, email="alice@example.com")
    mallory = UserFactory(email="mallory@example.com")
    with pytest.raises(ValidationError) as excinfo:
        services.invitation_reject(token=invitation.token, user=mallory)
    invitation.refresh_from_db()
    assert excinfo.value.messages == [services.ERROR_INVITATION_OTHER_EMAIL]
    assert invitation.rejected_at is None


def test_pending_queryset_excludes_every_finished_state(workspace):
    now = timezone.now()
    pending = InvitationFactory(workspace=workspace)
    InvitationFactory(workspace=workspace, accepted_at=now)
    InvitationFactory(workspace=workspace, revoked_at=now)
    InvitationFactory(workspace=workspace, rejected_at=now)
    InvitationFactory(workspace=workspace, expires_at=now - timedelta(seconds=1))
    InvitationFactory(workspace=WorkspaceFactory())
    assert list(Invitation.objects.for_workspace(workspace).pending()) == [pending]


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_accepts_give_one_membership(workspace):
    """T-INV-01 with real concurrency: two threads, each with its own database connection."""
    import threading

    from django.db import connection

    invitation = InvitationFactory(workspace=workspace, email="bob@example.com")
    bob = UserFactory(email="bob@example.com")
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def accept() -> None:
        barrier.wait()
        try:
            services.invitation_accept(token=invitation.token, user=bob)
            outcomes.append("accepted")
        except ValidationError as error:
            outcomes.append(error.messages[0])
        finally:
            connection.close()

    threads = [threading.Thread(target=accept) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == sorted(["accepted", services.ERROR_INVITATION_USED])
    assert Membership.objects.filter(workspace=workspace, user=bob).count() == 1
