"""T-AUD-02: the hash chain. What is hashed is exactly what the database hands back."""

import hashlib
import threading

import pytest
from django.db import connection
from freezegun import freeze_time

from audit.models import AuditEvent
from audit.selectors import REASON_HASH, REASON_PREV_HASH, audit_chains_check
from audit.services import GENESIS_HASH, audit_record
from audit.tests.conftest import CLIENT_IP, CLIENT_UA
from audit.triggers import audit_triggers_install, audit_triggers_remove


@freeze_time("2026-03-01 12:34:56.789012")
def test_hash_is_sha256_of_prev_hash_and_canonical_json(workspace, owner, audit_request):
    first = audit_record(action="workspace.created", actor=owner, workspace=workspace)
    second = audit_record(
        action="member.invited",
        actor=owner,
        workspace=workspace,
        target_type="workspaces.invitation",
        target_id=7,
        details={"role": "viewer", "email": "é@example.com"},
        request=audit_request,
    )
    # Written out by hand: sorted keys, no spaces, non-ASCII as \u escapes, time in UTC with microseconds.
    body = (
        '{"action":"member.invited",'
        f'"actor_email":"{owner.email}","actor_id":{owner.pk},'
        '"created_at":"2026-03-01T12:34:56.789012Z",'
        '"details":{"email":"\\u00e9@example.com","role":"viewer"},'
        f'"ip":"{CLIENT_IP}","target_id":"7","target_type":"workspaces.invitation",'
        f'"user_agent":"{CLIENT_UA}","workspace_id":{workspace.pk}}}'
    )
    stored = AuditEvent.objects.get(pk=second.pk)
    assert stored.prev_hash == first.hash
    assert stored.hash == hashlib.sha256((first.hash + body).encode()).hexdigest()
    assert AuditEvent.objects.get(pk=first.pk).prev_hash == GENESIS_HASH


def test_each_workspace_and_the_account_level_have_their_own_chain(workspace, other_workspace):
    a1 = audit_record(action="a.one", workspace=workspace)
    b1 = audit_record(action="b.one", workspace=other_workspace)
    account = audit_record(action="account.login")
    a2 = audit_record(action="a.two", workspace=workspace)
    assert [a1.prev_hash, b1.prev_hash, account.prev_hash] == [GENESIS_HASH] * 3
    assert a2.prev_hash == a1.hash
    report = audit_chains_check()
    assert (report.ok, report.chains, report.events) == (True, 3, 4)


@pytest.mark.parametrize(
    "ip, stored_ip",
    [
        ("2001:0DB8:0000:0000:0001:0000:0000:0001", "2001:db8::1:0:0:1"),
        ("::ffff:1.2.3.4", "::ffff:1.2.3.4"),
        ("fe80::1%eth0", "fe80::1"),
        ("not-an-ip", None),
    ],
)
def test_awkward_values_hash_as_the_database_returns_them(workspace, rf, ip, stored_ip):
    request = rf.get("/", REMOTE_ADDR=ip, HTTP_USER_AGENT="UA\x00" + "x" * 600)
    details = {
        "integral_float": 1.0,
        "huge_float": 1e20,
        "tiny_float": 1.5e-7,
        "not_a_number": float("nan"),
        "tuple": (1, 2),
        3: "an int key",
        "nested": {"z": [None, True, {"deep": "ünï 🚀"}]},
        "nul": "a\x00b",
        "lone_surrogate": "x\ud800y",
    }
    event = audit_record(action="odd.values", workspace=workspace, details=details, request=request)
    stored = AuditEvent.objects.get(pk=event.pk)
    assert stored.details == event.details
    assert stored.details["huge_float"] == 10**20
    assert stored.details["tiny_float"] == 1.5e-7
    assert stored.details["3"] == "an int key"
    assert stored.ip == stored_ip
    assert stored.user_agent == event.user_agent
    assert len(stored.user_agent) == 512
    assert stored.created_at == event.created_at
    assert audit_chains_check().ok


def test_a_row_edited_out_of_band_is_named(workspace):
    audit_record(action="one", workspace=workspace)
    edited = audit_record(action="two", workspace=workspace)
    audit_record(action="three", workspace=workspace)
    audit_triggers_remove(connection=connection)  # what a superuser with a SQL prompt could do
    with connection.cursor() as cursor:
        cursor.execute("UPDATE audit_auditevent SET action = %s WHERE id = %s", ["innocent", edited.pk])
    audit_triggers_install(connection=connection)
    report = audit_chains_check()
    assert [(b.event_id, b.workspace_id, b.reason) for b in report.breaks] == [(edited.pk, workspace.pk, REASON_HASH)]


def test_a_row_deleted_out_of_band_breaks_the_link_of_the_next_one(workspace):
    audit_record(action="one", workspace=workspace)
    deleted = audit_record(action="two", workspace=workspace)
    after = audit_record(action="three", workspace=workspace)
    audit_triggers_remove(connection=connection)
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM audit_auditevent WHERE id = %s", [deleted.pk])
    audit_triggers_install(connection=connection)
    report = audit_chains_check()
    assert [(b.event_id, b.reason) for b in report.breaks] == [(after.pk, REASON_PREV_HASH)]


def test_a_forged_row_inserted_with_raw_sql_is_named(workspace, other_workspace):
    last = audit_record(action="one", workspace=workspace)
    audit_record(action="untouched", workspace=other_workspace)
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO audit_auditevent (workspace_id, actor_email, action, target_type, target_id, details,"
            " user_agent, created_at, prev_hash, hash) VALUES (%s, '', 'member.removed', '', '', '{}', '',"
            " '2026-01-01 00:00:00', %s, %s)",
            [workspace.pk, last.hash, "f" * 64],
        )
    forged = AuditEvent.objects.get(hash="f" * 64)
    report = audit_chains_check()
    assert [(b.event_id, b.workspace_id, b.reason) for b in report.breaks] == [(forged.pk, workspace.pk, REASON_HASH)]
    assert (report.chains, report.events) == (2, 3)


def test_only_one_chain_can_be_checked(workspace, other_workspace):
    audit_record(action="one", workspace=workspace)
    audit_record(action="two", workspace=other_workspace)
    audit_record(action="account.login")
    report = audit_chains_check(workspace_id=workspace.pk, all_chains=False)
    assert (report.ok, report.chains, report.events) == (True, 1, 1)


def test_two_quick_writes_keep_the_chain(workspace):
    first = audit_record(action="quick.one", workspace=workspace)
    second = audit_record(action="quick.two", workspace=workspace)
    assert second.prev_hash == first.hash
    assert second.pk > first.pk
    assert audit_chains_check().ok


def _write_events(workspace, prefix: str, count: int, errors: list) -> None:
    try:
        for number in range(count):
            audit_record(action=f"{prefix}.{number}", workspace=workspace)
    except Exception as exc:  # collected and asserted on in the test's own thread
        errors.append(exc)
    finally:
        connection.close()


@pytest.mark.django_db(transaction=True)
def test_concurrent_writers_do_not_fork_the_chain(workspace):
    errors: list = []
    threads = [threading.Thread(target=_write_events, args=(workspace, f"writer{n}", 10, errors)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    events = list(AuditEvent.objects.filter(workspace=workspace).order_by("id"))
    assert errors == []
    assert len(events) == 40
    assert len({event.prev_hash for event in events}) == 40  # no two events claim the same predecessor
    assert audit_chains_check().ok
