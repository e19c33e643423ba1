"""Accept the invitation a visitor started with, once they have signed in or signed up.

views._stash_and_redirect puts the invitation's token hash into the session; whichever of
allauth's `user_signed_up` / `user_logged_in` fires first pops it (so it runs once) and
accepts it if the user has verified the invited address.
"""

from allauth.account.signals import user_logged_in, user_signed_up
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.dispatch import receiver

from workspaces import selectors, services
from workspaces.views import (
    JOINED_WORKSPACE_SESSION_KEY,
    MESSAGE_INVITATION_ACCEPTED,
    PENDING_INVITATION_SESSION_KEY,
)


def accept_pending_invitation(request, user) -> None:
    if request is None or not hasattr(request, "session"):
        return
    token_hash = request.session.pop(PENDING_INVITATION_SESSION_KEY, None)
    if not token_hash:
        return
    invitation = selectors.invitation_get_by_hash(token_hash=token_hash)
    if invitation is None:
        messages.error(request, services.ERROR_INVITATION_INVALID)
        return
    try:
        membership = services.invitation_accept_loaded(invitation=invitation, user=user, request=request)
    except ValidationError as error:
        messages.error(request, error.messages[0])
        return
    request.session[JOINED_WORKSPACE_SESSION_KEY] = membership.workspace.slug
    messages.success(request, MESSAGE_INVITATION_ACCEPTED.format(name=membership.workspace.name))


@receiver(user_signed_up, dispatch_uid="workspaces_accept_invitation_on_signup")
def on_user_signed_up(sender, request, user, **kwargs) -> None:
    accept_pending_invitation(request, user)


@receiver(user_logged_in, dispatch_uid="workspaces_accept_invitation_on_login")
def on_user_logged_in(sender, request, user, **kwargs) -> None:
    accept_pending_invitation(request, user)
