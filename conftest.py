"""Fixtures shared by every app's tests: two workspaces A and B and members of each role.

Names follow SECURITY.md §3: `workspace` is A, `other_workspace` is B.
"""

import pytest

from accounts.tests.factories import UserFactory
from workspaces.models import Role
from workspaces.tests.factories import MembershipFactory, WorkspaceFactory

# The Chromium fixtures (one browser per session, however many apps have browser tests).
pytest_plugins = ["tests.browser.fixtures"]


@pytest.fixture
def workspace(db):
    return WorkspaceFactory(name="Acme Marketing", slug="acme")


@pytest.fixture
def other_workspace(db):
    return WorkspaceFactory(name="Globex Growth", slug="globex")


@pytest.fixture
def owner(workspace):
    return MembershipFactory(workspace=workspace, role=Role.OWNER).user


@pytest.fixture
def analyst(workspace):
    return MembershipFactory(workspace=workspace, role=Role.ANALYST).user


@pytest.fixture
def viewer(workspace):
    return MembershipFactory(workspace=workspace, role=Role.VIEWER).user


@pytest.fixture
def other_owner(other_workspace):
    return MembershipFactory(workspace=other_workspace, role=Role.OWNER).user


@pytest.fixture
def outsider(db):
    return UserFactory()


@pytest.fixture(params=[Role.OWNER, Role.ANALYST, Role.VIEWER], ids=lambda r: r.value)
def member(request, workspace):
    return MembershipFactory(workspace=workspace, role=request.param)


@pytest.fixture
def member_client(client, member):
    client.force_login(member.user)
    return client


@pytest.fixture
def owner_client(client, owner):
    client.force_login(owner)
    return client
