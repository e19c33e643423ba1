"""Uploads, datasets and their versions. Rows live in Parquet files, one set per version.

An `Upload` is one file on its way in (chunks → stored file → sniffed → mapped → loaded). Loading
publishes a `DatasetVersion`; the `Dataset` points at its current version, switched in one
transaction so readers never see half a version.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.urls import reverse

from workspaces.models import WorkspaceOwned


class Kind(models.TextChoices):
    VISITORS = "visitors", "Visitors"
    BUYERS = "buyers", "Buyers"
    COMBOS = "combos", "Combos (pre-aggregated)"
    LEADS = "leads", "Leads"
    CHAT_SESSIONS = "chat_sessions", "Chat sessions"
    CUSTOM = "custom", "Custom"


class UploadStatus(models.TextChoices):
    RECEIVING = "receiving", "Receiving"  # chunks still arriving from the browser
    PENDING = "pending", "Waiting for a worker"  # stored; not yet handed to the broker (or the broker was down)
    QUEUED = "queued", "Queued"
    SNIFFING = "sniffing", "Detecting format"
    NEEDS_MAPPING = "needs_mapping", "Needs column review"
    LOADING = "loading", "Loading"
    READY = "ready", "Ready"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"


ACTIVE_STATUSES = (
    UploadStatus.RECEIVING,
    UploadStatus.PENDING,
    UploadStatus.QUEUED,
    UploadStatus.SNIFFING,
    UploadStatus.NEEDS_MAPPING,
    UploadStatus.LOADING,
)
TERMINAL_STATUSES = (UploadStatus.READY, UploadStatus.FAILED, UploadStatus.CANCELLED)
# A worker owns an upload in these states; its lease must be alive.
CLAIMED_STATUSES = (UploadStatus.SNIFFING, UploadStatus.LOADING)


class UploadMode(models.TextChoices):
    NEW = "new", "New dataset"
    REPLACE = "replace", "Replace the current version"
    APPEND = "append", "Append to the current version"


class Upload(WorkspaceOwned):
    """One file on its way into a dataset. Status changes only by compare-and-set (services)."""

    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    original_name = models.CharField(max_length=255, help_text="Display name only; never used as a path.")
    storage_key = models.CharField(max_length=255, blank=True, help_text="Server-generated key in default storage.")
    size_bytes = models.BigIntegerField(help_text="Declared total size.")
    received_bytes = models.BigIntegerField(default=0)
    # SHA-256 advanced while chunks arrive (datasets.hashing): the saved state covers the first
    # `hashed_bytes` bytes. NULL (or hashed_bytes behind received_bytes): finish hashes the file.
    sha256_state = models.BinaryField(null=True, blank=True, editable=False)
    hashed_bytes = models.BigIntegerField(default=0)
    # NULL, not "": the partial unique constraint below must ignore uploads not yet hashed.
    sha256 = models.CharField(max_length=64, null=True, blank=True)  # noqa: DJ001
    client_fingerprint = models.CharField(max_length=200, blank=True, help_text="Lets a reloaded page resume.")

    kind = models.CharField(max_length=20, choices=Kind.choices, blank=True, help_text="Blank: detect.")
    mode = models.CharField(max_length=10, choices=UploadMode.choices, default=UploadMode.NEW)
    dataset = models.ForeignKey(
        "datasets.Dataset", null=True, blank=True, on_delete=models.SET_NULL, related_name="uploads"
    )
    dataset_name = models.CharField(max_length=200, blank=True)
    options = models.JSONField(default=dict, blank=True, help_text="User overrides: encoding, delimiter, ...")
    sniff = models.JSONField(default=dict, blank=True, help_text="What detection found, for the review page.")
    mapping = models.JSONField(default=dict, blank=True, help_text="Confirmed column mapping.")
    mapping_confirmed = models.BooleanField(default=False)

    status = models.CharField(max_length=20, choices=UploadStatus.choices, default=UploadStatus.RECEIVING)
    attempts = models.PositiveSmallIntegerField(default=0)
    lease_owner = models.CharField(max_length=100, blank=True)
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    claim_version = models.PositiveIntegerField(default=0)

    step = models.CharField(max_length=40, blank=True)
    bytes_processed = models.BigIntegerField(default=0)
    rows_processed = models.BigIntegerField(default=0)
    progress_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    enqueued_at = models.DateTimeField(null=True, blank=True)

    error_code = models.CharField(max_length=60, blank=True)
    error_message = models.TextField(blank=True)
    receipt = models.JSONField(default=dict, blank=True)
    version = models.ForeignKey(
        "datasets.DatasetVersion", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            # Dedup is per workspace and enforced by the database, not by check-then-insert.
            models.UniqueConstraint(
                fields=["workspace", "sha256"],
                condition=Q(sha256__isnull=False) & ~Q(status__in=["failed", "cancelled"]),
                name="upload_unique_content_per_workspace",
            ),
            models.CheckConstraint(condition=Q(status__in=UploadStatus.values), name="upload_status_valid"),
        ]
        indexes = [models.Index(fields=["status", "lease_expires_at"], name="upload_status_lease")]

    def __str__(self) -> str:
        return self.original_name

    def get_absolute_url(self) -> str:
        return reverse("datasets:upload_detail", args=[self.workspace.slug, self.pk])

    @property
    def is_terminal(self) -> bool:
        return self.status in TERMINAL_STATUSES


class Dataset(WorkspaceOwned):
    name = models.CharField(max_length=200)
    kind = models.CharField(max_length=20, choices=Kind.choices, default=Kind.CUSTOM)
    description = models.TextField(blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    current_version = models.ForeignKey(
        "datasets.DatasetVersion", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["name", "id"]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("datasets:detail", args=[self.workspace.slug, self.pk])


class DatasetVersion(WorkspaceOwned):
    """One published load. Its Parquet files are immutable; restoring a version just points at it."""

    dataset = models.ForeignKey(Dataset, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField()
    upload = models.ForeignKey(Upload, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    parquet_key = models.CharField(max_length=255)
    rejected_key = models.CharField(max_length=255, blank=True)
    row_count = models.BigIntegerField()
    column_count = models.PositiveIntegerField()
    columns = models.JSONField(default=list, help_text="[{name, type, field, null_rate, ...}] of the Parquet file.")
    mapping = models.JSONField(default=dict, blank=True)
    receipt = models.JSONField(default=dict, blank=True)
    size_bytes = models.BigIntegerField(default=0)

    class Meta:
        ordering = ["dataset", "-number"]
        constraints = [models.UniqueConstraint(fields=["dataset", "number"], name="version_unique_number")]

    def __str__(self) -> str:
        return f"{self.dataset} v{self.number}"


class ColumnMapping(WorkspaceOwned):
    """The last confirmed mapping for a kind in a workspace; proposed first next time."""

    kind = models.CharField(max_length=20, choices=Kind.choices)
    mapping = models.JSONField(default=dict, help_text="normalised header -> {field, type}")
    updated_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["workspace", "kind"], name="mapping_unique_per_kind")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} mapping"
