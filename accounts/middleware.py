"""Session policies that allauth does not provide."""

import time

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.shortcuts import redirect

IDLE_KEY = "leadnav_last_seen"
# Touch the session at most once a minute, so a page full of polling requests is one write.
IDLE_TOUCH_EVERY_SECONDS = 60
IDLE_LOGGED_OUT = "You were signed out after a period of inactivity. Please sign in again."


def session_mark_seen(session) -> None:
    session[IDLE_KEY] = time.time()


class IdleSessionTimeoutMiddleware:
    """Log the user out after SESSION_IDLE_TIMEOUT_SECONDS without a request.

    The clock starts at login (accounts.receivers stamps the session), so a session
    that is never used after login also expires. Must run after AuthenticationMiddleware.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.user.is_authenticated:
            now = time.time()
            last_seen = request.session.get(IDLE_KEY)
            if last_seen is not None and now - last_seen > settings.SESSION_IDLE_TIMEOUT_SECONDS:
                logout(request)  # flushes the session: the old session key is dead server-side
                messages.info(request, IDLE_LOGGED_OUT)
                return redirect("account_login")
            if last_seen is None or now - last_seen > IDLE_TOUCH_EVERY_SECONDS:
                request.session[IDLE_KEY] = now
        return self.get_response(request)


# What an unapproved user may still reach: sign-out, email verification, 2FA and session
# pages (all allauth, under /accounts/), static files and the health probe. Our own
# pages under /accounts/ (profile) are not part of that.
APPROVAL_EXEMPT_PREFIXES = ("/accounts/", "/static/", "/healthz")
APPROVAL_NOT_EXEMPT_PREFIXES = ("/accounts/profile/",)


class ApprovalRequiredMiddleware:
    """With ACCOUNT_REQUIRE_APPROVAL, an unapproved user can only see the waiting page."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = request.user
        path = request.path_info
        if (
            settings.ACCOUNT_REQUIRE_APPROVAL
            and user.is_authenticated
            and not user.is_approved
            and (not path.startswith(APPROVAL_EXEMPT_PREFIXES) or path.startswith(APPROVAL_NOT_EXEMPT_PREFIXES))
        ):
            return redirect("accounts:awaiting_approval")
        return self.get_response(request)
