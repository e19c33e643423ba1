"""Sign-up, password login, reset and change (SECURITY.md §3.4 T-AUTH-06, 08, 12, 13, 16)."""

import re

import pytest
from allauth.account.adapter import DefaultAccountAdapter
from allauth.account.models import EmailAddress
from django.core import mail
from django.test import Client
from django.urls import reverse
from django.utils.html import escape

from accounts.models import User
from accounts.tests.factories import TEST_PASSWORD, UserFactory
from accounts.tests.helpers import is_logged_in, password_login, path_of

pytestmark = pytest.mark.django_db

TOO_MANY = escape(str(DefaultAccountAdapter.error_messages["too_many_login_attempts"]))
NEW_PASSWORD = "a fresh and long passphrase 7"


@pytest.fixture
def user():
    return UserFactory(email="grace@example.com")


def signup(client, email, password):
    return client.post(reverse("account_signup"), {"email": email, "password1": password, "password2": password})


# --- sign-up ---------------------------------------------------------------------------------------


def test_signup_requires_email_verification_before_login(client):
    response = signup(client, "new@example.com", NEW_PASSWORD)
    user = User.objects.get(email="new@example.com")
    blocked = password_login(Client(), "new@example.com", NEW_PASSWORD)

    assert response.status_code == 302
    assert response["Location"] == reverse("account_email_verification_sent")
    assert not is_logged_in(client)
    assert EmailAddress.objects.get(user=user).verified is False
    assert blocked["Location"] == reverse("account_email_verification_sent")
    assert len(mail.outbox) == 1  # the blocked login sends no second mail within "confirm_email" 1/3m
    assert "/accounts/confirm-email/" in mail.outbox[0].body


def test_following_the_verification_link_verifies_and_logs_in(client):
    signup(client, "new@example.com", NEW_PASSWORD)
    link = re.search(r"https?://\S+/accounts/confirm-email/\S+/", mail.outbox[0].body).group(0)

    client.post(path_of(link))

    assert EmailAddress.objects.get(email="new@example.com").verified is True
    assert is_logged_in(client)


@pytest.mark.parametrize(
    ("password", "expected"),
    [
        ("sh0rt!", "This password is too short"),
        ("password123", "This password is too common"),
        ("48151623429", "This password is entirely numeric"),
    ],
    ids=["short", "common", "numeric"],
)
def test_signup_rejects_weak_passwords(client, password, expected):  # T-AUTH-16
    response = signup(client, "weak@example.com", password)

    assert response.status_code == 200
    assert expected in response.content.decode()
    assert not User.objects.filter(email="weak@example.com").exists()
    assert mail.outbox == []


def test_signup_accepts_a_64_character_passphrase(client):
    signup(client, "long@example.com", "correct horse battery staple " * 2 + "and some more words")

    assert User.objects.filter(email="long@example.com").exists()


def test_signup_with_an_existing_email_looks_like_a_new_signup(client, user):  # T-AUTH-06
    existing = signup(client, user.email, NEW_PASSWORD)
    fresh = signup(Client(), "fresh@example.com", NEW_PASSWORD)

    assert existing.status_code == fresh.status_code == 302
    assert existing["Location"] == fresh["Location"]
    assert User.objects.filter(email=user.email).count() == 1
    assert [m.to for m in mail.outbox] == [[user.email], ["fresh@example.com"]]


# --- password login ------------------------------------------------------------------------------


def test_password_login_redirects_home(client, user):
    response = password_login(client, user.email, TEST_PASSWORD)

    assert response.status_code == 302
    assert response["Location"] == reverse("home")
    assert is_logged_in(client)


def test_password_login_rotates_session_and_csrf_token(client, user):  # T-AUTH-12 (password)
    client.get(reverse("account_login"))
    session = client.session
    session["pre_login"] = "x"
    session.save()
    session_before = client.cookies["sessionid"].value
    csrf_before = client.cookies["csrftoken"].value

    password_login(client, user.email, TEST_PASSWORD)

    assert client.cookies["sessionid"].value != session_before
    assert client.cookies["csrftoken"].value != csrf_before
    stale = Client()
    stale.cookies["sessionid"] = session_before
    assert stale.get(reverse("accounts:profile")).status_code == 302
    assert is_logged_in(client)


