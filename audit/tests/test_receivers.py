"""Every handler in audit/receivers.py writes exactly one row with the right who, where and what."""

import json

import pytest
from allauth.account import signals as account_signals
from allauth.account.models import EmailAddress
from allauth.mfa import signals as mfa_signals
from allauth.mfa.models import Authenticator
from django.core import mail
from django.urls import reverse

from accounts.adapters import AccountAdapter
from accounts.signals import user_approved
from accounts.tests.factories import TEST_PASSWORD, UserFactory
from audit.models import AuditEvent
from audit.tests.conftest import CLIENT_IP, CLIENT_UA
from workspaces.models import Membership, Role, Workspace
from workspaces.signals import workspace_event
from workspaces.tests.factories import InvitationFactory, MembershipFactory

CLIENT_HEADERS = {"User-Agent": CLIENT_UA}
LOGIN_CODE = "XK4PQ9"


def _only_event(action: str) -> AuditEvent:
    events = list(AuditEvent.objects.filter(action=action))
    assert len(events) == 1
    return events[0]


# --- through the client: what a browser does ----------------------------------------------------


def test_wrong_password_records_the_attempted_email_and_never_the_password(client, outsider):
    before = AuditEvent.objects.count()
    response = client.post(
        reverse("account_login"),
        {"login": outsider.email, "password": "not-the-password-123"},
        headers=CLIENT_HEADERS,
        REMOTE_ADDR=CLIENT_IP,
    )
    assert response.status_code == 200
    assert AuditEvent.objects.count() == before + 1
    event = _only_event("account.login_failed")
    assert (event.actor_id, event.actor_email, event.workspace_id) == (None, "", None)
    assert event.details == {"email": outsider.email, "method": "password"}
    assert (event.target_type, event.target_id) == ("accounts.user", str(outsider.pk))
    assert (event.ip, event.user_agent) == (CLIENT_IP, CLIENT_UA)
    assert "not-the-password-123" not in json.dumps(event.details)
    assert "****" not in json.dumps(event.details)


def test_wrong_password_for_an_unknown_address_is_recorded_without_a_target(client, db):
    client.post(reverse("account_login"), {"login": "nobody@example.com", "password": "whatever-123"})
    event = _only_event("account.login_failed")
    assert event.details == {"email": "nobody@example.com", "method": "password"}
    assert (event.target_type, event.target_id) == ("", "")


def test_password_login_records_the_user_and_the_method(client, outsider):
    response = client.post(
        reverse("account_login"),
        {"login": outsider.email, "password": TEST_PASSWORD},
        headers=CLIENT_HEADERS,
        REMOTE_ADDR=CLIENT_IP,
    )
    assert response.status_code == 302
    event = _only_event("account.login")
    assert (event.actor_id, event.actor_email, event.workspace_id) == (outsider.pk, outsider.email, None)
    assert event.details == {"method": "password"}
    assert (event.ip, event.user_agent) == (CLIENT_IP, CLIENT_UA)
    assert AuditEvent.objects.filter(action="account.login_failed").count() == 0


def test_logout_records_the_user(client, outsider):
    client.force_login(outsider)
    before = AuditEvent.objects.count()
    response = client.post(reverse("account_logout"), headers=CLIENT_HEADERS, REMOTE_ADDR=CLIENT_IP)
    assert response.status_code == 302
    assert AuditEvent.objects.count() == before + 1
    event = _only_event("account.logout")
    assert (event.actor_id, event.ip, event.user_agent) == (outsider.pk, CLIENT_IP, CLIENT_UA)


def test_requesting_and_using_a_login_code(client, outsider, monkeypatch):
    monkeypatch.setattr(AccountAdapter, "generate_login_code", lambda self: LOGIN_CODE)
    response = client.post(
        reverse("account_request_login_code"), {"email": outsider.email}, headers=CLIENT_HEADERS, REMOTE_ADDR=CLIENT_IP
    )
    assert response.status_code == 302
    assert len(mail.outbox) == 1
    requested = _only_event("account.login_code_requested")
    assert (requested.actor_id, requested.workspace_id) == (None, None)
    assert requested.details == {"email": outsider.email}
    assert (requested.target_type, requested.target_id) == ("accounts.user", str(outsider.pk))
    assert (requested.ip, requested.user_agent) == (CLIENT_IP, CLIENT_UA)
    assert LOGIN_CODE not in json.dumps(requested.details)

    response = client.post(
        reverse("account_confirm_login_code"), {"code": LOGIN_CODE}, headers=CLIENT_HEADERS, REMOTE_ADDR=CLIENT_IP
    )
    assert response.status_code == 302
    login = _only_event("account.login")
    assert (login.actor_id, login.details) == (outsider.pk, {"method": "code"})
    assert AuditEvent.objects.count() == 2


