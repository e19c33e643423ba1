"""Writes for workspaces, memberships and invitations.

Every state change sends `workspace_event` (workspaces/signals.py) inside the same transaction,
so the audit app records it atomically with the change. Permission to *call* a service (the
actor's role) is checked by the view or admin through `workspace_access`; the services enforce
the invariants that hold whoever calls them: the last owner stays, nobody changes their own
role, nobody invites above their own role, an invitation is accepted at most once.
"""

import secrets
from datetime import timedelta

from allauth.account.adapter import get_adapter
from allauth.account.models import EmailAddress
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone
from django.utils.text import slugify

from accounts.selectors import user_has_totp
from workspaces.models import (
    Invitation,
    InvitationEmail,
    Membership,
    Role,
    Workspace,
    invitation_token_hash,
)
from workspaces.selectors import invitation_email_matches, invitation_get_by_token
from workspaces.signals import workspace_event

# --- user-facing messages (tests assert on these) ---------------------------------------------
ERROR_LAST_OWNER_DEMOTE = "A workspace needs at least one owner: make someone else an owner first."
ERROR_LAST_OWNER_LEAVE = "You are the last owner: make someone else an owner before you leave, or delete the workspace."
ERROR_LAST_OWNER_REMOVE = "A workspace needs at least one owner: the last owner cannot be removed."
ERROR_OWN_ROLE = "You cannot change your own role. Ask another owner."
ERROR_REMOVE_SELF = "To remove yourself, leave the workspace instead."
ERROR_ROLE_ABOVE_INVITER = "You cannot invite someone with a role above your own."
ERROR_NOT_A_MEMBER = "You are not a member of this workspace."
ERROR_ALREADY_MEMBER = "This person is already a member of the workspace."
ERROR_ALREADY_INVITED = "This address already has a pending invitation. Resend it instead."
ERROR_RATE_LIMITED = "Too many invitations were sent from this workspace in the last hour. Try again later."
ERROR_INVITATION_INVALID = "This invitation is invalid."
ERROR_INVITATION_USED = "This invitation has already been used."
ERROR_INVITATION_EXPIRED = "This invitation has expired. Ask the workspace owner to send a new one."
ERROR_INVITATION_OTHER_EMAIL = (
    "This invitation is for another email address. Sign in with the invited address to accept it."
)
ERROR_INVITATION_NOT_PENDING = "Only a pending invitation can be changed."
ERROR_DELETE_CONFIRMATION = "Type the workspace name exactly to confirm."
ERROR_ENABLE_2FA_FIRST = "Set up two-factor authentication for yourself before requiring it of members."
ERROR_NAME_REQUIRED = "A workspace needs a name."
ERROR_ROLE_INVALID = "Choose a valid role."

# Slugs that would shadow fixed URLs under /w/.
RESERVED_SLUGS = frozenset({"new"})
SLUG_MAX_LENGTH = 60
INVITATION_EMAIL_TEMPLATE = "workspaces/email/invitation"


def _send_event(action: str, *, actor, workspace: Workspace, target=None, details=None, request=None) -> None:
    workspace_event.send(
        sender=Workspace,
        action=action,
        actor=actor,
        workspace=workspace,
        target=target,
        details=details or {},
        request=request,
    )


# --- workspaces --------------------------------------------------------------------------------


def workspace_slug_generate(*, name: str) -> str:
    """A unique slug from `name`: `acme`, then `acme-2`, `acme-3`, ..."""
    base = slugify(name)[: SLUG_MAX_LENGTH - 8].strip("-") or "workspace"
    if base in RESERVED_SLUGS:
        base = f"{base}-workspace"
    candidate, n = base, 1
    while Workspace.objects.filter(slug=candidate).exists():
        n += 1
        candidate = f"{base}-{n}"
    return candidate


def _clean_name(name: str) -> str:
    name = (name or "").strip()
    if not name:
        raise ValidationError(ERROR_NAME_REQUIRED)
    return name


