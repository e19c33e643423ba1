"""`manage.py seed_demo`: the demo workspace and accounts for `make run`. Idempotent."""

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from ops.demo import demo_datasets_seed, demo_seed, demo_segments_seed

REFUSED_IN_PRODUCTION = "seed_demo creates accounts with published passwords; it never runs with production settings."
NEEDS_DEMO_FLAG = "seed_demo needs DJANGO_DEBUG=1 or --demo: it creates accounts with published passwords."


class Command(BaseCommand):
    help = "Create (or refresh) the 'Demo Marketing' workspace, its owner/analyst/viewer and a platform admin."

    def add_arguments(self, parser):
        parser.add_argument("--demo", action="store_true", help="Seed even though DEBUG is off (never in production).")

    def handle(self, *args, demo: bool = False, **options):
        if getattr(settings, "LEADNAV_PRODUCTION", False):
            raise CommandError(REFUSED_IN_PRODUCTION)
        if not (settings.DEBUG or demo):
            raise CommandError(NEEDS_DEMO_FLAG)
        workspace, accounts = demo_seed()
        dataset_lines = demo_datasets_seed(workspace=workspace)
        dataset_lines += demo_segments_seed(workspace=workspace)

        self.stdout.write(f"Demo workspace: {workspace.name} (/w/{workspace.slug}/)")
        self.stdout.write("Demo sign-ins (demo only: these passwords are public):")
        header = ("email", "password", "role", "open")
        rows = [(a.email, a.password, a.role.label if a.role else "platform admin", a.where) for a in accounts]
        widths = [max(len(str(row[i])) for row in [header, *rows]) for i in range(len(header))]
        for row in [header, tuple("-" * w for w in widths), *rows]:
            cells = (str(cell).ljust(width) for cell, width in zip(row, widths, strict=True))
            self.stdout.write(("  " + "  ".join(cells)).rstrip())
        for line in dataset_lines:
            self.stdout.write(line)
