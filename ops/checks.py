"""Deployment gates that Django's own `check --deploy` does not know about (SECURITY.md §3.12 item 2).

`.ci/run` runs `manage.py check --deploy --fail-level WARNING` with the production settings, so any
of these turns CI red. The Celery one runs on every `check`: a wrong visibility timeout is a bug
in every environment, not only in production.
"""

import importlib.util

from django.conf import settings
from django.core.checks import CheckMessage, Error, Tags, Warning, register

LEADNAV_TAG = "leadnav"

# allauth actions whose rate limit protects against guessing and mail bombing.
CRITICAL_RATE_LIMITS = ("login", "login_failed", "signup", "reset_password", "request_login_code", "reauthenticate")
# CSP sources that would let injected markup run script.
UNSAFE_SCRIPT_SOURCES = ("'unsafe-inline'", "'unsafe-eval'", "*", "data:", "http:", "https:")
UPLOAD_LIMIT_SETTINGS = ("DATA_UPLOAD_MAX_MEMORY_SIZE", "DATA_UPLOAD_MAX_NUMBER_FIELDS", "DATA_UPLOAD_MAX_NUMBER_FILES")


@register(LEADNAV_TAG, Tags.security, deploy=True)
def check_upload_limits(app_configs=None, **kwargs) -> list[CheckMessage]:
    return [
        Error(f"{name} is None: request bodies are unbounded.", hint=f"Set {name} to a number.", id="ops.E001")
        for name in UPLOAD_LIMIT_SETTINGS
        if getattr(settings, name, None) is None
    ]


@register(LEADNAV_TAG, Tags.security, deploy=True)
def check_csp_enforced(app_configs=None, **kwargs) -> list[CheckMessage]:
    if "csp.middleware.CSPMiddleware" not in settings.MIDDLEWARE:
        return [Error("csp.middleware.CSPMiddleware is not in MIDDLEWARE.", id="ops.E002")]
    policy = getattr(settings, "CONTENT_SECURITY_POLICY", None) or {}
    directives = policy.get("DIRECTIVES") or {}
    if not directives:
        return [
            Error(
                "CONTENT_SECURITY_POLICY has no DIRECTIVES: the policy is not enforced.",
                hint="A report-only policy alone does not protect anyone.",
                id="ops.E003",
            )
        ]
    script_src = directives.get("script-src", directives.get("default-src", []))
    unsafe = sorted(set(script_src) & set(UNSAFE_SCRIPT_SOURCES))
    if not script_src or unsafe:
        message = f"CSP script-src allows {unsafe or 'anything'}."
        return [Error(message, hint="Serve scripts from 'self'.", id="ops.E004")]
    return []


@register(LEADNAV_TAG, Tags.security, deploy=True)
def check_allauth_rate_limits(app_configs=None, **kwargs) -> list[CheckMessage]:
    from allauth.account import app_settings as account_settings

    limits = account_settings.RATE_LIMITS  # allauth's effective limits: its defaults merged with ours
    disabled = [action for action in CRITICAL_RATE_LIMITS if not limits.get(action)]
    if disabled:
        return [
            Error(
                f"allauth rate limits are disabled for: {', '.join(disabled)}.",
                hint="Keep ACCOUNT_RATE_LIMITS on; tune the rates instead.",
                id="ops.E005",
            )
        ]
    return []


@register(LEADNAV_TAG, Tags.caches, Tags.security, deploy=True)
def check_cache_shared(app_configs=None, **kwargs) -> list[CheckMessage]:
    # allauth counts rate-limit hits in the cache, and /healthz reads the worker heartbeat there.
    backend = settings.CACHES["default"]["BACKEND"]
    if backend.endswith("DummyCache"):
        return [Error("The default cache is DummyCache: rate limits never trigger.", id="ops.E006")]
    if backend.endswith("LocMemCache"):
        return [
            Warning(
                "The default cache is LocMemCache: each process counts rate limits on its own.",
                hint="Set REDIS_URL.",
                id="ops.W001",
            )
        ]
    return []


@register(LEADNAV_TAG, Tags.security, deploy=True)
def check_trusted_proxy_count(app_configs=None, **kwargs) -> list[CheckMessage]:
    count = getattr(settings, "ALLAUTH_TRUSTED_PROXY_COUNT", None)
    if count is None:
        return [Error("ALLAUTH_TRUSTED_PROXY_COUNT is not set.", id="ops.E007")]
    if getattr(settings, "SECURE_PROXY_SSL_HEADER", None) and count == 0:
        # Behind a proxy with a count of 0, every client has the proxy's IP: one shared rate-limit bucket.
        return [
            Warning(
                "SECURE_PROXY_SSL_HEADER says a proxy is in front, but ALLAUTH_TRUSTED_PROXY_COUNT is 0.",
                hint="Set ALLAUTH_TRUSTED_PROXY_COUNT to the number of proxies in front of gunicorn.",
                id="ops.W002",
            )
        ]
    return []


@register(LEADNAV_TAG, Tags.security, deploy=True)
def check_storage_backend_installed(app_configs=None, **kwargs) -> list[CheckMessage]:
    backend = settings.STORAGES["default"]["BACKEND"]
    module = backend.rsplit(".", 1)[0]
    if importlib.util.find_spec(module.split(".", 1)[0]) is None:
        return [Error(f"The default storage backend {backend} is not installed.", id="ops.E008")]
    return []


def celery_timing_problems() -> list[str]:
    """Why a redelivery could overlap a running task, if it could (T-REL-10); empty when the timing is safe."""
    hard_limit = settings.CELERY_TASK_TIME_LIMIT
    backoff_max = settings.CELERY_TASK_RETRY_BACKOFF_MAX
    problems = []
    timeouts = {
        "CELERY_VISIBILITY_TIMEOUT": settings.CELERY_VISIBILITY_TIMEOUT,
        "CELERY_BROKER_TRANSPORT_OPTIONS['visibility_timeout']": settings.CELERY_BROKER_TRANSPORT_OPTIONS.get(
            "visibility_timeout", settings.CELERY_VISIBILITY_TIMEOUT
        ),
    }
    for name, timeout in timeouts.items():
        if not timeout > hard_limit + backoff_max:
            problems.append(
                f"{name} ({timeout}s) must exceed CELERY_TASK_TIME_LIMIT + CELERY_TASK_RETRY_BACKOFF_MAX "
                f"({hard_limit}s + {backoff_max}s)"
            )
    return problems


@register(LEADNAV_TAG, "celery")
def check_celery_visibility_timeout(app_configs=None, **kwargs) -> list[CheckMessage]:
    return [
        Error(
            problem + ": the broker would hand a running task to a second worker.",
            id="ops.E009",
        )
        for problem in celery_timing_problems()
    ]