def test_failed_logins_lock_the_account_key(client, user):  # T-AUTH-08: login_failed "5/5m/key"
    failures = [password_login(Client(), user.email, "wrong password").status_code for _ in range(5)]

    blocked = password_login(client, user.email, TEST_PASSWORD)

    assert failures == [200] * 5
    assert blocked.status_code == 200
    assert TOO_MANY in blocked.content.decode()
    assert not is_logged_in(client)


def test_rotating_x_forwarded_for_does_not_reset_the_ip_limit(client, user):  # T-AUTH-08: "10/m/ip"
    # Ten failures for ten different accounts from one address, each claiming a new X-Forwarded-For.
    for n in range(10):
        password_login(Client(), f"ghost{n}@example.com", "wrong", HTTP_X_FORWARDED_FOR=f"10.0.0.{n}")

    blocked = password_login(client, user.email, TEST_PASSWORD, HTTP_X_FORWARDED_FOR="10.9.9.9")

    assert TOO_MANY in blocked.content.decode()
    assert not is_logged_in(client)


def test_a_different_client_address_is_not_blocked(client, user):
    for n in range(10):
        password_login(Client(), f"ghost{n}@example.com", "wrong")

    response = password_login(client, user.email, TEST_PASSWORD, REMOTE_ADDR="192.0.2.50")

    assert response.status_code == 302
    assert is_logged_in(client)


# --- password reset -------------------------------------------------------------------------------


def test_password_reset_does_not_reveal_whether_the_account_exists(user):  # T-AUTH-06
    known = Client().post(reverse("account_reset_password"), {"email": user.email})
    unknown = Client().post(reverse("account_reset_password"), {"email": "nobody@example.com"})

    assert known.status_code == unknown.status_code == 302
    assert known["Location"] == unknown["Location"] == reverse("account_reset_password_done")
    assert [m.to for m in mail.outbox] == [[user.email], ["nobody@example.com"]]


def test_password_reset_link_sets_a_new_password(client, user):
    client.post(reverse("account_reset_password"), {"email": user.email})
    link = re.search(r"https?://\S+/accounts/password/reset/key/\S+/", mail.outbox[0].body).group(0)

    form_page = client.get(path_of(link), follow=True)
    client.post(form_page.redirect_chain[-1][0], {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD})

    user.refresh_from_db()
    assert user.check_password(NEW_PASSWORD)
    assert not is_logged_in(client)  # ACCOUNT_LOGIN_ON_PASSWORD_RESET = False


# --- password change ------------------------------------------------------------------------------


def test_password_change_ends_the_other_sessions(user):  # T-AUTH-13
    here, elsewhere = Client(), Client()
    password_login(here, user.email, TEST_PASSWORD)
    password_login(elsewhere, user.email, TEST_PASSWORD)

    response = here.post(
        reverse("account_change_password"),
        {"oldpassword": TEST_PASSWORD, "password1": NEW_PASSWORD, "password2": NEW_PASSWORD},
    )

    assert response.status_code == 302
    assert here.get(reverse("accounts:profile")).status_code == 200
    assert elsewhere.get(reverse("accounts:profile")).status_code == 302
    assert not is_logged_in(elsewhere)
    assert "password" in mail.outbox[-1].subject.lower()  # ACCOUNT_EMAIL_NOTIFICATIONS


def test_password_change_applies_the_policy(client, user):  # T-AUTH-16
    password_login(client, user.email, TEST_PASSWORD)

    response = client.post(
        reverse("account_change_password"),
        {"oldpassword": TEST_PASSWORD, "password1": "12345678", "password2": "12345678"},
    )

    user.refresh_from_db()
    assert response.status_code == 200
    assert "This password is too common" in response.content.decode()
    assert user.check_password(TEST_PASSWORD)
