"""CSRF, logout by GET, open redirects and the admin login (SECURITY.md §3.4 T-AUTH-09, 10, 11, 14)."""

from urllib.parse import urlsplit

import pytest
from django.test import Client
from django.urls import reverse

from accounts.tests.factories import TEST_PASSWORD, UserFactory
from accounts.tests.helpers import code_from_mail, is_logged_in, password_login, request_code

pytestmark = pytest.mark.django_db

OPEN_REDIRECT_NEXT = [
    "//evil.com",
    "https://evil.com",
    "http://evil.com/path",
    "/\\evil.com",
    "\\\\evil.com",
    "javascript:alert(1)",
    "https:evil.com",
    "///evil.com",
]


def assert_same_host(location: str) -> None:
    parts = urlsplit(location)
    assert parts.scheme in ("", "http")
    assert parts.netloc in ("", "testserver")
    assert location.startswith("/")
    assert not location.startswith(("//", "/\\"))
    assert "evil.com" not in location.split("?", maxsplit=1)[0]


@pytest.fixture
def user():
    return UserFactory(email="alan@example.com")


# --- T-AUTH-10: CSRF ------------------------------------------------------------------------------

NEW = "a long passphrase 1"
ANONYMOUS_POSTS = [
    ("account_login", {"login": "alan@example.com", "password": TEST_PASSWORD}),
    (
        "account_signup",
        {"email": "x@example.com", "password1": NEW, "password2": NEW},
    ),
    ("account_request_login_code", {"email": "alan@example.com"}),
    ("account_confirm_login_code", {"code": "ABCDEF"}),
    ("account_reset_password", {"email": "alan@example.com"}),
]
AUTHENTICATED_POSTS = [
    ("account_logout", {}),
    (
        "account_change_password",
        {"oldpassword": TEST_PASSWORD, "password1": NEW, "password2": NEW},
    ),
    ("account_email", {"email": "other@example.com", "action_add": ""}),
    ("mfa_activate_totp", {"code": "123456"}),
    ("usersessions_list", {}),
    ("accounts:profile", {"name": "Mallory"}),
]


@pytest.mark.parametrize(("url_name", "data"), ANONYMOUS_POSTS, ids=[n for n, _ in ANONYMOUS_POSTS])
def test_anonymous_posts_without_csrf_token_are_refused(user, url_name, data):
    client = Client(enforce_csrf_checks=True)

    response = client.post(reverse(url_name), data)

    assert response.status_code == 403
    assert not is_logged_in(client)


@pytest.mark.parametrize(("url_name", "data"), AUTHENTICATED_POSTS, ids=[n for n, _ in AUTHENTICATED_POSTS])
def test_authenticated_posts_without_csrf_token_are_refused(user, url_name, data):
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)

    response = client.post(reverse(url_name), data)

    user.refresh_from_db()
    assert response.status_code == 403
    assert is_logged_in(client)
    assert user.check_password(TEST_PASSWORD)
    assert user.name != "Mallory"


def test_post_with_a_wrong_csrf_token_is_refused(user):
    client = Client(enforce_csrf_checks=True)
    client.get(reverse("account_login"))

    response = client.post(
        reverse("account_login"),
        {"login": user.email, "password": TEST_PASSWORD, "csrfmiddlewaretoken": "x" * 64},
    )

    assert response.status_code == 403
    assert not is_logged_in(client)


# --- T-AUTH-11: logout by GET -----------------------------------------------------------------------


def test_logout_by_get_does_not_log_out(client, user):
    client.force_login(user)
    session_key = client.session.session_key

    response = client.get(reverse("account_logout"))

    assert response.status_code == 200  # a confirmation page with a POST form
    assert is_logged_in(client)
    assert client.session.session_key == session_key


def test_logout_by_post_logs_out(client, user):
    client.force_login(user)

    client.post(reverse("account_logout"))

    assert not is_logged_in(client)


# --- T-AUTH-14: open redirects ---------------------------------------------------------------------


@pytest.mark.parametrize("target", OPEN_REDIRECT_NEXT)
def test_login_next_stays_on_site(client, user, target):
    response = client.post(reverse("account_login"), {"login": user.email, "password": TEST_PASSWORD, "next": target})

    assert response.status_code == 302
    assert_same_host(response["Location"])


@pytest.mark.parametrize("target", OPEN_REDIRECT_NEXT)
def test_code_confirm_next_stays_on_site(client, user, target):
    client.post(f"{reverse('account_request_login_code')}", {"email": user.email, "next": target})

    response = client.post(reverse("account_confirm_login_code"), {"code": code_from_mail(), "next": target})

    assert response.status_code == 302
    assert is_logged_in(client)
    assert_same_host(response["Location"])


@pytest.mark.parametrize("target", OPEN_REDIRECT_NEXT)
def test_logout_next_stays_on_site(client, user, target):
    client.force_login(user)

    response = client.post(reverse("account_logout"), {"next": target})

    assert response.status_code == 302
    assert_same_host(response["Location"])


def test_login_next_on_site_is_honoured(client, user):
    response = client.post(
        reverse("account_login"), {"login": user.email, "password": TEST_PASSWORD, "next": "/accounts/profile/"}
    )

    assert response["Location"] == "/accounts/profile/"


# --- T-AUTH-09: the platform admin logs in through allauth ------------------------------------------


def test_admin_login_redirects_to_allauth_login(client):
    response = client.get("/admin/login/?next=/admin/")

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("account_login") + "?next=")


def test_admin_login_page_refuses_non_staff(client, user):
    client.force_login(user)

    assert client.get("/admin/login/").status_code == 403


def test_admin_login_is_rate_limited_like_any_login(user):
    staff = UserFactory(email="root@example.com", is_staff=True, is_superuser=True)
    for _ in range(5):
        password_login(Client(), staff.email, "wrong")
    client = Client()

    password_login(client, staff.email, TEST_PASSWORD)

    assert not is_logged_in(client)
    assert client.get("/admin/").status_code == 302


def test_staff_reaches_admin_after_allauth_login(client):
    staff = UserFactory(email="root@example.com", is_staff=True, is_superuser=True)

    password_login(client, staff.email, TEST_PASSWORD)

    assert client.get("/admin/").status_code == 200


def test_code_request_sets_up_pending_login_for_this_browser_only(user):
    first, second = Client(), Client()

    request_code(first, user.email)

    assert first.get(reverse("account_confirm_login_code")).status_code == 200
    assert second.get(reverse("account_confirm_login_code")).status_code == 302
