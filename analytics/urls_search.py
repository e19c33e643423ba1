"""Global search across a dataset's columns (included by analytics/urls.py)."""

urlpatterns: list = []
