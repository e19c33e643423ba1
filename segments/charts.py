"""Plotly figures for the compare page, in the style of analytics/charts.py.

Segment names are user text: they go through `analytics.charts.text` (HTML-escaped, SECURITY.md
T-XSS-03) before they become categories; the figures reach the page through `json_script`.
"""

from __future__ import annotations

from analytics.charts import PALETTE, _layout, text


def _names(entries: list[dict]) -> list[str]:
    return [text(e["name"]) for e in entries]


def _colors(entries: list[dict]) -> list[str]:
    return [PALETTE[i % len(PALETTE)] for i in range(len(entries))]


def volume_figure(entries: list[dict]) -> dict | None:
    """Rows per segment (segments that cannot be evaluated are left out)."""
    shown = [e for e in entries if e["metrics"].get("size")]
    if not shown:
        return None
    trace = {
        "type": "bar",
        "x": _names(shown),
        "y": [e["metrics"]["size"]["value"] for e in shown],
        "marker": {"color": _colors(shown)},
        "hovertemplate": "%{x}<br>%{y:,} rows<extra></extra>",
    }
    return {
        "data": [trace],
        "layout": _layout(
            xaxis={"type": "category", "automargin": True},
            yaxis={"title": {"text": "rows"}, "rangemode": "tozero"},
        ),
    }


def conversion_figure(entries: list[dict]) -> dict | None:
    """Conversion per segment, in percent; only segments whose conversion exists."""
    shown = [e for e in entries if (e["metrics"].get("conversion") or {}).get("value") is not None]
    if not shown:
        return None
    trace = {
        "type": "bar",
        "x": _names(shown),
        "y": [round(e["metrics"]["conversion"]["value"] * 100, 2) for e in shown],
        "marker": {"color": _colors(shown)},
        "hovertemplate": "%{x}<br>%{y:.1f}% conversion<extra></extra>",
    }
    return {
        "data": [trace],
        "layout": _layout(
            xaxis={"type": "category", "automargin": True},
            yaxis={"title": {"text": "conversion (%)"}, "rangemode": "tozero", "ticksuffix": "%"},
        ),
    }
