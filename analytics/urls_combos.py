"""Top combos, deep dive and the attribute explorer (included by analytics/urls.py)."""

from django.urls import path

from analytics import combos_views

urlpatterns: list = [
    path("combos/", combos_views.combos_page, name="combos"),
    path("combos/deep-dive/", combos_views.combo_deep_dive_page, name="combo_deep_dive"),
    path("combos/jobs/<int:job_id>/", combos_views.combo_job_status, name="combo_job"),
    path("explorer/", combos_views.explorer_page, name="explorer"),
]
