"""Optional approval of sign-ups (ACCOUNT_REQUIRE_APPROVAL) and the admin "approve" action."""

import pytest
from django.core import mail
from django.test import Client
from django.urls import reverse

from accounts.models import User
from accounts.services import user_approve
from accounts.signals import user_approved
from accounts.tests.factories import UserFactory

pytestmark = pytest.mark.django_db

PASSWORD = "a long enough passphrase 9"


@pytest.fixture
def approval_on(settings):
    settings.ACCOUNT_REQUIRE_APPROVAL = True


@pytest.fixture
def waiting_user(approval_on):
    return UserFactory(email="wait@example.com", is_approved=False)


def test_signup_without_approval_setting_is_approved(client):
    client.post(reverse("account_signup"), {"email": "a@example.com", "password1": PASSWORD, "password2": PASSWORD})

    assert User.objects.get(email="a@example.com").is_approved is True


def test_signup_with_approval_setting_waits(client, approval_on):
    client.post(reverse("account_signup"), {"email": "a@example.com", "password1": PASSWORD, "password2": PASSWORD})

    assert User.objects.get(email="a@example.com").is_approved is False


@pytest.mark.parametrize("path", ["/", "/w/", "/w/acme/", "/accounts/profile/"])
def test_unapproved_user_only_sees_the_waiting_page(client, waiting_user, path):
    client.force_login(waiting_user)

    response = client.get(path)

    assert response.status_code == 302
    assert response["Location"] == reverse("accounts:awaiting_approval")


def test_waiting_page_and_sign_out_stay_reachable(client, waiting_user):
    client.force_login(waiting_user)

    page = client.get(reverse("accounts:awaiting_approval"))
    logout = client.post(reverse("account_logout"))

    assert page.status_code == 200
    assert "Waiting for approval" in page.content.decode()
    assert logout.status_code == 302
    assert "_auth_user_id" not in client.session


def test_approved_user_is_sent_on_from_the_waiting_page(client, approval_on):
    user = UserFactory(is_approved=True)
    client.force_login(user)

    assert client.get(reverse("accounts:awaiting_approval"))["Location"] == reverse("home")


def test_gate_is_off_when_the_setting_is_off(client, settings):
    settings.ACCOUNT_REQUIRE_APPROVAL = False
    client.force_login(UserFactory(is_approved=False))

    assert client.get(reverse("accounts:profile")).status_code == 200


def test_admin_approve_action_approves_and_emails(waiting_user, django_capture_on_commit_callbacks):
    admin_user = UserFactory(email="root@example.com", is_staff=True, is_superuser=True)
    already = UserFactory(email="done@example.com", is_approved=True)
    client = Client()
    client.force_login(admin_user)
    received = []
    user_approved.connect(lambda **kw: received.append(kw["user"].email), weak=False, dispatch_uid="t-approve")

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("admin:accounts_user_changelist"),
            {"action": "approve_users", "_selected_action": [waiting_user.pk, already.pk]},
        )
    user_approved.disconnect(dispatch_uid="t-approve")

    waiting_user.refresh_from_db()
    assert response.status_code == 302
    assert waiting_user.is_approved is True
    assert [m.to for m in mail.outbox] == [["wait@example.com"]]
    assert "approved" in mail.outbox[0].subject
    assert "http://testserver/accounts/login/" in mail.outbox[0].body
    assert received == ["wait@example.com"]


def test_approving_twice_sends_one_email(waiting_user, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        first = user_approve(users=[waiting_user])
    with django_capture_on_commit_callbacks(execute=True):
        second = user_approve(users=[waiting_user])

    assert first == [waiting_user]
    assert second == []
    assert len(mail.outbox) == 1


def test_after_approval_the_user_gets_in(client, waiting_user, django_capture_on_commit_callbacks):
    client.force_login(waiting_user)
    with django_capture_on_commit_callbacks(execute=True):
        user_approve(users=[waiting_user])

    response = client.get(reverse("accounts:profile"))

    assert response.status_code == 200
