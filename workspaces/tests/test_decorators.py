"""WorkspaceMixin: the class-based twin of workspace_view (later apps use either)."""

import pytest
from django.contrib.auth.models import AnonymousUser
from django.contrib.messages.storage.fallback import FallbackStorage
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse
from django.test import RequestFactory
from django.urls import reverse
from django.views.generic import View

from workspaces.decorators import WorkspaceMixin
from workspaces.models import Role, Workspace


class AnalystPage(WorkspaceMixin, View):
    min_role = Role.ANALYST

    def get(self, request, workspace_slug):
        return HttpResponse(f"{self.workspace.slug}:{self.membership.role}")


def _get(user, slug="acme"):
    request = RequestFactory().get(f"/w/{slug}/thing/")
    request.user = user
    request.session = {}
    request._messages = FallbackStorage(request)
    return AnalystPage.as_view()(request, workspace_slug=slug)


def test_member_with_the_role_gets_the_page(workspace, analyst):
    response = _get(analyst)
    assert response.content == b"acme:analyst"


def test_too_low_role_is_403(workspace, viewer):
    with pytest.raises(PermissionDenied):
        _get(viewer)


def test_non_member_is_404(workspace, outsider):
    with pytest.raises(Http404):
        _get(outsider)


def test_anonymous_is_sent_to_login(workspace):
    response = _get(AnonymousUser())
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("account_login"))


def test_2fa_requirement_applies(workspace, analyst):
    Workspace.objects.filter(pk=workspace.pk).update(require_2fa=True)
    response = _get(analyst)
    assert response.status_code == 302
    assert response["Location"] == reverse("mfa_activate_totp")
