"""The audit log in the two admins: the platform admin (every event) and the owner admin
(only the events of the workspaces the user owns). Both are read-only and export CSV."""

import csv
from collections.abc import Iterable, Iterator
from datetime import UTC

from django.contrib import admin
from django.contrib.admin.filters import AllValuesFieldListFilter, DateFieldListFilter
from django.contrib.admin.options import IncorrectLookupParameters
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponseRedirect, StreamingHttpResponse
from django.urls import path, reverse
from django.utils import timezone

from audit.display import csv_cell, details_text, visible_text
from audit.models import AuditEvent
from audit.selectors import audit_event_list_for_owner, owned_workspaces, user_owns_workspace
from audit.services import audit_record
from workspaces.admin import owner_admin_site

CSV_COLUMNS = [
    "id",
    "time_utc",
    "workspace_id",
    "workspace",
    "actor_email",
    "action",
    "target_type",
    "target_id",
    "ip",
    "user_agent",
    "details",
    "prev_hash",
    "hash",
]
EXPORT_URL_NAME = "audit_auditevent_export_csv"
_EXPORT_CHUNK = 2000
_MAX_RECORDED_QUERY = 500


class _Echo:
    """csv.writer writes into this; each row comes straight back to the streaming response."""

    def write(self, value: str) -> str:
        return value


def _workspace_label(event: AuditEvent) -> str:
    if event.workspace_id is None:
        return ""
    workspace = event.workspace  # select_related: None when the workspace was deleted
    return workspace.slug if workspace is not None else f"#{event.workspace_id} (deleted)"


def _csv_rows(events: Iterable[AuditEvent]) -> Iterator[str]:
    writer = csv.writer(_Echo())
    yield writer.writerow(CSV_COLUMNS)
    for event in events:
        row = [
            event.id,
            event.created_at.astimezone(UTC).isoformat(),
            event.workspace_id or "",
            _workspace_label(event),
            event.actor_email,
            event.action,
            event.target_type,
            event.target_id,
            event.ip or "",
            event.user_agent,
            details_text(event.details),
            event.prev_hash,
            event.hash,
        ]
        yield writer.writerow([csv_cell(value) for value in row])


