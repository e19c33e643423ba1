"""Segment pages: list, builder (new / edit), detail, delete, compare; saved dashboard filter sets.

Role rules (DESIGN.md §4): every member views and compares; analysts and owners save segments;
the author or a workspace owner edits or deletes one (others 403). Saved filter sets are personal:
any member saves their own, and another user's id is a 404. Bad filter input is a 400.
"""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseNotAllowed, JsonResponse, QueryDict
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from analytics import charts as analytics_charts
from analytics.engine import QueryError
from analytics.selectors import active_filters, filter_panel
from analytics.staticfinders import plotly_inline_css_guard_id
from segments import charts, selectors, services
from segments.forms import FilterSetForm, SegmentForm
from segments.models import Segment
from workspaces.decorators import workspace_view
from workspaces.models import Membership, Role

GET_POST = ["GET", "POST"]
MESSAGE_SAVED = "Segment “{name}” saved."
MESSAGE_UPDATED = "Segment “{name}” updated (revision {revision})."
MESSAGE_DELETED = "Segment “{name}” deleted."
MESSAGE_FILTER_SET_SAVED = "Filters saved as “{name}”."
MESSAGE_FILTER_SET_DELETED = "Saved filters “{name}” deleted."
MESSAGE_FILTER_SET_INVALID = "The filters were not saved: {error}"
ERROR_NOT_YOURS = "Only the segment's author or a workspace owner can change it."
ERROR_STALE_FILTERS = "The saved filters no longer fit the dataset ({reason}); they are cleared below."


def _format(request: HttpRequest) -> str:
    fmt = request.GET.get("format", "") or "html"
    if fmt not in ("html", "json"):
        raise QueryError(selectors.ERROR_BAD_FORMAT.format(format=fmt))
    return fmt


def _bad_request(request: HttpRequest, membership: Membership, error: str) -> HttpResponse:
    if request.GET.get("format") == "json":
        return JsonResponse({"error": error}, status=400)
    context = {"workspace": membership.workspace, "membership": membership, "error": error}
    return render(request, "segments/bad_request.html", context, status=400)


def _require_manage(membership: Membership, segment: Segment) -> None:
    if not selectors.segment_can_manage(membership=membership, segment=segment):
        raise PermissionDenied(ERROR_NOT_YOURS)


def _chart_context() -> dict:
    return {"plotly_css_guard_id": plotly_inline_css_guard_id()}


# --- list ---------------------------------------------------------------------------------------
@workspace_view(min_role=Role.VIEWER)
@require_safe
def segment_list(request: HttpRequest, membership: Membership) -> HttpResponse:
    q = request.GET.get("q", "").strip()[:100]
    context = {
        "workspace": membership.workspace,
        "membership": membership,
        "segments": selectors.segment_list(workspace=membership.workspace, q=q),
        "q": q,
        "can_save": membership.has_role(Role.ANALYST),
    }
    return render(request, "segments/list.html", context)


# --- builder ------------------------------------------------------------------------------------
def _builder_state(request: HttpRequest, dataset, segment: Segment | None, posted_query: str | None):
    """The filter state the builder shows, evaluated; plus a notice when a stored query went stale."""
    has_state = "applied" in request.GET or any(k.startswith(selectors.FILTER_PREFIXES) for k in request.GET)
    if posted_query is not None:
        data, ignore = QueryDict(posted_query), ()
    elif has_state or segment is None:
        data, ignore = request.GET, selectors.BUILDER_PAGE_KEYS
    else:
        data, ignore = QueryDict(segment.query), ()
    try:
        return selectors.evaluate(dataset=dataset, data=data, ignore=ignore), ""
    except QueryError as error:
        if data is request.GET:
            raise
        # A stored (or re-posted) query that no longer parses: start from no filters and say why.
        return selectors.evaluate(dataset=dataset, data=QueryDict()), ERROR_STALE_FILTERS.format(reason=error)


def _builder_data(membership: Membership, evaluated) -> dict:
    workspace = membership.workspace
    filters = evaluated.filters
    return {
        "dataset": {
            "id": evaluated.dataset.pk,
            "name": evaluated.dataset.name,
            "kind": evaluated.dataset.kind,
            "version": evaluated.version.number,
        },
        "filters": {
            "query": filters.to_query_string(),
            "active": [b["text"] for b in active_filters(filters=filters, page_pairs=[])],
        },
        "metrics": selectors.segment_metrics(workspace=workspace, evaluated=evaluated),
        "preview": selectors.segment_preview_rows(workspace=workspace, evaluated=evaluated),
    }


