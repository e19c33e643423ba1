"""Top combos, the combo deep dive, the attribute explorer, and the background job's status.

Each page renders one dict from analytics/combos_selectors.py, as HTML or `?format=json`. Any
`QueryError` (bad settings, filter, sort, page, rank or format) is the request's fault: a 400 that
still shows the settings so they can be fixed. Large combos questions go to a Celery worker
(analytics/combos_services.py); the page then polls the job and reloads when it is done.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.http import require_safe

from analytics import charts
from analytics import combos_selectors as sel
from analytics import explorer_selectors as explorer
from analytics.combo_params import combo_settings
from analytics.combos_services import combos_result_or_job
from analytics.engine import QueryError
from analytics.engine.adapter import source_for_version
from analytics.selectors import filter_panel
from analytics.staticfinders import plotly_inline_css_guard_id
from workspaces.decorators import workspace_view
from workspaces.models import Membership, Role

ERROR_DATA_FILE_MISSING = "The data file of this dataset version is not available."
TEMPLATES = {
    "combos": "analytics/combos.html",
    "deep_dive": "analytics/combo_deep_dive.html",
    "explorer": "analytics/explorer.html",
}
TITLES = {"combos": "Top combos", "deep_dive": "Combo deep dive", "explorer": "Attribute explorer"}


def _wants_json(request: HttpRequest) -> bool:
    return request.GET.get("format") == "json"


def _context(membership: Membership, page: str) -> dict:
    return {"workspace": membership.workspace, "membership": membership, "page": page, "title": TITLES[page]}


def _chart_context(figures: dict) -> dict:
    return {
        "chart_payload": {"figures": figures, "config": charts.CONFIG},
        "plotly_css_guard_id": plotly_inline_css_guard_id(),
    }


def _render(request: HttpRequest, page: str, context: dict, *, status: int = 200) -> HttpResponse:
    context.setdefault("chart_payload", {"figures": {}, "config": charts.CONFIG})
    return render(request, TEMPLATES[page], context, status=status)


def _refused(request: HttpRequest, page: str, context: dict, error: Exception) -> HttpResponse:
    if _wants_json(request):
        return JsonResponse({"error": str(error)}, status=400)
    return _render(request, page, {**context, "error": str(error)}, status=400)


def _missing_file(request: HttpRequest, page: str, context: dict) -> HttpResponse:
    if _wants_json(request):
        return JsonResponse({"error": ERROR_DATA_FILE_MISSING}, status=404)
    return _render(request, page, {**context, "error": ERROR_DATA_FILE_MISSING, "missing_file": True}, status=404)


def _no_dataset(request: HttpRequest, page: str, context: dict) -> HttpResponse:
    if _wants_json(request):
        return JsonResponse({"dataset": None})
    return _render(request, page, {**context, "no_dataset": True})


def _combos_input(request: HttpRequest, membership: Membership, context: dict):
    """(picked, source, filters, settings, match), filling `context` as far as the request parses."""
    workspace = membership.workspace
    sel.page_format(request.GET.get("format", ""))
    picked = sel.pick(
        workspace=workspace,
        kinds=sel.COMBO_KINDS,
        dataset_raw=request.GET.get("dataset", ""),
        version_raw=request.GET.get("version", ""),
    )
    if picked is None:
        return None
    context["picked"] = picked
    source = source_for_version(picked.version)
    context["form"] = sel.settings_form(source=source, settings=None, data=request.GET, workspace=workspace)
    # Shown even when the filters below do not parse (the 400 page keeps the form to fix them).
    context["panel"] = filter_panel(source=source, filters=sel.FilterSet(), workspace_id=workspace.pk)
    filters = sel.page_filters(source=source, data=request.GET, page_keys=sel.COMBOS_PAGE_KEYS)
    context["panel"] = filter_panel(source=source, filters=filters, workspace_id=workspace.pk)
    settings = combo_settings(source, request.GET)
    match = sel.combo_match(workspace=workspace, data=request.GET, dataset=picked.dataset, source=source)
    context["form"] = sel.settings_form(
        source=source, settings=settings, data=request.GET, workspace=workspace, match=match
    )
    return picked, source, filters, settings, match


def _ranked_page(request: HttpRequest, membership: Membership, page: str) -> HttpResponse:
    """The combos table ("combos") or one combo's deep dive ("deep_dive"): the same input, the same
    result (computed now, read from the cache or handed to a worker), a different page dict."""
    context = _context(membership, page)
    try:
        parsed = _combos_input(request, membership, context)
        if parsed is None:
            return _no_dataset(request, page, context)
        picked, source, filters, settings, match = parsed
        if page == "combos":
            sort = sel.combos_sort(request.GET.get("sort", ""))
            number = sel.whole_number(request.GET.get("page", ""), key="page", default=1)
        else:
            rank = sel.whole_number(request.GET.get("rank", ""), key="rank", default=1)
        result, job = combos_result_or_job(
            workspace=membership.workspace,
            version=picked.version,
            source=source,
            settings=settings,
            filters=filters,
            match=match,
            background=sel.background_needed(picked=picked, settings=settings),
            user=request.user,
            request=request,
        )
        common = {
            "workspace": membership.workspace,
            "picked": picked,
            "settings": settings,
            "filters": filters,
            "result": result,
            "job": job,
            "source": source,
            "match": match,
        }
        if page == "combos":
            data = sel.combos_page_data(**common, sort=sort, page=number)
        else:
            data = sel.deep_dive_data(**common, rank=rank)
    except FileNotFoundError:
        return _missing_file(request, page, context)
    except QueryError as error:
        return _refused(request, page, context, error)
    if _wants_json(request):
        return JsonResponse({k: v for k, v in data.items() if k not in ("base_pairs", "base_query")})
    context.update(data=data, **_chart_context(data.get("figures", {})))
    return _render(request, page, context)


@workspace_view(min_role=Role.VIEWER)
@require_safe
def combos_page(request: HttpRequest, membership: Membership) -> HttpResponse:
    return _ranked_page(request, membership, "combos")


@workspace_view(min_role=Role.VIEWER)
@require_safe
def combo_deep_dive_page(request: HttpRequest, membership: Membership) -> HttpResponse:
    return _ranked_page(request, membership, "deep_dive")


@workspace_view(min_role=Role.VIEWER)
@require_safe
def combo_job_status(request: HttpRequest, membership: Membership, job_id: int) -> HttpResponse:
    job = sel.combo_job_get(workspace=membership.workspace, job_id=job_id)
    return JsonResponse(sel.job_data(workspace=membership.workspace, job=job))


@workspace_view(min_role=Role.VIEWER)
@require_safe
def explorer_page(request: HttpRequest, membership: Membership) -> HttpResponse:
    workspace = membership.workspace
    context = _context(membership, "explorer")
    try:
        sel.page_format(request.GET.get("format", ""))
        segment = explorer.segment_get(workspace=workspace, segment_raw=request.GET.get("segment", ""))
        dataset_raw = request.GET.get("dataset", "")
        if segment is not None and not dataset_raw:
            dataset_raw = str(segment.dataset_id)  # a bare ?segment= shows the segment's own dataset
        picked = sel.pick(
            workspace=workspace,
            kinds=None,
            dataset_raw=dataset_raw,
            version_raw=request.GET.get("version", ""),
        )
        if picked is None:
            return _no_dataset(request, "explorer", context)
        context["picked"] = picked
        source = source_for_version(picked.version)
        context["columns"] = explorer.explorer_columns(source)
        segment_set = explorer.segment_filterset(segment=segment, picked=picked, source=source) if segment else None
        attribute = explorer.explorer_attribute(source=source, raw=request.GET.get("attribute", ""))
        context["attribute"] = attribute
        filters = sel.page_filters(source=source, data=request.GET, page_keys=explorer.EXPLORER_PAGE_KEYS)
        context["panel"] = filter_panel(source=source, filters=filters, workspace_id=workspace.pk)
        data = explorer.explorer_data(
            workspace=workspace,
            picked=picked,
            source=source,
            attribute=attribute,
            filters=filters,
            segment=segment,
            segment_set=segment_set,
        )
    except FileNotFoundError:
        return _missing_file(request, "explorer", context)
    except QueryError as error:
        return _refused(request, "explorer", context, error)
    if _wants_json(request):
        return JsonResponse(data)
    context.update(
        data=data,
        segments=explorer.segment_choices(workspace=workspace, picked=picked),
        **_chart_context(data["figures"]),
    )
    return _render(request, "explorer", context)
