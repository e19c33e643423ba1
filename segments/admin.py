"""Owner admin: the segments of the owned workspaces, read-only (edits go through the segment pages,
which keep revisions and audit events)."""

from django.contrib import admin

from segments.models import Segment
from workspaces.admin import OwnerScopedAdmin, owner_admin_site


@admin.register(Segment, site=owner_admin_site)
class SegmentOwnerAdmin(OwnerScopedAdmin):
    list_display = ["name", "workspace", "dataset", "revision", "created_by", "updated_at"]
    search_fields = ["name"]
    fields = ["name", "workspace", "dataset", "description", "query", "revision", "created_by", "updated_by"]
    readonly_fields = fields

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("workspace", "dataset", "created_by", "updated_by")
