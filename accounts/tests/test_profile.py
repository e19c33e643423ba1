"""The profile page, the landing redirect (config.views.home) and the look of the shared layout."""

import pytest
from django.urls import reverse

from accounts.tests.factories import UserFactory
from workspaces.models import Role
from workspaces.tests.factories import MembershipFactory, WorkspaceFactory

pytestmark = pytest.mark.django_db


def test_profile_requires_login(client):
    response = client.get(reverse("accounts:profile"))

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("account_login"))


def test_profile_shows_account_links_and_workspaces(owner_client, owner, workspace, other_workspace):
    MembershipFactory(workspace=other_workspace, user=owner, role=Role.VIEWER)

    body = owner_client.get(reverse("accounts:profile")).content.decode()

    assert owner.email in body
    for url_name in ["account_email", "account_change_password", "mfa_index", "usersessions_list"]:
        assert f'href="{reverse(url_name)}"' in body
    assert "Acme Marketing" in body
    assert "Globex Growth" in body
    assert f'action="{reverse("workspaces:set_default", args=["globex"])}"' in body
    assert '<span class="badge badge-warning">Off</span>' in body  # 2FA status


def test_profile_name_edit(client):
    user = UserFactory(name="Old Name")
    client.force_login(user)

    response = client.post(reverse("accounts:profile"), {"name": "  Ada Lovelace "})

    user.refresh_from_db()
    assert response.status_code == 302
    assert response["Location"] == reverse("accounts:profile")
    assert user.name == "Ada Lovelace"


def test_profile_name_is_escaped(client):
    user = UserFactory(name="<script>alert(1)</script>")
    client.force_login(user)

    body = client.get(reverse("accounts:profile")).content.decode()

    assert "<script>alert(1)</script>" not in body
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in body


def test_top_bar_links_to_the_profile(client):
    client.force_login(UserFactory())

    body = client.get(reverse("accounts:profile")).content.decode()

    assert f'class="topnav-user" href="{reverse("accounts:profile")}"' in body


def test_home_sends_anonymous_users_to_login(client):
    assert client.get(reverse("home"))["Location"] == reverse("account_login")


def test_home_opens_the_default_workspace(client):
    user = UserFactory()
    MembershipFactory(user=user, workspace=WorkspaceFactory(name="Alpha", slug="alpha"))
    MembershipFactory(user=user, workspace=WorkspaceFactory(name="Zeta", slug="zeta"), is_default=True)
    client.force_login(user)

    assert client.get(reverse("home"))["Location"] == reverse("workspaces:detail", args=["zeta"])


def test_home_opens_the_first_workspace_without_a_default(client):
    user = UserFactory()
    MembershipFactory(user=user, workspace=WorkspaceFactory(name="Zeta", slug="zeta"))
    MembershipFactory(user=user, workspace=WorkspaceFactory(name="Alpha", slug="alpha"))
    client.force_login(user)

    assert client.get(reverse("home"))["Location"] == reverse("workspaces:detail", args=["alpha"])


def test_home_without_workspaces_opens_the_list(client):
    client.force_login(UserFactory())

    assert client.get(reverse("home"))["Location"] == reverse("workspaces:list")


@pytest.mark.parametrize(
    "url_name",
    [
        "account_login",
        "account_signup",
        "account_request_login_code",
        "account_reset_password",
    ],
)
def test_entrance_pages_use_our_layout_without_inline_code(client, url_name):
    body = client.get(reverse(url_name)).content.decode()

    assert 'class="layout-entrance"' in body
    assert "/static/css/app.css" in body
    assert 'style="' not in body
    assert "<script>" not in body


@pytest.mark.parametrize(
    "url_name", ["accounts:profile", "account_email", "account_change_password", "mfa_index", "usersessions_list"]
)
def test_manage_pages_use_our_layout_without_inline_code(client, url_name):
    client.force_login(UserFactory())

    body = client.get(reverse(url_name)).content.decode()

    assert 'class="layout-manage"' in body
    assert 'aria-label="Account settings"' in body
    assert 'style="' not in body
    assert "<script>" not in body


def test_error_page_leaks_nothing(client):
    client.force_login(UserFactory())

    response = client.get("/w/does-not-exist/")

    assert response.status_code == 404
    assert "Page not found" in response.content.decode()
    assert "Traceback" not in response.content.decode()
    assert "does-not-exist" not in response.content.decode()
