"""ExportJob: an export too large to stream, built by a worker into a file in default storage.

The file lives under a key the server makes up (`exports/<workspace_id>/<uuid>.<ext>`); the
download name is built from the dataset/segment name by `exports.naming` (never client text as
a path). A job names what to export by its query string (`params["query"]`), re-parsed inside
the job's workspace when it runs (SECURITY.md T-IDOR-07).
"""

from django.conf import settings
from django.db import models
from django.db.models import Q

from workspaces.models import WorkspaceOwned


class What(models.TextChoices):
    ROWS = "rows", "Filtered rows"
    REPORT = "report", "KPI report"
    COMBOS = "combos", "Top combos"


class FileFormat(models.TextChoices):
    CSV = "csv", "CSV"
    XLSX = "xlsx", "Excel"
    JSON = "json", "JSON"


class ExportStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    DONE = "done", "Ready"
    FAILED = "failed", "Failed"
    EXPIRED = "expired", "Expired"


class ExportJob(WorkspaceOwned):
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    what = models.CharField(max_length=10, choices=What.choices)
    kind = models.CharField(max_length=20, blank=True, help_text="Dashboard kind of a report export.")
    params = models.JSONField(default=dict, blank=True, help_text='{"query": the page\'s query string}')
    file_format = models.CharField(max_length=5, choices=FileFormat.choices)
    name = models.CharField(max_length=200, blank=True, help_text="Display label (dataset or segment name).")
    filename = models.CharField(max_length=120, help_text="Server-built download name (ASCII, no path).")
    status = models.CharField(max_length=10, choices=ExportStatus.choices, default=ExportStatus.QUEUED)
    row_cap = models.PositiveIntegerField(null=True, blank=True, help_text="Viewer row cap applied, if any.")
    truncated = models.BooleanField(default=False)
    total_rows = models.BigIntegerField(null=True, blank=True, help_text="Rows expected (after any cap).")
    rows_written = models.BigIntegerField(default=0)
    progress = models.PositiveSmallIntegerField(default=0, help_text="Percent done.")
    error = models.TextField(blank=True)
    storage_key = models.CharField(max_length=255, blank=True, help_text="Server-generated key in default storage.")
    size_bytes = models.BigIntegerField(default=0)
    enqueued_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=Q(status__in=ExportStatus.values), name="exportjob_status_valid"),
            models.CheckConstraint(condition=Q(what__in=What.values), name="exportjob_what_valid"),
            models.CheckConstraint(condition=Q(file_format__in=FileFormat.values), name="exportjob_format_valid"),
        ]
        indexes = [models.Index(fields=["status", "expires_at"], name="exportjob_status_expiry")]

    def __str__(self) -> str:
        return self.filename

    @property
    def is_finished(self) -> bool:
        return self.status in (ExportStatus.DONE, ExportStatus.FAILED, ExportStatus.EXPIRED)
