"""Reads for the top-combos page and the combo deep dive (the explorer: explorer_selectors.py).

Each page's numbers come from one dict built here (`combos_page_data`, `deep_dive_data`): the
HTML renders it and `?format=json` returns it unchanged. Dataset, version and job ids from the URL
are looked up only inside the URL's workspace (T-IDOR-02).
"""

from __future__ import annotations

import dataclasses
import math
from urllib.parse import urlencode

import numpy as np
from django.conf import settings as django_settings
from django.http import Http404
from django.shortcuts import get_object_or_404
from django.urls import reverse

from analytics import charts
from analytics.combo_params import KEYS as COMBO_KEYS
from analytics.combo_params import attribute_choices, combo_pairs
from analytics.engine import (
    ComboResult,
    ComboSettings,
    FilterSet,
    InvalidComboSettings,
    QueryError,
    Source,
)
from analytics.engine.adapter import source_for_version
from analytics.engine.combos import (
    MATCH_AND_COLUMN,
    SMALL_SAMPLE_PURCHASERS,
    SMALL_SAMPLE_VISITORS,
    TOP_COVERAGE,
    cube_size_hint,
    match_keys,
    matchable,
)
from analytics.engine.schema import BOOLEAN, TEXT
from analytics.models import ComboJob, ComboJobStatus
from analytics.selectors import Picked, active_filters, dashboard_datasets, dashboard_pick
from datasets.models import Dataset, DatasetVersion, Kind

COMBO_KINDS = (Kind.VISITORS.value, Kind.COMBOS.value)
PER_PAGE = 50
LEADERBOARD_LIMIT = 10
DEEP_DIVE_WINDOW = 2
DEEP_DIVE_VALUES = 30  # bars per attribute chart (the combo's value always among them)

COMBOS_PAGE_KEYS = ("dataset", "version", "format", "sort", "page", "rank", *COMBO_KEYS)
# `match`/`match_version` ride along on links from the combos pages (the explorer does not use them).
# Allowlisted `sort` values: "-key" is descending. Ties always keep the rank order.
SORTS = {
    "rank": ("rank", False),
    "-rank": ("rank", True),
    "conversion": ("conversion", False),
    "-conversion": ("conversion", True),
    "purchasers": ("purchasers", False),
    "-purchasers": ("purchasers", True),
    "visitors": ("visitors", False),
    "-visitors": ("visitors", True),
}
DEFAULT_SORT = "rank"
# First click on a column header sorts this way (biggest first, except rank).
SORT_FIRST = {"rank": "rank", "conversion": "-conversion", "purchasers": "-purchasers", "visitors": "-visitors"}
DEFAULT_BACKGROUND_THRESHOLD = 50_000_000  # version rows x attribute subsets above which a worker computes

ERROR_BAD_SORT = "Invalid sort: {sort!r}. Use one of: {allowed}."
ERROR_BAD_NUMBER = "{key} must be a whole number ≥ 1, not {value!r}."
ERROR_RANK_RANGE = "Rank {rank} is out of range: {ranked} combos are ranked."
ERROR_BAD_FORMAT = "Invalid format: {format!r}."
ERROR_MATCH_NO_DATA = "The buyers dataset {name!r} has no loaded version to match against."
NOTE_MATCH = (
    "Converted = the visitor's key matches a buyer's key in {name!r} (version {number}); "
    "the filters apply to the visitors, every buyer is used."
)
NOTE_MATCH_PROPOSED = (
    "This visitors dataset has no converted flag, so visitors are matched to the buyers dataset {name!r}: "
    "a visitor converted when their key matches a buyer's key."
)
ERROR_NO_RANKED = "No combo meets the minimums: lower the minimum purchasers or conversion, or add attributes."
SMALL_SAMPLE_NOTE = (
    f"Small sample: fewer than {SMALL_SAMPLE_PURCHASERS} purchasers or {SMALL_SAMPLE_VISITORS} visitors; "
    "the interval is wide."
)


# --- request input ---------------------------------------------------------------------------------
def page_format(raw: str) -> str:
    fmt = raw or "html"
    if fmt not in ("html", "json"):
        raise QueryError(ERROR_BAD_FORMAT.format(format=str(fmt)[:40]))
    return fmt


def combos_sort(raw: str) -> str:
    sort = raw or DEFAULT_SORT
    if sort not in SORTS:
        raise QueryError(ERROR_BAD_SORT.format(sort=str(sort)[:40], allowed=", ".join(SORTS)))
    return sort


