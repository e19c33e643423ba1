"""Reads for the buyers and visitors dashboards: which dataset/version, filter choices, the numbers.

Everything a page shows comes from `dashboard_data` (the HTML page and `?format=json` render the
same dict), and every number in it comes from the engine (analytics/engine/). Ids from the query
string are looked up only inside the URL's workspace (SECURITY.md T-IDOR-02).
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlencode

from django.db.models import QuerySet
from django.http import Http404
from django.shortcuts import get_object_or_404

from analytics import charts
from analytics.engine import (
    GroupBy,
    Measure,
    Query,
    QueryError,
    UnknownBucket,
    buyers_dashboard,
    distribution,
    execute,
    over_time,
    top_n,
    visitors_dashboard,
)
from analytics.engine.adapter import source_for_version
from analytics.engine.filters import IN, NOT_IN, RANGE, FilterSet
from analytics.engine.metrics import KPI_COUNT_FIELDS, first_visit_inputs
from analytics.engine.query import BUCKETS, counts_query, execute_many
from analytics.engine.schema import BOOLEAN, TEXT, Source
from analytics.engine.series import (
    categorical_columns,
    date_column_of,
    new_vs_returning_over_time,
    over_time_query,
    top_n_query,
    top_values,
)
from datasets.models import Dataset, DatasetVersion, Kind
from workspaces.models import Workspace

BUYERS = Kind.BUYERS.value
VISITORS = Kind.VISITORS.value
KINDS = (BUYERS, VISITORS)
DEFAULT_GRAIN = "day"
GRAINS = tuple(BUCKETS)  # day / week / month (the engine's allowlist)
PAGE_KEYS = ("dataset", "version", "grain", "format")  # query-string keys that are not filters

# The filter panel: canonical fields first, in this order, then any other low-cardinality column.
FILTER_FIELDS = (
    "channel",
    "campaign",
    "gender",
    "age_range",
    "age",
    "income_range",
    "income",
    "net_worth",
    "credit_rating",
    "homeowner",
    "marital_status",
    "children",
    "state",
)
DATE_FIELDS = ("order_date", "event_date")
# Keys and amounts are never offered as multi-selects (one value per person or order).
NEVER_FILTER_FIELDS = frozenset(
    {"buyer_key", "visitor_key", "order_id", "revenue", "refund", "email", "phone", "name", "zip"}
)
MAX_FIELD_OPTIONS = 200  # a canonical field (state, campaign) may have many values
MAX_CUSTOM_OPTIONS = 30  # "low cardinality": other text columns with at most this many values

BUYER_KPIS = (
    "revenue",
    "refunds",
    "net_revenue",
    "orders",
    "aov",
    "buyer_records",
    "buyers",
    "repeat_buyer_rate",
    "ltv_90",
    "cac",
    "conversion_rate",
)
BUYER_KPIS_NO_REVENUE = (
    "buyer_records",
    "buyers",
    "gender_split",
    "repeat_buyer_rate",
    "top_state",
    "top_income_range",
    "top_age_range",
    "cac",
    "conversion_rate",
)
VISITOR_KPIS = (
    "visitors_total",
    "visitors_unique",
    "gender_split",
    "repeat_visitor_rate",
    "new_vs_returning",
    "conversion_rate",
)

ERROR_BAD_GRAIN = "Invalid time grain: {grain!r}."
ERROR_BAD_FORMAT = "Invalid format: {format!r}."


@dataclass(frozen=True)
class Picked:
    """The dataset and version a dashboard shows, and the choices for the picker."""

    dataset: Dataset
    version: DatasetVersion
    datasets: list[Dataset]
    versions: list[DatasetVersion]


def dashboard_datasets(*, workspace: Workspace, kind: str | None) -> QuerySet[Dataset]:
    """The workspace's datasets of `kind` (None: any kind) that have a loaded version, the most
    recent first."""
    datasets = Dataset.objects.for_workspace(workspace).filter(current_version__isnull=False)
    if kind is not None:
        datasets = datasets.filter(kind=kind)
    return datasets.select_related("current_version").order_by("-updated_at", "-id")


def _id(raw: str) -> int:
    if not raw.isdigit():
        raise Http404
    return int(raw)


def dashboard_pick(
    *, workspace: Workspace, kind: str | None, dataset_raw: str = "", version_raw: str = ""
) -> Picked | None:
    """`?dataset=` / `?version=` resolved inside `workspace` (another workspace's id → 404),
    defaulting to the most recent dataset of `kind` (None: any kind) and its current version.
    None: no such dataset."""
    datasets = list(dashboard_datasets(workspace=workspace, kind=kind))
    if dataset_raw:
        candidates = Dataset.objects.for_workspace(workspace)
        if kind is not None:
            candidates = candidates.filter(kind=kind)
        dataset = get_object_or_404(candidates, pk=_id(dataset_raw))
    elif datasets:
        dataset = datasets[0]
    else:
        if version_raw:
            raise Http404
        return None
    versions = list(DatasetVersion.objects.for_workspace(workspace).filter(dataset=dataset).order_by("-number"))
    if version_raw:
        version = get_object_or_404(
            DatasetVersion.objects.for_workspace(workspace).filter(dataset=dataset), pk=_id(version_raw)
        )
    elif dataset.current_version_id is not None:
        version = next(v for v in versions if v.pk == dataset.current_version_id)
    else:
        raise Http404
    return Picked(dataset=dataset, version=version, datasets=datasets, versions=versions)


def dashboard_source(*, picked: Picked) -> Source:
    return source_for_version(picked.version)


def dashboard_filters(*, source: Source, data) -> FilterSet:
    """The filter state of a query string, strict (unknown key or bad value → QueryError, a 400)."""
    return FilterSet.from_querydict(source, data, ignore=PAGE_KEYS)


def dashboard_grain(raw: str) -> str:
    grain = raw or DEFAULT_GRAIN
    if grain not in GRAINS:
        raise UnknownBucket(grain)
    return grain


def dashboard_format(raw: str) -> str:
    fmt = raw or "html"
    if fmt not in ("html", "json"):
        raise QueryError(ERROR_BAD_FORMAT.format(format=fmt))
    return fmt


# --- filter panel --------------------------------------------------------------------------------
def _label(value) -> str:
    if isinstance(value, bool):
        return "Yes" if value else "No"
    return str(value)


def _url_value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _panel_columns(source: Source) -> list:
    """The filter panel's columns in order: the date, the canonical fields, then other text and
    boolean columns."""
    ordered = []
    for field_name in DATE_FIELDS:
        column = source.by_field(field_name)
        if column is not None and column.is_temporal:
            ordered.append(column)
    for field_name in FILTER_FIELDS:
        column = source.by_field(field_name)
        if column is not None and column not in ordered:
            ordered.append(column)
    for column in source.columns:
        if column not in ordered and column.field not in NEVER_FILTER_FIELDS and column.type in (TEXT, BOOLEAN):
            ordered.append(column)
    return ordered


def _panel_limits(ordered: list) -> dict[str, int]:
    """How many values each multi-select may offer (more, and the column is not categorical)."""
    return {
        c.name: MAX_FIELD_OPTIONS if c.field in FILTER_FIELDS else MAX_CUSTOM_OPTIONS
        for c in ordered
        if not (c.is_temporal or c.is_numeric)
    }


def filter_panel(*, source: Source, filters: FilterSet, workspace_id: int) -> list[dict]:
    """One entry per filterable column: a date or number range, or a multi-select with counts."""
    ordered = _panel_columns(source)
    limits = _panel_limits(ordered)
    # Every multi-select's counts in two scans of the file (not one group-by per column).
    all_counts = top_values(source, limits, workspace_id=workspace_id)
    panel = []
    for column in ordered:
        active = filters.on_column(column.name)
        if column.is_temporal or column.is_numeric:
            low, high = next((f.values for f in active if f.op == RANGE), (None, None))
            panel.append(
                {
                    "column": column.name,
                    "widget": "date" if column.is_temporal else "number",
                    "min_key": f"min.{column.name}",
                    "max_key": f"max.{column.name}",
                    "min": "" if low is None else str(low),
                    "max": "" if high is None else str(high),
                }
            )
            continue
        counts = all_counts[column.name]
        if counts is None:
            continue  # not categorical: one value per row or close to it
        # Canonical text of the selected values ("yes" in a URL is "true" for a boolean column).
        selected = {v for f in active if f.op == IN for v in f.canonical(source)[2]}
        options = [
            {"value": _url_value(v), "label": _label(v), "count": n, "selected": _url_value(v) in selected}
            for v, n in counts
        ]
        known = {o["value"] for o in options}
        # A value in the URL that the data lacks still shows (selected, 0 rows) so it can be removed.
        options += [{"value": v, "label": v, "count": 0, "selected": True} for v in sorted(selected - known)]
        panel.append({"column": column.name, "widget": "select", "key": f"in.{column.name}", "options": options})
    return panel


# --- active filters ------------------------------------------------------------------------------
def _query(pairs: list[tuple[str, str]]) -> str:
    return "?" + urlencode(pairs) if pairs else "?"


def active_filters(*, filters: FilterSet, page_pairs: list[tuple[str, str]]) -> list[dict]:
    """A badge per selected value (or range), each with the URL that removes just that one."""
    badges = []
    for index, f in enumerate(filters.filters):
        others = FilterSet(tuple(g for i, g in enumerate(filters.filters) if i != index), filters.search)
        if f.op in (IN, NOT_IN):
            for value in f.values:
                rest = tuple(v for v in f.values if v != value)
                kept = others.and_(type(f)(f.column, f.op, rest)) if rest else others
                word = "is" if f.op == IN else "is not"
                badges.append(
                    {
                        "column": f.column,
                        "text": f"{f.column} {word} {value}",
                        "remove": _query(page_pairs + kept.to_pairs()),
                    }
                )
        elif f.op == RANGE:
            low, high = f.values
            if low not in (None, "") and high not in (None, ""):
                text = f"{f.column} from {low} to {high}"
            elif low not in (None, ""):
                text = f"{f.column} from {low}"
            else:
                text = f"{f.column} up to {high}"
            badges.append({"column": f.column, "text": text, "remove": _query(page_pairs + others.to_pairs())})
        else:
            word = "is missing" if f.op == "is_null" else "is present"
            badges.append(
                {"column": f.column, "text": f"{f.column} {word}", "remove": _query(page_pairs + others.to_pairs())}
            )
    if filters.search:
        plain = FilterSet(filters.filters)
        badges.append(
            {"column": "", "text": f"search: {filters.search}", "remove": _query(page_pairs + plain.to_pairs())}
        )
    return badges


# --- KPI display ---------------------------------------------------------------------------------
def _format(value, unit: str) -> str:
    if unit == "money":
        return f"${value:,.2f}"
    if unit == "count":
        return f"{value:,}"
    if unit == "rate":
        return f"{value * 100:.1f}%"
    if unit == "split":
        return " · ".join(f"{_label(part['value'])} {part['share'] * 100:.1f}%" for part in value) or "no values"
    return _label(value)


def _note(kpi) -> str:
    detail = kpi.detail
    if kpi.key == "ltv_90" and "buyers" in detail:
        return (
            f"over {detail['buyers']:,} buyers (first order on or before {detail['cohort_first_order_on_or_before']})"
        )
    if kpi.key == "conversion_rate" and detail.get("method") == "match":
        rate = detail["match_rate"]
        shown = "n/a" if rate is None else f"{rate * 100:.1f}%"
        return f"match rate {shown}: {detail['matched']:,} of {detail['buyers']:,} buyers found among visitors"
    if kpi.key == "conversion_rate" and detail.get("method") == "flag":
        return f"{detail['converted']:,} of {detail['visitors']:,} visitors converted"
    if kpi.key == "repeat_buyer_rate" and "repeat_buyers" in detail:
        return f"{detail['repeat_buyers']:,} of {detail['buyers']:,} buyers"
    if kpi.key == "aov" and "orders_with_revenue" in detail:
        return f"over {detail['orders_with_revenue']:,} orders with revenue"
    if kpi.key in ("top_state", "top_income_range", "top_age_range") and "share" in detail:
        return f"{detail['count']:,} records ({detail['share'] * 100:.1f}%)"
    if kpi.key == "new_vs_returning" and "returning" in detail:
        return f"{detail['returning']:,} returning, {detail['new']:,} new"
    return detail.get("note", "")


def kpi_card(kpi) -> dict:
    """A KPI as the page and the JSON show it: the engine's fields plus `display` and `note`."""
    card = kpi.to_dict()
    card["display"] = kpi.missing if kpi.missing else _format(kpi.value, kpi.unit)
    card["note"] = "" if kpi.missing else _note(kpi)
    return card


# --- the dashboards ------------------------------------------------------------------------------
def _series(source: Source, field_name: str, *, kind: str, workspace_id: int, filters: FilterSet):
    column = source.by_field(field_name)
    if column is None:
        return None
    if kind == "top":
        return top_n(source, column.name, workspace_id=workspace_id, filters=filters)
    return distribution(source, column.name, workspace_id=workspace_id, filters=filters)


def _chart(key: str, title: str, field_name: str, series, *, column: str | None) -> dict:
    label = field_name.replace("_", " ")
    if series is None:
        return {"key": key, "title": title, "missing": f"No {label} column", "series": None, "figure": None}
    return {
        "key": key,
        "title": title,
        "missing": "" if series.points else "No values in the data shown",
        "series": series.to_dict(),
        "figure": charts.bar_figure(series, axis_title=column or label) if series.points else None,
    }


NEW_VS_RETURNING_COLUMN = "Visits per period, split by the values of the new/returning column."


def _new_vs_returning_query(source: Source, date, flag, grain: str, filters: FilterSet) -> Query:
    return Query(
        source=source,
        filters=filters,
        measures=(Measure("count", label="count"),),
        group_by=(GroupBy(date.name, grain), GroupBy(flag.name)),
    )


def _new_vs_returning_columns(source: Source):
    """(date column, new/returning column) of the split by the dataset's own column (either may be None)."""
    return next((c for f in DATE_FIELDS if (c := source.by_field(f)) is not None), None), source.by_field(
        "new_returning"
    )


def _new_vs_returning_series(source: Source, *, workspace_id: int, grain: str, filters: FilterSet) -> dict:
    """Visits per period split by the new/returning column (the engine groups by both), or, without
    one, by each visitor key's first visit date (the KPI's definition, see metrics.py)."""
    date, flag = _new_vs_returning_columns(source)
    if flag is None and first_visit_inputs(source) is not None:
        derived = new_vs_returning_over_time(source, workspace_id=workspace_id, grain=grain, filters=filters)
        points = list(derived.points)
        return {
            "key": "new_vs_returning",
            "title": "New vs returning",
            "missing": "" if points else "No values in the data shown",
            "series": derived.to_dict(),
            "definition": derived.extra["definition"],
            "figure": charts.stacked_time_figure(points, grain=grain, legend_title="visitor") if points else None,
        }
    if date is None or flag is None:
        missing = "No date column" if date is None else "No new/returning column or visitor key"
        return {"key": "new_vs_returning", "title": "New vs returning", "missing": missing, "series": None}
    rows = execute(_new_vs_returning_query(source, date, flag, grain, filters), workspace_id=workspace_id).rows
    points = [
        {"period": period.isoformat(), "value": _label(value), "count": n}
        for period, value, n in rows
        if period is not None and value is not None
    ]
    series = {"key": "new_vs_returning", "points": points, "missing": None, "grain": grain, "column": flag.name}
    return {
        "key": "new_vs_returning",
        "title": "New vs returning",
        "missing": "" if points else "No values in the data shown",
        "series": series,
        "definition": NEW_VS_RETURNING_COLUMN,
        "figure": charts.stacked_time_figure(points, grain=grain, legend_title=flag.name) if points else None,
    }


def _time_chart(source: Source, *, workspace_id: int, grain: str, filters: FilterSet, title: str) -> dict:
    series = over_time(source, workspace_id=workspace_id, grain=grain, filters=filters)
    if series.missing:
        return {"key": "over_time", "title": title, "missing": "No date column", "series": series.to_dict()}
    return {
        "key": "over_time",
        "title": title,
        "missing": "" if series.points else "No values in the data shown",
        "series": series.to_dict(),
        "figure": charts.time_figure(series) if series.points else None,
    }


BUYER_CHARTS = (
    ("top_channels", "Top 15 channels", "channel", "top"),
    ("top_campaigns", "Top 15 campaigns", "campaign", "top"),
    ("age", "Age", "age_range", "dist"),
    ("income", "Income", "income_range", "dist"),
    ("gender", "Gender", "gender", "dist"),
    ("state", "Top 15 states", "state", "top"),
    ("credit_rating", "Credit rating", "credit_rating", "dist"),
)
VISITOR_CHARTS = (
    ("top_channels", "Top 15 channels", "channel", "top"),
    ("age", "Age", "age_range", "dist"),
    ("income", "Income", "income_range", "dist"),
    ("gender", "Gender", "gender", "dist"),
    ("state", "Top 15 states", "state", "top"),
)


def prefetch_charts(source: Source, *, workspace_id: int, grain: str, filters: FilterSet, specs, kind: str) -> None:
    """Compute, in one scan per set of measures, every group-by the page is about to ask
    (`execute_many`): the time series, the new/returning split, one per chart, the buyers KPIs'
    splits and, on an unfiltered page, the filter panel's counts. The KPIs, the chart helpers and
    the panel then find each result in the cache, under its usual key."""
    queries = []
    if kind == BUYERS:
        kpi_columns = [c for f in KPI_COUNT_FIELDS if (c := source.by_field(f)) is not None]
        queries += [counts_query(source, c.name, filters=filters) for c in kpi_columns]
    over_time_date = date_column_of(source)
    if over_time_date is not None and over_time_date.is_temporal:
        queries.append(over_time_query(source, over_time_date.name, grain=grain, filters=filters))
    date, flag = _new_vs_returning_columns(source)
    if kind == VISITORS and date is not None and date.is_temporal and flag is not None:
        queries.append(_new_vs_returning_query(source, date, flag, grain, filters))
    for _key, _title, field_name, how in specs:
        if (column := source.by_field(field_name)) is not None:
            build = top_n_query if how == "top" else counts_query
            queries.append(build(source, column.name, filters=filters))
    if not filters:
        limits = _panel_limits(_panel_columns(source))
        kept = categorical_columns(source, limits, workspace_id=workspace_id)
        queries += [counts_query(source, name) for name in kept]
    execute_many(queries, workspace_id=workspace_id)


def dashboard_data(
    *,
    workspace: Workspace,
    kind: str,
    picked: Picked,
    source: Source,
    filters: FilterSet,
    grain: str,
    visitors: Picked | None = None,
) -> dict:
    """Everything the dashboard shows, as plain data (the page renders it; `?format=json` returns it)."""
    ws = workspace.pk
    page_pairs = [("dataset", str(picked.dataset.pk)), ("version", str(picked.version.pk)), ("grain", grain)]
    specs = BUYER_CHARTS if kind == BUYERS else VISITOR_CHARTS
    prefetch_charts(source, workspace_id=ws, grain=grain, filters=filters, specs=specs, kind=kind)
    if kind == BUYERS:
        visitor_source = source_for_version(visitors.version) if visitors is not None else None
        report = buyers_dashboard(source, workspace_id=ws, filters=filters, visitors=visitor_source)
        revenue = source.by_field("revenue")
        keys = BUYER_KPIS if revenue is not None and revenue.is_numeric else BUYER_KPIS_NO_REVENUE
    else:
        report = visitors_dashboard(source, workspace_id=ws, filters=filters)
        keys = VISITOR_KPIS
    if kind == BUYERS:
        title = "Orders and revenue over time" if revenue is not None else "Orders over time"
        chart_list = [_time_chart(source, workspace_id=ws, grain=grain, filters=filters, title=title)]
    else:
        chart_list = [
            _time_chart(source, workspace_id=ws, grain=grain, filters=filters, title="Visits over time"),
            _new_vs_returning_series(source, workspace_id=ws, grain=grain, filters=filters),
        ]
    for key, title, field_name, how in specs:
        series = _series(source, field_name, kind=how, workspace_id=ws, filters=filters)
        column = source.by_field(field_name)
        chart_list.append(_chart(key, title, field_name, series, column=column.name if column else None))
    for chart in chart_list:
        chart.setdefault("figure", None)
    return {
        "kind": kind,
        "dataset": {"id": picked.dataset.pk, "name": picked.dataset.name},
        "version": {"id": picked.version.pk, "number": picked.version.number, "rows": picked.version.row_count},
        "visitors_dataset": (
            {"id": visitors.dataset.pk, "name": visitors.dataset.name, "version": visitors.version.pk}
            if visitors is not None
            else None
        ),
        "grain": grain,
        "filters": {
            "pairs": filters.to_pairs(),
            "query": filters.to_query_string(),
            "active": active_filters(filters=filters, page_pairs=page_pairs),
            "reset": _query(page_pairs),
        },
        "kpis": [kpi_card(report[key]) for key in keys],
        "charts": chart_list,
    }
