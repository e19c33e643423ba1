"""TOTP two-factor authentication (SECURITY.md §3.4 T-AUTH-07) and accounts.selectors.user_has_totp."""

import datetime as dt

import pyotp
import pytest
from allauth.account.adapter import DefaultAccountAdapter
from allauth.mfa.models import Authenticator
from django.test import Client
from django.urls import reverse
from django.utils.html import escape
from freezegun import freeze_time

from accounts.selectors import user_has_totp
from accounts.tests.factories import TEST_PASSWORD, UserFactory
from accounts.tests.helpers import is_logged_in, password_login

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2025, 3, 1, 12, 0, 10, tzinfo=dt.UTC)
INCORRECT = "Incorrect code."
TOO_MANY = escape(str(DefaultAccountAdapter.error_messages["too_many_login_attempts"]))


@pytest.fixture
def frozen():
    with freeze_time(NOW) as frozen:
        yield frozen


@pytest.fixture
def totp_user(frozen):
    """A user who switched on an authenticator app through the real pages; returns (user, secret)."""
    user = UserFactory(email="kathy@example.com")
    client = Client()
    password_login(client, user.email, TEST_PASSWORD)
    client.post(reverse("account_reauthenticate"), {"password": TEST_PASSWORD})  # MFA changes need it
    client.get(reverse("mfa_activate_totp"))
    secret = client.session["mfa.totp.secret"]
    response = client.post(reverse("mfa_activate_totp"), {"code": pyotp.TOTP(secret).now()})
    assert response.status_code == 302
    frozen.tick(dt.timedelta(seconds=90))  # leave the activation code's window
    return user, secret


def mfa_login(client, user, code):
    password_login(client, user.email, TEST_PASSWORD)
    return client.post(reverse("mfa_authenticate"), {"code": code})


def test_activation_creates_totp_and_recovery_codes(totp_user):
    user, _ = totp_user

    types = set(Authenticator.objects.filter(user=user).values_list("type", flat=True))

    assert types == {Authenticator.Type.TOTP, Authenticator.Type.RECOVERY_CODES}
    assert user_has_totp(user) is True


def test_user_has_totp_is_false_without_an_authenticator_app():
    user = UserFactory()
    Authenticator.objects.create(user=user, type=Authenticator.Type.RECOVERY_CODES, data={})

    assert user_has_totp(user) is False


def test_password_alone_does_not_log_in_a_totp_user(totp_user):
    user, _ = totp_user
    client = Client()

    response = password_login(client, user.email, TEST_PASSWORD)

    assert response["Location"] == reverse("mfa_authenticate")
    assert not is_logged_in(client)


def test_current_code_logs_in_and_rotates_the_session(totp_user):  # T-AUTH-12 (TOTP)
    user, secret = totp_user
    client = Client()
    password_login(client, user.email, TEST_PASSWORD)
    session_before = client.cookies["sessionid"].value

    response = client.post(reverse("mfa_authenticate"), {"code": pyotp.TOTP(secret).now()})

    assert response.status_code == 302
    assert is_logged_in(client)
    assert client.cookies["sessionid"].value != session_before


def test_same_code_cannot_be_used_twice(totp_user):
    user, secret = totp_user
    code = pyotp.TOTP(secret).now()
    first = Client()
    mfa_login(first, user, code)

    second = Client()
    response = mfa_login(second, user, code)

    assert is_logged_in(first)
    assert response.status_code == 200
    assert INCORRECT in response.content.decode()
    assert not is_logged_in(second)


def test_code_from_the_previous_period_is_accepted(totp_user):  # MFA_TOTP_TOLERANCE = 1
    user, secret = totp_user
    client = Client()

    mfa_login(client, user, pyotp.TOTP(secret).at(dt.datetime.now(dt.UTC) - dt.timedelta(seconds=30)))

    assert is_logged_in(client)


def test_code_from_two_periods_ago_is_rejected(totp_user):
    user, secret = totp_user
    client = Client()

    response = mfa_login(client, user, pyotp.TOTP(secret).at(dt.datetime.now(dt.UTC) - dt.timedelta(seconds=60)))

    assert INCORRECT in response.content.decode()
    assert not is_logged_in(client)


def test_wrong_codes_are_rate_limited(totp_user):  # login_failed "5/5m/key" on the MFA step
    user, secret = totp_user
    client = Client()
    password_login(client, user.email, TEST_PASSWORD)
    wrong = [client.post(reverse("mfa_authenticate"), {"code": "000000"}) for _ in range(5)]

    response = client.post(reverse("mfa_authenticate"), {"code": pyotp.TOTP(secret).now()})

    assert all(INCORRECT in r.content.decode() for r in wrong)
    assert TOO_MANY in response.content.decode()
    assert not is_logged_in(client)


def test_recovery_code_logs_in_once(totp_user):
    user, _ = totp_user
    recovery = Authenticator.objects.get(user=user, type=Authenticator.Type.RECOVERY_CODES)
    code = recovery.wrap().get_unused_codes()[0]
    first, second = Client(), Client()

    mfa_login(first, user, code)
    response = mfa_login(second, user, code)

    assert is_logged_in(first)
    assert INCORRECT in response.content.decode()
    assert not is_logged_in(second)
