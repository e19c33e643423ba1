"""`{% segment_dashboard_tools as tools %}`: what templates/segments/_dashboard_tools.html needs on a
dashboard (the user's own saved filter sets for this dashboard, and whether they may save segments),
so analytics/views.py does not have to know about segments."""

from urllib.parse import urlencode

from django import template
from django.urls import reverse

from segments import selectors
from workspaces.models import Role

register = template.Library()


@register.simple_tag(takes_context=True)
def segment_dashboard_tools(context) -> dict:
    request = context.get("request")
    workspace = context.get("workspace")
    membership = context.get("membership")
    kind = context.get("kind")
    data = context.get("data") or {}
    if request is None or workspace is None or membership is None or kind not in selectors.KINDS:
        return {"filter_sets": [], "can_save_segment": False}
    dataset_id = (data.get("dataset") or {}).get("id")
    query = (data.get("filters") or {}).get("query", "")
    filter_sets = [
        {
            "id": fs.pk,
            "name": fs.name,
            "url": selectors.dashboard_url(workspace=workspace, kind=kind, query=fs.query, dataset_id=dataset_id),
        }
        for fs in selectors.filter_set_list(workspace=workspace, user=request.user, kind=kind)
    ]
    pairs = urlencode([("dataset", dataset_id)]) if dataset_id else ""
    new_segment_url = reverse("segments:new", args=[workspace.slug]) + "?" + "&".join(p for p in (pairs, query) if p)
    return {
        "filter_sets": filter_sets,
        "can_save_segment": membership.has_role(Role.ANALYST),
        "new_segment_url": new_segment_url,
        "dataset_id": dataset_id or "",
        "query": query,
    }
