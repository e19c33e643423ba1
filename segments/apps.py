from django.apps import AppConfig


class SegmentsConfig(AppConfig):
    name = "segments"
    verbose_name = "Segments"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from analytics import saved_segments
        from segments.store import SavedSegments

        saved_segments.register(SavedSegments())
