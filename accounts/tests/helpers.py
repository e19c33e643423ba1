"""Small helpers for the accounts tests: reading codes and links out of sent mail, login steps."""

import re
from urllib.parse import urlsplit

from django.core import mail
from django.test import Client
from django.urls import reverse

CODE_RE = re.compile(r"Your code: (\S+)")
LINK_RE = re.compile(r"(https?://\S+/accounts/login/code/link/\?\S+)")


def last_mail_body() -> str:
    return mail.outbox[-1].body


def code_from_mail() -> str:
    return CODE_RE.search(last_mail_body()).group(1)


def link_from_mail() -> str:
    return LINK_RE.search(last_mail_body()).group(1)


def path_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}" if parts.query else parts.path


def request_code(client: Client, email: str, **extra):
    return client.post(reverse("account_request_login_code"), {"email": email}, **extra)


def confirm_code(client: Client, code: str, **data):
    return client.post(reverse("account_confirm_login_code"), {"code": code, **data})


def password_login(client: Client, email: str, password: str, **extra):
    return client.post(reverse("account_login"), {"login": email, "password": password}, **extra)


def is_logged_in(client: Client) -> bool:
    return "_auth_user_id" in client.session
