"""Large top-combos questions go to a Celery worker (eager in tests): the job is created once,
runs from on_commit, reports progress, fills the cache the page reads, and is re-queued when its
result is evicted. Jobs are tenant rows: another workspace's job id is a 404 (T-IDOR-01/07)."""

import pytest
from django.core.cache import cache
from django.urls import reverse

from analytics import combos_services
from analytics.engine import ComboSettings, compute_combos
from analytics.engine.adapter import source_for_version
from analytics.models import ComboJob, ComboJobStatus
from analytics.tasks import combo_job_run_task
from analytics.tests.test_combos_views import SETTINGS, _dataset, _items, combos_frame, pandas_ranking
from audit.models import AuditEvent
from datasets.tests.pipeline_helpers import media_root  # noqa: F401

pytestmark = pytest.mark.usefixtures("media_root", "clear_cache", "background")


@pytest.fixture
def clear_cache():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def background(settings):
    settings.COMBOS_BACKGROUND_THRESHOLD = 0  # every question is "large"


def _url(name, workspace, query=""):
    return reverse(f"analytics:{name}", args=[workspace.slug]) + query


def test_large_question_runs_in_a_job_and_the_page_then_shows_the_result(
    client, workspace, viewer, django_capture_on_commit_callbacks
):
    frame = combos_frame()
    _dataset(workspace, frame)
    client.force_login(viewer)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        first = client.get(_url("combos", workspace, f"?{SETTINGS}"))
    job = ComboJob.objects.get()
    status = client.get(reverse("analytics:combo_job", args=[workspace.slug, job.pk])).json()
    second = client.get(_url("combos", workspace, f"?{SETTINGS}&format=json")).json()
    expected = pandas_ranking(frame)
    assert len(callbacks) == 1
    assert first.status_code == 200
    assert b"data-combo-job" in first.content
    assert first.context["data"]["ready"] is False
    assert (job.workspace_id, job.status, job.progress) == (workspace.pk, ComboJobStatus.DONE, 1.0)
    assert status["done"] is True
    assert status["percent"] == 100
    assert second["ready"] is True
    assert second["job"]["id"] == job.pk
    assert second["ranked"] == len(expected)
    assert [_items(c) for c in second["combos"]] == [r["items"] for r in expected[:50]]
    assert ComboJob.objects.count() == 1


def test_the_html_page_shows_the_ranked_table_once_the_job_is_done(
    client, workspace, viewer, django_capture_on_commit_callbacks
):
    _dataset(workspace)
    client.force_login(viewer)
    with django_capture_on_commit_callbacks(execute=True):
        client.get(_url("combos", workspace, f"?{SETTINGS}"))
    body = client.get(_url("combos", workspace, f"?{SETTINGS}")).content.decode()
    assert "data-combos-table" in body
    assert "data-combo-job" not in body
    assert 'data-combo-rank="1"' in body


def test_the_deep_dive_uses_the_same_job(client, workspace, viewer, django_capture_on_commit_callbacks):
    frame = combos_frame()
    _dataset(workspace, frame)
    client.force_login(viewer)
    with django_capture_on_commit_callbacks(execute=True):
        waiting = client.get(_url("combo_deep_dive", workspace, f"?{SETTINGS}&rank=2&format=json")).json()
    page = client.get(_url("combos", workspace, f"?{SETTINGS}&format=json")).json()
    dive = client.get(_url("combo_deep_dive", workspace, f"?{SETTINGS}&rank=2&format=json")).json()
    assert waiting["ready"] is False
    assert page["ready"] is True
    assert ComboJob.objects.count() == 1
    assert _items(dive["combo"]) == pandas_ranking(frame)[1]["items"]


def test_each_question_gets_its_own_job_and_a_repeat_reuses_it(
    client, workspace, viewer, django_capture_on_commit_callbacks
):
    _dataset(workspace)
    client.force_login(viewer)
    with django_capture_on_commit_callbacks(execute=False):
        client.get(_url("combos", workspace, f"?{SETTINGS}"))
        client.get(_url("combos", workspace, f"?{SETTINGS}"))
        client.get(_url("combos", workspace, f"?{SETTINGS}&in.state=CA"))
    jobs = list(ComboJob.objects.order_by("pk"))
    assert len(jobs) == 2
    assert {j.status for j in jobs} == {ComboJobStatus.QUEUED}
    assert jobs[1].filters_query == "in.state=CA"
    assert AuditEvent.objects.filter(action="analytics.combos_job_created", workspace=workspace).count() == 2


