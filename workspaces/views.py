from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from workspaces.access import workspace_access


@login_required
def workspace_list(request: HttpRequest) -> HttpResponse:
    return render(request, "workspaces/list.html")


@login_required
def workspace_detail(request: HttpRequest, workspace_slug: str) -> HttpResponse:
    membership = workspace_access(user=request.user, slug=workspace_slug)
    return render(request, "workspaces/detail.html", {"workspace": membership.workspace, "membership": membership})
