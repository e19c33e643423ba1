"""Login by emailed code and its one-click link (SECURITY.md §3.4 T-AUTH-01..06, 12)."""

import datetime as dt

import pytest
from allauth.account.adapter import DefaultAccountAdapter
from django.core import mail
from django.test import Client
from django.urls import reverse
from django.utils.html import escape
from freezegun import freeze_time

from accounts.tests.factories import UserFactory
from accounts.tests.helpers import (
    code_from_mail,
    confirm_code,
    is_logged_in,
    link_from_mail,
    path_of,
    request_code,
)
from accounts.views import LOGIN_LINK_OTHER_BROWSER

pytestmark = pytest.mark.django_db

TOO_MANY = str(DefaultAccountAdapter.error_messages["too_many_login_attempts"])


@pytest.fixture
def user():
    return UserFactory(email="ada@example.com")


def test_code_email_carries_code_and_one_click_link(client, user):
    request_code(client, user.email)

    message = mail.outbox[0]
    code = code_from_mail()
    link = link_from_mail()
    html = message.alternatives[0][0]
    assert message.to == ["ada@example.com"]
    assert link.startswith("http://testserver/accounts/login/code/link/?code=")
    assert code in link
    assert code in html
    assert link.replace("&", "&amp;") in html


def test_code_logs_in_the_requesting_browser(client, user):
    request_code(client, user.email)

    response = confirm_code(client, code_from_mail())

    assert response.status_code == 302
    assert is_logged_in(client)
    assert client.session["_auth_user_id"] == str(user.pk)


def test_magic_link_renders_prefilled_form_for_the_script_and_logs_in(client, user):
    request_code(client, user.email)
    code = code_from_mail()

    page = client.get(path_of(link_from_mail()))
    body = page.content.decode()
    # What static/js/login-code-link.js submits: the prefilled form to allauth's confirm view.
    response = confirm_code(client, code)

    assert page.status_code == 200
    assert f'action="{reverse("account_confirm_login_code")}"' in body
    assert f'value="{code}"' in body
    assert "data-autosubmit" in body
    assert "js/login-code-link.js" in body
    assert "<script>" not in body
    assert response.status_code == 302
    assert is_logged_in(client)


def test_magic_link_in_another_browser_logs_nobody_in(client, user):  # T-AUTH-05
    request_code(client, user.email)
    code = code_from_mail()
    other = Client()

    page = other.get(path_of(link_from_mail()))
    submitted = confirm_code(other, code)

    assert page.status_code == 200
    assert escape(LOGIN_LINK_OTHER_BROWSER) in page.content.decode()
    assert "data-autosubmit" not in page.content.decode()
    assert submitted.status_code == 302
    assert submitted["Location"] == reverse("account_request_login_code")
    assert not is_logged_in(other)
    # The attempt in the other browser did not spend the code of the real one.
    assert confirm_code(client, code).status_code == 302
    assert is_logged_in(client)


def test_code_is_single_use(client, user):  # T-AUTH-01
    request_code(client, user.email)
    code = code_from_mail()
    confirm_code(client, code)
    client.post(reverse("account_logout"))

    replay = confirm_code(client, code)
    link_replay = client.get(path_of(link_from_mail()))

    assert replay.status_code == 302
    assert replay["Location"] == reverse("account_request_login_code")
    assert escape(LOGIN_LINK_OTHER_BROWSER) in link_replay.content.decode()
    assert not is_logged_in(client)


def test_code_expires(client, user, settings):  # T-AUTH-02
    settings.ACCOUNT_LOGIN_BY_CODE_TIMEOUT = 300
    with freeze_time("2025-03-01 12:00:00") as frozen:
        request_code(client, user.email)
        code = code_from_mail()
        frozen.tick(dt.timedelta(seconds=301))

        response = confirm_code(client, code)

        # Asserted inside the frozen clock: outside it the test session itself has expired.
        assert response.status_code == 302
        assert response["Location"] == reverse("account_request_login_code")
        assert not is_logged_in(client)


def test_code_still_valid_just_before_expiry(client, user, settings):
    settings.ACCOUNT_LOGIN_BY_CODE_TIMEOUT = 300
    with freeze_time("2025-03-01 12:00:00") as frozen:
        request_code(client, user.email)
        frozen.tick(dt.timedelta(seconds=299))

        confirm_code(client, code_from_mail())

        assert is_logged_in(client)


def test_wrong_codes_up_to_the_limit_invalidate_the_right_one(client, user, settings):  # T-AUTH-03
    settings.ACCOUNT_LOGIN_BY_CODE_MAX_ATTEMPTS = 3
    request_code(client, user.email)
    code = code_from_mail()
    wrong = "0" * len(code) if code != "0" * len(code) else "1" * len(code)

    first = confirm_code(client, wrong)
    confirm_code(client, wrong)
    last = confirm_code(client, wrong)
    right = confirm_code(client, code)

    assert first.status_code == 200  # form error, attempts left
    assert last.status_code == 302  # attempts used up: the pending login is gone
    assert right.status_code == 302
    assert right["Location"] == reverse("account_request_login_code")
    assert not is_logged_in(client)


def test_requesting_codes_is_rate_limited_per_email(client, user):  # T-AUTH-04: "3/m/key"
    responses = [request_code(Client(), user.email) for _ in range(3)]

    blocked = request_code(client, user.email)

    assert [r.status_code for r in responses] == [302, 302, 302]
    assert len(mail.outbox) == 3
    assert blocked.status_code == 200
    assert escape(TOO_MANY) in blocked.content.decode()
    assert len(mail.outbox) == 3


def test_code_request_does_not_reveal_whether_the_account_exists(user):  # T-AUTH-06
    known = request_code(Client(), user.email)
    unknown = request_code(Client(), "nobody@example.com")

    assert known.status_code == unknown.status_code == 302
    assert known["Location"] == unknown["Location"] == reverse("account_confirm_login_code")
    assert [m.to for m in mail.outbox] == [["ada@example.com"], ["nobody@example.com"]]


def test_unknown_email_confirm_page_looks_the_same_and_no_code_works(client):
    request_code(client, "nobody@example.com")

    page = client.get(reverse("account_confirm_login_code"))
    attempt = confirm_code(client, "ABCDEF")

    assert page.status_code == 200
    assert "nobody@example.com" in page.content.decode()
    assert attempt.status_code == 200
    assert not is_logged_in(client)


def test_login_by_code_rotates_session_and_csrf_token(client, user):  # T-AUTH-12 (code)
    client.get(reverse("account_login"))
    request_code(client, user.email)
    session_before = client.cookies["sessionid"].value
    csrf_before = client.cookies["csrftoken"].value

    confirm_code(client, code_from_mail())

    assert client.cookies["sessionid"].value != session_before
    assert client.cookies["csrftoken"].value != csrf_before
    stale = Client()
    stale.cookies["sessionid"] = session_before
    assert stale.get(reverse("accounts:profile")).status_code == 302