def whole_number(raw: str, *, key: str, default: int) -> int:
    if raw in ("", None):
        return default
    text = str(raw).strip()
    if not text.isdigit() or int(text) < 1:
        raise QueryError(ERROR_BAD_NUMBER.format(key=key, value=str(raw)[:40]))
    return int(text)


def page_filters(*, source: Source, data, page_keys: tuple[str, ...]) -> FilterSet:
    """The URL filter state (dashboard syntax), strict: any other key is a 400."""
    return FilterSet.from_querydict(source, data, ignore=page_keys)


def _id(raw: str) -> int:
    if not str(raw).isdigit():
        raise Http404
    return int(raw)


def pick(*, workspace, kinds: tuple[str, ...] | None, dataset_raw: str = "", version_raw: str = "") -> Picked | None:
    """The dataset (of one of `kinds`, or any kind) and version named by the URL, inside `workspace`;
    by default the newest dataset of the first kind that has one. None: no such dataset at all."""
    all_kinds = kinds or tuple(Kind.values)
    if dataset_raw:
        dataset = get_object_or_404(
            Dataset.objects.for_workspace(workspace).filter(kind__in=all_kinds), pk=_id(dataset_raw)
        )
        kind = dataset.kind
    else:
        if version_raw:
            raise Http404
        kind = next((k for k in all_kinds if dashboard_datasets(workspace=workspace, kind=k).exists()), None)
        if kind is None:
            return None
    picked = dashboard_pick(workspace=workspace, kind=kind, dataset_raw=dataset_raw, version_raw=version_raw)
    if picked is None:
        return None
    choices = [d for k in all_kinds for d in dashboard_datasets(workspace=workspace, kind=k)]
    if picked.dataset not in choices:
        choices.insert(0, picked.dataset)
    return dataclasses.replace(picked, datasets=choices)


# --- conversion by matching to a buyers dataset ------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class Match:
    """A buyers dataset version the visitors are matched to (`proposed`: chosen by default, the URL
    did not name it)."""

    dataset: Dataset
    version: DatasetVersion
    source: Source
    proposed: bool = False

    def pairs(self) -> list[tuple[str, str]]:
        """Query-string pairs for links (the version is pinned only when it is not the current one)."""
        pairs = [("match", str(self.dataset.pk))]
        if self.version.pk != self.dataset.current_version_id:
            pairs.append(("match_version", str(self.version.pk)))
        return pairs

    def job_pairs(self) -> list[tuple[str, str]]:
        """Pairs for a background job: always the exact version (the cache key names its files)."""
        return [("match", str(self.dataset.pk)), ("match_version", str(self.version.pk))]


def _buyers_datasets(workspace):
    return (
        Dataset.objects.for_workspace(workspace)
        .filter(kind=Kind.BUYERS, current_version__isnull=False)
        .select_related("current_version")
        .order_by("name", "id")
    )


def match_choices(*, workspace) -> list[dict]:
    """The workspace's buyers datasets that have a loaded version with a buyer key column."""
    out = []
    for dataset in _buyers_datasets(workspace):
        try:
            source = source_for_version(dataset.current_version)
        except (FileNotFoundError, QueryError):
            continue
        if source.by_field("buyer_key") is not None:
            out.append({"id": dataset.pk, "name": dataset.name})
    return out


def _match_version(*, workspace, dataset: Dataset, version_raw: str) -> DatasetVersion:
    versions = DatasetVersion.objects.for_workspace(workspace).filter(dataset=dataset)
    if version_raw:
        return get_object_or_404(versions, pk=_id(version_raw))
    if dataset.current_version_id is None:
        raise QueryError(ERROR_MATCH_NO_DATA.format(name=dataset.name))
    return get_object_or_404(versions, pk=dataset.current_version_id)


def _proposed_match(*, workspace, dataset: Dataset, source: Source) -> Match | None:
    """With no converted flag in a visitors dataset: the one buyers dataset its key can match."""
    if dataset.kind != Kind.VISITORS or source.by_field("converted") is not None:
        return None
    if source.by_field("visitor_key") is None:
        return None
    found = []
    for buyers in _buyers_datasets(workspace):
        try:
            buyers_source = source_for_version(buyers.current_version)
        except (FileNotFoundError, QueryError):
            continue
        if matchable(source, buyers_source):
            found.append(Match(buyers, buyers.current_version, buyers_source, proposed=True))
    return found[0] if len(found) == 1 else None