def _builder(request: HttpRequest, membership: Membership, *, segment: Segment | None) -> HttpResponse:
    workspace = membership.workspace
    context = {"workspace": workspace, "membership": membership, "segment": segment, **_chart_context()}
    if segment is not None:
        dataset = segment.dataset
        datasets = [dataset]
    else:
        raw = request.POST.get("dataset", "") if request.method == "POST" else request.GET.get("dataset", "")
        if request.method == "POST" and not raw:
            raise Http404  # a save names its dataset; never fall back to another one
        dataset = selectors.segment_dataset_pick(workspace=workspace, raw=raw)
        datasets = list(selectors.segment_datasets(workspace=workspace))
    try:
        fmt = _format(request)
        if dataset is None:
            if fmt == "json":
                return JsonResponse({"dataset": None, "metrics": [], "preview": None})
            return render(request, "segments/builder_empty.html", context)
        if dataset.current_version is None:
            raise QueryError(selectors.ERROR_NO_VERSION)
        form = _builder_form(request, segment)
        posted = form.data.get("query", "") if form.is_bound else None
        evaluated, notice = _builder_state(request, dataset, segment, posted)
        if form.is_bound and form.is_valid():
            saved = _builder_save(request, membership, form, dataset=dataset, segment=segment)
            if saved is not None:
                return saved
        data = _builder_data(membership, evaluated)
    except QueryError as error:
        return _bad_request(request, membership, str(error))
    if fmt == "json":
        return JsonResponse(data)
    if not form.is_bound:
        form.initial["query"] = data["filters"]["query"]
    context.update(
        form=form,
        dataset=dataset,
        datasets=datasets,
        data=data,
        notice=notice,
        panel=filter_panel(source=evaluated.source, filters=evaluated.filters, workspace_id=workspace.pk),
    )
    return render(request, "segments/builder.html", context, status=400 if form.errors else 200)


def _builder_form(request: HttpRequest, segment: Segment | None) -> SegmentForm:
    if request.method == "POST":
        return SegmentForm(request.POST)
    initial = {"name": segment.name, "description": segment.description} if segment is not None else {}
    return SegmentForm(initial=initial)


def _builder_save(request: HttpRequest, membership: Membership, form: SegmentForm, *, dataset, segment):
    values = form.cleaned_data
    try:
        if segment is None:
            saved = services.segment_create(
                workspace=membership.workspace,
                dataset=dataset,
                user=request.user,
                name=values["name"],
                description=values["description"],
                query=values["query"],
            )
            messages.success(request, MESSAGE_SAVED.format(name=saved.name))
        else:
            saved = services.segment_update(
                segment=segment,
                user=request.user,
                name=values["name"],
                description=values["description"],
                query=values["query"],
            )
            messages.success(request, MESSAGE_UPDATED.format(name=saved.name, revision=saved.revision))
    except ValidationError as error:
        if hasattr(error, "error_dict"):
            for field, errors in error.message_dict.items():
                form.add_error(field if field in form.fields else None, errors)
        else:
            form.add_error(None, error)
        return None
    return redirect("segments:detail", workspace_slug=membership.workspace.slug, segment_id=saved.pk)


@workspace_view(min_role=Role.ANALYST)
@require_http_methods(GET_POST)
def segment_new(request: HttpRequest, membership: Membership) -> HttpResponse:
    return _builder(request, membership, segment=None)


@workspace_view(min_role=Role.ANALYST)
@require_http_methods(GET_POST)
def segment_edit(request: HttpRequest, membership: Membership, segment_id: int) -> HttpResponse:
    segment = selectors.segment_get(workspace=membership.workspace, segment_id=segment_id)
    _require_manage(membership, segment)
    return _builder(request, membership, segment=segment)


# --- detail -------------------------------------------------------------------------------------
@workspace_view(min_role=Role.VIEWER)
@require_safe
def segment_detail(request: HttpRequest, membership: Membership, segment_id: int) -> HttpResponse:
    workspace = membership.workspace
    segment = selectors.segment_get(workspace=workspace, segment_id=segment_id)
    try:
        fmt = _format(request)
    except QueryError as error:
        return _bad_request(request, membership, str(error))
    evaluated = selectors.segment_evaluate(segment=segment)
    error, metrics, preview = evaluated.error, [], None
    if not error:
        try:
            metrics = selectors.segment_metrics(workspace=workspace, evaluated=evaluated)
            preview = selectors.segment_preview_rows(workspace=workspace, evaluated=evaluated)
        except QueryError as exc:
            error = selectors.ERROR_NO_LONGER_MATCHES.format(reason=str(exc))
            metrics, preview = [], None
    definition = selectors.definition_badges(segment=segment, evaluated=evaluated)
    if fmt == "json":
        return JsonResponse(
            {
                "id": segment.pk,
                "name": segment.name,
                "description": segment.description,
                "dataset": {"id": segment.dataset_id, "name": segment.dataset.name, "kind": segment.dataset.kind},
                "revision": segment.revision,
                "query": segment.query,
                "definition": definition,
                "error": error,
                "metrics": metrics,
            }
        )
    context = {
        "workspace": workspace,
        "membership": membership,
        "segment": segment,
        "error": error,
        "metrics": metrics,
        "preview": preview,
        "definition": definition,
        "revisions": selectors.segment_revisions(segment=segment),
        "export_query": "" if error else selectors.segment_export_query(segment=segment),
        "can_manage": selectors.segment_can_manage(membership=membership, segment=segment),
        "version": evaluated.version,
    }
    return render(request, "segments/detail.html", context)


