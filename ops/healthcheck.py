"""Container healthchecks for docker-compose.yml: `python -m ops.healthcheck web|worker`.

Standard library only for `web`, so a probe costs no Django start-up. Exit 0 = healthy.
"""

import json
import os
import socket
import subprocess
import sys
import urllib.error
import urllib.request

WEB_URL = "http://127.0.0.1:8000/healthz"
TIMEOUT_SECONDS = 10


def _probe_host() -> str:
    # Django answers 400 to a Host outside ALLOWED_HOSTS, so the probe presents the first allowed one.
    first = os.environ.get("DJANGO_ALLOWED_HOSTS", "localhost").split(",")[0].strip().lstrip(".")
    return "localhost" if first in ("", "*") else first


def web() -> int:
    """Healthy while gunicorn serves /healthz and reaches the database.

    A missing worker makes /healthz answer 503 "degraded" (monitoring sees that), but it is
    the worker container that is unhealthy then, not this one.
    """
    request = urllib.request.Request(WEB_URL, headers={"Host": _probe_host()})
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:  # noqa: S310 (fixed local URL)
            report = json.load(response)
    except urllib.error.HTTPError as exc:
        if exc.code != 503:
            return 1
        report = json.load(exc)
    return 0 if report["checks"]["database"]["ok"] else 1


def worker() -> int:
    """Healthy while this container's Celery worker answers a remote-control ping."""
    destination = f"celery@{socket.gethostname()}"
    command = [sys.executable, "-m", "celery", "-A", "config", "inspect", "ping", "--destination", destination]
    command += ["--timeout", str(TIMEOUT_SECONDS)]
    return subprocess.run(command, capture_output=True, timeout=TIMEOUT_SECONDS * 3, check=False).returncode  # noqa: S603


if __name__ == "__main__":
    sys.exit({"web": web, "worker": worker}[sys.argv[1]]())