def test_an_evicted_result_is_computed_again_by_the_same_job(
    client, workspace, viewer, django_capture_on_commit_callbacks
):
    _dataset(workspace)
    client.force_login(viewer)
    with django_capture_on_commit_callbacks(execute=True):
        client.get(_url("combos", workspace, f"?{SETTINGS}"))
    cache.clear()
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        waiting = client.get(_url("combos", workspace, f"?{SETTINGS}&format=json")).json()
    queued = ComboJob.objects.get()
    for callback in callbacks:
        callback()
    ready = client.get(_url("combos", workspace, f"?{SETTINGS}&format=json")).json()
    assert waiting["ready"] is False
    assert waiting["job"]["status"] == ComboJobStatus.QUEUED
    assert queued.status == ComboJobStatus.QUEUED
    assert ready["ready"] is True
    assert ComboJob.objects.get().status == ComboJobStatus.DONE


def test_a_failing_computation_marks_the_job_failed(
    client, workspace, viewer, django_capture_on_commit_callbacks, monkeypatch
):
    def boom(*args, **kwargs):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(combos_services, "top_combos", boom)
    _dataset(workspace)
    client.force_login(viewer)
    with django_capture_on_commit_callbacks(execute=True):
        client.get(_url("combos", workspace, f"?{SETTINGS}"))
    job = ComboJob.objects.get()
    status = client.get(reverse("analytics:combo_job", args=[workspace.slug, job.pk])).json()
    page = client.get(_url("combos", workspace, f"?{SETTINGS}")).content.decode()
    assert job.status == ComboJobStatus.FAILED
    assert status["failed"] is True
    assert status["error"] == combos_services.ERROR_UNEXPECTED
    assert "disk on fire" not in page
    assert combos_services.ERROR_UNEXPECTED in page


def test_progress_is_reported_while_ranking(workspace, monkeypatch):
    dataset = _dataset(workspace)
    source = source_for_version(dataset.current_version)
    seen = []
    compute_combos(
        source,
        ComboSettings(attributes=("channel", "gender", "state"), min_size=1, max_size=3),
        progress=seen.append,
    )
    monkeypatch.setattr(combos_services, "PROGRESS_EVERY_SECONDS", 0)
    job = ComboJob.objects.create(
        workspace=workspace,
        version=dataset.current_version,
        key="k",
        settings_query=SETTINGS,
        filters_query="",
    )
    ended = combos_services.combo_job_run(job=job)
    assert seen[0] == pytest.approx(0.5)
    assert seen[-1] == 1.0
    assert seen == sorted(seen)
    assert (ended.status, ended.progress, ended.step) == (ComboJobStatus.DONE, 1.0, combos_services.STEP_DONE)


def test_a_job_runs_once_even_if_delivered_twice(workspace):
    dataset = _dataset(workspace)
    job = ComboJob.objects.create(
        workspace=workspace, version=dataset.current_version, key="k", settings_query=SETTINGS, filters_query=""
    )
    first = combo_job_run_task.delay(workspace_id=workspace.pk, job_id=job.pk).get()
    finished_at = ComboJob.objects.get().finished_at
    second = combo_job_run_task.delay(workspace_id=workspace.pk, job_id=job.pk).get()
    assert first == {"job_id": job.pk, "status": ComboJobStatus.DONE}
    assert second == {"job_id": job.pk, "status": ComboJobStatus.DONE}
    assert ComboJob.objects.get().finished_at == finished_at


def test_the_task_refuses_a_job_of_another_workspace(workspace, other_workspace):
    dataset = _dataset(other_workspace)
    job = ComboJob.objects.create(
        workspace=other_workspace, version=dataset.current_version, key="k", settings_query=SETTINGS
    )
    result = combo_job_run_task.delay(workspace_id=workspace.pk, job_id=job.pk).get()
    assert result is None
    assert ComboJob.objects.get().status == ComboJobStatus.QUEUED


def test_job_status_of_another_workspace_is_404(client, workspace, other_workspace, viewer):
    dataset = _dataset(other_workspace)
    job = ComboJob.objects.create(
        workspace=other_workspace, version=dataset.current_version, key="k", settings_query=SETTINGS
    )
    client.force_login(viewer)
    foreign = client.get(reverse("analytics:combo_job", args=[workspace.slug, job.pk]))
    missing = client.get(reverse("analytics:combo_job", args=[workspace.slug, job.pk + 1000]))
    assert (foreign.status_code, missing.status_code) == (404, 404)
    assert foreign.content.count(b"<") == missing.content.count(b"<")


def test_ensure_refuses_a_version_of_another_workspace(workspace, other_workspace):
    dataset = _dataset(other_workspace)
    with pytest.raises(ValueError):
        combos_services.combo_job_ensure(
            workspace=workspace,
            version=dataset.current_version,
            key="k",
            settings_query=SETTINGS,
            filters_query="",
            cached=False,
        )
    assert ComboJob.objects.count() == 0
