"""Reads for segments: lists, one segment, its metrics and preview rows, and the compare table.

A segment is evaluated against its dataset's CURRENT version every time: the stored query string
is parsed again (strictly, like a dashboard URL) and, when it no longer fits the data (a column
was renamed or re-typed), the segment shows `ERROR_NO_LONGER_MATCHES` instead of numbers.
Every number comes from the analytics engine; an input the data lacks gives `value=None` and a
`missing` text (DESIGN.md §6: never estimate).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from urllib.parse import urlencode

from django.db.models import QuerySet
from django.http import Http404, QueryDict
from django.shortcuts import get_object_or_404
from django.urls import reverse

from analytics.engine import Measure, Query, QueryError, buyers_kpis, count_rows, execute
from analytics.engine.adapter import source_for_version
from analytics.engine.cache import cached
from analytics.engine.filters import FilterSet
from analytics.engine.metrics import DEFINITIONS, NEEDS_REVENUE, NEEDS_ROWS, NEEDS_VISITORS
from analytics.engine.schema import BOOLEAN, Source
from analytics.selectors import active_filters
from datasets.models import Dataset, DatasetVersion, Kind
from segments.models import SavedFilterSet, Segment, SegmentRevision
from workspaces.models import Membership, Role, Workspace

KINDS = (Kind.BUYERS.value, Kind.VISITORS.value)
BUILDER_PAGE_KEYS = ("dataset", "format", "applied")  # builder query-string keys that are not filters
FILTER_PREFIXES = ("in.", "not.", "min.", "max.", "null.", "notnull.")
PREVIEW_ROWS = 20
MAX_COMPARE = 4

NEEDS_CONVERTED_FLAG = "needs a converted flag"
NEEDS_BUYERS_DATA = "needs a buyers dataset"
NEEDS_BUYER_KEY = "needs a buyer key column"

ERROR_NO_LONGER_MATCHES = "This segment's filter no longer matches the dataset: {reason}"
ERROR_NO_VERSION = "the dataset has no loaded version"
ERROR_FILE_MISSING = "the data file of the dataset's current version is not available"
ERROR_TOO_MANY = "Compare at most {n} segments at a time."
ERROR_BAD_FORMAT = "Invalid format: {format!r}."

LABELS = {
    "size": "Rows in segment",
    "total": "Rows in dataset",
    "share": "Share of total",
    "visitors": "Visitors",
    "purchasers": "Purchasers",
    "conversion": "Conversion",
    "buyers": "Buyers",
    "orders": "Orders",
    "revenue": "Revenue",
    "aov": "AOV",
}
UNITS = {
    "size": "count",
    "total": "count",
    "share": "rate",
    "visitors": "count",
    "purchasers": "count",
    "conversion": "rate",
    "buyers": "count",
    "orders": "count",
    "revenue": "money",
    "aov": "money",
}
METRIC_DEFINITIONS = {
    "size": "Rows of the dataset's current version that match the segment's filters.",
    "total": "All rows of the dataset's current version.",
    "share": "Share of total = rows in segment / rows in dataset.",
    "visitors": "Visitors: visitor rows in the segment.",
    "purchasers": "Purchasers: visitor rows in the segment whose converted flag is true.",
    "conversion": "Conversion = purchasers / visitors.",
    "buyers": DEFINITIONS["buyers"],
    "orders": DEFINITIONS["orders"],
    "revenue": DEFINITIONS["revenue"],
    "aov": DEFINITIONS["aov"],
}
METRIC_KEYS = tuple(LABELS)


# --- lists and lookups ---------------------------------------------------------------------------
def segment_datasets(*, workspace: Workspace) -> QuerySet[Dataset]:
    """Datasets a segment can be built on: the workspace's buyers/visitors datasets with a loaded version."""
    return (
        Dataset.objects.for_workspace(workspace)
        .filter(kind__in=KINDS, current_version__isnull=False)
        .select_related("current_version")
        .order_by("name", "id")
    )