def combo_match(*, workspace, data, dataset: Dataset, source: Source) -> Match | None:
    """The buyers dataset version named by `?match=` (and `?match_version=`), inside `workspace`
    (another workspace's id → 404); without `match`, the proposed one (see `_proposed_match`)
    when the visitors have no converted flag and no conversion column is chosen; else None."""
    raw = data.get("match", "")
    version_raw = data.get("match_version", "")
    if not raw:
        if version_raw:
            raise Http404
        if data.get("converted") or [v for v in data.getlist("converted_value") if v]:
            return None
        return _proposed_match(workspace=workspace, dataset=dataset, source=source)
    buyers = get_object_or_404(Dataset.objects.for_workspace(workspace).filter(kind=Kind.BUYERS), pk=_id(raw))
    if data.get("converted") or [v for v in data.getlist("converted_value") if v]:
        raise InvalidComboSettings(MATCH_AND_COLUMN)
    version = _match_version(workspace=workspace, dataset=buyers, version_raw=version_raw)
    match = Match(buyers, version, source_for_version(version))
    match_keys(source, match.source)  # a clear 400 before anything is computed or queued
    return match


def _match_pairs(match: Match | None) -> list[tuple[str, str]]:
    return match.pairs() if match is not None else []


def conversion_data(*, source: Source, settings: ComboSettings, match: Match | None, result) -> dict:
    """How "converted" is decided: by matching to a buyers dataset (with the match rate once the
    result is there), by a flag/column, or by a combos file's purchaser counts."""
    if match is not None:
        summary = result.match if result is not None else None
        rate = summary["match_rate"] if summary else None
        note = (NOTE_MATCH_PROPOSED if match.proposed else NOTE_MATCH).format(
            name=match.dataset.name, number=match.version.number
        )
        if summary:
            note += (
                f" Match rate: {_pct(rate)} ({summary['matched']:,} of {summary['buyers']:,} buyers"
                f" are among the {summary['visitors']:,} visitors)."
            )
        return {
            "method": "match",
            "buyers_dataset": match.dataset.pk,
            "buyers_dataset_name": match.dataset.name,
            "buyers_version": match.version.pk,
            "proposed": match.proposed,
            "match_rate": rate,
            "matched": summary["matched"] if summary else None,
            "buyers": summary["buyers"] if summary else None,
            "visitors": summary["visitors"] if summary else None,
            "key_kind": summary["key_kind"] if summary else None,
            "note": note,
        }
    if source.by_field("visitors_count") is not None and source.by_field("purchasers_count") is not None:
        return {"method": "counts", "column": None, "values": [], "note": ""}
    column = settings.converted or (c.name if (c := source.by_field("converted")) is not None else None)
    return {
        "method": "flag",
        "column": column,
        "values": [str(v) for v in settings.converted_values],
        "note": "",
    }


def background_needed(*, picked: Picked, settings: ComboSettings) -> bool:
    """Large questions go to a worker: version rows x attribute subsets over the threshold."""
    threshold = getattr(django_settings, "COMBOS_BACKGROUND_THRESHOLD", DEFAULT_BACKGROUND_THRESHOLD)
    return picked.version.row_count * cube_size_hint(settings) > threshold


def combo_job_get(*, workspace, job_id: int) -> ComboJob:
    return get_object_or_404(ComboJob.objects.for_workspace(workspace).select_related("version"), pk=job_id)


def job_data(*, workspace, job: ComboJob) -> dict:
    return {
        "id": job.pk,
        "status": job.status,
        "done": job.status == ComboJobStatus.DONE,
        "failed": job.status == ComboJobStatus.FAILED,
        "progress": round(job.progress, 4),
        "percent": round(job.progress * 100),
        "step": job.step,
        "error": job.error,
        "url": reverse("analytics:combo_job", args=[workspace.slug, job.pk]),
    }


# --- shared bits ---------------------------------------------------------------------------------
def _pct(value) -> str:
    return "n/a" if value is None else f"{value * 100:.1f}%"


def _value_text(value) -> str:
    if isinstance(value, bool):
        return "Yes" if value else "No"
    return str(value)