# --- delete -------------------------------------------------------------------------------------
@workspace_view(min_role=Role.ANALYST)
@require_http_methods(GET_POST)
def segment_delete(request: HttpRequest, membership: Membership, segment_id: int) -> HttpResponse:
    segment = selectors.segment_get(workspace=membership.workspace, segment_id=segment_id)
    _require_manage(membership, segment)
    if request.method == "POST":
        name = segment.name
        services.segment_delete(segment=segment, user=request.user)
        messages.success(request, MESSAGE_DELETED.format(name=name))
        return redirect("segments:list", workspace_slug=membership.workspace.slug)
    context = {"workspace": membership.workspace, "membership": membership, "segment": segment}
    return render(request, "segments/delete.html", context)


# --- compare ------------------------------------------------------------------------------------
@workspace_view(min_role=Role.VIEWER)
@require_safe
def segment_compare(request: HttpRequest, membership: Membership) -> HttpResponse:
    workspace = membership.workspace
    try:
        fmt = _format(request)
        ids = selectors.compare_ids(request.GET.getlist("s"))
    except QueryError as error:
        return _bad_request(request, membership, str(error))
    entries = selectors.compare_data(workspace=workspace, segment_ids=ids)
    table = selectors.compare_table(entries)
    if fmt == "json":
        return JsonResponse({"segments": entries, "table": table})
    figures = {"volume": charts.volume_figure(entries), "conversion": charts.conversion_figure(entries)}
    figures = {key: fig for key, fig in figures.items() if fig is not None}
    context = {
        "workspace": workspace,
        "membership": membership,
        "entries": entries,
        "table": table,
        "chosen": ids,
        "all_segments": selectors.segment_list(workspace=workspace),
        "max_compare": selectors.MAX_COMPARE,
        "chart_payload": {"figures": figures, "config": analytics_charts.CONFIG},
        "has_conversion": "conversion" in figures,
        **_chart_context(),
    }
    return render(request, "segments/compare.html", context)


# --- saved filter sets --------------------------------------------------------------------------
@workspace_view(min_role=Role.VIEWER)
@require_POST
def filter_set_save(request: HttpRequest, membership: Membership) -> HttpResponse:
    workspace = membership.workspace
    form = FilterSetForm(request.POST)
    kind = request.POST.get("kind", "")
    if kind not in selectors.KINDS:
        raise Http404
    query = selectors.filter_query_clean(request.POST.get("query", ""))
    dataset_raw = request.POST.get("dataset", "")
    dataset_id = int(dataset_raw) if dataset_raw.isdigit() else None
    back = selectors.dashboard_url(workspace=workspace, kind=kind, query=query, dataset_id=dataset_id)
    if not form.is_valid():
        error = "; ".join(e for errors in form.errors.values() for e in errors)
        messages.error(request, MESSAGE_FILTER_SET_INVALID.format(error=error))
        return redirect(back)
    try:
        saved = services.filter_set_save(
            workspace=workspace, user=request.user, kind=kind, name=form.cleaned_data["name"], query=query
        )
    except ValidationError as error:
        messages.error(request, MESSAGE_FILTER_SET_INVALID.format(error="; ".join(error.messages)))
        return redirect(back)
    messages.success(request, MESSAGE_FILTER_SET_SAVED.format(name=saved.name))
    return redirect(back)


@workspace_view(min_role=Role.VIEWER)
def filter_set_delete(request: HttpRequest, membership: Membership, filter_set_id: int) -> HttpResponse:
    # Look up first: another user's (or workspace's) filter set is a 404 whatever the method.
    filter_set = selectors.filter_set_get(
        workspace=membership.workspace, user=request.user, filter_set_id=filter_set_id
    )
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    name, kind = filter_set.name, filter_set.kind
    services.filter_set_delete(filter_set=filter_set, user=request.user)
    messages.success(request, MESSAGE_FILTER_SET_DELETED.format(name=name))
    return redirect(selectors.dashboard_url(workspace=membership.workspace, kind=kind))
