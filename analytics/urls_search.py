"""Global search across a dataset's columns (included by analytics/urls.py)."""

from django.urls import path

from analytics import search_views

urlpatterns: list = [
    path("search/", search_views.search_page, name="search"),
]
