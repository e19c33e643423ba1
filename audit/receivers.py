"""Signal handlers that turn what other apps report into audit events (connected by AuditConfig.ready).

Every handler writes exactly one row through `audit.services.audit_record`. Passwords, codes and
tokens never reach `details`: login failures keep only the address that was typed.
"""

from allauth.account import signals as account_signals
from allauth.account.internal.flows.login import get_authentication_records
from allauth.mfa import signals as mfa_signals
from allauth.mfa.models import Authenticator
from django.contrib.auth import get_user_model
from django.contrib.auth import signals as auth_signals
from django.db.models.signals import pre_delete
from django.dispatch import receiver

from accounts.signals import user_approved
from audit.selectors import audit_user_for_login
from audit.services import DELETED_PK_ATTR, audit_record
from workspaces.models import Invitation, Membership, Workspace
from workspaces.signals import workspace_event

# Login failures carry what was typed as the login, under whichever name the form used.
_LOGIN_KEYS = ("email", "username", "login")
_MAX_ATTEMPTED_LOGIN = 254


def _attempted_login(credentials: dict) -> str:
    for key in _LOGIN_KEYS:
        value = credentials.get(key)
        if isinstance(value, str) and value:
            return value[:_MAX_ATTEMPTED_LOGIN]
    return ""


# --- sign-up, login, logout --------------------------------------------------------------------


@receiver(account_signals.user_signed_up, dispatch_uid="audit.user_signed_up")
def on_user_signed_up(sender, request, user, **kwargs):
    audit_record(action="account.signup", actor=user, target=user, request=request)


@receiver(auth_signals.user_logged_in, dispatch_uid="audit.user_logged_in")
def on_user_logged_in(sender, request, user, **kwargs):
    """Django's signal, not allauth's: it fires once for every login, the admin login form included.

    allauth keeps a record of each step of this login in the session (password, code, mfa);
    those name the method. A login with no record (force_login, a custom backend) says "unknown".
    """
    records = get_authentication_records(request, user) if hasattr(request, "session") else []
    methods = list(dict.fromkeys(record.get("method", "") for record in records if record.get("method")))
    details = {"method": "+".join(methods) or "unknown"}
    audit_record(action="account.login", actor=user, target=user, details=details, request=request)


@receiver(auth_signals.user_login_failed, dispatch_uid="audit.user_login_failed")
def on_user_login_failed(sender, credentials, request=None, **kwargs):
    # Only the login is kept; Django has masked the password already, and we don't keep the mask either.
    attempted = _attempted_login(credentials)
    details = {"email": attempted, "method": "password"}
    target = audit_user_for_login(login=attempted)
    audit_record(action="account.login_failed", target=target, details=details, request=request)


@receiver(auth_signals.user_logged_out, dispatch_uid="audit.user_logged_out")
def on_user_logged_out(sender, request, user, **kwargs):
    audit_record(action="account.logout", actor=user, target=user, request=request)


@receiver(account_signals.login_code_rejected, dispatch_uid="audit.login_code_rejected")
def on_login_code_rejected(sender, request, user, last_attempt=False, **kwargs):
    details = {"email": user.email, "method": "code", "last_attempt": bool(last_attempt)}
    audit_record(action="account.login_failed", target=user, details=details, request=request)


@receiver(user_approved, dispatch_uid="audit.user_approved")
def on_user_approved(sender, user, approved_by=None, request=None, **kwargs):
    audit_record(action="account.approved", actor=approved_by, target=user, request=request)


# --- passwords and email addresses -------------------------------------------------------------


@receiver(account_signals.password_changed, dispatch_uid="audit.password_changed")
def on_password_changed(sender, request, user, **kwargs):
    audit_record(action="account.password_changed", actor=user, target=user, request=request)


@receiver(account_signals.password_set, dispatch_uid="audit.password_set")
def on_password_set(sender, request, user, **kwargs):
    audit_record(action="account.password_set", actor=user, target=user, request=request)


