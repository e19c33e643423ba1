"""Workspace pages under /w/ and the invitation link under /invitations/.

Every /w/<workspace_slug>/ view goes through `workspace_view` (decorators.py): it is the outermost
decorator so a non-member gets 404 whatever the HTTP method, before any 405.
"""

from functools import wraps

from allauth.account.adapter import get_adapter
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import urlencode
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from workspaces import selectors, services
from workspaces.decorators import workspace_view
from workspaces.forms import (
    InvitationForm,
    MembershipRoleForm,
    WorkspaceCreateForm,
    WorkspaceDeleteForm,
    WorkspaceSettingsForm,
)
from workspaces.models import Invitation, Membership, Role

GET_POST = ["GET", "POST"]

MESSAGE_CREATED = "Workspace “{name}” created."
MESSAGE_SETTINGS_SAVED = "Settings saved."
MESSAGE_DELETED = "Workspace “{name}” deleted."
MESSAGE_DEFAULT_SET = "“{name}” is now your default workspace."
MESSAGE_LEFT = "You left “{name}”."
MESSAGE_ROLE_CHANGED = "{email} is now {role}."
MESSAGE_MEMBER_REMOVED = "{email} was removed from the workspace."
MESSAGE_INVITATION_SENT = "Invitation sent to {email}."
MESSAGE_INVITATION_RESENT = "A new invitation link was sent to {email}; the previous link no longer works."
MESSAGE_INVITATION_REVOKED = "The invitation to {email} was revoked."
MESSAGE_INVITATION_ACCEPTED = "Welcome to “{name}”."
MESSAGE_INVITATION_REJECTED = "You declined the invitation."
MESSAGE_SIGN_IN_FIRST = "Sign in or create an account to accept this invitation."

# Session keys of the "accept after sign-in / sign-up" flow (see receivers.py).
PENDING_INVITATION_SESSION_KEY = "workspaces_pending_invitation"
JOINED_WORKSPACE_SESSION_KEY = "workspaces_joined_slug"


def _error_message(error: ValidationError) -> str:
    return error.messages[0]


# --- workspaces --------------------------------------------------------------------------------


@login_required
def workspace_list(request: HttpRequest) -> HttpResponse:
    memberships = selectors.membership_list_for_user(user=request.user)
    return render(request, "workspaces/list.html", {"memberships": memberships, "form": WorkspaceCreateForm()})


@login_required
@require_http_methods(GET_POST)
def workspace_create(request: HttpRequest) -> HttpResponse:
    form = WorkspaceCreateForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        workspace = services.workspace_create(user=request.user, name=form.cleaned_data["name"], request=request)
        messages.success(request, MESSAGE_CREATED.format(name=workspace.name))
        return redirect(workspace)
    return render(request, "workspaces/create.html", {"form": form}, status=400 if form.errors else 200)


@workspace_view()
@require_safe
def workspace_detail(request: HttpRequest, membership: Membership) -> HttpResponse:
    workspace = membership.workspace
    context = {
        "workspace": workspace,
        "membership": membership,
        "members": selectors.membership_list(workspace=workspace)[:10],
        "member_count": selectors.membership_list(workspace=workspace).count(),
        "pending_invitation_count": (
            selectors.invitation_list_pending(workspace=workspace).count() if membership.has_role(Role.OWNER) else None
        ),
    }
    return render(request, "workspaces/detail.html", context)


@workspace_view()
@require_POST
def workspace_set_default(request: HttpRequest, membership: Membership) -> HttpResponse:
    services.membership_set_default(membership=membership)
    messages.success(request, MESSAGE_DEFAULT_SET.format(name=membership.workspace.name))
    return redirect("workspaces:list")


@workspace_view(min_role=Role.OWNER)
@require_http_methods(GET_POST)
def workspace_settings(request: HttpRequest, membership: Membership) -> HttpResponse:
    workspace = membership.workspace
    initial = {"name": workspace.name, "require_2fa": workspace.require_2fa}
    form = WorkspaceSettingsForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            services.workspace_rename(
                workspace=workspace, actor=request.user, name=form.cleaned_data["name"], request=request
            )
            services.workspace_update_settings(
                workspace=workspace,
                actor=request.user,
                require_2fa=form.cleaned_data["require_2fa"],
                request=request,
            )
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(request, MESSAGE_SETTINGS_SAVED)
            return redirect("workspaces:settings", workspace_slug=workspace.slug)
    context = {"workspace": workspace, "membership": membership, "form": form}
    return render(request, "workspaces/settings.html", context, status=400 if form.errors else 200)


@workspace_view(min_role=Role.OWNER)
@require_http_methods(GET_POST)
def workspace_delete(request: HttpRequest, membership: Membership) -> HttpResponse:
    workspace = membership.workspace
    form = WorkspaceDeleteForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.workspace_delete(
                workspace=workspace, actor=request.user, confirm_name=form.cleaned_data["confirm_name"], request=request
            )
        except ValidationError as error:
            form.add_error("confirm_name", error)
        else:
            messages.success(request, MESSAGE_DELETED.format(name=workspace.name))
            return redirect("workspaces:list")
    context = {"workspace": workspace, "membership": membership, "form": form}
    return render(request, "workspaces/delete.html", context, status=400 if form.errors else 200)


