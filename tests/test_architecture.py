"""The layout rules of README "Architecture" / DESIGN.md §3, checked on the source itself.

1. Imports point one way: an app's code imports only from the apps listed before it in APP_ORDER,
   never "upward". (Tests are integration tests and may use any app.)
   Nor around the rule at run time: `apps.get_model` (a model found by name) is for migrations only;
   an app that needs something from an app above it gets it registered (`analytics/saved_segments.py`).
2. STYLE.md §2: no bare `Model.objects.get(` in views or tasks; lookups from a URL or a task id go
   through the workspace (`for_workspace(ws)`, `get_object_or_404(...)`).
"""

import ast
import re
from pathlib import Path

import pytest
from django.conf import settings

ROOT = Path(settings.BASE_DIR)
APP_ORDER = ["accounts", "workspaces", "audit", "datasets", "analytics", "segments", "exports", "ops"]


def _python_files(app: str, *, tests: bool = True):
    return sorted(
        p
        for p in (ROOT / app).rglob("*.py")
        if "migrations" not in p.parts and (tests or "tests" not in p.relative_to(ROOT / app).parts)
    )


def _imported_apps(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names & set(APP_ORDER)


def test_the_app_order_is_the_installed_order():
    ours = [app for app in settings.INSTALLED_APPS if app in APP_ORDER]
    assert ours == APP_ORDER


@pytest.mark.parametrize("app", APP_ORDER)
def test_imports_point_one_way(app):
    allowed = set(APP_ORDER[: APP_ORDER.index(app) + 1])
    upward = {
        str(path.relative_to(ROOT)): sorted(_imported_apps(path) - allowed)
        for path in _python_files(app, tests=False)
        if _imported_apps(path) - allowed
    }
    assert upward == {}, f"{app} imports from apps above it"


@pytest.mark.parametrize("app", APP_ORDER)
def test_no_model_is_looked_up_by_name_at_run_time(app):
    offenders = [
        str(path.relative_to(ROOT))
        for path in _python_files(app, tests=False)
        if re.search(r"\bget_model\(", path.read_text(encoding="utf-8"))
    ]
    assert offenders == []


BARE_GET = re.compile(r"\b[A-Z]\w*\.objects\.get\(")


@pytest.mark.parametrize("app", APP_ORDER)
def test_views_and_tasks_never_get_objects_outside_a_workspace(app):
    offenders = []
    for path in _python_files(app, tests=False):
        if path.name in ("views.py", "tasks.py") or path.name.endswith("_views.py"):
            for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
                if BARE_GET.search(line):
                    offenders.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    assert offenders == []
