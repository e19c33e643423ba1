"""Recompute every audit hash chain: `manage.py audit_verify [--workspace ID | --account]`.

Prints OK with the counts and exits 0, or names the first broken event of each broken chain
(id, workspace, reason) and exits non-zero, so cron or CI can alert on it.
"""

from django.core.management.base import BaseCommand, CommandError

from audit.selectors import audit_chains_check

ACCOUNT_CHAIN = "account"


class Command(BaseCommand):
    help = "Verify the audit log's hash chains; exit non-zero at the first broken event of any chain."

    def add_arguments(self, parser):
        scope = parser.add_mutually_exclusive_group()
        scope.add_argument("--workspace", type=int, help="Check only this workspace's chain (by id).")
        scope.add_argument("--account", action="store_true", help="Check only the account-level chain.")

    def handle(self, *args, workspace=None, account=False, **options):
        if workspace is not None or account:
            report = audit_chains_check(workspace_id=workspace, all_chains=False)
        else:
            report = audit_chains_check()
        if report.ok:
            self.stdout.write(f"OK: {report.chains} chain(s), {report.events} event(s) verified.")
            return
        for chain_break in report.breaks:
            chain = ACCOUNT_CHAIN if chain_break.workspace_id is None else chain_break.workspace_id
            self.stderr.write(f"BROKEN: event id={chain_break.event_id} workspace={chain} reason={chain_break.reason}")
        raise CommandError(
            f"{len(report.breaks)} of {report.chains} audit chain(s) broken "
            f"({report.events} event(s) checked up to the first break of each)."
        )
