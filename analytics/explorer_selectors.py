"""Reads for the attribute explorer: one attribute's distribution over the whole version, within
the URL filter state and within a saved segment, counts and shares side by side.

`explorer_data` builds the one dict the page renders and `?format=json` returns. Segment ids from
the URL are looked up only inside the URL's workspace (T-IDOR-02).
"""

from __future__ import annotations

from django.http import Http404, QueryDict

from analytics import charts, saved_segments
from analytics.combo_params import attribute_choices
from analytics.combos_selectors import (
    _dataset_pairs,
    _filters_dict,
    _id,
    _json_value,
    _pct,
    _picked_dict,
    _value_text,
)
from analytics.engine import IN, NOT_NULL, Filter, FilterSet, GroupBy, Measure, Query, Source, execute
from analytics.engine.histogram import bin_edges, histogram, numeric_range
from analytics.engine.schema import INTEGER
from analytics.engine.series import NATURAL_ORDER_FIELDS, natural_key
from analytics.selectors import Picked

EXPLORER_TOP = 30  # categories shown before "Other"
OTHER = "Other"
EXPLORER_PAGE_KEYS = ("dataset", "version", "format", "attribute", "segment", "match", "match_version")


def segment_get(*, workspace, segment_raw: str):
    """The saved segment of `?segment=<id>` inside `workspace` (404 otherwise, or when no app saves
    segments), or None without the parameter."""
    if not segment_raw:
        return None
    segments = saved_segments.store()
    if segments is None:
        raise Http404
    return segments.get(workspace=workspace, segment_id=_id(segment_raw))


def segment_choices(*, workspace, picked: Picked) -> list:
    """The workspace's saved segments of the dataset shown (for the explorer's segment picker)."""
    segments = saved_segments.store()
    return [] if segments is None else segments.for_dataset(workspace=workspace, dataset=picked.dataset)


def segment_filterset(*, segment, picked: Picked, source: Source) -> FilterSet:
    """The segment's filter over the version shown; a segment of another dataset is a 404."""
    if segment.dataset_id != picked.dataset.pk:
        raise Http404
    return FilterSet.from_querydict(source, QueryDict(segment.query or ""))


def explorer_columns(source: Source) -> list[dict]:
    return [{"name": c.name, "type": c.type} for c in source.columns]


def explorer_attribute(*, source: Source, raw: str) -> str:
    if raw:
        return source.column(raw).name  # UnknownColumn (400) for a name the dataset lacks
    choices = attribute_choices(source)
    return choices[0] if choices else source.columns[0].name


def _count(source: Source, filters: FilterSet, *, workspace_id: int) -> int:
    query = Query(source=source, filters=filters, measures=(Measure("count", label="rows"),))
    return execute(query, workspace_id=workspace_id).rows[0][0]


def _categorical(source: Source, column, sets: list[FilterSet], *, workspace_id: int) -> dict:
    """Top categories of the whole version (then "Other"), counted within each filter set."""
    present = Filter(column.name, NOT_NULL)
    grain = "month" if column.is_temporal else None
    top = Query(
        source=source,
        filters=FilterSet((present,)),
        measures=(Measure("count", label="count"),),
        group_by=(GroupBy(column.name, grain),),
        sort=("-count",),
        limit=EXPLORER_TOP + 1 if grain is None else None,
    )
    rows = execute(top, workspace_id=workspace_id).rows
    if grain is not None:
        categories = sorted(r[0] for r in rows)
    else:
        categories = [r[0] for r in rows[:EXPLORER_TOP]]
        if column.field in NATURAL_ORDER_FIELDS:
            categories.sort(key=natural_key)
    has_other = grain is None and len(rows) > EXPLORER_TOP
    series = []
    for filters in sets:
        with_present = filters.and_(present)
        total = _count(source, with_present, workspace_id=workspace_id)
        missing = _count(source, filters, workspace_id=workspace_id) - total
        query = Query(
            source=source,
            filters=with_present if grain is not None else with_present.and_(Filter(column.name, IN, categories)),
            measures=(Measure("count", label="count"),),
            group_by=(GroupBy(column.name, grain),),
        )
        counts = dict(execute(query, workspace_id=workspace_id).rows) if categories else {}
        values = [int(counts.get(c, 0)) for c in categories]
        if has_other:
            values.append(total - sum(values))
        series.append({"counts": values, "total": total, "missing": missing})
    labels = [_json_value(c) for c in categories] + ([OTHER] if has_other else [])
    return {"labels": labels, "other": has_other, "series": series, "binned": False, "grain": grain}


