"""Template helpers for the export buttons other pages include (templates/exports/_buttons.html)."""

from urllib.parse import urlencode

from django import template
from django.urls import reverse

from exports.services import viewer_row_cap

register = template.Library()


@register.simple_tag
def export_viewer_cap() -> int:
    return viewer_row_cap()


@register.simple_tag
def export_join(url: str, query: str = "") -> str:
    """`url` with the page's query string appended (for `export_url=... export_query=...`)."""
    if not query:
        return url or ""
    return f"{url}{'&' if '?' in url else '?'}{query}"


@register.simple_tag(takes_context=True)
def export_action_url(context, what: str, data: dict | None = None) -> str:
    """The export URL for a dashboard's `data` dict: its dataset, version, grain and filters."""
    workspace = context.get("workspace")
    if workspace is None or not data or not data.get("dataset"):
        return ""
    if what == "report":
        path = reverse("exports:report", args=[workspace.slug, context.get("kind") or data.get("kind")])
    else:
        path = reverse(f"exports:{what}", args=[workspace.slug])
    pairs = [("dataset", str(data["dataset"]["id"])), ("version", str(data["version"]["id"]))]
    if what == "report" and data.get("grain"):
        pairs.append(("grain", data["grain"]))
    query = urlencode(pairs)
    filters = (data.get("filters") or {}).get("query") or ""
    return f"{path}?{query}&{filters}" if filters else f"{path}?{query}"
