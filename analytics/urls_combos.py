"""Top combos, deep dive and the attribute explorer (included by analytics/urls.py)."""

urlpatterns: list = []
