"""T-AUD-01: audit events cannot be changed or deleted, by the ORM or by raw SQL."""

import pytest
from django.conf import settings
from django.db import DatabaseError, connection, transaction

from audit.models import AppendOnlyError, AuditEvent
from audit.services import audit_record
from audit.triggers import audit_trigger_names

ON_POSTGRESQL = settings.DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql"
EXPECTED_TRIGGERS = {
    "postgresql": {"audit_event_no_update_delete", "audit_event_no_truncate"},
    "sqlite": {"audit_event_no_update", "audit_event_no_delete"},
}


@pytest.fixture
def event(workspace):
    return audit_record(action="member.invited", workspace=workspace, details={"email": "x@example.com"})


def test_save_on_an_existing_row_raises(event):
    event.action = "member.removed"
    with pytest.raises(AppendOnlyError):
        event.save()
    assert AuditEvent.objects.get(pk=event.pk).action == "member.invited"


def test_a_fresh_instance_of_a_stored_row_cannot_be_saved_either(event):
    stored = AuditEvent.objects.get(pk=event.pk)
    stored.action = "member.removed"
    with pytest.raises(AppendOnlyError):
        stored.save()


def test_queryset_update_raises(event):
    with pytest.raises(AppendOnlyError):
        AuditEvent.objects.filter(pk=event.pk).update(action="member.removed")
    assert AuditEvent.objects.get(pk=event.pk).action == "member.invited"


def test_queryset_delete_raises(event):
    with pytest.raises(AppendOnlyError):
        AuditEvent.objects.filter(pk=event.pk).delete()
    assert AuditEvent.objects.filter(pk=event.pk).exists()


def test_instance_delete_raises(event):
    with pytest.raises(AppendOnlyError):
        event.delete()
    assert AuditEvent.objects.filter(pk=event.pk).exists()


def test_bulk_writes_raise(event):
    with pytest.raises(AppendOnlyError):
        AuditEvent.objects.bulk_create([AuditEvent(action="forged", hash="f" * 64)])
    event.action = "member.removed"
    with pytest.raises(AppendOnlyError):
        AuditEvent.objects.bulk_update([event], ["action"])
    assert AuditEvent.objects.count() == 1


def test_the_append_only_triggers_are_installed(db):
    assert audit_trigger_names(connection=connection) == EXPECTED_TRIGGERS[connection.vendor]


def test_database_refuses_raw_update(event):
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("UPDATE audit_auditevent SET action = %s WHERE id = %s", ["member.removed", event.pk])
    assert AuditEvent.objects.get(pk=event.pk).action == "member.invited"


def test_database_refuses_raw_delete(event):
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("DELETE FROM audit_auditevent WHERE id = %s", [event.pk])
    assert AuditEvent.objects.filter(pk=event.pk).exists()


@pytest.mark.skipif(not ON_POSTGRESQL, reason="TRUNCATE is PostgreSQL's; SQLite has none")
def test_postgresql_refuses_truncate(event):
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("TRUNCATE audit_auditevent")
    assert AuditEvent.objects.filter(pk=event.pk).exists()