def segment_dataset_pick(*, workspace: Workspace, raw: str) -> Dataset | None:
    """`?dataset=` inside the workspace (another workspace's id, or an unusable dataset → 404);
    blank → the first usable dataset, None when there is none."""
    datasets = segment_datasets(workspace=workspace)
    if not raw:
        return datasets.first()
    if not raw.isdigit():
        raise Http404
    return get_object_or_404(datasets, pk=int(raw))


def segment_list(*, workspace: Workspace, q: str = "") -> QuerySet[Segment]:
    segments = Segment.objects.for_workspace(workspace).select_related("dataset", "created_by", "updated_by")
    if q:
        segments = segments.filter(name__icontains=q)
    return segments.order_by("name", "id")


def segment_get(*, workspace: Workspace, segment_id: int) -> Segment:
    return get_object_or_404(
        Segment.objects.for_workspace(workspace).select_related("dataset__current_version", "created_by"),
        pk=segment_id,
    )


def segment_revisions(*, segment: Segment) -> QuerySet[SegmentRevision]:
    return (
        SegmentRevision.objects.for_workspace(segment.workspace)
        .filter(segment=segment)
        .select_related("edited_by")
        .order_by("-number")
    )


def segment_can_manage(*, membership: Membership, segment: Segment) -> bool:
    """The author (still an analyst or owner) or any owner of the workspace may edit or delete."""
    if membership.has_role(Role.OWNER):
        return True
    return membership.has_role(Role.ANALYST) and segment.created_by_id == membership.user_id


def filter_set_list(*, workspace: Workspace, user, kind: str) -> QuerySet[SavedFilterSet]:
    """The user's own filter sets for one dashboard; nobody sees another user's."""
    return SavedFilterSet.objects.for_workspace(workspace).filter(user=user, kind=kind).order_by("name", "id")


def filter_set_get(*, workspace: Workspace, user, filter_set_id: int) -> SavedFilterSet:
    """Another user's filter set is a 404, like another workspace's."""
    return get_object_or_404(SavedFilterSet.objects.for_workspace(workspace).filter(user=user), pk=filter_set_id)


def dashboard_url(*, workspace: Workspace, kind: str, query: str = "", dataset_id: int | None = None) -> str:
    url = reverse(f"analytics:{kind}", args=[workspace.slug])
    parts = [urlencode([("dataset", dataset_id)])] if dataset_id else []
    if query:
        parts.append(query)
    return url + ("?" + "&".join(parts) if parts else "")


def filter_query_clean(raw: str) -> str:
    """Only the filter pairs (and grain) of a dashboard query string, re-encoded."""
    data = QueryDict(raw or "")
    pairs = [
        (key, value)
        for key, values in data.lists()
        if key.startswith(FILTER_PREFIXES) or key in ("q", "grain")
        for value in values
        if value != ""
    ]
    return urlencode(pairs)


# --- evaluation ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Evaluated:
    """A filter state evaluated on a dataset's current version; `error` set when it cannot be."""

    dataset: Dataset
    version: DatasetVersion | None
    source: Source | None
    filters: FilterSet | None
    error: str = ""


def evaluate(*, dataset: Dataset, data, ignore=()) -> Evaluated:
    """Parse `data` (a QueryDict) against the dataset's current version. Bad filters raise QueryError."""
    version = dataset.current_version
    if version is None:
        raise QueryError(ERROR_NO_VERSION)
    try:
        source = source_for_version(version)
    except FileNotFoundError:
        raise QueryError(ERROR_FILE_MISSING) from None
    filters = FilterSet.from_querydict(source, data, ignore=ignore)
    return Evaluated(dataset=dataset, version=version, source=source, filters=filters)


def segment_evaluate(*, segment: Segment) -> Evaluated:
    """The segment's stored query on its dataset's current version; never raises for a stale query."""
    dataset = segment.dataset
    try:
        return evaluate(dataset=dataset, data=QueryDict(segment.query))
    except QueryError as error:
        return Evaluated(
            dataset=dataset,
            version=dataset.current_version,
            source=None,
            filters=None,
            error=ERROR_NO_LONGER_MATCHES.format(reason=str(error)),
        )