def _numeric(source: Source, column, sets: list[FilterSet], *, workspace_id: int) -> dict:
    low, high = numeric_range(source, column.name, workspace_id=workspace_id)
    series = []
    edges = [] if low is None else bin_edges(low, high, integer=column.type == INTEGER)
    for filters in sets:
        present = filters.and_(Filter(column.name, NOT_NULL))
        total = _count(source, present, workspace_id=workspace_id)
        missing = _count(source, filters, workspace_id=workspace_id) - total
        counts = histogram(source, column.name, edges, workspace_id=workspace_id, filters=filters) if edges else []
        series.append({"counts": counts, "total": total, "missing": missing})
    labels = [_bin_label(edges, i, integer=column.type == INTEGER) for i in range(len(edges) - 1)]
    return {"labels": labels, "other": False, "series": series, "binned": True, "edges": edges, "grain": None}


def _bin_label(edges: list[float], i: int, *, integer: bool) -> str:
    low, high = edges[i], edges[i + 1]
    if integer:
        top = int(high) - 1 if i < len(edges) - 2 else int(high)
        return f"{int(low)}" if top <= int(low) else f"{int(low)}-{top}"
    close = "]" if i == len(edges) - 2 else ")"
    return f"[{low:,.4g}, {high:,.4g}{close}"


def explorer_data(
    *,
    workspace,
    picked: Picked,
    source: Source,
    attribute: str,
    filters: FilterSet,
    segment=None,
    segment_set: FilterSet | None = None,
) -> dict:
    """One attribute's distribution over the whole version, within the URL filter state, and
    (with `?segment=`) within a saved segment: counts and shares side by side."""
    column = source.column(attribute)
    sets = [("overall", "All rows", FilterSet())]
    if filters:
        sets.append(("filtered", "Within the filters", filters))
    if segment is not None:
        sets.append(("segment", f"Segment: {segment.name}", segment_set))
    builder = _numeric if column.is_numeric else _categorical
    dist = builder(source, column, [s for _, _, s in sets], workspace_id=workspace.pk)
    out_series = []
    for (key, label, _), values in zip(sets, dist["series"], strict=True):
        total = values["total"]
        shares = [c / total if total else None for c in values["counts"]]
        out_series.append(
            {
                "key": key,
                "label": label,
                "total": total,
                "missing": values["missing"],
                "counts": values["counts"],
                "shares": shares,
            }
        )
    rows = []
    for i, label in enumerate(dist["labels"]):
        cells = [
            {"count": s["counts"][i], "share": s["shares"][i], "share_display": _pct(s["shares"][i])}
            for s in out_series
        ]
        rows.append({"label": label, "text": _value_text(label), "cells": cells})
    dataset_pairs = _dataset_pairs(picked)
    page_pairs = [*dataset_pairs, ("attribute", column.name)]
    if segment is not None:
        page_pairs.append(("segment", str(segment.pk)))
    figure = (
        charts.grouped_share_figure(
            [_value_text(label) for label in dist["labels"]],
            [(s["label"], s["shares"], s["counts"]) for s in out_series],
        )
        if dist["labels"]
        else None
    )
    return {
        **_picked_dict(picked),
        "attribute": {"name": column.name, "type": column.type, "binned": dist["binned"], "grain": dist["grain"]},
        "edges": dist.get("edges"),
        "filters": _filters_dict(filters, page_pairs),
        "segment": {"id": segment.pk, "name": segment.name} if segment is not None else None,
        "series": out_series,
        "rows": rows,
        "other": dist["other"],
        "figures": {"distribution": figure} if figure else {},
    }