@transaction.atomic
def workspace_create(*, user, name: str, request: HttpRequest | None = None) -> Workspace:
    """Create a workspace; its creator becomes its owner (and it becomes their default if they have none)."""
    name = _clean_name(name)
    workspace = Workspace(name=name, slug=workspace_slug_generate(name=name), created_by=user)
    workspace.full_clean()
    workspace.save()
    has_default = Membership.objects.filter(user=user, is_default=True).exists()
    Membership.objects.create(workspace=workspace, user=user, role=Role.OWNER, is_default=not has_default)
    _send_event("workspace.created", actor=user, workspace=workspace, target=workspace, request=request)
    return workspace


@transaction.atomic
def workspace_rename(*, workspace: Workspace, actor, name: str, request: HttpRequest | None = None) -> Workspace:
    """Change the display name. The slug stays, so bookmarked URLs keep working."""
    name = _clean_name(name)
    old_name = workspace.name
    if name == old_name:
        return workspace
    workspace.name = name
    workspace.full_clean()
    workspace.save(update_fields=["name", "updated_at"])
    _send_event(
        "workspace.renamed",
        actor=actor,
        workspace=workspace,
        target=workspace,
        details={"old_name": old_name, "new_name": name},
        request=request,
    )
    return workspace


@transaction.atomic
def workspace_update_settings(
    *, workspace: Workspace, actor, require_2fa: bool, request: HttpRequest | None = None
) -> Workspace:
    if require_2fa == workspace.require_2fa:
        return workspace
    # An owner who requires 2FA without having it would lock themselves out of the workspace.
    if require_2fa and actor is not None and not user_has_totp(actor):
        raise ValidationError(ERROR_ENABLE_2FA_FIRST)
    workspace.require_2fa = require_2fa
    workspace.save(update_fields=["require_2fa", "updated_at"])
    _send_event(
        "workspace.settings_changed",
        actor=actor,
        workspace=workspace,
        target=workspace,
        details={"require_2fa": require_2fa},
        request=request,
    )
    return workspace


@transaction.atomic
def workspace_delete(*, workspace: Workspace, actor, confirm_name: str, request: HttpRequest | None = None) -> None:
    """Delete the workspace and everything in it, once the owner has typed its name."""
    if (confirm_name or "").strip() != workspace.name:
        raise ValidationError(ERROR_DELETE_CONFIRMATION)
    # The event goes out first: the audit row keeps the workspace id (its FK has no DB constraint).
    _send_event(
        "workspace.deleted",
        actor=actor,
        workspace=workspace,
        target=workspace,
        details={"name": workspace.name, "slug": workspace.slug},
        request=request,
    )
    workspace.delete()


# --- memberships -------------------------------------------------------------------------------


@transaction.atomic
def membership_set_default(*, membership: Membership) -> Membership:
    """Make this the workspace the user lands in; their other memberships stop being the default."""
    Membership.objects.filter(user_id=membership.user_id, is_default=True).exclude(pk=membership.pk).update(
        is_default=False
    )
    if not membership.is_default:
        membership.is_default = True
        membership.save(update_fields=["is_default", "updated_at"])
    return membership


def _is_last_owner(membership: Membership) -> bool:
    owners = Membership.objects.filter(workspace_id=membership.workspace_id, role=Role.OWNER)
    if connection.in_atomic_block:
        # Lock the owner rows so two concurrent demotions cannot both pass this check (PostgreSQL;
        # SQLite's IMMEDIATE transactions already serialise writers).
        owners = owners.select_for_update()
    return membership.role == Role.OWNER and list(owners.order_by("pk").values_list("pk", flat=True)) == [membership.pk]


def membership_change_role_check(*, membership: Membership, actor, role: str) -> None:
    """Raise ValidationError when the role change would break an invariant (also used by the admin form)."""
    if actor is not None and membership.user_id == actor.pk:
        raise ValidationError(ERROR_OWN_ROLE)
    if role not in Role.values:
        raise ValidationError(ERROR_ROLE_INVALID)
    if role != Role.OWNER and _is_last_owner(membership):
        raise ValidationError(ERROR_LAST_OWNER_DEMOTE)


