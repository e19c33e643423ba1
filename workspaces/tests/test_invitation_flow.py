"""The invitee's side: /invitations/<token>/ (SECURITY.md §3.3 T-INV-01..09, through HTTP)."""

from urllib.parse import parse_qs, urlparse

from allauth.account.models import EmailAddress
from django.urls import reverse
from freezegun import freeze_time

from accounts.models import User
from accounts.tests.factories import TEST_PASSWORD, UserFactory
from workspaces import services
from workspaces.models import Invitation, Membership, Role
from workspaces.tests.factories import InvitationFactory


def _detail(invitation) -> str:
    return reverse("invitations:detail", kwargs={"token": invitation.token})


def _invitation_row(invitation) -> dict:
    return Invitation.objects.filter(pk=invitation.pk).values().get()


def test_get_explains_and_changes_nothing(client, workspace, owner):
    """T-INV-09: a mail scanner's GET neither accepts nor rejects; T-INV-07: no Referer leak."""
    invitation = InvitationFactory(workspace=workspace, invited_by=owner, email="bob@example.com", role=Role.ANALYST)
    before = _invitation_row(invitation)
    response = client.get(_detail(invitation))
    body = response.content.decode()
    assert response.status_code == 200
    assert response["Referrer-Policy"] == "same-origin"
    assert "no-cache" in response["Cache-Control"]
    assert "Acme Marketing" in body
    assert owner.email in body
    assert "analyst" in body
    assert "Sign in to accept" in body
    assert "Create account" in body
    assert _invitation_row(invitation) == before
    assert Membership.objects.filter(workspace=workspace).count() == 1


def test_signed_in_invitee_accepts_by_post(client, workspace, events):
    invitation = InvitationFactory(workspace=workspace, email="bob@example.com", role=Role.VIEWER)
    bob = UserFactory(email="bob@example.com")
    client.force_login(bob)
    page = client.get(_detail(invitation))
    response = client.post(_detail(invitation))
    assert "Accept and join" in page.content.decode()
    assert response.status_code == 302
    assert response["Location"] == reverse("workspaces:detail", args=["acme"])
    assert Membership.objects.get(workspace=workspace, user=bob).role == Role.VIEWER
    assert [action for action, _ in events] == ["invitation.accepted"]


def test_role_in_the_post_is_ignored(client, workspace):
    """T-INV-05: the role comes from the stored invitation only."""
    invitation = InvitationFactory(workspace=workspace, email="bob@example.com", role=Role.VIEWER)
    bob = UserFactory(email="bob@example.com")
    client.force_login(bob)
    client.post(_detail(invitation), {"role": "owner", "workspace": "999", "email": "x@example.com"})
    assert Membership.objects.get(workspace=workspace, user=bob).role == Role.VIEWER


def test_replayed_accept_says_already_used(client, workspace):
    """T-INV-01 through HTTP: the replayed POST changes nothing."""
    invitation = InvitationFactory(workspace=workspace, email="bob@example.com")
    bob = UserFactory(email="bob@example.com")
    client.force_login(bob)
    client.post(_detail(invitation))
    replay = client.post(_detail(invitation))
    assert replay.status_code == 410
    assert services.ERROR_INVITATION_USED in replay.content.decode()
    assert Membership.objects.filter(workspace=workspace, user=bob).count() == 1


def test_expired_link_says_expired(client, workspace):
    """T-INV-02."""
    with freeze_time("2026-03-01 12:00:00"):
        invitation = InvitationFactory(workspace=workspace, email="bob@example.com")
    bob = UserFactory(email="bob@example.com")
    client.force_login(bob)
    with freeze_time("2026-03-09 12:00:00"):
        response = client.post(_detail(invitation))
    assert response.status_code == 410
    assert services.ERROR_INVITATION_EXPIRED in response.content.decode()
    assert not Membership.objects.filter(user=bob).exists()


def test_other_signed_in_user_gets_404_without_details(client, workspace, owner):
    """T-INV-03: mallory holding alice's link learns nothing and joins nothing."""
    invitation = InvitationFactory(workspace=workspace, invited_by=owner, email="alice@example.com")
    mallory = UserFactory(email="mallory@example.com")
    client.force_login(mallory)
    page = client.get(_detail(invitation))
    accept = client.post(_detail(invitation))
    reject = client.post(reverse("invitations:reject", kwargs={"token": invitation.token}))
    body = page.content.decode()
    invitation.refresh_from_db()
    assert (page.status_code, accept.status_code, reject.status_code) == (404, 404, 404)
    assert services.ERROR_INVITATION_OTHER_EMAIL in body
    assert "Acme Marketing" not in body
    assert "alice@example.com" not in body
    assert (invitation.accepted_at, invitation.rejected_at) == (None, None)
    assert not Membership.objects.filter(user=mallory).exists()


