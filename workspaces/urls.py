from django.urls import path

from workspaces import views

app_name = "workspaces"
urlpatterns = [
    path("", views.workspace_list, name="list"),
    path("<slug:workspace_slug>/", views.workspace_detail, name="detail"),
]
