from django.contrib import admin


class OwnerAdminSite(admin.AdminSite):
    site_header = "Workspace administration"
    site_title = "Owner admin"
    index_title = "Your workspaces"


owner_admin_site = OwnerAdminSite(name="owner_admin")