def _json_value(value):
    """A value as JSON can carry it (dates as ISO text; numbers and text unchanged)."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)


def _query(pairs: list[tuple[str, str]]) -> str:
    return "?" + urlencode(pairs) if pairs else "?"


def _picked_dict(picked: Picked) -> dict:
    return {
        "dataset": {"id": picked.dataset.pk, "name": picked.dataset.name, "kind": picked.dataset.kind},
        "version": {"id": picked.version.pk, "number": picked.version.number, "rows": picked.version.row_count},
    }


def _dataset_pairs(picked: Picked) -> list[tuple[str, str]]:
    return [("dataset", str(picked.dataset.pk)), ("version", str(picked.version.pk))]


def _filters_dict(filters: FilterSet, page_pairs: list[tuple[str, str]]) -> dict:
    return {
        "pairs": filters.to_pairs(),
        "query": filters.to_query_string(),
        "active": active_filters(filters=filters, page_pairs=page_pairs),
        "reset": _query(page_pairs),
    }


def settings_form(
    *, source: Source, settings: ComboSettings | None, data, workspace=None, match: Match | None = None
) -> dict:
    """What the settings form shows: attribute checkboxes (chosen ones first, in their order),
    the size range and minimums, and the conversion choices (column, or a buyers dataset to match)."""
    chosen = list(settings.attributes) if settings else [a for a in data.getlist("attr") if source.has(a)]
    choices = chosen + [a for a in attribute_choices(source) if a not in chosen]
    converted = source.by_field("converted")
    return {
        "attributes": [{"name": a, "checked": a in chosen} for a in choices],
        "min_size": settings.min_size if settings else data.get("min_size", "2"),
        "max_size": settings.max_size if settings else data.get("max_size", "5"),
        "min_purchasers": settings.min_purchasers if settings else data.get("min_purchasers", "10"),
        "min_conversion": f"{settings.min_conversion * 100:g}" if settings else data.get("min_conversion", "4"),
        "converted": (settings.converted if settings else data.get("converted")) or "",
        "converted_default": converted.name if converted is not None else "",
        "converted_choices": [c.name for c in source.columns if c.type in (BOOLEAN, TEXT)],
        "converted_value": ", ".join(str(v) for v in settings.converted_values) if settings else "",
        "converted_values": [str(v) for v in settings.converted_values]
        if settings
        else data.getlist("converted_value"),
        "match_choices": match_choices(workspace=workspace) if workspace is not None else [],
        "match": str(match.dataset.pk) if match is not None else data.get("match", ""),
        "match_version": dict(match.pairs()).get("match_version", "") if match is not None else "",
        "has_visitor_key": source.by_field("visitor_key") is not None,
    }


def _settings_dict(settings: ComboSettings) -> dict:
    return {
        "attributes": list(settings.attributes),
        "min_size": settings.min_size,
        "max_size": settings.max_size,
        "min_purchasers": settings.min_purchasers,
        "min_conversion": settings.min_conversion,
        "converted": settings.converted,
        "converted_values": [str(v) for v in settings.converted_values],
    }


def _combo_row(combo) -> dict:
    row = combo.to_dict()
    row["items"] = [
        {"attribute": i["attribute"], "value": _json_value(i["value"]), "text": _value_text(i["value"])}
        for i in row["items"]
    ]
    row["label"] = " · ".join(f"{i['attribute']} = {_value_text(i['value'])}" for i in row["items"])
    row["display"] = {
        "conversion": _pct(combo.conversion),
        "interval": f"{_pct(combo.ci_low)} to {_pct(combo.ci_high)}",
        "visitors": f"{combo.visitors:,}",
        "purchasers": f"{combo.purchasers:,}",
    }
    return row


def _kpi_cards(result: ComboResult) -> list[dict]:
    kpis = result.kpis(TOP_COVERAGE)
    total, share = kpis["total_buyers"], kpis["top_share"]
    best, volume = kpis["highest_converting"], kpis["best_volume"]
    cards = [
        {
            "key": "total_buyers",
            "label": "Total buyers",
            "value": total["value"],
            "missing": total["missing"],
            "display": total["missing"] or f"{total['value']:,}",
            "note": "" if total["missing"] else "converted rows in the data shown",
        },
        {
            "key": "top_share",
            "label": f"Buyers in the top {TOP_COVERAGE} combos",
            "value": share["value"],
            "missing": share["missing"],
            "display": share["missing"] or _pct(share["value"]),
            "note": ""
            if share["missing"]
            else f"buyers matching any of the top {share.get('combos', 0)} combos (each counted once)",
        },
    ]
    for key, label, kpi, note in (
        ("highest_converting", "Highest-converting combo", best, "conversion"),
        ("best_volume", "Best-volume combo", volume, "purchasers"),
    ):
        combo = kpi["value"]
        if combo is None:
            cards.append({"key": key, "label": label, "value": None, "missing": kpi["missing"]})
            cards[-1].update(display=kpi["missing"], note="")
            continue
        shown = result.combo(combo["rank"])
        row = _combo_row(shown)
        display = row["display"]["conversion"] if note == "conversion" else f"{shown.purchasers:,} purchasers"
        cards.append(
            {
                "key": key,
                "label": label,
                "value": row,
                "missing": None,
                "display": display,
                "note": f"#{shown.rank}: {row['label']} ({shown.purchasers:,} of {shown.visitors:,} converted)",
            }
        )
    return cards


def _leaderboards(result: ComboResult) -> list[dict]:
    boards = []
    for name, rows in result.leaderboards().items():
        shown = rows[:LEADERBOARD_LIMIT]
        boards.append(
            {
                "attribute": name,
                "values": [
                    {
                        **r,
                        "value": _json_value(r["value"]),
                        "label": _value_text(r["value"]),
                        "display": {
                            "conversion": _pct(r["conversion"]),
                            "interval": f"{_pct(r['ci_low'])} to {_pct(r['ci_high'])}",
                        },
                    }
                    for r in shown
                ],
                "more": len(rows) - len(shown),
            }
        )
    return boards


def _sorted_ranks(result: ComboResult, sort: str) -> np.ndarray:
    """0-based rank indexes in the order of `sort` (stable: ties keep the rank order)."""
    key, descending = SORTS[sort]
    n = len(result)
    if key == "rank":
        order = np.arange(n)
        return order[::-1] if descending else order
    values = {
        "conversion": result.purchasers / np.maximum(result.visitors, 1),
        "purchasers": result.purchasers.astype(float),
        "visitors": result.visitors.astype(float),
    }[key]
    return np.argsort(-values if descending else values, kind="stable")


def _links(base_pairs: list[tuple[str, str]], sort: str) -> dict:
    links = {}
    for column, first in SORT_FIRST.items():
        current_key, descending = SORTS[sort]
        target = (column if descending else f"-{column}") if current_key == column else first
        links[column] = {
            "url": _query([*base_pairs, ("sort", target)]),
            "active": current_key == column,
            "descending": descending if current_key == column else None,
        }
    return links


def _ranked_common(
    *,
    workspace,
    picked: Picked,
    settings: ComboSettings,
    filters: FilterSet,
    result,
    job,
    source: Source | None,
    match: Match | None,
    extra_pairs: list[tuple[str, str]],
) -> tuple[list[tuple[str, str]], dict]:
    """(the page's dataset + settings + filter query pairs, the part of the page dict the combos
    table and the deep dive share). `extra_pairs` stay on links that remove a filter."""
    dataset_pairs = _dataset_pairs(picked)
    settings_pairs = combo_pairs(settings) + _match_pairs(match)
    data = {
        **_picked_dict(picked),
        "settings": _settings_dict(settings),
        "conversion": conversion_data(
            source=source if source is not None else source_for_version(picked.version),
            settings=settings,
            match=match,
            result=result,
        ),
        "filters": _filters_dict(filters, dataset_pairs + settings_pairs + extra_pairs),
        "job": job_data(workspace=workspace, job=job) if job is not None else None,
        "ready": result is not None,
    }
    return dataset_pairs + settings_pairs + filters.to_pairs(), data


def combos_page_data(
    *,
    workspace,
    picked: Picked,
    settings: ComboSettings,
    filters: FilterSet,
    result: ComboResult | None,
    job: ComboJob | None,
    sort: str,
    page: int,
    source: Source | None = None,
    match: Match | None = None,
) -> dict:
    """Everything the combos page shows (`result` None: a worker is computing it, see `job`)."""
    base_pairs, data = _ranked_common(
        workspace=workspace,
        picked=picked,
        settings=settings,
        filters=filters,
        result=result,
        job=job,
        source=source,
        match=match,
        extra_pairs=[],
    )
    data.update(
        {
            "sort": sort,
            "deep_dive_url": reverse("analytics:combo_deep_dive", args=[workspace.slug]) + _query(base_pairs),
            "export_query": urlencode(base_pairs),
            "explorer_url": reverse("analytics:explorer", args=[workspace.slug])
            + _query(_dataset_pairs(picked) + _match_pairs(match) + filters.to_pairs()),
        }
    )
    if result is None:
        return data
    ranked = len(result)
    pages = max(1, math.ceil(ranked / PER_PAGE))
    page = min(page, pages)
    order = _sorted_ranks(result, sort)[(page - 1) * PER_PAGE : page * PER_PAGE]
    sort_pairs = [] if sort == DEFAULT_SORT else [("sort", sort)]
    concentration = result.concentration(TOP_COVERAGE)
    data.update(
        {
            "ranked": ranked,
            "total_visitors": result.total_visitors,
            "total_purchasers": result.total_purchasers,
            "inconsistent_rows": result.inconsistent_rows,
            "kpis": _kpi_cards(result),
            "combos": [_combo_row(result.combo(int(i) + 1)) for i in order],
            "empty": "" if ranked else ERROR_NO_RANKED,
            "small_sample_note": SMALL_SAMPLE_NOTE,
            "paging": {
                "page": page,
                "pages": pages,
                "per_page": PER_PAGE,
                "previous": _query(base_pairs + sort_pairs + [("page", str(page - 1))]) if page > 1 else "",
                "next": _query(base_pairs + sort_pairs + [("page", str(page + 1))]) if page < pages else "",
            },
            "sort_links": _links(base_pairs, sort),
            "leaderboards": _leaderboards(result),
            "concentration": concentration,
            "figures": {"concentration": charts.concentration_figure(concentration)} if concentration else {},
        }
    )
    return data


# --- deep dive -----------------------------------------------------------------------------------
def _attribute_chart(attribute: dict) -> dict:
    values = sorted(attribute["values"], key=lambda r: -r["visitors"])
    shown = values[:DEEP_DIVE_VALUES]
    if not any(r["selected"] for r in shown):
        shown += [r for r in values if r["selected"]]
    return charts.highlight_bar_figure(
        [r["value"] for r in shown],
        [r["visitors"] for r in shown],
        [r["share"] for r in shown],
        [r["selected"] for r in shown],
    )


def deep_dive_data(
    *,
    workspace,
    picked: Picked,
    settings: ComboSettings,
    filters: FilterSet,
    result: ComboResult | None,
    job: ComboJob | None,
    rank: int,
    source: Source | None = None,
    match: Match | None = None,
) -> dict:
    """One combo: its neighbours (rank ± 2), conversion percentile, and each attribute's distribution."""
    base_pairs, data = _ranked_common(
        workspace=workspace,
        picked=picked,
        settings=settings,
        filters=filters,
        result=result,
        job=job,
        source=source,
        match=match,
        extra_pairs=[("rank", str(rank))],
    )
    data.update(
        {
            "rank": rank,
            "combos_url": reverse("analytics:combos", args=[workspace.slug]) + _query(base_pairs),
            "base_query": urlencode(base_pairs),
            "base_pairs": base_pairs,
        }
    )
    if result is None:
        return data
    ranked = len(result)
    data["ranked"] = ranked
    if ranked == 0:
        data["empty"] = ERROR_NO_RANKED
        return data
    if rank > ranked:
        raise QueryError(ERROR_RANK_RANGE.format(rank=rank, ranked=ranked))
    dive = result.deep_dive(rank, window=DEEP_DIVE_WINDOW)
    attributes = []
    for attribute in dive["attributes"]:
        values = [
            {
                **r,
                "value": _json_value(r["value"]),
                "label": _value_text(r["value"]),
                "display": {"conversion": _pct(r["conversion"]), "share": _pct(r["share"])},
            }
            for r in attribute["values"]
        ]
        attributes.append(
            {
                "attribute": attribute["attribute"],
                "value": _json_value(attribute["value"]),
                "label": _value_text(attribute["value"]),
                "values": values,
            }
        )
    figures = {f"attr-{i}": _attribute_chart(a) for i, a in enumerate(dive["attributes"]) if a["values"]}
    combo = _combo_row(result.combo(rank))
    data.update(
        {
            "combo": combo,
            "neighbours": [
                {**_combo_row(result.combo(n["rank"])), "current": n["rank"] == rank} for n in dive["neighbours"]
            ],
            "percentile": dive["percentile"],
            "percentile_display": f"{dive['percentile']:.1f}%",
            "attributes": attributes,
            "previous": _query([*base_pairs, ("rank", str(rank - 1))]) if rank > 1 else "",
            "next": _query([*base_pairs, ("rank", str(rank + 1))]) if rank < ranked else "",
            "small_sample_note": SMALL_SAMPLE_NOTE,
            "figures": figures,
        }
    )
    return data
