"""Plotly figures (plain `{"data": [...], "layout": {...}}` dicts, the shape `fig.to_plotly_json()`
gives) built from the engine's series. static/js/charts.js hands them to `Plotly.newPlot`.

Plotly renders a subset of HTML in tick labels, legend names, titles and hover text (`<a href>`,
`<b>`, entities...), so every string that comes from the data (cell values, column names) goes
through `html.escape` here (SECURITY.md T-XSS-03): Plotly then shows `&lt;img ...&gt;` as the
literal text `<img ...>`. Hover templates are our constants and only reference `%{x}` / `%{y}`,
which are already escaped values. The figures reach the page through `json_script` (T-XSS-04).
"""

from __future__ import annotations

import html

PRIMARY = "#3b4fe0"
SECONDARY = "#17a398"
PALETTE = [PRIMARY, "#e07a3b", SECONDARY, "#c62f3b", "#8a5cd1", "#9a5b00"]
MARKER_LIMIT = 60
FONT = {"family": "-apple-system, BlinkMacSystemFont, Segoe UI, Roboto, Arial, sans-serif", "size": 12}


def text(value) -> str:
    """A data value as safe Plotly text."""
    if isinstance(value, bool):
        value = "Yes" if value else "No"
    return html.escape(str(value), quote=True)


def _layout(**extra) -> dict:
    layout = {
        "margin": {"l": 56, "r": 16, "t": 12, "b": 48},
        "font": FONT,
        "paper_bgcolor": "rgba(0,0,0,0)",
        "plot_bgcolor": "rgba(0,0,0,0)",
        "hoverlabel": {"namelength": -1},
        "showlegend": False,
        "height": 300,
    }
    layout.update(extra)
    return layout


def bar_figure(series, *, axis_title: str) -> dict:
    """A distribution or top-N series as a horizontal bar chart (labels read left to right)."""
    points = list(series.points)
    labels = [text(p["label"]) for p in points]
    counts = [p["count"] for p in points]
    shares = [round((p.get("share") or 0) * 100, 1) for p in points]
    # Plotly draws the first category at the bottom; reverse so the list reads top-down.
    trace = {
        "type": "bar",
        "orientation": "h",
        "x": counts[::-1],
        "y": labels[::-1],
        "customdata": shares[::-1],
        "name": text(axis_title),
        "marker": {"color": PRIMARY},
        "hovertemplate": "%{y}<br>%{x:,} records (%{customdata}%)<extra></extra>",
    }
    height = max(220, 26 * len(points) + 60)
    return {
        "data": [trace],
        "layout": _layout(
            height=height,
            margin={"l": 16, "r": 16, "t": 8, "b": 36},
            xaxis={"title": {"text": "records"}, "rangemode": "tozero", "automargin": True},
            # The card's heading names the column; an axis title here would collide with long labels.
            yaxis={"type": "category", "automargin": True, "ticksuffix": " "},
        ),
    }


def time_figure(series) -> dict:
    """Rows per period as bars, plus revenue (or conversions) as a line on a second axis."""
    points = list(series.points)
    periods = [p["period"] for p in points]
    count_name = "orders" if "revenue" in points[0] else "records"
    data = [
        {
            "type": "bar",
            "name": count_name,
            "x": periods,
            "y": [p["count"] for p in points],
            "marker": {"color": PRIMARY},
            "hovertemplate": "%{x}<br>%{y:,} " + count_name + "<extra></extra>",
        }
    ]
    layout = _layout(
        xaxis={"type": "date", "title": {"text": text(series.extra.get("column", ""))}},
        yaxis={"title": {"text": count_name}, "rangemode": "tozero"},
    )
    for name, color in (("revenue", SECONDARY), ("conversions", "#e07a3b")):
        if name in points[0]:
            data.append(
                {
                    "type": "scatter",
                    # Markers only while they can be told apart.
                    "mode": "lines+markers" if len(points) <= MARKER_LIMIT else "lines",
                    "name": name,
                    "x": periods,
                    "y": [p[name] for p in points],
                    "yaxis": "y2",
                    "line": {"color": color},
                    "hovertemplate": "%{x}<br>" + name + " %{y:,.2f}<extra></extra>",
                }
            )
            layout["yaxis2"] = {"title": {"text": name}, "overlaying": "y", "side": "right", "rangemode": "tozero"}
            layout["showlegend"] = True
            layout["legend"] = {"orientation": "h", "y": -0.25}
            layout["margin"] = {"l": 56, "r": 64, "t": 12, "b": 64}
            break
    return {"data": data, "layout": layout}


