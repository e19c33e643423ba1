import io
import re

import pytest
from allauth.account.models import EmailAddress
from django.core.management import CommandError, call_command
from django_celery_beat.models import IntervalSchedule, PeriodicTask, PeriodicTasks

from accounts.models import User
from ops import periodic
from ops.management.commands.seed_demo import NEEDS_DEMO_FLAG, REFUSED_IN_PRODUCTION
from workspaces.models import Membership, Workspace

DEMO_LOGINS = {
    "owner@demo.local": "demo-owner-pass-2026",
    "analyst@demo.local": "demo-analyst-pass-2026",
    "viewer@demo.local": "demo-viewer-pass-2026",
    "admin@demo.local": "demo-admin-pass-2026",
}


def _seed(*args) -> str:
    out = io.StringIO()
    call_command("seed_demo", *args, stdout=out)
    return out.getvalue()


def test_seed_demo_creates_the_demo_workspace_and_a_member_per_role(db):
    output = _seed("--demo")

    workspace = Workspace.objects.get(slug="demo")
    assert workspace.name == "Demo Marketing"
    assert workspace.created_by.email == "owner@demo.local"
    assert dict(Membership.objects.filter(workspace=workspace).values_list("user__email", "role")) == {
        "owner@demo.local": "owner",
        "analyst@demo.local": "analyst",
        "viewer@demo.local": "viewer",
    }
    printed_pairs = {tuple(line.split()[:2]) for line in output.splitlines()}
    assert set(DEMO_LOGINS.items()) <= printed_pairs


def test_seed_demo_users_can_sign_in_with_the_printed_passwords(db):
    _seed("--demo")

    users = User.objects.filter(email__in=DEMO_LOGINS)
    assert sorted(u.email for u in users if u.check_password(DEMO_LOGINS[u.email])) == sorted(DEMO_LOGINS)
    assert sorted(EmailAddress.objects.filter(verified=True, primary=True).values_list("email", flat=True)) == sorted(
        DEMO_LOGINS
    )


def test_seed_demo_admin_is_a_superuser_outside_the_workspace(db):
    _seed("--demo")

    admin = User.objects.get(email="admin@demo.local")
    assert (admin.is_superuser, admin.is_staff) == (True, True)
    assert not Membership.objects.filter(user=admin).exists()
    assert User.objects.filter(is_superuser=True).count() == 1


def test_seed_demo_is_idempotent_and_restores_a_changed_password(db):
    _seed("--demo")
    owner = User.objects.get(email="owner@demo.local")
    owner.set_password("someone changed it")
    owner.save()

    _seed("--demo")

    assert Workspace.objects.filter(slug="demo").count() == 1
    assert User.objects.filter(email__in=DEMO_LOGINS).count() == 4
    assert Membership.objects.count() == 3
    assert EmailAddress.objects.count() == 4
    assert User.objects.get(email="owner@demo.local").check_password("demo-owner-pass-2026")


def test_seed_demo_runs_without_the_flag_when_debug_is_on(db, settings):
    settings.DEBUG = True

    _seed()

    assert Workspace.objects.filter(slug="demo").exists()


def test_seed_demo_needs_debug_or_the_flag(db, settings):
    settings.DEBUG = False

    with pytest.raises(CommandError, match=re.escape(NEEDS_DEMO_FLAG)):
        _seed()

    assert not User.objects.exists()


def test_seed_demo_never_runs_with_production_settings(db, settings):
    settings.LEADNAV_PRODUCTION = True

    with pytest.raises(CommandError, match=re.escape(REFUSED_IN_PRODUCTION)):
        _seed("--demo")

    assert not User.objects.exists()


def test_setup_periodic_tasks_writes_every_schedule(db):
    call_command("setup_periodic_tasks", stdout=io.StringIO())

    rows = PeriodicTask.objects.filter(name__startswith="leadnav: ").select_related("interval")
    assert {row.task: (row.interval.every, row.interval.period, row.enabled) for row in rows} == {
        "datasets.tasks.janitor": (1, IntervalSchedule.MINUTES, True),
        "exports.tasks.janitor": (15, IntervalSchedule.MINUTES, True),
        "ops.tasks.audit_chain_verify": (1, IntervalSchedule.DAYS, True),
        "ops.tasks.purge_expired_sessions": (1, IntervalSchedule.DAYS, True),
    }
    assert PeriodicTasks.last_change() is not None


def test_setup_periodic_tasks_is_idempotent(db):
    call_command("setup_periodic_tasks", stdout=io.StringIO())
    out = io.StringIO()

    call_command("setup_periodic_tasks", stdout=out)

    assert PeriodicTask.objects.count() == 4
    assert IntervalSchedule.objects.count() == 3
    assert out.getvalue().splitlines() == [
        "updated: leadnav: audit chain verify",
        "updated: leadnav: purge expired sessions",
        "updated: leadnav: datasets janitor",
        "updated: leadnav: exports janitor",
    ]


def test_setup_periodic_tasks_removes_dropped_managed_rows_and_keeps_others(db):
    interval = IntervalSchedule.objects.create(every=5, period=IntervalSchedule.MINUTES)
    PeriodicTask.objects.create(name="leadnav: retired job", task="ops.tasks.ping", interval=interval)
    PeriodicTask.objects.create(name="added by an operator", task="ops.tasks.ping", interval=interval)

    call_command("setup_periodic_tasks", stdout=io.StringIO())

    assert sorted(PeriodicTask.objects.values_list("name", flat=True)) == [
        "added by an operator",
        "leadnav: audit chain verify",
        "leadnav: datasets janitor",
        "leadnav: exports janitor",
        "leadnav: purge expired sessions",
    ]


def test_every_schedule_names_a_task_the_worker_knows():
    known = periodic.registered_task_names()

    assert {schedule.task for schedule in periodic.SCHEDULES} <= known


def test_setup_periodic_tasks_refuses_an_unregistered_task(db):
    bogus = periodic.Schedule(name="typo", task="ops.tasks.no_such_task", every=1, period=IntervalSchedule.DAYS)

    with pytest.raises(ValueError, match=re.escape("ops.tasks.no_such_task")):
        periodic.periodic_tasks_sync(schedules=(bogus,))

    assert not PeriodicTask.objects.exists()


def test_setup_periodic_tasks_refuses_a_name_defined_twice(db):
    ping = periodic.Schedule(name="twice", task="ops.tasks.ping", every=1, period=IntervalSchedule.DAYS)

    with pytest.raises(ValueError, match=re.escape(periodic.DUPLICATE_NAME.format(name="twice"))):
        periodic.periodic_tasks_sync(schedules=(ping, ping))

    assert not PeriodicTask.objects.exists()
