"""Small formatting filters for the datasets pages (numbers for humans, status colours)."""

from django import template

from datasets.models import UploadStatus

register = template.Library()

STATUS_BADGES = {
    UploadStatus.READY: "badge-success",
    UploadStatus.FAILED: "badge-danger",
    UploadStatus.NEEDS_MAPPING: "badge-warning",
    UploadStatus.CANCELLED: "",
}


@register.filter
def status_badge(status: str) -> str:
    """The badge modifier class for an upload status (in-flight statuses are primary)."""
    return STATUS_BADGES.get(status, "badge-primary")


@register.filter
def percent(fraction, digits: int = 1) -> str:
    """0.1234 -> "12.3%"; a tiny non-zero share is "<0.1%" rather than a misleading 0%."""
    if fraction is None or fraction == "":
        return "—"
    value = float(fraction) * 100
    if 0 < value < 10**-digits:
        return f"<{10**-digits:g}%"
    return f"{value:.{digits}f}%".replace(f".{'0' * digits}%", "%")


@register.filter
def duration(seconds) -> str:
    """Seconds as "45 s", "3 min 5 s", "2 h 10 min"."""
    if seconds is None or seconds == "":
        return "—"
    if float(seconds) < 1:
        return "under a second"
    total = round(float(seconds))
    if total < 60:
        return f"{max(total, 0)} s"
    minutes, secs = divmod(total, 60)
    if minutes < 60:
        return f"{minutes} min {secs} s" if secs else f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min" if minutes else f"{hours} h"
