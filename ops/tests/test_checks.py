from django.core.checks import registry

from ops import checks


def _ids(messages):
    return [message.id for message in messages]


def test_every_leadnav_check_is_registered_and_the_security_ones_only_for_deploy():
    plain = set(registry.registry.get_checks(include_deployment_checks=False))
    with_deploy = set(registry.registry.get_checks(include_deployment_checks=True))

    assert checks.check_celery_visibility_timeout in plain
    assert {
        checks.check_upload_limits,
        checks.check_csp_enforced,
        checks.check_allauth_rate_limits,
        checks.check_cache_shared,
        checks.check_trusted_proxy_count,
        checks.check_storage_backend_installed,
    } <= with_deploy - plain


def test_upload_limits_pass_with_the_project_settings():
    assert checks.check_upload_limits() == []


def test_upload_limits_fail_when_one_is_unbounded(settings):
    settings.DATA_UPLOAD_MAX_NUMBER_FILES = None

    assert _ids(checks.check_upload_limits()) == ["ops.E001"]


def test_csp_passes_with_the_project_policy():
    assert checks.check_csp_enforced() == []


def test_csp_fails_without_its_middleware(settings):
    settings.MIDDLEWARE = [m for m in settings.MIDDLEWARE if m != "csp.middleware.CSPMiddleware"]

    assert _ids(checks.check_csp_enforced()) == ["ops.E002"]


def test_csp_fails_when_only_report_only(settings):
    settings.CONTENT_SECURITY_POLICY = None
    settings.CONTENT_SECURITY_POLICY_REPORT_ONLY = {"DIRECTIVES": {"default-src": ["'self'"]}}

    assert _ids(checks.check_csp_enforced()) == ["ops.E003"]


def test_csp_fails_when_script_src_allows_inline(settings):
    directives = {"default-src": ["'self'"], "script-src": ["'self'", "'unsafe-inline'"]}
    settings.CONTENT_SECURITY_POLICY = {"DIRECTIVES": directives}

    assert _ids(checks.check_csp_enforced()) == ["ops.E004"]


def test_csp_falls_back_to_default_src_for_scripts(settings):
    settings.CONTENT_SECURITY_POLICY = {"DIRECTIVES": {"default-src": ["*"]}}

    assert _ids(checks.check_csp_enforced()) == ["ops.E004"]


def test_rate_limits_pass_with_the_project_settings():
    assert checks.check_allauth_rate_limits() == []


def test_rate_limits_fail_when_all_are_switched_off(settings):
    settings.ACCOUNT_RATE_LIMITS = False

    assert _ids(checks.check_allauth_rate_limits()) == ["ops.E005"]


def test_rate_limits_fail_when_failed_logins_are_unlimited(settings):
    settings.ACCOUNT_RATE_LIMITS = {"login_failed": None}

    messages = checks.check_allauth_rate_limits()

    assert _ids(messages) == ["ops.E005"]
    assert messages[0].msg == "allauth rate limits are disabled for: login_failed."


def test_cache_fails_when_dummy(settings):
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.dummy.DummyCache"}}

    assert _ids(checks.check_cache_shared()) == ["ops.E006"]


def test_cache_warns_when_per_process(settings):
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

    assert _ids(checks.check_cache_shared()) == ["ops.W001"]


def test_cache_passes_when_redis(settings):
    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": "redis://127.0.0.1:6379/0"}
    }

    assert checks.check_cache_shared() == []


def test_proxy_count_warns_when_a_proxy_is_declared_but_not_counted(settings):
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    settings.ALLAUTH_TRUSTED_PROXY_COUNT = 0

    assert _ids(checks.check_trusted_proxy_count()) == ["ops.W002"]


def test_proxy_count_passes_when_it_matches_a_proxy(settings):
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    settings.ALLAUTH_TRUSTED_PROXY_COUNT = 1

    assert checks.check_trusted_proxy_count() == []


def test_proxy_count_fails_when_unset(settings):
    del settings.ALLAUTH_TRUSTED_PROXY_COUNT

    assert _ids(checks.check_trusted_proxy_count()) == ["ops.E007"]


def test_storage_backend_fails_when_its_package_is_missing(settings):
    settings.STORAGES = {**settings.STORAGES, "default": {"BACKEND": "no_such_storage_pkg.backends.Storage"}}

    assert _ids(checks.check_storage_backend_installed()) == ["ops.E008"]


def test_storage_backend_passes_with_the_filesystem():
    assert checks.check_storage_backend_installed() == []


def test_celery_timing_passes_with_the_project_settings():
    assert checks.check_celery_visibility_timeout() == []


def test_celery_timing_fails_when_a_retry_could_outlast_the_visibility_timeout(settings):
    settings.CELERY_TASK_TIME_LIMIT = 3600
    settings.CELERY_TASK_RETRY_BACKOFF_MAX = 600
    settings.CELERY_VISIBILITY_TIMEOUT = 4200
    settings.CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 4200}

    messages = checks.check_celery_visibility_timeout()

    assert _ids(messages) == ["ops.E009", "ops.E009"]
    assert "(4200s) must exceed CELERY_TASK_TIME_LIMIT + CELERY_TASK_RETRY_BACKOFF_MAX (3600s + 600s)" in (
        messages[0].msg
    )


def test_celery_timing_fails_when_only_the_broker_option_is_short(settings):
    settings.CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}

    messages = checks.check_celery_visibility_timeout()

    assert _ids(messages) == ["ops.E009"]
    assert messages[0].msg.startswith("CELERY_BROKER_TRANSPORT_OPTIONS['visibility_timeout'] (3600s)")