@transaction.atomic
def membership_change_role(
    *, membership: Membership, actor, role: str, request: HttpRequest | None = None
) -> Membership:
    membership_change_role_check(membership=membership, actor=actor, role=role)
    old_role = membership.role
    if role == old_role:
        return membership
    membership.role = role
    membership.save(update_fields=["role", "updated_at"])
    _send_event(
        "member.role_changed",
        actor=actor,
        workspace=membership.workspace,
        target=membership,
        details={"user": membership.user.email, "old_role": old_role, "new_role": role},
        request=request,
    )
    return membership


def membership_remove_check(*, membership: Membership, actor) -> None:
    if actor is not None and membership.user_id == actor.pk:
        raise ValidationError(ERROR_REMOVE_SELF)
    if _is_last_owner(membership):
        raise ValidationError(ERROR_LAST_OWNER_REMOVE)


@transaction.atomic
def membership_remove(*, membership: Membership, actor, request: HttpRequest | None = None) -> None:
    """An owner removes another member. Their access ends on their next request."""
    membership_remove_check(membership=membership, actor=actor)
    _send_event(
        "member.removed",
        actor=actor,
        workspace=membership.workspace,
        target=membership,
        details={"user": membership.user.email, "role": membership.role},
        request=request,
    )
    membership.delete()


@transaction.atomic
def membership_leave(*, membership: Membership, request: HttpRequest | None = None) -> None:
    if _is_last_owner(membership):
        raise ValidationError(ERROR_LAST_OWNER_LEAVE)
    _send_event(
        "member.left",
        actor=membership.user,
        workspace=membership.workspace,
        target=membership,
        details={"user": membership.user.email, "role": membership.role},
        request=request,
    )
    membership.delete()


# --- invitations -------------------------------------------------------------------------------


def _new_token() -> str:
    # 32 bytes = 256 bits of entropy (SECURITY.md T-INV-07); only its SHA-256 is stored.
    return secrets.token_urlsafe(32)


def _accept_url(token: str, request: HttpRequest | None) -> str:
    path = reverse("invitations:detail", kwargs={"token": token})
    if request is not None:
        return request.build_absolute_uri(path)
    from django.contrib.sites.models import Site

    return f"https://{Site.objects.get_current().domain}{path}"


def _send_invitation_email(*, invitation: Invitation, token: str, request: HttpRequest | None) -> None:
    """Log the send (for the rate limit) and mail the link once the transaction commits."""
    InvitationEmail.objects.create(workspace=invitation.workspace, invitation=invitation)
    context = {
        "invitation": invitation,
        "workspace_name": invitation.workspace.name,
        "inviter": invitation.invited_by,
        "role": invitation.get_role_display(),
        "accept_url": _accept_url(token, request),
        "expires_at": invitation.expires_at,
    }
    email = invitation.email
    # No email for a rolled-back invitation; the raw token lives only in this closure and the mail.
    transaction.on_commit(lambda: get_adapter(request).send_mail(INVITATION_EMAIL_TEMPLATE, email, context))


def _check_rate_limit(workspace: Workspace) -> None:
    since = timezone.now() - timedelta(hours=1)
    sent = InvitationEmail.objects.for_workspace(workspace).filter(sent_at__gt=since).count()
    if sent >= settings.INVITATION_RATE_LIMIT_PER_HOUR:
        raise ValidationError(ERROR_RATE_LIMITED)


