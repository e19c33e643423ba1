"""Writes for segments and saved filter sets. Every write is audited (audit_record)."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.http import QueryDict

from analytics.engine import QueryError
from audit.services import audit_record
from datasets.models import Dataset
from segments import selectors
from segments.models import SavedFilterSet, Segment, SegmentRevision
from workspaces.models import Workspace

ERROR_NAME_TAKEN = "A segment with this name already exists in this workspace."
ERROR_FILTER_SET_NAME_TAKEN = "You already have saved filters with this name on this dashboard."
ERROR_WRONG_WORKSPACE = "The dataset does not belong to this workspace."
ERROR_DATASET_KIND = "Segments can be built on buyers or visitors datasets only."
ERROR_BAD_FILTERS = "These filters do not fit the dataset: {reason}"
ERROR_BAD_KIND = "Unknown dashboard: {kind!r}."


def _canonical_query(*, dataset: Dataset, query: str) -> str:
    """The filter query string parsed against the dataset's current version and written back canonically."""
    try:
        evaluated = selectors.evaluate(dataset=dataset, data=QueryDict(query or ""))
    except QueryError as error:
        raise ValidationError(ERROR_BAD_FILTERS.format(reason=str(error)), code="filters") from None
    return evaluated.filters.to_query_string()


def _same_filters(*, dataset: Dataset, old: str, new: str) -> bool:
    """Whether two query strings select the same rows (same filters in another order or spelling)."""
    if old == new:
        return True
    try:
        a = selectors.evaluate(dataset=dataset, data=QueryDict(old))
        b = selectors.evaluate(dataset=dataset, data=QueryDict(new))
    except QueryError:  # the old one went stale: the new one is a change
        return False
    return a.filters.canonical(a.source) == b.filters.canonical(b.source)


def _revision(segment: Segment, user) -> SegmentRevision:
    return SegmentRevision.objects.create(
        workspace=segment.workspace,
        segment=segment,
        number=segment.revision,
        name=segment.name,
        description=segment.description,
        query=segment.query,
        edited_by=user,
    )


def _name_taken(workspace: Workspace, name: str, exclude_pk: int | None = None) -> bool:
    others = Segment.objects.for_workspace(workspace).filter(name=name)
    if exclude_pk is not None:
        others = others.exclude(pk=exclude_pk)
    return others.exists()


@transaction.atomic
def segment_create(
    *, workspace: Workspace, dataset: Dataset, user, name: str, description: str = "", query: str = ""
) -> Segment:
    """Save a segment (revision 1). Raises ValidationError for a foreign dataset, a taken name or
    filters that do not parse against the dataset's current version."""
    if dataset.workspace_id != workspace.pk:
        raise ValidationError(ERROR_WRONG_WORKSPACE, code="workspace")
    if dataset.kind not in selectors.KINDS:
        raise ValidationError(ERROR_DATASET_KIND, code="kind")
    name = name.strip()
    if _name_taken(workspace, name):
        raise ValidationError({"name": ERROR_NAME_TAKEN})
    segment = Segment(
        workspace=workspace,
        dataset=dataset,
        name=name,
        description=description.strip(),
        query=_canonical_query(dataset=dataset, query=query),
        created_by=user,
        updated_by=user,
        revision=1,
    )
    segment.full_clean()
    segment.save()
    _revision(segment, user)
    audit_record(
        action="segment.saved",
        actor=user,
        workspace=workspace,
        target=segment,
        details={"name": segment.name, "dataset_id": dataset.pk, "query": segment.query},
    )
    return segment


@transaction.atomic
def segment_update(*, segment: Segment, user, name: str, description: str = "", query: str = "") -> Segment:
    """Change the definition; a real change bumps `revision` and keeps the new definition as a
    SegmentRevision. Saving the same definition again changes nothing."""
    locked = Segment.objects.select_for_update().select_related("dataset").get(pk=segment.pk)
    name = name.strip()
    if _name_taken(locked.workspace, name, exclude_pk=locked.pk):
        raise ValidationError({"name": ERROR_NAME_TAKEN})
    new = {
        "name": name,
        "description": description.strip(),
        "query": _canonical_query(dataset=locked.dataset, query=query),
    }
    old = {key: getattr(locked, key) for key in new}
    if _same_filters(dataset=locked.dataset, old=old["query"], new=new["query"]):
        new["query"] = old["query"]
    if new == old:
        return locked
    for key, value in new.items():
        setattr(locked, key, value)
    locked.revision += 1
    locked.updated_by = user
    locked.full_clean()
    locked.save()
    _revision(locked, user)
    changed = sorted(key for key in new if new[key] != old[key])
    audit_record(
        action="segment.changed",
        actor=user,
        workspace=locked.workspace,
        target=locked,
        details={"name": locked.name, "revision": locked.revision, "changed": changed, "before": old},
    )
    return locked


@transaction.atomic
def segment_delete(*, segment: Segment, user) -> None:
    workspace, pk = segment.workspace, segment.pk
    details = {"name": segment.name, "dataset_id": segment.dataset_id, "query": segment.query}
    segment.delete()
    audit_record(
        action="segment.deleted",
        actor=user,
        workspace=workspace,
        target_type="segments.segment",
        target_id=pk,
        details=details,
    )


@transaction.atomic
def filter_set_save(*, workspace: Workspace, user, kind: str, name: str, query: str) -> SavedFilterSet:
    """Save the user's current dashboard filters under a name (only the filter pairs are kept)."""
    if kind not in selectors.KINDS:
        raise ValidationError(ERROR_BAD_KIND.format(kind=kind), code="kind")
    name = name.strip()
    if SavedFilterSet.objects.for_workspace(workspace).filter(user=user, kind=kind, name=name).exists():
        raise ValidationError({"name": ERROR_FILTER_SET_NAME_TAKEN})
    filter_set = SavedFilterSet(
        workspace=workspace, user=user, kind=kind, name=name, query=selectors.filter_query_clean(query)
    )
    filter_set.full_clean()
    try:
        with transaction.atomic():
            filter_set.save()
    except IntegrityError:  # a concurrent save of the same name
        raise ValidationError({"name": ERROR_FILTER_SET_NAME_TAKEN}) from None
    audit_record(
        action="filter_set.saved",
        actor=user,
        workspace=workspace,
        target=filter_set,
        details={"name": filter_set.name, "kind": kind, "query": filter_set.query},
    )
    return filter_set


@transaction.atomic
def filter_set_delete(*, filter_set: SavedFilterSet, user) -> None:
    workspace, pk = filter_set.workspace, filter_set.pk
    details = {"name": filter_set.name, "kind": filter_set.kind}
    filter_set.delete()
    audit_record(
        action="filter_set.deleted",
        actor=user,
        workspace=workspace,
        target_type="segments.savedfilterset",
        target_id=pk,
        details=details,
    )
