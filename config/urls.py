from django.contrib import admin
from django.urls import include, path

from config import views
from ops import views as ops_views
from workspaces.admin import owner_admin_site

admin.site.site_header = "Lead Navigator platform admin"
admin.site.site_title = "Lead Navigator admin"

urlpatterns = [
    path("", views.home, name="home"),
    path("healthz", ops_views.healthz, name="healthz"),
    path("accounts/", include("accounts.urls")),
    path("accounts/", include("allauth.urls")),
    path("w/<slug:workspace_slug>/datasets/", include("datasets.urls")),
    path("w/<slug:workspace_slug>/analytics/", include("analytics.urls")),
    path("w/<slug:workspace_slug>/segments/", include("segments.urls")),
    path("w/<slug:workspace_slug>/exports/", include("exports.urls")),
    path("w/", include("workspaces.urls")),
    path("invitations/", include("workspaces.invitation_urls")),
    path("owner/", owner_admin_site.urls),
    path("admin/", admin.site.urls),
]

handler400 = "config.views.error_400"
handler403 = "config.views.error_403"
handler404 = "config.views.error_404"
handler500 = "config.views.error_500"
