"""Signal handlers of the accounts app (connected in AccountsConfig.ready)."""

from django.contrib.auth.signals import user_logged_in
from django.dispatch import receiver

from accounts.middleware import session_mark_seen


@receiver(user_logged_in, dispatch_uid="accounts_start_idle_clock")
def start_idle_clock(sender, request, user, **kwargs) -> None:
    # Start the idle timer at login, so a session nobody uses still times out.
    session = getattr(request, "session", None)
    if session is not None:
        session_mark_seen(session)