def test_tampered_revoked_and_resent_tokens_are_a_generic_invalid(client, workspace, owner):
    """T-INV-04: one message for every dead or fake token, so none can be told apart."""
    revoked = InvitationFactory(workspace=workspace, email="r@example.com")
    services.invitation_revoke(invitation=revoked, actor=owner)
    resent = InvitationFactory(workspace=workspace, email="s@example.com")
    old_token = resent.token
    services.invitation_resend(invitation=resent, actor=owner)
    live = InvitationFactory(workspace=workspace, email="t@example.com")
    tokens = [revoked.token, old_token, live.token[:-2], live.token.swapcase(), "x" * 43]
    responses = [client.get(reverse("invitations:detail", kwargs={"token": t})) for t in tokens]
    assert [r.status_code for r in responses] == [404] * 5
    assert all(services.ERROR_INVITATION_INVALID in r.content.decode() for r in responses)
    assert all("Acme Marketing" not in r.content.decode() for r in responses)


def test_logged_out_accept_post_only_asks_to_sign_in(client, workspace):
    invitation = InvitationFactory(workspace=workspace, email="bob@example.com")
    before = _invitation_row(invitation)
    response = client.post(_detail(invitation))
    assert response.status_code == 302
    assert response["Location"] == _detail(invitation)
    assert _invitation_row(invitation) == before


def test_logged_out_token_holder_can_decline(client, workspace, events):
    invitation = InvitationFactory(workspace=workspace, email="bob@example.com")
    response = client.post(reverse("invitations:reject", kwargs={"token": invitation.token}))
    invitation.refresh_from_db()
    assert response.status_code == 302
    assert invitation.rejected_at is not None
    assert [action for action, _ in events] == ["invitation.rejected"]
    assert client.get(_detail(invitation)).status_code == 404


def test_reject_needs_post(client, workspace):
    invitation = InvitationFactory(workspace=workspace, email="bob@example.com")
    response = client.get(reverse("invitations:reject", kwargs={"token": invitation.token}))
    invitation.refresh_from_db()
    assert response.status_code == 405
    assert invitation.rejected_at is None


def test_new_user_signs_up_through_the_invitation(client, workspace):
    """The token proves the address: the account is created verified, logged in, and joined."""
    invitation = InvitationFactory(workspace=workspace, email="newbie@example.com", role=Role.ANALYST)
    start = client.post(reverse("invitations:signup", kwargs={"token": invitation.token}))
    signup_url = start["Location"]
    form_page = client.get(signup_url)
    done = client.post(
        signup_url,
        {"email": "newbie@example.com", "password1": TEST_PASSWORD, "password2": TEST_PASSWORD},
        follow=True,
    )
    user = User.objects.get(email="newbie@example.com")
    assert urlparse(signup_url).path == reverse("account_signup")
    assert parse_qs(urlparse(signup_url).query)["next"] == [reverse("invitations:continue")]
    assert 'value="newbie@example.com"' in form_page.content.decode()
    assert EmailAddress.objects.get(user=user).verified is True
    assert Membership.objects.get(workspace=workspace, user=user).role == Role.ANALYST
    assert done.redirect_chain[-1][0] == reverse("workspaces:detail", args=["acme"])
    assert done.context["user"] == user
    assert Invitation.objects.get(pk=invitation.pk).accepted_by == user


def test_existing_user_signs_in_through_the_invitation(client, workspace):
    invitation = InvitationFactory(workspace=workspace, email="bob@example.com", role=Role.VIEWER)
    bob = UserFactory(email="bob@example.com")
    start = client.post(reverse("invitations:signin", kwargs={"token": invitation.token}))
    done = client.post(start["Location"], {"login": "bob@example.com", "password": TEST_PASSWORD}, follow=True)
    assert urlparse(start["Location"]).path == reverse("account_login")
    assert Membership.objects.get(workspace=workspace, user=bob).role == Role.VIEWER
    assert done.redirect_chain[-1][0] == reverse("workspaces:detail", args=["acme"])


def test_signing_in_as_someone_else_does_not_accept(client, workspace):
    invitation = InvitationFactory(workspace=workspace, email="alice@example.com")
    mallory = UserFactory(email="mallory@example.com")
    start = client.post(reverse("invitations:signin", kwargs={"token": invitation.token}))
    done = client.post(start["Location"], {"login": mallory.email, "password": TEST_PASSWORD}, follow=True)
    invitation.refresh_from_db()
    assert invitation.accepted_at is None
    assert not Membership.objects.filter(user=mallory).exists()
    assert done.redirect_chain[-1][0] == reverse("workspaces:list")
    assert services.ERROR_INVITATION_OTHER_EMAIL in done.content.decode()


def test_signup_stash_refused_for_a_dead_invitation(client, workspace, owner):
    invitation = InvitationFactory(workspace=workspace, email="newbie@example.com")
    services.invitation_revoke(invitation=invitation, actor=owner)
    response = client.post(reverse("invitations:signup", kwargs={"token": invitation.token}))
    assert response.status_code == 404
    assert "account_verified_email" not in client.session


def test_the_token_never_reaches_the_logs(client, workspace, owner, caplog):
    """T-INV-07: sending, viewing and accepting log nothing that contains the token."""
    caplog.set_level("DEBUG")
    invitation = services.invitation_send(workspace=workspace, inviter=owner, email="bob@example.com", role="viewer")
    bob = UserFactory(email="bob@example.com")
    client.get(reverse("invitations:detail", kwargs={"token": invitation.token}))
    client.force_login(bob)
    client.post(reverse("invitations:detail", kwargs={"token": invitation.token}))
    assert Membership.objects.filter(user=bob).exists()
    assert invitation.token not in caplog.text
