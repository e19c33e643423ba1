"""Mounted at /w/<slug:workspace_slug>/segments/ (config/urls.py)."""

from django.urls import path

from segments import views

app_name = "segments"
urlpatterns = [
    path("", views.segment_list, name="list"),
    path("new/", views.segment_new, name="new"),
    path("compare/", views.segment_compare, name="compare"),
    path("<int:segment_id>/", views.segment_detail, name="detail"),
    path("<int:segment_id>/edit/", views.segment_edit, name="edit"),
    path("<int:segment_id>/delete/", views.segment_delete, name="delete"),
    path("filter-sets/save/", views.filter_set_save, name="filter_set_save"),
    path("filter-sets/<int:filter_set_id>/delete/", views.filter_set_delete, name="filter_set_delete"),
]
