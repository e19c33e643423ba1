import pytest
from django.core.exceptions import PermissionDenied
from django.http import Http404

from workspaces.access import workspace_access
from workspaces.models import Role


def test_member_gets_their_membership(workspace, analyst):
    membership = workspace_access(user=analyst, slug=workspace.slug)
    assert membership.workspace == workspace
    assert membership.role == Role.ANALYST


def test_non_member_gets_404_like_a_missing_workspace(workspace, outsider):
    with pytest.raises(Http404):
        workspace_access(user=outsider, slug=workspace.slug)
    with pytest.raises(Http404):
        workspace_access(user=outsider, slug="no-such-workspace")


def test_too_low_role_gets_403(workspace, viewer):
    with pytest.raises(PermissionDenied):
        workspace_access(user=viewer, slug=workspace.slug, min_role=Role.ANALYST)
