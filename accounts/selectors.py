"""Reads about users and their login state. Other apps may call these (accounts is the bottom layer)."""

from allauth.account.stages import LoginByCodeStage, LoginStageController
from allauth.mfa.models import Authenticator
from django.http import HttpRequest

from accounts.models import User


def user_has_totp(user: User) -> bool:
    """True when the user has an active authenticator app (TOTP).

    Recovery codes alone do not count: allauth only creates them next to a real
    second factor, and a workspace that requires 2FA means "has an authenticator app".
    """
    if not getattr(user, "is_authenticated", False):
        return False
    return Authenticator.objects.filter(user=user, type=Authenticator.Type.TOTP).exists()


def login_code_pending(request: HttpRequest) -> bool:
    """True when *this browser's session* is waiting for a sign-in code.

    allauth keeps the pending login-by-code in the session of the browser that asked for
    the code, so this is what binds a magic link to that browser. Read-only: it peeks at
    the stashed login and never consumes an attempt.
    """
    if request.user.is_authenticated:
        return False
    return LoginStageController.enter(request, LoginByCodeStage.key) is not None
