"""`manage.py setup_periodic_tasks`: write ops.periodic.SCHEDULES into django-celery-beat. Idempotent."""

from django.core.management.base import BaseCommand, CommandError

from ops.periodic import periodic_tasks_sync


class Command(BaseCommand):
    help = "Create or update the periodic tasks defined in ops/periodic.py; delete managed ones no longer listed."

    def handle(self, *args, **options):
        try:
            result = periodic_tasks_sync()
        except ValueError as exc:
            raise CommandError(str(exc))
        for action in ("created", "updated", "deleted"):
            for name in result[action]:
                self.stdout.write(f"{action}: {name}")