@workspace_view()
@require_POST
def workspace_leave(request: HttpRequest, membership: Membership) -> HttpResponse:
    try:
        services.membership_leave(membership=membership, request=request)
    except ValidationError as error:
        messages.error(request, _error_message(error))
        return _member_list_page(request, membership, status=400)
    messages.success(request, MESSAGE_LEFT.format(name=membership.workspace.name))
    return redirect("workspaces:list")


# --- members -----------------------------------------------------------------------------------


def _member_list_page(request: HttpRequest, membership: Membership, status: int = 200) -> HttpResponse:
    workspace = membership.workspace
    context = {
        "workspace": workspace,
        "membership": membership,
        "members": selectors.membership_list(workspace=workspace),
        "is_owner": membership.has_role(Role.OWNER),
        "roles": Role.choices,
    }
    return render(request, "workspaces/members.html", context, status=status)


@workspace_view()
@require_safe
def member_list(request: HttpRequest, membership: Membership) -> HttpResponse:
    return _member_list_page(request, membership)


@workspace_view(min_role=Role.OWNER)
@require_POST
def member_change_role(request: HttpRequest, membership: Membership, member_id: int) -> HttpResponse:
    target = selectors.membership_get(workspace=membership.workspace, member_id=member_id)
    form = MembershipRoleForm(request.POST)
    if not form.is_valid():
        messages.error(request, services.ERROR_ROLE_INVALID)
        return _member_list_page(request, membership, status=400)
    try:
        services.membership_change_role(
            membership=target, actor=request.user, role=form.cleaned_data["role"], request=request
        )
    except ValidationError as error:
        messages.error(request, _error_message(error))
        return _member_list_page(request, membership, status=400)
    messages.success(request, MESSAGE_ROLE_CHANGED.format(email=target.user.email, role=target.get_role_display()))
    return redirect("workspaces:members", workspace_slug=membership.workspace.slug)


@workspace_view(min_role=Role.OWNER)
@require_POST
def member_remove(request: HttpRequest, membership: Membership, member_id: int) -> HttpResponse:
    target = selectors.membership_get(workspace=membership.workspace, member_id=member_id)
    try:
        services.membership_remove(membership=target, actor=request.user, request=request)
    except ValidationError as error:
        messages.error(request, _error_message(error))
        return _member_list_page(request, membership, status=400)
    messages.success(request, MESSAGE_MEMBER_REMOVED.format(email=target.user.email))
    return redirect("workspaces:members", workspace_slug=membership.workspace.slug)


# --- invitations (owner side) ------------------------------------------------------------------


@workspace_view(min_role=Role.OWNER)
@require_http_methods(GET_POST)
def invitation_list(request: HttpRequest, membership: Membership) -> HttpResponse:
    """The workspace's invitations; POST sends a new one."""
    workspace = membership.workspace
    form = InvitationForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            invitation = services.invitation_send(
                workspace=workspace,
                inviter=request.user,
                email=form.cleaned_data["email"],
                role=form.cleaned_data["role"],
                request=request,
            )
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(request, MESSAGE_INVITATION_SENT.format(email=invitation.email))
            return redirect("workspaces:invitations", workspace_slug=workspace.slug)
    context = {
        "workspace": workspace,
        "membership": membership,
        "form": form,
        "invitations": selectors.invitation_list(workspace=workspace),
    }
    return render(request, "workspaces/invitations.html", context, status=400 if form.errors else 200)


def _invitation_action(request: HttpRequest, membership: Membership, invitation_id: int, action) -> HttpResponse:
    invitation = selectors.invitation_get(workspace=membership.workspace, invitation_id=invitation_id)
    try:
        action(invitation)
    except ValidationError as error:
        messages.error(request, _error_message(error))
    return redirect("workspaces:invitations", workspace_slug=membership.workspace.slug)


@workspace_view(min_role=Role.OWNER)
@require_POST
def invitation_revoke(request: HttpRequest, membership: Membership, invitation_id: int) -> HttpResponse:
    def revoke(invitation: Invitation) -> None:
        services.invitation_revoke(invitation=invitation, actor=request.user, request=request)
        messages.success(request, MESSAGE_INVITATION_REVOKED.format(email=invitation.email))

    return _invitation_action(request, membership, invitation_id, revoke)


@workspace_view(min_role=Role.OWNER)
@require_POST
def invitation_resend(request: HttpRequest, membership: Membership, invitation_id: int) -> HttpResponse:
    def resend(invitation: Invitation) -> None:
        services.invitation_resend(invitation=invitation, actor=request.user, request=request)
        messages.success(request, MESSAGE_INVITATION_RESENT.format(email=invitation.email))

    return _invitation_action(request, membership, invitation_id, resend)


# --- invitations (invitee side, /invitations/<token>/) ---------------------------------------------


