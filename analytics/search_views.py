"""Global search: one dataset's rows containing a text in any column, 50 per page, HTML or `?format=json`.

`?dataset=<id>&version=<id>` pick the data (inside the URL's workspace, else 404); without them the
most recent dataset is searched. A bad page number, format, filter key or value is a 400.
"""

from __future__ import annotations

from urllib.parse import urlencode

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.http import require_safe

from analytics import search_selectors
from analytics.engine import QueryError
from workspaces.decorators import workspace_view
from workspaces.models import Membership, Role

TITLE = "Search"
ERROR_DATA_FILE_MISSING = "The data file of this dataset version is not available."


def _picked_dict(picked) -> dict | None:
    if picked is None:
        return None
    return {"id": picked.dataset.pk, "name": picked.dataset.name, "kind": picked.dataset.kind}


@workspace_view(min_role=Role.VIEWER)
@require_safe
def search_page(request: HttpRequest, membership: Membership) -> HttpResponse:
    workspace = membership.workspace
    picked = search_selectors.search_pick(
        workspace=workspace,
        dataset_raw=request.GET.get("dataset", ""),
        version_raw=request.GET.get("version", ""),
    )
    wants_json = request.GET.get("format") == "json"
    context = {
        "workspace": workspace,
        "membership": membership,
        "title": TITLE,
        "picked": picked,
        "q": request.GET.get("q", "")[: search_selectors.SEARCH_MAX_LENGTH],
    }
    try:
        fmt = search_selectors.search_format(request.GET.get("format", ""))
        page = search_selectors.search_page_number(request.GET.get("page", ""))
        if picked is None:
            if fmt == "json":
                return JsonResponse({"dataset": None, "version": None, "q": "", "columns": [], "rows": [], "total": 0})
            return render(request, "analytics/search.html", context)
        source = search_selectors.search_source(picked=picked)
        filters = search_selectors.search_filters(source=source, data=request.GET)
        results = None
        if filters.search:
            results = search_selectors.search_results(workspace=workspace, source=source, filters=filters, page=page)
    except FileNotFoundError:
        if wants_json:
            return JsonResponse({"error": ERROR_DATA_FILE_MISSING}, status=404)
        context.update(error=ERROR_DATA_FILE_MISSING, missing_file=True)
        return render(request, "analytics/search.html", context, status=404)
    except QueryError as error:
        if wants_json:
            return JsonResponse({"error": str(error)}, status=400)
        context.update(error=str(error))
        return render(request, "analytics/search.html", context, status=400)
    if fmt == "json":
        body = {
            "dataset": _picked_dict(picked),
            "version": {"id": picked.version.pk, "number": picked.version.number},
            **(
                results.to_dict()
                if results
                else {"q": "", "columns": source.names, "rows": [], "total": 0, "page": 1, "num_pages": 1}
            ),
        }
        return JsonResponse(body)
    # Page links keep the dataset, version, text and any filters; only `page` changes.
    base_pairs = [("dataset", str(picked.dataset.pk)), ("version", str(picked.version.pk)), *filters.to_pairs()]
    context.update(
        results=results,
        q=filters.search,
        columns=source.names,
        page_query=urlencode(base_pairs),
        json_query=urlencode([*base_pairs, ("format", "json")]),
    )
    return render(request, "analytics/search.html", context)
