from django.apps import AppConfig


class OpsConfig(AppConfig):
    """Operations: health, demo data, periodic task setup, deployment checks. Sits above every other app."""

    name = "ops"
    default_auto_field = "django.db.models.BigAutoField"