class UserFilter(AllValuesFieldListFilter):
    """Filter by the actor's email; the choices come from the admin's own (scoped) queryset."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.title = "user"


class AuditEventAdminBase(admin.ModelAdmin):
    """Read-only: nobody adds, changes or deletes audit events through any admin (T-AUD-06)."""

    list_display = ("created_at", "action_text", "actor_text", "workspace_text", "target_text", "ip", "details_short")
    list_display_links = ("created_at",)
    list_select_related = ("workspace",)
    search_fields = ("actor_email", "action", "target_type", "target_id", "user_agent")
    list_per_page = 100
    show_full_result_count = False
    fields = (
        "id",
        "created_at",
        "action_text",
        "actor_text",
        "actor_id",
        "workspace_text",
        "target_text",
        "ip",
        "user_agent_text",
        "details_full",
        "prev_hash",
        "hash",
    )
    readonly_fields = fields
    actions = ["export_csv"]
    change_list_template = "audit/admin/change_list.html"

    # --- permissions ---------------------------------------------------------------------------
    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    # --- display: every user-supplied value goes through visible_text, then autoescape ----------
    @admin.display(description="action", ordering="action")
    def action_text(self, event: AuditEvent) -> str:
        return visible_text(event.action)

    @admin.display(description="user", ordering="actor_email")
    def actor_text(self, event: AuditEvent) -> str:
        return visible_text(event.actor_email) or "anonymous"

    @admin.display(description="workspace")
    def workspace_text(self, event: AuditEvent) -> str:
        return visible_text(_workspace_label(event))

    @admin.display(description="target")
    def target_text(self, event: AuditEvent) -> str:
        if not event.target_type:
            return ""
        return visible_text(f"{event.target_type} #{event.target_id}")

    @admin.display(description="user agent")
    def user_agent_text(self, event: AuditEvent) -> str:
        return visible_text(event.user_agent)

    @admin.display(description="details")
    def details_short(self, event: AuditEvent) -> str:
        text = details_text(event.details)
        return text if len(text) <= 120 else f"{text[:119]}…"

    @admin.display(description="details")
    def details_full(self, event: AuditEvent) -> str:
        return details_text(event.details)

    # --- CSV export --------------------------------------------------------------------------------
    def get_urls(self):
        export = self.admin_site.admin_view(self.export_csv_view)
        return [path("export/", export, name=EXPORT_URL_NAME), *super().get_urls()]

    def changelist_view(self, request, extra_context=None):
        query = request.GET.urlencode()
        export_url = reverse(f"{self.admin_site.name}:{EXPORT_URL_NAME}") + (f"?{query}" if query else "")
        return super().changelist_view(request, extra_context={**(extra_context or {}), "export_url": export_url})

    def export_csv_view(self, request: HttpRequest):
        """The changelist's events (same filters, search and order) as a CSV download."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        try:
            changelist = self.get_changelist_instance(request)
        except IncorrectLookupParameters:
            return HttpResponseRedirect(reverse(f"{self.admin_site.name}:audit_auditevent_changelist"))
        return self._csv_response(request, changelist.get_queryset(request))

    @admin.action(description="Export selected events as CSV", permissions=["view"])
    def export_csv(self, request: HttpRequest, queryset: QuerySet[AuditEvent]):
        return self._csv_response(request, queryset)

    def _csv_response(self, request: HttpRequest, queryset: QuerySet[AuditEvent]) -> StreamingHttpResponse:
        # Reading the log is itself recorded (account chain: the export may span workspaces).
        audit_record(
            action="audit.exported",
            actor=request.user,
            details={"site": self.admin_site.name, "query": request.GET.urlencode()[:_MAX_RECORDED_QUERY]},
            request=request,
        )
        events = queryset.select_related("workspace").iterator(chunk_size=_EXPORT_CHUNK)
        response = StreamingHttpResponse(_csv_rows(events), content_type="text/csv; charset=utf-8")
        filename = f"audit-log-{timezone.now():%Y%m%d-%H%M%S}.csv"
        response["Content-Disposition"] = f'attachment; filename="{filename}"'
        response["X-Content-Type-Options"] = "nosniff"
        return response


@admin.register(AuditEvent)
class AuditEventAdmin(AuditEventAdminBase):
    """Platform admin: every chain, account-level events included."""

    list_filter = ("action", "workspace", ("created_at", DateFieldListFilter))


class OwnedWorkspaceFilter(admin.SimpleListFilter):
    """Only the workspaces the user owns are offered (a plain FK filter would list every tenant)."""

    title = "workspace"
    parameter_name = "workspace"

    def lookups(self, request, model_admin):
        return [(str(workspace.pk), workspace.name) for workspace in owned_workspaces(user=request.user)]

    def queryset(self, request, queryset):
        if self.value():
            return queryset.filter(workspace_id=self.value())
        return queryset


class OwnerAuditEventAdmin(AuditEventAdminBase):
    """Owner admin "Audit log": the events of the workspaces the user owns, nothing else.

    Scoping is in get_queryset, which the changelist, the filters' choices, the detail page
    and the export all start from; another tenant's event id is "not found" here.
    """

    list_filter = (("actor_email", UserFilter), "action", OwnedWorkspaceFilter, ("created_at", DateFieldListFilter))

    def get_queryset(self, request):
        return audit_event_list_for_owner(user=request.user).select_related("workspace")

    def get_object(self, request, object_id, from_field=None):
        # Django's admin answers a missing id with a redirect; here it is a 404 like every other
        # tenant URL, so another tenant's event id is indistinguishable from a missing one and
        # DeniedAccessAuditMiddleware records the attempt.
        event = super().get_object(request, object_id, from_field)
        if event is None:
            raise Http404
        return event

    def has_module_permission(self, request):
        return user_owns_workspace(user=request.user)

    def has_view_permission(self, request, obj=None):
        workspace_id = obj.workspace_id if obj is not None else None
        if obj is not None and workspace_id is None:
            return False
        return user_owns_workspace(user=request.user, workspace_id=workspace_id)


owner_admin_site.register(AuditEvent, OwnerAuditEventAdmin)
