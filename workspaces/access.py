"""Who may do what in a workspace: the one place URL → workspace → membership is resolved."""

from django.core.exceptions import PermissionDenied
from django.http import Http404

from workspaces.models import Membership, Role

# The permission matrix of DESIGN.md §4, encoded once. Views ask for an action's minimum role.
PERMISSIONS: dict[str, Role] = {
    "view": Role.VIEWER,  # dashboards, charts, combos, saved segments, search
    "export": Role.VIEWER,  # up to a row cap
    "upload": Role.ANALYST,  # upload, map columns, delete own uploads
    "segment_save": Role.ANALYST,
    "assistant": Role.ANALYST,
    "member_manage": Role.OWNER,  # invite, remove members, change roles
    "workspace_manage": Role.OWNER,  # rename/delete workspace, settings, quotas
    "audit_read": Role.OWNER,
}


class WorkspaceNotFound(Http404):
    """A non-member sees the same 404 as for a workspace that does not exist."""


def workspace_access(*, user, slug: str, min_role: Role = Role.VIEWER) -> Membership:
    """The user's membership in the workspace `slug`.

    A non-member gets the same 404 as a workspace that doesn't exist, so one tenant
    cannot probe for another. A member without enough rights gets 403.
    """
    if user is None or not user.is_authenticated:
        raise WorkspaceNotFound
    membership = Membership.objects.select_related("workspace").filter(user=user, workspace__slug=slug).first()
    if membership is None:
        raise WorkspaceNotFound
    if not membership.has_role(min_role):
        raise PermissionDenied
    return membership


def workspace_can(*, membership: Membership, action: str) -> bool:
    return membership.has_role(PERMISSIONS[action])
