"""Site-level views: the landing redirect and the error pages. (`/healthz` lives in ops.views.)"""

from django.http import HttpRequest, HttpResponse, HttpResponseServerError
from django.shortcuts import redirect, render
from django.template.loader import render_to_string

from workspaces.models import Membership


def home(request: HttpRequest) -> HttpResponse:
    """Where a signed-in user lands: their default workspace, else their first, else the list."""
    if not request.user.is_authenticated:
        return redirect("account_login")
    membership = (
        Membership.objects.select_related("workspace")
        .filter(user=request.user)
        .order_by("-is_default", "workspace__name", "workspace_id")
        .first()
    )
    if membership is None:
        return redirect("workspaces:list")
    return redirect("workspaces:detail", membership.workspace.slug)


def error_400(request, exception=None):
    return render(request, "errors/400.html", status=400)


def error_403(request, exception=None):
    return render(request, "errors/403.html", status=403)


def error_404(request, exception=None):
    return render(request, "errors/404.html", status=404)


def error_500(request):
    # No request context: context processors query the database, which may be what failed.
    return HttpResponseServerError(render_to_string("errors/500.html"))
