"""Per-version precomputation: a dashboard's default (unfiltered) state computed right after publish.

A published version is immutable and every engine cache key holds its file's fingerprint (path,
mtime, size, schema), so a result computed once for a version is valid for the version's whole
life. After a version is published (see `connect`), a Celery task runs `precompute_version`: it
computes what the dashboard of that version shows with no filter and the default grain (the
KPIs, every chart and the filter panel's counts) through the same selectors the page uses, and
keeps those cache entries for 30 days (`keep_long`). The first page view then reads them
instead of scanning the file. Any other filter, grain or version is computed on demand as before.

A buyers page's KPIs also depend on the workspace's current visitors version (the conversion rate
matches buyers to visitors), so publishing a visitors version precomputes the current buyers
version again (only that KPI entry is new; the charts are hits).

Nothing here changes a number: it only decides *when* the page's own queries run.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.db import transaction

from analytics import selectors
from analytics.engine.cache import keep_long
from analytics.engine.filters import FilterSet

logger = logging.getLogger(__name__)


def precompute_dashboard(*, workspace, kind: str, picked: selectors.Picked, source, visitors=None) -> dict:
    """The page's default state (no filter, default grain) computed into the result cache without
    expiry: exactly the calls the view makes, so the view's first request finds every entry."""
    filters = FilterSet()
    with keep_long():
        data = selectors.dashboard_data(
            workspace=workspace,
            kind=kind,
            picked=picked,
            source=source,
            filters=filters,
            grain=selectors.DEFAULT_GRAIN,
            visitors=visitors,
        )
        selectors.filter_panel(source=source, filters=filters, workspace_id=workspace.pk)
    return data


def _precompute_picked(*, workspace, kind: str, picked: selectors.Picked) -> None:
    visitors = None
    if kind == selectors.BUYERS:  # as the view: the workspace's newest visitors dataset, if any
        visitors = selectors.dashboard_pick(workspace=workspace, kind=selectors.VISITORS)
    source = selectors.dashboard_source(picked=picked)
    precompute_dashboard(workspace=workspace, kind=kind, picked=picked, source=source, visitors=visitors)


def precompute_version(version) -> list[str]:
    """Compute the default dashboard of `version` (a buyers or visitors version) into the result
    cache, without expiry; a visitors version also refreshes the current buyers dashboard's KPIs.
    Returns the kinds of dashboards computed (empty for other kinds of data)."""
    from datasets.models import DatasetVersion

    version = DatasetVersion.objects.select_related("dataset", "dataset__workspace").get(pk=version.pk)
    dataset = version.dataset
    workspace = dataset.workspace
    done = []
    if dataset.kind in selectors.KINDS:
        picked = selectors.Picked(dataset=dataset, version=version, datasets=[dataset], versions=[version])
        _precompute_picked(workspace=workspace, kind=dataset.kind, picked=picked)
        done.append(dataset.kind)
    if dataset.kind == selectors.VISITORS:
        buyers = selectors.dashboard_pick(workspace=workspace, kind=selectors.BUYERS)
        if buyers is not None:
            _precompute_picked(workspace=workspace, kind=selectors.BUYERS, picked=buyers)
            done.append(selectors.BUYERS)
    return done


def precompute_version_safe(version_id: int, *, workspace_id: int | None = None) -> list[str]:
    """`precompute_version` for the worker: a failure is logged, never raised (the version is
    published either way; its dashboards are then just computed on the first view)."""
    from datasets.models import DatasetVersion

    versions = DatasetVersion.objects.all()
    if workspace_id is not None:
        versions = versions.filter(workspace_id=workspace_id)
    version = versions.filter(pk=version_id).first()
    if version is None:
        return []
    try:
        return precompute_version(version)
    except Exception:  # a precomputation must never break publishing
        logger.exception("dashboard precomputation failed for version %s", version_id)
        return []


def on_version_saved(sender, instance, created: bool, **kwargs) -> None:
    """`post_save` receiver for DatasetVersion: once the publishing transaction commits, a worker
    precomputes the version's dashboards (never the web request or the ingest task itself)."""
    if not created or kwargs.get("raw") or not settings.ANALYTICS_PRECOMPUTE:
        return
    from analytics.tasks import precompute_version_task

    version_id, workspace_id = instance.pk, instance.workspace_id
    transaction.on_commit(
        lambda: precompute_version_task.delay(workspace_id=workspace_id, version_id=version_id), robust=True
    )


def connect() -> None:
    """Hook the precomputation to publishing (call once, from AnalyticsConfig.ready()). Django's
    own post_save signal is used: the datasets app does not import analytics."""
    from django.db.models.signals import post_save

    from datasets.models import DatasetVersion

    post_save.connect(on_version_saved, sender=DatasetVersion, dispatch_uid="analytics.precompute")
