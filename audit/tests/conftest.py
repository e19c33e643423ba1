import pytest
from django.contrib.auth.models import AnonymousUser
from django.contrib.sessions.middleware import SessionMiddleware
from django.core.cache import cache
from django.test import RequestFactory

CLIENT_IP = "203.0.113.7"
CLIENT_UA = "Mozilla/5.0 (audit-tests)"


@pytest.fixture(autouse=True)
def _fresh_rate_limits():
    # allauth's rate limits live in the (locmem) cache; one test's failed logins must not throttle the next.
    cache.clear()


@pytest.fixture
def audit_request():
    """A request from a known address and browser, with a session, for services and signal handlers."""
    request = RequestFactory().post("/somewhere/", REMOTE_ADDR=CLIENT_IP, HTTP_USER_AGENT=CLIENT_UA)
    SessionMiddleware(lambda req: None).process_request(request)
    request.session.save()
    request.user = AnonymousUser()
    return request