@receiver(account_signals.password_reset, dispatch_uid="audit.password_reset")
def on_password_reset(sender, request, user, **kwargs):
    audit_record(action="account.password_reset", actor=user, target=user, request=request)


@receiver(account_signals.email_changed, dispatch_uid="audit.email_changed")
def on_email_changed(sender, request, user, from_email_address=None, to_email_address=None, **kwargs):
    details = {
        "from": from_email_address.email if from_email_address is not None else "",
        "to": to_email_address.email if to_email_address is not None else "",
    }
    audit_record(action="account.email_changed", actor=user, target=user, details=details, request=request)


@receiver(account_signals.email_added, dispatch_uid="audit.email_added")
def on_email_added(sender, request, user, email_address, **kwargs):
    details = {"email": email_address.email}
    audit_record(action="account.email_added", actor=user, target=user, details=details, request=request)


@receiver(account_signals.email_removed, dispatch_uid="audit.email_removed")
def on_email_removed(sender, request, user, email_address, **kwargs):
    details = {"email": email_address.email}
    audit_record(action="account.email_removed", actor=user, target=user, details=details, request=request)


# --- two-factor authentication -----------------------------------------------------------------


def _authenticator_details(authenticator) -> dict:
    return {"type": authenticator.type}


@receiver(mfa_signals.authenticator_added, dispatch_uid="audit.authenticator_added")
def on_authenticator_added(sender, request, user, authenticator, **kwargs):
    details = _authenticator_details(authenticator)
    audit_record(action="mfa.enabled", actor=user, target=authenticator, details=details, request=request)


@receiver(mfa_signals.authenticator_removed, dispatch_uid="audit.authenticator_removed")
def on_authenticator_removed(sender, request, user, authenticator, **kwargs):
    details = _authenticator_details(authenticator)
    audit_record(action="mfa.disabled", actor=user, target=authenticator, details=details, request=request)


@receiver(mfa_signals.authenticator_reset, dispatch_uid="audit.authenticator_reset")
def on_authenticator_reset(sender, request, user, authenticator, **kwargs):
    details = _authenticator_details(authenticator)
    audit_record(action="mfa.recovery_codes_reset", actor=user, target=authenticator, details=details, request=request)


@receiver(mfa_signals.authentication_failed, dispatch_uid="audit.mfa_authentication_failed")
def on_mfa_authentication_failed(sender, request, user, authenticator=None, reauthentication=False, **kwargs):
    details = {"email": user.email, "method": "mfa"}
    if authenticator is not None:
        details["type"] = authenticator.type
    # During re-authentication the user is signed in already: that is not a failed login.
    action = "account.reauthentication_failed" if reauthentication else "account.login_failed"
    actor = user if reauthentication else None
    audit_record(action=action, actor=actor, target=user, details=details, request=request)


# --- workspaces ----------------------------------------------------------------------------------


@receiver(workspace_event, dispatch_uid="audit.workspace_event")
def on_workspace_event(
    sender, *, action, actor=None, workspace=None, target=None, details=None, request=None, **kwargs
):
    """Everything the workspaces app reports (workspaces/signals.py), recorded as sent."""
    audit_record(action=action, actor=actor, workspace=workspace, target=target, details=details, request=request)


def _remember_pk(sender, instance, **kwargs):
    """Keep the pk on an instance being deleted: Django sets it to None afterwards, yet the
    event sent after the delete ("workspace.deleted", "member.removed", "mfa.disabled")
    must still name it. The FKs of AuditEvent have no DB constraint, so the id stays valid history."""
    instance.__dict__[DELETED_PK_ATTR] = instance.pk


# Connected per model, never for every sender: a pre_delete listener turns off Django's fast
# (bulk) delete for the models it listens to.
for _model in (Workspace, Membership, Invitation, Authenticator, get_user_model()):
    pre_delete.connect(_remember_pk, sender=_model, dispatch_uid=f"audit.remember_pk.{_model._meta.label_lower}")