def definition_badges(*, segment: Segment | None = None, evaluated: Evaluated | None = None) -> list[str]:
    """The filter definition as readable texts ("state is CA", "age from 30 to 40")."""
    if evaluated is not None and evaluated.filters is not None:
        return [b["text"] for b in active_filters(filters=evaluated.filters, page_pairs=[])]
    if segment is not None:  # a stale query: show what it says, plainly
        return [f"{key} = {value}" for key, values in QueryDict(segment.query).lists() for value in values]
    return []


# --- metrics -------------------------------------------------------------------------------------
def _display(value, unit: str) -> str:
    if unit == "money":
        return f"${value:,.2f}"
    if unit == "rate":
        return f"{value * 100:.1f}%"
    return f"{value:,}"


def _metric(key: str, value=None, missing: str | None = None) -> dict:
    if isinstance(value, Decimal):
        value = float(value)
    unit = UNITS[key]
    return {
        "key": key,
        "label": LABELS[key],
        "unit": unit,
        "value": None if missing else value,
        "display": missing if missing else _display(value, unit),
        "missing": missing,
        "definition": METRIC_DEFINITIONS[key],
    }


def _from_kpi(key: str, kpi) -> dict:
    return _metric(key, kpi.value, kpi.missing)


def _compute_metrics(*, source: Source, filters: FilterSet, kind: str, workspace_id: int) -> list[dict]:
    size = count_rows(Query(source=source, filters=filters), workspace_id=workspace_id)
    total = count_rows(Query(source=source), workspace_id=workspace_id)
    metrics = {
        "size": _metric("size", size),
        "total": _metric("total", total),
        "share": _metric("share", size / total) if total else _metric("share", missing=NEEDS_ROWS),
    }
    revenue = source.by_field("revenue")
    if kind == Kind.VISITORS:
        metrics["visitors"] = _metric("visitors", size)
        converted = source.by_field("converted")
        if converted is None or converted.type != BOOLEAN:
            metrics["purchasers"] = _metric("purchasers", missing=NEEDS_CONVERTED_FLAG)
            metrics["conversion"] = _metric("conversion", missing=NEEDS_CONVERTED_FLAG)
        else:
            measure = Measure("count_true", converted.name, label="purchasers")
            query = Query(source=source, filters=filters, measures=(measure,))
            purchasers = execute(query, workspace_id=workspace_id).rows[0][0]
            metrics["purchasers"] = _metric("purchasers", purchasers)
            metrics["conversion"] = (
                _metric("conversion", purchasers / size) if size else _metric("conversion", missing=NEEDS_ROWS)
            )
        metrics["buyers"] = _metric("buyers", missing=NEEDS_BUYERS_DATA)
        metrics["orders"] = _metric("orders", missing=NEEDS_BUYERS_DATA)
        if revenue is not None and revenue.is_numeric:
            query = Query(source=source, filters=filters, measures=(Measure("sum", revenue.name, label="revenue"),))
            metrics["revenue"] = _metric("revenue", execute(query, workspace_id=workspace_id).rows[0][0] or 0)
        else:
            metrics["revenue"] = _metric("revenue", missing=NEEDS_REVENUE)
        metrics["aov"] = _metric("aov", missing=NEEDS_BUYERS_DATA)
    else:
        # The buyers KPIs exactly as the buyers dashboard computes them (orders by order id, AOV over
        # orders with revenue > 0), so a segment and the dashboard with the same filters agree.
        report = buyers_kpis(source, filters=filters)
        metrics["visitors"] = _metric("visitors", missing=NEEDS_VISITORS)
        metrics["purchasers"] = _metric("purchasers", missing=NEEDS_VISITORS)
        metrics["conversion"] = _metric("conversion", missing=NEEDS_VISITORS)
        metrics["buyers"] = _from_kpi("buyers", report["buyers"])
        metrics["orders"] = _from_kpi("orders", report["orders"])
        metrics["revenue"] = _from_kpi("revenue", report["revenue"])
        metrics["aov"] = _from_kpi("aov", report["aov"])
    return [metrics[key] for key in METRIC_KEYS]


