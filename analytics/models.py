"""Background top-combos jobs (the result itself lives in the analytics cache, not here).

A `ComboJob` is named by the engine's cache key for (workspace, version files, settings, filters),
so every page asking the same question shares one job. Status changes by compare-and-set in
analytics/combos_services.py.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q

from workspaces.models import WorkspaceOwned


class ComboJobStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"


class ComboJob(WorkspaceOwned):
    version = models.ForeignKey("datasets.DatasetVersion", on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=200, help_text="The analytics cache key of the result.")
    settings_query = models.TextField(help_text="The combo settings as a query string (analytics.combo_params).")
    filters_query = models.TextField(blank=True, help_text="The filter state as a query string.")
    status = models.CharField(max_length=10, choices=ComboJobStatus.choices, default=ComboJobStatus.QUEUED)
    progress = models.FloatField(default=0.0, help_text="0..1")
    step = models.CharField(max_length=60, blank=True)
    error = models.TextField(blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["workspace", "version", "key"], name="combojob_unique_question"),
            models.CheckConstraint(condition=Q(status__in=ComboJobStatus.values), name="combojob_status_valid"),
        ]

    def __str__(self) -> str:
        return f"Top combos job {self.pk} ({self.status})"

    @property
    def is_finished(self) -> bool:
        return self.status in (ComboJobStatus.DONE, ComboJobStatus.FAILED)
