from django.apps import AppConfig


class OpsConfig(AppConfig):
    """Operations: health, demo data, periodic task setup, deployment checks. Sits above every other app."""

    name = "ops"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Importing registers the system checks (tagged "leadnav"; the security ones run with --deploy).
        from ops import checks  # noqa: F401
