"""Admin for datasets: read-only views for the platform operator and an "Uploads" list for owners.

Nothing here edits status, files or versions: those change only through the services (and the
compare-and-set status machine). The owner site is scoped to the workspaces the user owns.
"""

from django.contrib import admin
from django.template.defaultfilters import filesizeformat

from datasets.models import ColumnMapping, Dataset, DatasetVersion, Upload
from workspaces.admin import OwnerScopedAdmin, owner_admin_site


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


def _size(obj) -> str:
    return filesizeformat(obj.size_bytes)


@admin.register(Upload)
class UploadAdmin(ReadOnlyAdmin):
    list_display = ["original_name", "workspace", "status", "size", "kind", "created_by", "attempts", "created_at"]
    list_filter = ["status", "kind", "mode"]
    search_fields = ["original_name", "sha256", "workspace__slug"]
    list_select_related = ["workspace", "created_by"]

    @admin.display(description="size", ordering="size_bytes")
    def size(self, obj):
        return _size(obj)


@admin.register(Dataset)
class DatasetAdmin(ReadOnlyAdmin):
    list_display = ["name", "workspace", "kind", "current_version", "created_by", "created_at"]
    list_filter = ["kind"]
    search_fields = ["name", "workspace__slug"]
    list_select_related = ["workspace", "created_by", "current_version__dataset"]


@admin.register(DatasetVersion)
class DatasetVersionAdmin(ReadOnlyAdmin):
    list_display = ["dataset", "number", "workspace", "row_count", "column_count", "created_at"]
    search_fields = ["dataset__name", "workspace__slug"]
    list_select_related = ["dataset", "workspace"]


@admin.register(ColumnMapping)
class ColumnMappingAdmin(ReadOnlyAdmin):
    list_display = ["workspace", "kind", "updated_by", "updated_at"]
    list_select_related = ["workspace", "updated_by"]


@admin.register(Upload, site=owner_admin_site)
class UploadOwnerAdmin(OwnerScopedAdmin):
    """Uploads of the owned workspaces: who uploaded what, how big, and how it ended."""

    list_display = ["original_name", "workspace", "status", "size", "kind", "created_by", "created_at"]
    list_filter = ["status", "kind"]
    search_fields = ["original_name"]
    fields = [
        "original_name",
        "workspace",
        "status",
        "size",
        "kind",
        "mode",
        "dataset",
        "version",
        "created_by",
        "created_at",
        "error_message",
    ]
    readonly_fields = fields

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("workspace", "created_by", "dataset", "version")

    @admin.display(description="size", ordering="size_bytes")
    def size(self, obj):
        return _size(obj)