def segment_metrics(*, workspace: Workspace, evaluated: Evaluated) -> list[dict]:
    """Every metric of METRIC_KEYS, in that order (the page and `?format=json` show this list).

    Cached per (workspace, version file, filter state) like the engine's own queries.
    """
    source, filters = evaluated.source, evaluated.filters
    kind = evaluated.dataset.kind
    return cached(
        cache=None,
        workspace_id=workspace.pk,
        fingerprints=[source.fingerprint()],
        kind="segment_metrics",
        payload={"kind": kind, "filters": filters.canonical(source)},
        compute=lambda: _compute_metrics(source=source, filters=filters, kind=kind, workspace_id=workspace.pk),
    )


def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "Yes" if value else "No"
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    return str(value)


def segment_preview_rows(*, workspace: Workspace, evaluated: Evaluated, limit: int = PREVIEW_ROWS) -> dict:
    """The first `limit` matching rows in file order, every cell as text."""
    query = Query(source=evaluated.source, filters=evaluated.filters, limit=limit)
    result = execute(query, workspace_id=workspace.pk)
    return {"columns": list(result.columns), "rows": [[_cell(v) for v in row] for row in result.rows]}


# --- compare -------------------------------------------------------------------------------------
def compare_ids(raw: list[str]) -> list[int]:
    """`?s=` values: digits only (else 404), duplicates dropped, at most MAX_COMPARE (else QueryError → 400)."""
    ids = []
    for value in raw:
        if not value.isdigit():
            raise Http404
        if int(value) not in ids:
            ids.append(int(value))
    if len(ids) > MAX_COMPARE:
        raise QueryError(ERROR_TOO_MANY.format(n=MAX_COMPARE))
    return ids


def compare_data(*, workspace: Workspace, segment_ids: list[int]) -> list[dict]:
    """One entry per segment, in the order asked: its metrics (or why it cannot be evaluated) and
    its filter definition. A foreign or unknown id is a 404."""
    found = {s.pk: s for s in segment_list(workspace=workspace).filter(pk__in=segment_ids)}
    if len(found) != len(segment_ids):
        raise Http404
    out = []
    for segment_id in segment_ids:
        segment = found[segment_id]
        evaluated = segment_evaluate(segment=segment)
        entry = {
            "id": segment.pk,
            "name": segment.name,
            "dataset": {"id": segment.dataset_id, "name": segment.dataset.name, "kind": segment.dataset.kind},
            "error": evaluated.error,
            "definition": definition_badges(segment=segment, evaluated=evaluated),
            "metrics": {},
        }
        if not evaluated.error:
            try:
                metrics = segment_metrics(workspace=workspace, evaluated=evaluated)
            except QueryError as error:
                entry["error"] = ERROR_NO_LONGER_MATCHES.format(reason=str(error))
            else:
                entry["metrics"] = {m["key"]: m for m in metrics}
        out.append(entry)
    return out


COMPARE_ROWS = ("size", "share", "visitors", "purchasers", "conversion", "buyers", "orders", "revenue", "aov")


def compare_table(entries: list[dict]) -> list[dict]:
    """Rows of the metrics table: one per metric, a cell per segment (display text + missing flag)."""
    rows = []
    for key in COMPARE_ROWS:
        cells = []
        for entry in entries:
            metric = entry["metrics"].get(key)
            if metric is None:
                cells.append({"display": "—", "missing": True, "value": None})
            else:
                cells.append(
                    {"display": metric["display"], "missing": bool(metric["missing"]), "value": metric["value"]}
                )
        rows.append({"key": key, "label": LABELS[key], "definition": METRIC_DEFINITIONS[key], "cells": cells})
    return rows


def segment_export_query(*, segment: Segment) -> str:
    """The rows export's query string for this segment: its dataset, its filters, its name for the file."""
    head = urlencode([("dataset", str(segment.dataset_id)), ("name", segment.name)])
    return f"{head}&{segment.query}" if segment.query else head