def test_a_wrong_login_code_is_a_failed_login(client, outsider, monkeypatch):
    monkeypatch.setattr(AccountAdapter, "generate_login_code", lambda self: LOGIN_CODE)
    client.post(reverse("account_request_login_code"), {"email": outsider.email})
    client.post(reverse("account_confirm_login_code"), {"code": "WRONG1"}, REMOTE_ADDR=CLIENT_IP)
    event = _only_event("account.login_failed")
    assert event.details == {"email": outsider.email, "method": "code", "last_attempt": False}
    assert (event.actor_id, event.target_id, event.ip) == (None, str(outsider.pk), CLIENT_IP)


# --- allauth / accounts signals, sent as allauth sends them --------------------------------------


def _authenticator(user, kind):
    return Authenticator.objects.create(user=user, type=kind, data={})


def _email_change(user):
    old = EmailAddress.objects.get(user=user)
    new = EmailAddress.objects.create(user=user, email="new@example.com", verified=True)
    return {"from_email_address": old, "to_email_address": new}


SIGNAL_CASES = [
    # (signal, extra kwargs built from the user, action, expected details)
    (account_signals.user_signed_up, lambda user: {}, "account.signup", {}),
    (account_signals.password_changed, lambda user: {}, "account.password_changed", {}),
    (account_signals.password_set, lambda user: {}, "account.password_set", {}),
    (account_signals.password_reset, lambda user: {}, "account.password_reset", {}),
    (
        account_signals.email_changed,
        _email_change,
        "account.email_changed",
        {"from": "changing@example.com", "to": "new@example.com"},
    ),
    (
        mfa_signals.authenticator_added,
        lambda user: {"authenticator": _authenticator(user, Authenticator.Type.TOTP)},
        "mfa.enabled",
        {"type": "totp"},
    ),
    (
        mfa_signals.authenticator_removed,
        lambda user: {"authenticator": _authenticator(user, Authenticator.Type.TOTP)},
        "mfa.disabled",
        {"type": "totp"},
    ),
    (
        mfa_signals.authenticator_reset,
        lambda user: {"authenticator": _authenticator(user, Authenticator.Type.RECOVERY_CODES)},
        "mfa.recovery_codes_reset",
        {"type": "recovery_codes"},
    ),
]


@pytest.mark.parametrize("signal, extra, action, details", SIGNAL_CASES, ids=[case[2] for case in SIGNAL_CASES])
def test_account_signal_writes_one_row(db, audit_request, *, signal, extra, action, details):
    user = UserFactory(email="changing@example.com")
    kwargs = extra(user)
    audit_request.user = user  # allauth's own handlers (usersessions) read request.user
    before = AuditEvent.objects.count()
    signal.send(sender=type(user), request=audit_request, user=user, **kwargs)
    assert AuditEvent.objects.count() == before + 1
    event = _only_event(action)
    assert (event.actor_id, event.actor_email, event.workspace_id) == (user.pk, "changing@example.com", None)
    assert (event.ip, event.user_agent) == (CLIENT_IP, CLIENT_UA)
    assert event.details == details


def test_mfa_disabled_after_the_authenticator_row_is_gone_keeps_its_id(outsider, audit_request):
    authenticator = _authenticator(outsider, Authenticator.Type.TOTP)
    authenticator_id = authenticator.pk
    authenticator.delete()  # allauth deletes first, then sends authenticator_removed
    mfa_signals.authenticator_removed.send(
        sender=Authenticator, request=audit_request, user=outsider, authenticator=authenticator
    )
    event = _only_event("mfa.disabled")
    assert (event.target_type, event.target_id) == ("mfa.authenticator", str(authenticator_id))


