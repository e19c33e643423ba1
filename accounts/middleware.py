"""Session policies that allauth does not provide."""

import time

from django.conf import settings
from django.contrib.auth import logout
from django.shortcuts import redirect
from django.urls import reverse

IDLE_KEY = "leadnav_last_seen"
# Touch the session at most once a minute, so a page full of polling requests is one write.
IDLE_TOUCH_EVERY_SECONDS = 60


class IdleSessionTimeoutMiddleware:
    """Log the user out after SESSION_IDLE_TIMEOUT_SECONDS without a request."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.user.is_authenticated:
            now = time.time()
            last_seen = request.session.get(IDLE_KEY)
            if last_seen is not None and now - last_seen > settings.SESSION_IDLE_TIMEOUT_SECONDS:
                logout(request)
                return redirect(f"{reverse('account_login')}?idle=1")
            if last_seen is None or now - last_seen > IDLE_TOUCH_EVERY_SECONDS:
                request.session[IDLE_KEY] = now
        return self.get_response(request)


APPROVAL_EXEMPT_PREFIXES = ("/accounts/", "/static/", "/healthz", "/admin/")


class ApprovalRequiredMiddleware:
    """With ACCOUNT_REQUIRE_APPROVAL, an unapproved user can only see the waiting page."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = request.user
        if (
            settings.ACCOUNT_REQUIRE_APPROVAL
            and user.is_authenticated
            and not user.is_approved
            and not request.path.startswith(APPROVAL_EXEMPT_PREFIXES)
        ):
            return redirect("accounts:awaiting_approval")
        return self.get_response(request)