def invitation_send_check(*, workspace: Workspace, inviter, email: str, role: str) -> str:
    """Validate an invitation before sending it; returns the normalised email. Also used by the admin form."""
    email = (email or "").strip().lower()
    inviter_membership = Membership.objects.filter(workspace=workspace, user=inviter).first()
    if inviter_membership is None:
        raise ValidationError(ERROR_NOT_A_MEMBER)
    if role not in Role.values:
        raise ValidationError(ERROR_ROLE_INVALID)
    if not inviter_membership.has_role(Role(role)):
        raise ValidationError(ERROR_ROLE_ABOVE_INVITER)
    already_member = Membership.objects.filter(workspace=workspace, user__email__iexact=email).exists() or (
        Membership.objects.filter(
            workspace=workspace,
            user__in=EmailAddress.objects.filter(email__iexact=email, verified=True).values("user"),
        ).exists()
    )
    if already_member:
        raise ValidationError(ERROR_ALREADY_MEMBER)
    if Invitation.objects.for_workspace(workspace).pending().filter(email__iexact=email).exists():
        raise ValidationError(ERROR_ALREADY_INVITED)
    _check_rate_limit(workspace)
    return email


@transaction.atomic
def invitation_send(
    *, workspace: Workspace, inviter, email: str, role: str, request: HttpRequest | None = None
) -> Invitation:
    """Invite `email` with `role` and email them the accept link.

    The raw token is set on the returned object as `.token` (it is never stored); the caller
    must not log it.
    """
    email = invitation_send_check(workspace=workspace, inviter=inviter, email=email, role=role)
    token = _new_token()
    invitation = Invitation.objects.create(
        workspace=workspace,
        email=email,
        role=role,
        invited_by=inviter,
        token_hash=invitation_token_hash(token),
        expires_at=timezone.now() + settings.INVITATION_TTL,
    )
    _send_invitation_email(invitation=invitation, token=token, request=request)
    _send_event(
        "invitation.sent",
        actor=inviter,
        workspace=workspace,
        target=invitation,
        details={"email": email, "role": role},
        request=request,
    )
    invitation.token = token
    return invitation


def _still_open(invitation: Invitation) -> bool:
    return invitation.accepted_at is None and invitation.revoked_at is None and invitation.rejected_at is None


@transaction.atomic
def invitation_resend(*, invitation: Invitation, actor, request: HttpRequest | None = None) -> Invitation:
    """Send a fresh link: a new token and a new expiry. The old token stops working at once."""
    if not _still_open(invitation):
        raise ValidationError(ERROR_INVITATION_NOT_PENDING)
    _check_rate_limit(invitation.workspace)
    token = _new_token()
    invitation.token_hash = invitation_token_hash(token)
    invitation.expires_at = timezone.now() + settings.INVITATION_TTL
    invitation.sent_count += 1
    invitation.save(update_fields=["token_hash", "expires_at", "sent_count", "updated_at"])
    _send_invitation_email(invitation=invitation, token=token, request=request)
    _send_event(
        "invitation.resent",
        actor=actor,
        workspace=invitation.workspace,
        target=invitation,
        details={"email": invitation.email, "sent_count": invitation.sent_count},
        request=request,
    )
    invitation.token = token
    return invitation


@transaction.atomic
def invitation_revoke(*, invitation: Invitation, actor, request: HttpRequest | None = None) -> Invitation:
    now = timezone.now()
    updated = Invitation.objects.filter(
        pk=invitation.pk, accepted_at__isnull=True, revoked_at__isnull=True, rejected_at__isnull=True
    ).update(revoked_at=now, updated_at=now)
    if not updated:
        raise ValidationError(ERROR_INVITATION_NOT_PENDING)
    invitation.refresh_from_db()
    _send_event(
        "invitation.revoked",
        actor=actor,
        workspace=invitation.workspace,
        target=invitation,
        details={"email": invitation.email},
        request=request,
    )
    return invitation


def invitation_check_usable(invitation: Invitation) -> None:
    """Raise the message a visitor should see when the invitation can no longer be used."""
    if invitation.accepted_at is not None:
        raise ValidationError(ERROR_INVITATION_USED)
    if invitation.revoked_at is not None or invitation.rejected_at is not None:
        # Revoked and declined invitations look like unknown ones (T-INV-04).
        raise ValidationError(ERROR_INVITATION_INVALID)
    if invitation.expires_at <= timezone.now():
        raise ValidationError(ERROR_INVITATION_EXPIRED)


