"""Mounted at /w/<slug:workspace_slug>/exports/ (config/urls.py)."""

from django.urls import path

from exports import views

app_name = "exports"
urlpatterns = [
    path("", views.export_list, name="list"),
    path("rows/", views.export_rows, name="rows"),
    path("report/<str:kind>/", views.export_report, name="report"),
    path("combos/", views.export_combos, name="combos"),
    path("jobs/<int:export_id>/", views.export_detail, name="detail"),
    path("jobs/<int:export_id>/progress/", views.export_progress, name="progress"),
    path("jobs/<int:export_id>/download/", views.export_download, name="download"),
]