def _invitation_error(request: HttpRequest, message: str, status: int) -> HttpResponse:
    return render(request, "workspaces/invitation_detail.html", {"error": message}, status=status)


_ERROR_STATUS = {
    services.ERROR_INVITATION_USED: 410,
    services.ERROR_INVITATION_EXPIRED: 410,
}


def _load_invitation(request: HttpRequest, token: str) -> Invitation | HttpResponse:
    """The usable invitation for this visitor, or the error page.

    A signed-in user who is not the invitee gets 404 and no detail about the invitation:
    to them it does not exist (and the tenancy route test treats it like any foreign object).
    """
    invitation = selectors.invitation_get_by_token(token=token)
    if invitation is None:
        return _invitation_error(request, services.ERROR_INVITATION_INVALID, 404)
    if request.user.is_authenticated and not selectors.invitation_email_matches(
        invitation=invitation, user=request.user
    ):
        return _invitation_error(request, services.ERROR_INVITATION_OTHER_EMAIL, 404)
    try:
        services.invitation_check_usable(invitation)
    except ValidationError as error:
        message = _error_message(error)
        return _invitation_error(request, message, _ERROR_STATUS.get(message, 404))
    return invitation


def invitation_endpoint(methods: list[str]):
    """For /invitations/<token>/... views: `view(request, invitation, token)`.

    The token is checked before the HTTP method, so a wrong token or a wrong account is a 404
    whatever the method (like the /w/ views). Every response carries `Referrer-Policy:
    same-origin` (the token is in the URL, T-INV-07: no other site ever sees it) and is never cached.
    Not `no-referrer`: under it Chromium sends `Origin: null` with the page's own POST forms, and
    Django's CSRF origin check rightly refuses them.
    """

    def decorator(view):
        @wraps(view)
        def wrapper(request: HttpRequest, token: str) -> HttpResponse:
            loaded = _load_invitation(request, token)
            if isinstance(loaded, HttpResponse):
                response = loaded
            elif request.method not in methods:
                response = HttpResponseNotAllowed(methods)
            else:
                response = view(request, loaded, token)
            response["Referrer-Policy"] = "same-origin"
            return response

        return never_cache(wrapper)

    return decorator


@invitation_endpoint(GET_POST)
def invitation_detail(request: HttpRequest, invitation: Invitation, token: str) -> HttpResponse:
    """GET explains the invitation and changes nothing (mail scanners prefetch links); POST accepts."""
    if request.method == "POST":
        if not request.user.is_authenticated:
            messages.info(request, MESSAGE_SIGN_IN_FIRST)
            return redirect("invitations:detail", token=token)
        try:
            membership = services.invitation_accept_loaded(invitation=invitation, user=request.user, request=request)
        except ValidationError as error:
            return _invitation_error(request, _error_message(error), 400)
        messages.success(request, MESSAGE_INVITATION_ACCEPTED.format(name=membership.workspace.name))
        return redirect(membership.workspace)
    context = {"invitation": invitation, "token": token, "role": invitation.get_role_display()}
    return render(request, "workspaces/invitation_detail.html", context)


@invitation_endpoint(["POST"])
def invitation_reject(request: HttpRequest, invitation: Invitation, token: str) -> HttpResponse:
    try:
        services.invitation_reject(token=token, user=request.user, request=request)
    except ValidationError as error:
        return _invitation_error(request, _error_message(error), 400)
    messages.info(request, MESSAGE_INVITATION_REJECTED)
    return redirect("workspaces:list" if request.user.is_authenticated else "account_login")


def _stash_and_redirect(request: HttpRequest, invitation: Invitation, url_name: str, *, verified_email: bool):
    if request.user.is_authenticated:
        # Already signed in as the invitee: the invitation page has the accept button.
        return redirect("invitations:detail", token=request.resolver_match.kwargs["token"])
    # Only the hash goes into the session; receivers.py accepts it on user_logged_in / user_signed_up.
    request.session[PENDING_INVITATION_SESSION_KEY] = invitation.token_hash
    if verified_email:
        # Holding the token proves the address: allauth prefills the sign-up form with it and
        # creates it already verified, so no confirmation email is needed.
        get_adapter(request).stash_verified_email(request, invitation.email)
    query = urlencode({"next": reverse("invitations:continue")})
    return redirect(f"{reverse(url_name)}?{query}")


@invitation_endpoint(["POST"])
def invitation_signup(request: HttpRequest, invitation: Invitation, token: str) -> HttpResponse:
    return _stash_and_redirect(request, invitation, "account_signup", verified_email=True)


@invitation_endpoint(["POST"])
def invitation_signin(request: HttpRequest, invitation: Invitation, token: str) -> HttpResponse:
    return _stash_and_redirect(request, invitation, "account_login", verified_email=False)


@login_required
def invitation_continue(request: HttpRequest) -> HttpResponse:
    """Where sign-in / sign-up lands after an invitation: the joined workspace, or the list."""
    slug = request.session.pop(JOINED_WORKSPACE_SESSION_KEY, None)
    if slug:
        return redirect("workspaces:detail", workspace_slug=slug)
    return redirect("workspaces:list")
