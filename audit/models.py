from django.conf import settings
from django.db import models

APPEND_ONLY_MESSAGE = "Audit events are append-only."
WRITE_THROUGH_SERVICE_MESSAGE = "Audit events are written one at a time through audit.services.audit_record."


class AppendOnlyError(Exception):
    """Raised when code tries to change or delete an audit event."""


class AuditEventQuerySet(models.QuerySet):
    def for_workspace(self, workspace) -> "AuditEventQuerySet":
        return self.filter(workspace=workspace)

    def update(self, **kwargs):
        raise AppendOnlyError(APPEND_ONLY_MESSAGE)

    def delete(self):
        raise AppendOnlyError(APPEND_ONLY_MESSAGE)

    def _raw_delete(self, using):
        raise AppendOnlyError(APPEND_ONLY_MESSAGE)

    def bulk_create(self, *args, **kwargs):
        # A bulk insert skips the chain lock and the hash: the verifier would flag every row.
        raise AppendOnlyError(WRITE_THROUGH_SERVICE_MESSAGE)

    def bulk_update(self, *args, **kwargs):
        raise AppendOnlyError(APPEND_ONLY_MESSAGE)


class AuditEvent(models.Model):
    """One thing that happened. Append-only and hash-chained per workspace (account events: no workspace).

    `hash = sha256(prev_hash || canonical_json(fields))`, chained in id order; `audit_verify`
    recomputes every chain. Foreign keys carry no database constraint so a deleted workspace
    or user keeps its history. Written only by `audit.services.audit_record`.
    """

    workspace = models.ForeignKey(
        "workspaces.Workspace",
        null=True,
        blank=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="+",
    )
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="+",
    )
    actor_email = models.CharField(max_length=254, blank=True)
    action = models.CharField(max_length=64, db_index=True)
    target_type = models.CharField(max_length=64, blank=True)
    target_id = models.CharField(max_length=64, blank=True)
    details = models.JSONField(default=dict, blank=True)
    ip = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=512, blank=True)
    created_at = models.DateTimeField("time (UTC)", db_index=True)
    prev_hash = models.CharField(max_length=64, blank=True)
    hash = models.CharField(max_length=64, unique=True)

    objects = AuditEventQuerySet.as_manager()

    class Meta:
        # The chain order is the id order; clocks of different hosts may disagree, ids don't.
        ordering = ["-id"]
        indexes = [models.Index(fields=["workspace", "id"], name="audit_ws_id")]
        verbose_name = "audit event"
        verbose_name_plural = "audit log"

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M:%S} {self.action} by {self.actor_email or 'anonymous'}"

    def save(self, *args, **kwargs):
        if self.pk is not None or not self._state.adding:
            raise AppendOnlyError(APPEND_ONLY_MESSAGE)
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise AppendOnlyError(APPEND_ONLY_MESSAGE)
