"""Saved segments (a named filter over a dataset), their revisions, and personal filter sets.

A segment stores the canonical filter query string (`FilterSet.to_query_string()`), never rows or
numbers: it is evaluated against its dataset's *current* version every time it is shown.
"""

from django.conf import settings
from django.db import models
from django.urls import reverse

from workspaces.models import WorkspaceOwned, WorkspaceQuerySet

NAME_MAX_LENGTH = 120


class Segment(WorkspaceOwned):
    dataset = models.ForeignKey("datasets.Dataset", on_delete=models.CASCADE, related_name="segments")
    name = models.CharField(max_length=NAME_MAX_LENGTH)
    description = models.TextField(blank=True)
    query = models.TextField(blank=True, help_text="Canonical filter query string (in.state=CA&min.age=30...).")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    updated_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    revision = models.PositiveIntegerField(default=1)

    objects = WorkspaceQuerySet.as_manager()

    class Meta:
        ordering = ["name", "id"]
        constraints = [models.UniqueConstraint(fields=["workspace", "name"], name="segment_unique_name")]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("segments:detail", args=[self.workspace.slug, self.pk])


class SegmentRevision(WorkspaceOwned):
    """The definition as it was after each save (number 1 = as created)."""

    segment = models.ForeignKey(Segment, on_delete=models.CASCADE, related_name="revisions")
    number = models.PositiveIntegerField()
    name = models.CharField(max_length=NAME_MAX_LENGTH)
    description = models.TextField(blank=True)
    query = models.TextField(blank=True)
    edited_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")

    objects = WorkspaceQuerySet.as_manager()

    class Meta:
        ordering = ["segment", "-number"]
        constraints = [models.UniqueConstraint(fields=["segment", "number"], name="segment_revision_unique_number")]

    def __str__(self) -> str:
        return f"{self.name} r{self.number}"


class FilterSetKind(models.TextChoices):
    BUYERS = "buyers", "Buyers"
    VISITORS = "visitors", "Visitors"


class SavedFilterSet(WorkspaceOwned):
    """A user's own named dashboard filter state; nobody else ever sees it."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=10, choices=FilterSetKind.choices)
    name = models.CharField(max_length=NAME_MAX_LENGTH)
    query = models.TextField(blank=True)

    objects = WorkspaceQuerySet.as_manager()

    class Meta:
        ordering = ["name", "id"]
        constraints = [
            models.UniqueConstraint(fields=["workspace", "user", "kind", "name"], name="filter_set_unique_name")
        ]

    def __str__(self) -> str:
        return self.name
