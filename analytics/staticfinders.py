"""Serve Plotly.js from the installed `plotly` package, as `vendor/plotly.min.js`.

No CDN (CSP: script-src 'self') and no copy of a 4 MB vendored file in the repository: the
file ships inside the pinned `plotly` wheel, so its version always matches plotly.py. This
finder exposes exactly that one file, nothing else of site-packages.
"""

from __future__ import annotations

import functools
import re
from pathlib import Path

import plotly
from django.contrib.staticfiles.finders import BaseFinder
from django.core.files.storage import FileSystemStorage

PLOTLY_DIR = Path(plotly.__file__).resolve().parent / "package_data"
PLOTLY_FILE = "plotly.min.js"
PREFIX = "vendor"
PUBLIC_PATH = f"{PREFIX}/{PLOTLY_FILE}"


class PlotlyFinder(BaseFinder):
    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.storage = FileSystemStorage(location=str(PLOTLY_DIR))
        # collectstatic writes each listed file under `storage.prefix` + its relative path.
        self.storage.prefix = PREFIX

    def check(self, **kwargs) -> list:
        return []

    def find(self, path: str, find_all: bool = False, **kwargs):
        if path != PUBLIC_PATH:
            return []  # like Django's own finders: [] means "not here" either way
        found = str(PLOTLY_DIR / PLOTLY_FILE)
        return [found] if find_all else found

    def list(self, ignore_patterns):
        yield PLOTLY_FILE, self.storage


_MAPLIBRE_CSS_GUARD = re.compile(
    rb'getElementById\("([0-9a-f]{32,64})"\)\)\{var \w+=document\.createElement\("style"\)'
)


@functools.cache
def plotly_inline_css_guard_id() -> str:
    """The element id Plotly's bundled MapLibre checks before injecting its CSS in a <style> at load.

    CSP (style-src 'self') blocks that <style>; an element with this id already in the page makes
    MapLibre skip it (we draw no maps, so its CSS is not needed). Read from the installed file so a
    plotly upgrade cannot silently break it (analytics/tests/test_views_charts.py checks it exists).
    """
    match = _MAPLIBRE_CSS_GUARD.search((PLOTLY_DIR / PLOTLY_FILE).read_bytes())
    return match.group(1).decode() if match else ""
