"""The one entry point for every /w/<workspace_slug>/ view: login, membership, role, 2FA.

Function views use `@workspace_view(min_role=...)`; class-based views use `WorkspaceMixin`.
Both resolve the membership from the database on every request (so a demotion or removal
takes effect on the very next request) and both send a member of a workspace that requires
2FA, who has no authenticator app, to the TOTP setup page.
"""

from collections.abc import Callable
from functools import wraps

from django.contrib import messages
from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect

from workspaces.access import workspace_access
from workspaces.models import Membership, Role
from workspaces.selectors import workspace_2fa_satisfied

MESSAGE_2FA_REQUIRED = "{workspace} requires two-factor authentication. Set up an authenticator app to continue."
TOTP_SETUP_URL_NAME = "mfa_activate_totp"


def _enter_workspace(request: HttpRequest, workspace_slug: str, min_role: Role) -> Membership | HttpResponse:
    if not request.user.is_authenticated:
        return redirect_to_login(request.get_full_path())
    membership = workspace_access(user=request.user, slug=workspace_slug, min_role=min_role)
    if not workspace_2fa_satisfied(workspace=membership.workspace, user=request.user):
        messages.warning(request, MESSAGE_2FA_REQUIRED.format(workspace=membership.workspace.name))
        return redirect(TOTP_SETUP_URL_NAME)
    # Templates (sidebar, switcher) read these through the context processor.
    request.workspace_membership = membership
    return membership


def workspace_view(min_role: Role = Role.VIEWER) -> Callable:
    """Decorate `view(request, membership, **kwargs)`; the URL must carry `workspace_slug`.

    Non-members get 404 (like a missing workspace), too-low roles 403, anonymous users the login page.
    """

    def decorator(view: Callable) -> Callable:
        @wraps(view)
        def wrapper(request: HttpRequest, workspace_slug: str, *args, **kwargs) -> HttpResponse:
            entered = _enter_workspace(request, workspace_slug, min_role)
            if isinstance(entered, HttpResponse):
                return entered
            return view(request, entered, *args, **kwargs)

        return wrapper

    return decorator


class WorkspaceMixin:
    """For class-based views: sets `self.membership` and `self.workspace` before dispatching."""

    min_role: Role = Role.VIEWER
    membership: Membership

    def dispatch(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        entered = _enter_workspace(request, kwargs["workspace_slug"], self.min_role)
        if isinstance(entered, HttpResponse):
            return entered
        self.membership = entered
        self.workspace = entered.workspace
        return super().dispatch(request, *args, **kwargs)

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context.setdefault("workspace", self.workspace)
        context.setdefault("membership", self.membership)
        return context
