"""accounts.middleware.IdleSessionTimeoutMiddleware: logged out after SESSION_IDLE_TIMEOUT_SECONDS idle."""

import datetime as dt

import pytest
from django.urls import reverse
from freezegun import freeze_time

from accounts.middleware import IDLE_LOGGED_OUT
from accounts.tests.factories import UserFactory

pytestmark = pytest.mark.django_db

START = "2025-03-01 08:00:00"


@pytest.fixture
def idle_limit(settings):
    settings.SESSION_IDLE_TIMEOUT_SECONDS = 30 * 60
    return dt.timedelta(minutes=30)


def test_idle_session_is_logged_out(client, idle_limit):
    with freeze_time(START) as frozen:
        client.force_login(UserFactory())
        assert client.get(reverse("accounts:profile")).status_code == 200
        frozen.tick(idle_limit + dt.timedelta(seconds=1))

        response = client.get(reverse("accounts:profile"), follow=True)

        assert response.redirect_chain[0] == (reverse("account_login"), 302)
        assert IDLE_LOGGED_OUT in [str(m) for m in response.context["messages"]]
        assert "_auth_user_id" not in client.session


def test_session_unused_since_login_also_times_out(client, idle_limit):
    with freeze_time(START) as frozen:
        client.force_login(UserFactory())
        frozen.tick(idle_limit + dt.timedelta(seconds=1))

        response = client.get(reverse("accounts:profile"))

        assert response["Location"] == reverse("account_login")


def test_activity_keeps_the_session_alive(client, idle_limit):
    with freeze_time(START) as frozen:
        client.force_login(UserFactory())
        for _ in range(4):  # two hours in total, a request every 25 minutes
            frozen.tick(dt.timedelta(minutes=25))
            assert client.get(reverse("accounts:profile")).status_code == 200

        assert "_auth_user_id" in client.session


def test_requests_within_a_minute_do_not_rewrite_the_session(client, idle_limit):
    with freeze_time(START) as frozen:
        client.force_login(UserFactory())
        client.get(reverse("accounts:profile"))
        frozen.tick(dt.timedelta(seconds=20))
        session_key = client.session.session_key
        before = client.session["leadnav_last_seen"]

        client.get(reverse("accounts:profile"))

        assert client.session.session_key == session_key
        assert client.session["leadnav_last_seen"] == before
