"""Mounted at /w/<slug:workspace_slug>/segments/ (config/urls.py)."""

app_name = "segments"
urlpatterns: list = []
