"""Reads for workspaces, memberships and invitations. Workspace-scoped selectors take `workspace=` first."""

from allauth.account.models import EmailAddress
from django.db.models import Count, Q, QuerySet
from django.shortcuts import get_object_or_404

from accounts.selectors import user_has_totp
from workspaces.models import Invitation, Membership, Role, Workspace, invitation_token_hash


def membership_list_for_user(*, user) -> QuerySet[Membership]:
    """The user's memberships with their workspaces, for the /w/ list and the switcher."""
    return (
        Membership.objects.select_related("workspace")
        .filter(user=user)
        .annotate(member_count=Count("workspace__memberships"))
        .order_by("workspace__name")
    )


def membership_default_for_user(*, user) -> Membership | None:
    return Membership.objects.select_related("workspace").filter(user=user, is_default=True).first()


def membership_list(*, workspace: Workspace) -> QuerySet[Membership]:
    return Membership.objects.for_workspace(workspace).select_related("user").order_by("user__email")


def membership_get(*, workspace: Workspace, member_id: int) -> Membership:
    """One membership of `workspace`; 404 for an id from another workspace."""
    memberships = Membership.objects.for_workspace(workspace).select_related("user", "workspace")
    return get_object_or_404(memberships, pk=member_id)


def membership_owner_count(*, workspace: Workspace) -> int:
    return Membership.objects.for_workspace(workspace).filter(role=Role.OWNER).count()


def invitation_list(*, workspace: Workspace) -> QuerySet[Invitation]:
    return Invitation.objects.for_workspace(workspace).select_related("invited_by").order_by("-created_at")


def invitation_list_pending(*, workspace: Workspace) -> QuerySet[Invitation]:
    return invitation_list(workspace=workspace).pending()


def invitation_get(*, workspace: Workspace, invitation_id: int) -> Invitation:
    """One invitation of `workspace`; 404 for an id from another workspace."""
    return get_object_or_404(Invitation.objects.for_workspace(workspace).select_related("workspace"), pk=invitation_id)


def invitation_get_by_token(*, token: str) -> Invitation | None:
    """The invitation behind a raw token, in whatever state, or None. Only the hash is compared."""
    if not token:
        return None
    return invitation_get_by_hash(token_hash=invitation_token_hash(token))


def invitation_get_by_hash(*, token_hash: str) -> Invitation | None:
    return Invitation.objects.select_related("workspace", "invited_by").filter(token_hash=token_hash).first()


def invitation_email_matches(*, invitation: Invitation, user) -> bool:
    """True when `user` has *verified* the invited address (any of their verified addresses counts)."""
    if not getattr(user, "is_authenticated", False):
        return False
    return EmailAddress.objects.filter(user=user, email__iexact=invitation.email, verified=True).exists()


def workspace_2fa_satisfied(*, workspace: Workspace, user) -> bool:
    """False when the workspace requires 2FA and the user has no authenticator app."""
    return not workspace.require_2fa or user_has_totp(user)


def workspace_list_owned_for_admin(*, user) -> QuerySet[Workspace]:
    """The workspaces `user` may manage in the owner admin (/owner/).

    Owned workspaces only, and only those whose 2FA requirement the user meets, so the admin
    is no side door around the "members must use 2FA" setting.
    """
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return Workspace.objects.none()
    owned = Workspace.objects.filter(memberships__user=user, memberships__role=Role.OWNER)
    if not user_has_totp(user):
        owned = owned.filter(~Q(require_2fa=True))
    return owned.distinct()
