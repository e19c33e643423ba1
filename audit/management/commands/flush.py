"""Django's `flush`, able to empty the audit table too.

`flush` deletes every row of every table on purpose (TransactionTestCase runs it after each
test; developers reset their database with it). The append-only triggers refuse that for the
audit table (PostgreSQL refuses TRUNCATE even of an empty table), so this command takes them
off and puts them back in the same transaction: if the flush fails, they are back as they were.
"""

from django.core.management.commands import flush
from django.db import connections, transaction

from audit.triggers import TABLE, audit_triggers_install, audit_triggers_remove


class Command(flush.Command):
    def handle(self, **options):
        database = options["database"]
        connection = connections[database]
        if TABLE not in connection.introspection.table_names():
            return super().handle(**options)
        with transaction.atomic(using=database):
            audit_triggers_remove(connection=connection)
            result = super().handle(**options)
            audit_triggers_install(connection=connection)
        return result