def stacked_time_figure(points: list[dict], *, grain: str, legend_title: str) -> dict:
    """Rows per period, stacked by a categorical value (new vs returning)."""
    values = list(dict.fromkeys(p["value"] for p in points))
    periods = sorted({p["period"] for p in points})
    counts = {(p["period"], p["value"]): p["count"] for p in points}
    data = [
        {
            "type": "bar",
            "name": text(value),
            "x": periods,
            "y": [counts.get((period, value), 0) for period in periods],
            "marker": {"color": PALETTE[i % len(PALETTE)]},
            "hovertemplate": "%{x}<br>%{fullData.name}: %{y:,}<extra></extra>",
        }
        for i, value in enumerate(values)
    ]
    layout = _layout(
        barmode="stack",
        showlegend=True,
        legend={"orientation": "h", "y": -0.25, "title": {"text": text(legend_title)}},
        xaxis={"type": "date"},
        yaxis={"title": {"text": f"visits per {grain}"}, "rangemode": "tozero"},
        margin={"l": 56, "r": 16, "t": 12, "b": 64},
    )
    return {"data": data, "layout": layout}


# Plotly options for every chart. MathJax off (no `$...$` / `\href` typesetting of data, T-XSS-03),
# no mode bar (its per-chart <style> rules would need 'unsafe-inline' styles), no links out.
CONFIG = {"displayModeBar": False, "responsive": True, "typesetMath": False, "showLink": False, "showTips": False}


# --- top combos, deep dive, attribute explorer -----------------------------------------------------
HIGHLIGHT = "#e07a3b"


def concentration_figure(points: list[dict]) -> dict:
    """Share of all buyers (and visitors) covered by the union of the top 1..N combos."""
    tops = [p["top"] for p in points]
    data = [
        {
            "type": "scatter",
            "mode": "lines+markers" if len(points) <= MARKER_LIMIT else "lines",
            "name": name,
            "x": tops,
            "y": [round((p[key] or 0) * 100, 2) for p in points],
            "line": {"color": color},
            "hovertemplate": "top %{x} combos<br>" + name + " %{y:.1f}%<extra></extra>",
        }
        for name, key, color in (
            ("buyers", "purchasers_share", PRIMARY),
            ("visitors", "visitors_share", SECONDARY),
        )
    ]
    layout = _layout(
        showlegend=True,
        legend={"orientation": "h", "y": -0.25},
        xaxis={"title": {"text": "top N combos"}, "rangemode": "tozero", "dtick": 5 if len(points) > 10 else 1},
        yaxis={"title": {"text": "% of all"}, "range": [0, 100], "ticksuffix": "%"},
        margin={"l": 56, "r": 16, "t": 12, "b": 72},
    )
    return {"data": data, "layout": layout}


def highlight_bar_figure(labels: list, counts: list[int], shares: list, selected: list[bool]) -> dict:
    """One attribute's values as horizontal bars, the selected value(s) in another colour."""
    names = [text(v) for v in labels]
    percents = [round((s or 0) * 100, 1) for s in shares]
    colors = [HIGHLIGHT if flag else PRIMARY for flag in selected]
    trace = {
        "type": "bar",
        "orientation": "h",
        "x": counts[::-1],
        "y": names[::-1],
        "customdata": percents[::-1],
        "marker": {"color": colors[::-1]},
        "hovertemplate": "%{y}<br>%{x:,} visitors (%{customdata}%)<extra></extra>",
    }
    return {
        "data": [trace],
        "layout": _layout(
            height=max(200, 24 * len(names) + 60),
            margin={"l": 16, "r": 16, "t": 8, "b": 36},
            xaxis={"title": {"text": "visitors"}, "rangemode": "tozero", "automargin": True},
            yaxis={"type": "category", "automargin": True, "ticksuffix": " "},
        ),
    }


def grouped_share_figure(labels: list[str], series: list[tuple[str, list, list[int]]]) -> dict:
    """Shares (%) of each category in several row sets, side by side; counts in the hover."""
    names = [text(v) for v in labels]
    data = [
        {
            "type": "bar",
            "name": text(name),
            "x": names,
            "y": [round((s or 0) * 100, 2) for s in shares],
            "customdata": counts,
            "marker": {"color": PALETTE[i % len(PALETTE)]},
            "hovertemplate": "%{x}<br>%{fullData.name}: %{y:.1f}% (%{customdata:,} rows)<extra></extra>",
        }
        for i, (name, shares, counts) in enumerate(series)
    ]
    layout = _layout(
        barmode="group",
        showlegend=len(series) > 1,
        legend={"orientation": "h", "y": -0.3},
        xaxis={"type": "category", "automargin": True},
        yaxis={"title": {"text": "% of rows"}, "rangemode": "tozero", "ticksuffix": "%"},
        margin={"l": 56, "r": 16, "t": 12, "b": 96},
        height=340,
    )
    return {"data": data, "layout": layout}