def test_failed_mfa_code_at_login_is_a_failed_login(outsider, audit_request):
    authenticator = _authenticator(outsider, Authenticator.Type.TOTP)
    mfa_signals.authentication_failed.send(
        sender=Authenticator, request=audit_request, user=outsider, authenticator=authenticator
    )
    event = _only_event("account.login_failed")
    assert (event.actor_id, event.target_id) == (None, str(outsider.pk))
    assert event.details == {"email": outsider.email, "method": "mfa", "type": "totp"}


def test_approval_by_an_admin(outsider, audit_request):
    admin_user = UserFactory(is_staff=True)
    user_approved.send(sender=type(outsider), user=outsider, approved_by=admin_user, request=audit_request)
    event = _only_event("account.approved")
    assert (event.actor_id, event.target_id, event.ip) == (admin_user.pk, str(outsider.pk), CLIENT_IP)


# --- workspaces.signals.workspace_event -----------------------------------------------------------


WORKSPACE_CASES = [
    # (action, target builder, details sent)
    ("workspace.created", lambda ws: ws, {"name": "Acme Marketing"}),
    ("workspace.renamed", lambda ws: ws, {"from": "Acme", "to": "Acme Marketing"}),
    ("member.invited", lambda ws: InvitationFactory(workspace=ws), {"email": "new@example.com", "role": "analyst"}),
    ("member.role_changed", lambda ws: MembershipFactory(workspace=ws), {"from": "viewer", "to": "analyst"}),
    ("member.removed", lambda ws: MembershipFactory(workspace=ws), {"email": "gone@example.com"}),
    ("invitation.revoked", lambda ws: InvitationFactory(workspace=ws), {}),
]


@pytest.mark.parametrize("action, make_target, details", WORKSPACE_CASES, ids=[case[0] for case in WORKSPACE_CASES])
def test_workspace_event_writes_one_row(workspace, owner, audit_request, *, action, make_target, details):
    target = make_target(workspace)
    before = AuditEvent.objects.count()
    workspace_event.send(
        sender=Workspace,
        action=action,
        actor=owner,
        workspace=workspace,
        target=target,
        details=details,
        request=audit_request,
    )
    assert AuditEvent.objects.count() == before + 1
    event = _only_event(action)
    assert (event.actor_id, event.actor_email, event.workspace_id) == (owner.pk, owner.email, workspace.pk)
    assert (event.target_type, event.target_id) == (target._meta.label_lower, str(target.pk))
    assert (event.ip, event.user_agent, event.details) == (CLIENT_IP, CLIENT_UA, details)


def test_workspace_deleted_is_recorded_in_its_own_chain_after_the_delete(workspace, owner, audit_request):
    workspace_id = workspace.pk
    workspace.delete()  # the row is gone and Django has set workspace.pk to None
    workspace_event.send(
        sender=Workspace,
        action="workspace.deleted",
        actor=owner,
        workspace=workspace,
        target=workspace,
        details={"name": "Acme Marketing", "slug": "acme"},
        request=audit_request,
    )
    event = _only_event("workspace.deleted")
    assert (event.workspace_id, event.target_id) == (workspace_id, str(workspace_id))
    assert not Workspace.objects.filter(pk=workspace_id).exists()
    assert event.details == {"name": "Acme Marketing", "slug": "acme"}


def test_member_removed_after_the_membership_row_is_gone(workspace, owner, analyst, audit_request):
    membership = Membership.objects.get(workspace=workspace, user=analyst, role=Role.ANALYST)
    membership_id = membership.pk
    membership.delete()
    workspace_event.send(
        sender=Workspace, action="member.removed", actor=owner, workspace=workspace, target=membership, details={}
    )
    assert _only_event("member.removed").target_id == str(membership_id)


def test_login_after_password_and_mfa_names_both_steps(outsider, audit_request):
    from allauth.account.internal.flows.login import record_authentication
    from django.contrib.auth.signals import user_logged_in

    record_authentication(audit_request, outsider, "password", email=outsider.email)
    record_authentication(audit_request, outsider, "mfa", type="totp")
    user_logged_in.send(sender=type(outsider), request=audit_request, user=outsider)
    event = _only_event("account.login")
    assert (event.actor_id, event.details) == (outsider.pk, {"method": "password+mfa"})
