from django.urls import path

from workspaces import views

app_name = "workspaces"
urlpatterns = [
    path("", views.workspace_list, name="list"),
    # Fixed paths come before <slug>; services.RESERVED_SLUGS keeps workspaces from taking them.
    path("new/", views.workspace_create, name="create"),
    path("<slug:workspace_slug>/", views.workspace_detail, name="detail"),
    path("<slug:workspace_slug>/default/", views.workspace_set_default, name="set_default"),
    path("<slug:workspace_slug>/settings/", views.workspace_settings, name="settings"),
    path("<slug:workspace_slug>/delete/", views.workspace_delete, name="delete"),
    path("<slug:workspace_slug>/leave/", views.workspace_leave, name="leave"),
    path("<slug:workspace_slug>/members/", views.member_list, name="members"),
    path("<slug:workspace_slug>/members/<int:member_id>/role/", views.member_change_role, name="member_role"),
    path("<slug:workspace_slug>/members/<int:member_id>/remove/", views.member_remove, name="member_remove"),
    path("<slug:workspace_slug>/invitations/", views.invitation_list, name="invitations"),
    path(
        "<slug:workspace_slug>/invitations/<int:invitation_id>/revoke/",
        views.invitation_revoke,
        name="invitation_revoke",
    ),
    path(
        "<slug:workspace_slug>/invitations/<int:invitation_id>/resend/",
        views.invitation_resend,
        name="invitation_resend",
    ),
]
