"""`audit_verify` (T-AUD-02) and the `flush` that may empty the audit table."""

from io import StringIO

import pytest
from django.core.management import call_command, execute_from_command_line
from django.core.management.base import CommandError
from django.db import connection

from audit.models import AuditEvent
from audit.selectors import REASON_HASH
from audit.services import audit_record
from audit.tests.test_models import EXPECTED_TRIGGERS
from audit.triggers import audit_trigger_names, audit_triggers_install, audit_triggers_remove


def _tamper(event: AuditEvent) -> None:
    audit_triggers_remove(connection=connection)
    with connection.cursor() as cursor:
        cursor.execute("UPDATE audit_auditevent SET ip = %s WHERE id = %s", ["198.51.100.1", event.pk])
    audit_triggers_install(connection=connection)


def test_verify_prints_ok_with_counts(workspace, other_workspace):
    audit_record(action="one", workspace=workspace)
    audit_record(action="two", workspace=workspace)
    audit_record(action="three", workspace=other_workspace)
    audit_record(action="account.login")
    out = StringIO()
    call_command("audit_verify", stdout=out)
    assert out.getvalue() == "OK: 3 chain(s), 4 event(s) verified.\n"


def test_verify_names_the_tampered_row_and_fails(workspace, other_workspace):
    audit_record(action="one", workspace=workspace)
    tampered = audit_record(action="two", workspace=workspace)
    audit_record(action="three", workspace=workspace)
    audit_record(action="untouched", workspace=other_workspace)
    _tamper(tampered)
    err = StringIO()
    with pytest.raises(CommandError, match=r"1 of 2 audit chain\(s\) broken"):
        call_command("audit_verify", stdout=StringIO(), stderr=err)
    assert err.getvalue() == f"BROKEN: event id={tampered.pk} workspace={workspace.pk} reason={REASON_HASH}\n"


def test_verify_names_the_account_chain(db):
    tampered = audit_record(action="account.login")
    _tamper(tampered)
    err = StringIO()
    with pytest.raises(CommandError):
        call_command("audit_verify", "--account", stdout=StringIO(), stderr=err)
    assert err.getvalue() == f"BROKEN: event id={tampered.pk} workspace=account reason={REASON_HASH}\n"


def test_verify_of_one_untouched_chain_passes_while_another_is_broken(workspace, other_workspace):
    audit_record(action="fine", workspace=workspace)
    _tamper(audit_record(action="broken", workspace=other_workspace))
    out = StringIO()
    call_command("audit_verify", "--workspace", str(workspace.pk), stdout=out)
    assert out.getvalue() == "OK: 1 chain(s), 1 event(s) verified.\n"


def test_verify_exits_non_zero_from_the_command_line(workspace, capsys):
    _tamper(audit_record(action="one", workspace=workspace))
    with pytest.raises(SystemExit) as exit_info:
        execute_from_command_line(["manage.py", "audit_verify"])
    assert exit_info.value.code == 1
    assert "BROKEN: event id=" in capsys.readouterr().err


@pytest.mark.django_db(transaction=True)
def test_flush_empties_the_audit_table_and_puts_the_triggers_back(workspace):
    audit_record(action="one", workspace=workspace)
    call_command("flush", interactive=False, verbosity=0)
    assert AuditEvent.objects.count() == 0
    assert audit_trigger_names(connection=connection) == EXPECTED_TRIGGERS[connection.vendor]