def _invitation_for_token(token: str) -> Invitation:
    invitation = invitation_get_by_token(token=token)
    if invitation is None:
        raise ValidationError(ERROR_INVITATION_INVALID)
    return invitation


@transaction.atomic
def invitation_accept(*, token: str, user, request: HttpRequest | None = None) -> Membership:
    """Accept with the raw token as `user`; returns the new membership.

    The role comes from the stored invitation only. The compare-and-set UPDATE makes the
    invitation single-use even when two requests race: only one of them changes a row.
    """
    invitation = _invitation_for_token(token)
    return invitation_accept_loaded(invitation=invitation, user=user, request=request)


@transaction.atomic
def invitation_accept_loaded(*, invitation: Invitation, user, request: HttpRequest | None = None) -> Membership:
    """Accept an invitation already looked up by its token hash (the sign-up flow keeps only the hash)."""
    # The hash the caller's token matched: a resend since then must make this accept fail.
    token_hash = invitation.token_hash
    invitation.refresh_from_db()  # re-read inside the transaction: a concurrent accept may have won
    if invitation.token_hash != token_hash:
        raise ValidationError(ERROR_INVITATION_INVALID)
    invitation_check_usable(invitation)
    if not invitation_email_matches(invitation=invitation, user=user):
        raise ValidationError(ERROR_INVITATION_OTHER_EMAIL)
    if Membership.objects.filter(workspace_id=invitation.workspace_id, user=user).exists():
        raise ValidationError(ERROR_ALREADY_MEMBER)
    now = timezone.now()
    claimed = Invitation.objects.filter(
        pk=invitation.pk,
        token_hash=token_hash,  # a resend in between kills the token we were given
        accepted_at__isnull=True,
        revoked_at__isnull=True,
        rejected_at__isnull=True,
        expires_at__gt=now,
    ).update(accepted_at=now, accepted_by=user, updated_at=now)
    if not claimed:
        invitation.refresh_from_db()
        invitation_check_usable(invitation)
        raise ValidationError(ERROR_INVITATION_INVALID)
    try:
        with transaction.atomic():
            membership = Membership.objects.create(
                workspace_id=invitation.workspace_id, user=user, role=invitation.role
            )
    except IntegrityError:
        raise ValidationError(ERROR_ALREADY_MEMBER)
    if not Membership.objects.filter(user=user, is_default=True).exclude(pk=membership.pk).exists():
        membership_set_default(membership=membership)
    invitation.refresh_from_db()
    _send_event(
        "invitation.accepted",
        actor=user,
        workspace=invitation.workspace,
        target=invitation,
        details={"email": invitation.email, "role": invitation.role},
        request=request,
    )
    return membership


@transaction.atomic
def invitation_reject(*, token: str, user=None, request: HttpRequest | None = None) -> Invitation:
    """Decline. Holding the token is enough (it came by email); a signed-in user must be the invitee."""
    invitation = _invitation_for_token(token)
    invitation_check_usable(invitation)
    if getattr(user, "is_authenticated", False) and not invitation_email_matches(invitation=invitation, user=user):
        raise ValidationError(ERROR_INVITATION_OTHER_EMAIL)
    now = timezone.now()
    updated = Invitation.objects.filter(
        pk=invitation.pk,
        token_hash=invitation.token_hash,
        accepted_at__isnull=True,
        revoked_at__isnull=True,
        rejected_at__isnull=True,
    ).update(rejected_at=now, updated_at=now)
    if not updated:
        raise ValidationError(ERROR_INVITATION_INVALID)
    invitation.refresh_from_db()
    _send_event(
        "invitation.rejected",
        actor=user if getattr(user, "is_authenticated", False) else None,
        workspace=invitation.workspace,
        target=invitation,
        details={"email": invitation.email},
        request=request,
    )
    return invitation
