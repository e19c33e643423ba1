"""The buyers and visitors dashboards. One view body serves both kinds, as HTML or `?format=json`.

The filter state lives in the query string (shareable); the last one used is kept in the session
per workspace and dashboard, and a bare dashboard URL restores it. Every `QueryError` (unknown
filter key, bad value, bad grain or format) is the request's fault: a 400 (SECURITY.md T-SQL-02).
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, JsonResponse, QueryDict
from django.shortcuts import redirect, render
from django.views.decorators.http import require_safe

from analytics import charts, selectors
from analytics.engine import QueryError
from analytics.staticfinders import plotly_inline_css_guard_id
from workspaces.decorators import workspace_view
from workspaces.models import Membership, Role

SESSION_KEY = "analytics:last:{workspace_id}:{kind}"
RESET_KEY = "reset"
ERROR_DATA_FILE_MISSING = "The data file of this dataset version is not available."
TITLES = {selectors.BUYERS: "Buyers", selectors.VISITORS: "Visitors"}


def _session_key(membership: Membership, kind: str) -> str:
    return SESSION_KEY.format(workspace_id=membership.workspace_id, kind=kind)


def _restorable(request: HttpRequest, membership: Membership, kind: str, picked) -> str:
    """The remembered query string, if it still parses against the dataset shown (else forgotten)."""
    saved = request.session.get(_session_key(membership, kind), "")
    if not saved or picked is None:
        return ""
    try:
        data = QueryDict(saved)
        selectors.dashboard_filters(source=selectors.dashboard_source(picked=picked), data=data)
        selectors.dashboard_grain(data.get("grain", ""))
    except (QueryError, FileNotFoundError):
        request.session.pop(_session_key(membership, kind), None)
        return ""
    return saved


def _dashboard(request: HttpRequest, membership: Membership, kind: str) -> HttpResponse:
    workspace = membership.workspace
    key = _session_key(membership, kind)
    if RESET_KEY in request.GET:
        request.session.pop(key, None)
        return redirect(request.path)
    picked = selectors.dashboard_pick(
        workspace=workspace,
        kind=kind,
        dataset_raw=request.GET.get("dataset", ""),
        version_raw=request.GET.get("version", ""),
    )
    if not request.GET and (saved := _restorable(request, membership, kind, picked)):
        return redirect(f"{request.path}?{saved}")
    context = {"workspace": workspace, "membership": membership, "kind": kind, "title": TITLES[kind]}
    try:
        fmt = selectors.dashboard_format(request.GET.get("format", ""))
        if picked is None:
            if fmt == "json":
                return JsonResponse({"kind": kind, "dataset": None, "kpis": [], "charts": []})
            return render(request, "analytics/empty.html", context)
        source = selectors.dashboard_source(picked=picked)
        filters = selectors.dashboard_filters(source=source, data=request.GET)
        grain = selectors.dashboard_grain(request.GET.get("grain", ""))
        visitors = None
        if kind == selectors.BUYERS:
            visitors = selectors.dashboard_pick(workspace=workspace, kind=selectors.VISITORS)
        data = selectors.dashboard_data(
            workspace=workspace,
            kind=kind,
            picked=picked,
            source=source,
            filters=filters,
            grain=grain,
            visitors=visitors,
        )
    except FileNotFoundError:
        # The version's Parquet file is gone (purged or a broken restore): say so, don't 500.
        context.update(error=ERROR_DATA_FILE_MISSING, missing_file=True)
        return render(request, "analytics/bad_request.html", context, status=404)
    except QueryError as error:
        if request.GET.get("format") == "json":
            return JsonResponse({"error": str(error)}, status=400)
        return render(request, "analytics/bad_request.html", {**context, "error": str(error)}, status=400)
    # Remember filters and grain (not the dataset: the newest one is the better default next time).
    remembered = [(k, v) for k, v in request.GET.lists() if k not in ("format", "dataset", "version")]
    request.session[key] = QueryDict(mutable=True).urlencode() if not remembered else _encode(remembered)
    if fmt == "json":
        return JsonResponse(data)
    panel = selectors.filter_panel(source=source, filters=filters, workspace_id=workspace.pk)
    figures = {chart["key"]: chart["figure"] for chart in data["charts"] if chart.get("figure")}
    context.update(
        data=data,
        picked=picked,
        panel=panel,
        grains=selectors.GRAINS,
        chart_payload={"figures": figures, "config": charts.CONFIG},
        plotly_css_guard_id=plotly_inline_css_guard_id(),
    )
    return render(request, "analytics/dashboard.html", context)


def _encode(lists: list[tuple[str, list[str]]]) -> str:
    qd = QueryDict(mutable=True)
    for k, values in lists:
        qd.setlist(k, [v for v in values if v != ""])
    return qd.urlencode()


@workspace_view(min_role=Role.VIEWER)
@require_safe
def buyers_dashboard_page(request: HttpRequest, membership: Membership) -> HttpResponse:
    return _dashboard(request, membership, selectors.BUYERS)


@workspace_view(min_role=Role.VIEWER)
@require_safe
def visitors_dashboard_page(request: HttpRequest, membership: Membership) -> HttpResponse:
    return _dashboard(request, membership, selectors.VISITORS)
