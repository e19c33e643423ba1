"""Plotly under our CSP and our static files: the one-file finder and the figures' escaping."""

from django.contrib.staticfiles import finders

from analytics import charts
from analytics.engine import Series
from analytics.staticfinders import PLOTLY_DIR, plotly_inline_css_guard_id


def test_the_finder_serves_plotly_from_the_package_and_nothing_else():
    found = finders.find("vendor/plotly.min.js")
    assert found == str(PLOTLY_DIR / "plotly.min.js")
    assert finders.find("vendor/widgetbundle.js") is None
    assert finders.find("vendor/../plotly.min.js") is None


def test_the_maplibre_css_guard_id_is_found_in_the_installed_plotly():
    guard = plotly_inline_css_guard_id()
    assert len(guard) == 64
    assert f'getElementById("{guard}")'.encode() in (PLOTLY_DIR / "plotly.min.js").read_bytes()


def test_bar_figure_escapes_labels_and_axis_title():
    series = Series("top_x", ({"label": '<a href="javascript:alert(1)">x</a>', "count": 3, "share": 1.0},))
    figure = charts.bar_figure(series, axis_title="<b>col</b>")
    assert figure["data"][0]["y"] == ["&lt;a href=&quot;javascript:alert(1)&quot;&gt;x&lt;/a&gt;"]
    assert figure["data"][0]["name"] == "&lt;b&gt;col&lt;/b&gt;"


def test_charts_never_typeset_math():
    assert charts.CONFIG["typesetMath"] is False
