"""What an export contains: a `Plan` built from the page's query string, inside the workspace.

A plan is the same whether the export is streamed now or built later by a worker: the view builds
it to count the output rows (and to refuse bad input with a 400 before anything is stored); the
task builds it again from the job's saved query string. Every id in the query string is looked up
inside the workspace (another workspace's id -> 404, SECURITY.md T-IDOR-02).

- rows:   `?dataset=&version=&<filters>&name=`: the version's filtered rows, every column.
- report: `report/<kind>/?dataset=&version=&grain=&<filters>`: exactly `dashboard_data`'s numbers.
- combos: `?dataset=&version=&<filters>&<combo settings>`: the ranked combos table.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from django.http import Http404, QueryDict
from django.shortcuts import get_object_or_404

from analytics import selectors
from analytics.combo_params import KEYS as COMBO_KEYS
from analytics.combo_params import combo_settings
from analytics.combos_selectors import combo_match
from analytics.engine import FilterSet, Query, QueryError, count_rows, top_combos
from analytics.engine.adapter import source_for_version
from analytics.engine.schema import connection
from datasets.models import Dataset, DatasetVersion
from exports.models import What

# Keys of the export request itself (never filters).
EXPORT_KEYS = ("name", "file", "background", "csrfmiddlewaretoken")
# Page keys other pages put in their query strings that are not filters either.
PAGE_KEYS = ("dataset", "version", "grain", "format", "page", "sort", "segment")
FETCH_BATCH = 2_000
COMBO_BATCH = 500
REPORT_HEADER = ["section", "item", "label", "measure", "value", "display", "unit", "note", "definition", "missing"]
ERROR_NO_DATASET = "Choose a dataset to export."
ERROR_NO_DASHBOARD_DATA = "There is no {kind} dataset to export."
MAX_NAME = 200

RowSource = Callable[[int | None], Iterator[tuple]]


@dataclass
class Plan:
    what: str
    name: str  # display label (dataset or segment name)
    query: str  # the query string that rebuilds this plan (saved on a background job)
    total: int  # output rows before any cap
    header: list[str]
    rows: RowSource  # rows(limit) -> row tuples, at most `limit`
    meta: dict = field(default_factory=dict)
    kind: str = ""
    document: dict | None = None  # the report's JSON document


def clean_query(data: QueryDict) -> QueryDict:
    """The page's query string without the export's own keys."""
    out = QueryDict(mutable=True)
    for key, values in data.lists():
        if key not in EXPORT_KEYS:
            out.setlist(key, values)
    return out


def _label(data: QueryDict, default: str) -> str:
    return (data.get("name") or "").strip()[:MAX_NAME] or default


def _id(raw: str) -> int:
    if not raw.isdigit():
        raise Http404
    return int(raw)


def _dataset_version(workspace, data: QueryDict) -> tuple[Dataset, DatasetVersion]:
    raw = data.get("dataset", "")
    if not raw:
        raise QueryError(ERROR_NO_DATASET)
    dataset = get_object_or_404(Dataset.objects.for_workspace(workspace), pk=_id(raw))
    versions = DatasetVersion.objects.for_workspace(workspace).filter(dataset=dataset)
    if data.get("version"):
        version = get_object_or_404(versions, pk=_id(data["version"]))
    elif dataset.current_version_id is not None:
        version = get_object_or_404(versions, pk=dataset.current_version_id)
    else:
        raise Http404
    return dataset, version


def _query_string(data: QueryDict, name: str) -> str:
    qd = clean_query(data)
    qd.setlist("name", [name])
    return qd.urlencode()


def _source_meta(dataset: Dataset, version: DatasetVersion) -> dict:
    return {
        "dataset": {"id": dataset.pk, "name": dataset.name},
        "version": {"id": version.pk, "number": version.number},
    }


# --- rows ----------------------------------------------------------------------------------------
def rows_plan(*, workspace, data: QueryDict) -> Plan:
    dataset, version = _dataset_version(workspace, data)
    source = source_for_version(version)
    filters = FilterSet.from_querydict(source, data, ignore=(*PAGE_KEYS, *EXPORT_KEYS))
    query = Query(source=source, filters=filters)
    total = count_rows(query, workspace_id=workspace.pk)

    def rows(limit: int | None) -> Iterator[tuple]:
        compiled = Query(source=source, filters=filters, limit=limit).compile()
        # A cursor of its own: the thread's connection may run other queries while this streams.
        cursor = connection().cursor()
        try:
            result = cursor.execute(compiled.sql, compiled.params)
            while batch := result.fetchmany(FETCH_BATCH):
                yield from batch
        finally:
            cursor.close()

    name = _label(data, dataset.name)
    return Plan(
        what=What.ROWS,
        name=name,
        query=_query_string(data, name),
        total=total,
        header=[str(n) for n in source.names],
        rows=rows,
        meta={
            "export": What.ROWS.value,
            "name": name,
            **_source_meta(dataset, version),
            "filters": filters.to_query_string(),
        },
    )


# --- the dashboards' KPI report ------------------------------------------------------------------
def _point_rows(chart: dict) -> list[tuple]:
    series = chart.get("series") or {}
    out = []
    for point in series.get("points") or ():
        dims = [str(point[k]) for k in ("period", "label", "value") if k in point and point[k] is not None]
        item = " · ".join(dims)
        for measure, value in point.items():
            if measure in ("period", "label", "value", "other") or isinstance(value, bool):
                continue
            out.append(
                (
                    "chart",
                    chart["key"],
                    chart["title"],
                    f"{item} | {measure}" if item else measure,
                    value,
                    "",
                    "",
                    "",
                    "",
                    "",
                )
            )
    return out


def report_table(document: dict) -> list[tuple]:
    """The report as one long table: a row per KPI, then a row per chart point and measure."""
    rows = []
    for card in document["kpis"]:
        rows.append(
            (
                "kpi",
                card["key"],
                card["label"],
                "value",
                card["value"],
                card.get("display", ""),
                card.get("unit", ""),
                card.get("note", ""),
                card.get("definition", ""),
                card.get("missing") or "",
            )
        )
    for chart in document["charts"]:
        if chart.get("missing") and not (chart.get("series") or {}).get("points"):
            rows.append(("chart", chart["key"], chart["title"], "", None, "", "", "", "", chart["missing"]))
            continue
        rows += _point_rows(chart)
    return rows


def report_plan(*, workspace, kind: str, data: QueryDict) -> Plan:
    if kind not in selectors.KINDS:
        raise Http404
    picked = selectors.dashboard_pick(
        workspace=workspace, kind=kind, dataset_raw=data.get("dataset", ""), version_raw=data.get("version", "")
    )
    if picked is None:
        raise Http404(ERROR_NO_DASHBOARD_DATA.format(kind=kind))
    source = selectors.dashboard_source(picked=picked)
    page = clean_query(data)
    filters = selectors.dashboard_filters(source=source, data=page)
    grain = selectors.dashboard_grain(data.get("grain", ""))
    visitors = (
        selectors.dashboard_pick(workspace=workspace, kind=selectors.VISITORS) if kind == selectors.BUYERS else None
    )
    data_ = selectors.dashboard_data(
        workspace=workspace, kind=kind, picked=picked, source=source, filters=filters, grain=grain, visitors=visitors
    )
    document = {
        "export": What.REPORT.value,
        "kind": kind,
        "dataset": data_["dataset"],
        "version": data_["version"],
        "visitors_dataset": data_["visitors_dataset"],
        "grain": grain,
        "filters": data_["filters"]["query"],
        "kpis": data_["kpis"],
        "charts": [
            {"key": c["key"], "title": c["title"], "missing": c.get("missing", ""), "series": c.get("series")}
            for c in data_["charts"]
        ],
    }
    table = report_table(document)

    def rows(limit: int | None) -> Iterator[tuple]:
        yield from table[:limit] if limit is not None else table

    name = _label(data, picked.dataset.name)
    return Plan(
        what=What.REPORT,
        kind=kind,
        name=name,
        query=_query_string(data, name),
        total=len(table),
        header=list(REPORT_HEADER),
        rows=rows,
        meta={"export": What.REPORT.value, "kind": kind, "name": name},
        document=document,
    )


# --- top combos ----------------------------------------------------------------------------------
def combos_plan(*, workspace, data: QueryDict) -> Plan:
    dataset, version = _dataset_version(workspace, data)
    source = source_for_version(version)
    filters = FilterSet.from_querydict(source, data, ignore=(*PAGE_KEYS, *EXPORT_KEYS, *COMBO_KEYS))
    settings = combo_settings(source, data)
    match = combo_match(workspace=workspace, data=data, dataset=dataset, source=source)
    buyers = match.source if match is not None else None
    result = top_combos(source, settings, workspace_id=workspace.pk, filters=filters, buyers=buyers)
    attributes = list(settings.attributes)

    def rows(limit: int | None) -> Iterator[tuple]:
        end = len(result) if limit is None else min(limit, len(result))
        for offset in range(0, end, COMBO_BATCH):
            for combo in result.page(offset, min(COMBO_BATCH, end - offset)):
                values = dict(combo.items)
                yield (
                    combo.rank,
                    combo.label,
                    *(values.get(a) for a in attributes),
                    combo.visitors,
                    combo.purchasers,
                    combo.conversion,
                    combo.ci_low,
                    combo.ci_high,
                    combo.small_sample,
                )

    name = _label(data, dataset.name)
    canonical = settings.canonical()
    return Plan(
        what=What.COMBOS,
        name=name,
        query=_query_string(data, name),
        total=len(result),
        header=[
            "rank",
            "combo",
            *attributes,
            "visitors",
            "purchasers",
            "conversion",
            "ci_low",
            "ci_high",
            "small_sample",
        ],
        rows=rows,
        meta={
            "export": What.COMBOS.value,
            "name": name,
            **_source_meta(dataset, version),
            "filters": filters.to_query_string(),
            "settings": {
                "attributes": canonical[0],
                "min_size": canonical[1],
                "max_size": canonical[2],
                "min_purchasers": canonical[3],
                "min_conversion": canonical[4],
                "converted": canonical[5],
                "converted_values": canonical[6],
            },
            "conversion": {"method": "match", "buyers_dataset": match.dataset.pk, "buyers_version": match.version.pk}
            if match is not None
            else {"method": "flag"},
        },
    )


def plan_build(*, workspace, what: str, kind: str, data: QueryDict) -> Plan:
    """QueryError: bad input (400). Http404: an id outside the workspace, or nothing to export."""
    if what == What.ROWS:
        return rows_plan(workspace=workspace, data=data)
    if what == What.REPORT:
        return report_plan(workspace=workspace, kind=kind, data=data)
    if what == What.COMBOS:
        return combos_plan(workspace=workspace, data=data)
    raise Http404
