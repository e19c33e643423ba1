from django.apps import AppConfig, apps


class OpsConfig(AppConfig):
    """Operations: health, demo data, periodic task setup, deployment checks. Sits above every other app."""

    name = "ops"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Importing registers the system checks (tagged "leadnav"; the security ones run with --deploy).
        from django.db.models.signals import post_migrate

        from ops import checks  # noqa: F401
        from ops.sites import site_sync_after_migrate

        # post_migrate is only sent for apps with models; ride on the sites app's, after its own
        # handler has created the default row (it connected first: sites comes earlier in INSTALLED_APPS).
        post_migrate.connect(site_sync_after_migrate, sender=apps.get_app_config("sites"), dispatch_uid="ops.site_sync")
