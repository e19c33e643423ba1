import logging
from datetime import timedelta
from unittest import mock

from django.contrib.sessions.models import Session
from django.utils import timezone

from audit.selectors import ChainBreak
from audit.services import audit_record
from ops import tasks


def test_ping_echoes_its_token():
    assert tasks.ping.delay(token="abc123").get(timeout=5) == {"pong": "abc123"}


def test_audit_chain_verify_finds_nothing_in_an_intact_chain(workspace, caplog):
    audit_record(action="workspace.created", workspace=workspace)
    audit_record(action="workspace.renamed", workspace=workspace)

    with caplog.at_level(logging.ERROR, logger="ops.tasks"):
        breaks = tasks.audit_chain_verify.delay().get(timeout=5)

    assert breaks == 0
    assert caplog.records == []


def test_audit_chain_verify_logs_an_error_per_break(db, caplog):
    found = [ChainBreak(event_id=41, workspace_id=7, reason="hash does not match the event's contents")]

    with (
        mock.patch("audit.selectors.audit_chain_verify", return_value=iter(found)),
        caplog.at_level(logging.ERROR, logger="ops.tasks"),
    ):
        breaks = tasks.audit_chain_verify.delay().get(timeout=5)

    assert breaks == 1
    assert [record.getMessage() for record in caplog.records] == [
        "audit chain broken: workspace_id=7 event_id=41 reason=hash does not match the event's contents"
    ]


def test_purge_expired_sessions_deletes_only_expired_ones(db):
    now = timezone.now()
    Session.objects.create(session_key="expired" + "x" * 25, session_data="", expire_date=now - timedelta(minutes=1))
    Session.objects.create(session_key="live" + "y" * 28, session_data="", expire_date=now + timedelta(hours=1))

    tasks.purge_expired_sessions.delay().get(timeout=5)

    assert list(Session.objects.values_list("session_key", flat=True)) == ["live" + "y" * 28]
