"""Writes for accounts: profile edits and approval of sign-ups."""

from collections.abc import Iterable

from allauth.account.adapter import get_adapter
from allauth.utils import build_absolute_uri
from django.db import transaction
from django.http import HttpRequest
from django.urls import reverse

from accounts.models import User
from accounts.signals import user_approved

APPROVAL_EMAIL_TEMPLATE = "accounts/email/approved"


def user_update_profile(*, user: User, name: str) -> User:
    user.name = name.strip()
    user.full_clean(exclude=["password"])
    user.save(update_fields=["name"])
    return user


def user_approve(
    *, users: Iterable[User], approved_by: User | None = None, request: HttpRequest | None = None
) -> list[User]:
    """Approve the given users who are still waiting, and email each of them once.

    Users already approved are skipped, so running the admin action twice sends no
    second email. The mails go out after the commit: no "you're in" for a rolled-back approval.
    Returns the users that were approved by this call.
    """
    approved = []
    for user in users:
        if user.is_approved:
            continue
        user.is_approved = True
        user.save(update_fields=["is_approved"])
        approved.append(user)
        user_approved.send(sender=User, user=user, approved_by=approved_by, request=request)

    def send_mails() -> None:
        adapter = get_adapter(request)
        login_url = build_absolute_uri(request, reverse("account_login"))
        for user in approved:
            adapter.send_mail(APPROVAL_EMAIL_TEMPLATE, user.email, {"user": user, "login_url": login_url})

    transaction.on_commit(send_mails)
    return approved
