"""Mounted at /w/<slug:workspace_slug>/analytics/ (config/urls.py)."""

from django.urls import include, path

from analytics import views

app_name = "analytics"
urlpatterns = [
    path("buyers/", views.buyers_dashboard_page, name="buyers"),
    path("visitors/", views.visitors_dashboard_page, name="visitors"),
    path("", include("analytics.urls_combos")),
    path("", include("analytics.urls_search")),
]
