import io
import json
import urllib.error
from unittest import mock

import pytest

from ops import healthcheck


def _report(*, database_ok: bool) -> bytes:
    return json.dumps({"status": "degraded", "checks": {"database": {"ok": database_ok, "detail": "x"}}}).encode()


def _http_error(code: int, body: bytes) -> urllib.error.HTTPError:
    return urllib.error.HTTPError(healthcheck.WEB_URL, code, "status", {}, io.BytesIO(body))


@pytest.mark.parametrize(
    ("allowed_hosts", "expected"),
    [("example.com,www.example.com", "example.com"), (".example.com", "example.com"), ("*", "localhost")],
)
def test_probe_presents_an_allowed_host(monkeypatch, allowed_hosts, expected):
    monkeypatch.setenv("DJANGO_ALLOWED_HOSTS", allowed_hosts)

    assert healthcheck._probe_host() == expected


def test_web_is_healthy_on_200(monkeypatch):
    monkeypatch.setenv("DJANGO_ALLOWED_HOSTS", "example.com")
    response = io.BytesIO(_report(database_ok=True))

    with mock.patch("urllib.request.urlopen", return_value=response) as urlopen:
        assert healthcheck.web() == 0

    assert urlopen.call_args.args[0].get_header("Host") == "example.com"


def test_web_stays_healthy_when_only_the_worker_is_missing():
    with mock.patch("urllib.request.urlopen", side_effect=_http_error(503, _report(database_ok=True))):
        assert healthcheck.web() == 0


def test_web_is_unhealthy_without_its_database():
    with mock.patch("urllib.request.urlopen", side_effect=_http_error(503, _report(database_ok=False))):
        assert healthcheck.web() == 1


def test_web_is_unhealthy_on_a_bad_host_answer():
    with mock.patch("urllib.request.urlopen", side_effect=_http_error(400, b"Bad Request")):
        assert healthcheck.web() == 1
