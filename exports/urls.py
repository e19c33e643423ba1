"""Mounted at /w/<slug:workspace_slug>/exports/ (config/urls.py)."""

app_name = "exports"
urlpatterns: list = []
