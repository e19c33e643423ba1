"""URLs for the middleware tests only: views that raise the way tenant views do."""

from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse
from django.urls import include, path

from workspaces.access import workspace_access
from workspaces.models import Role, Workspace

ROLLED_BACK_SLUG = "written-then-rolled-back"


def owner_only_view(request, workspace_slug):
    # A write the view makes before it is denied: ATOMIC_REQUESTS must roll it back.
    Workspace.objects.create(name="Rolled back", slug=ROLLED_BACK_SLUG)
    workspace_access(user=request.user, slug=workspace_slug, min_role=Role.OWNER)
    return HttpResponse("ok")


def owner_admin_denied_view(request):
    raise PermissionDenied


def elsewhere_view(request):
    raise Http404


urlpatterns = [
    path("w/<slug:workspace_slug>/owner-only/", owner_only_view, name="audit_test_owner_only"),
    path("owner/denied/", owner_admin_denied_view, name="audit_test_owner_denied"),
    path("elsewhere/", elsewhere_view, name="audit_test_elsewhere"),
    path("", include("config.urls")),
]

handler403 = "config.views.error_403"
handler404 = "config.views.error_404"
