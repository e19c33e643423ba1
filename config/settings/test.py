"""The test suite. DATABASE_URL / CELERY_BROKER_URL / REDIS_URL switch it onto PostgreSQL and Redis."""

from .base import *  # noqa: F403
from .base import BASE_DIR, env

DEBUG = False
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "tests"}}
if env("LEADNAV_TEST_CACHE_DIR", default=""):
    # A real worker started by a test writes its heartbeat here, where the test process can read it.
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": env("LEADNAV_TEST_CACHE_DIR"),
        }
    }
# A real worker started by a test (ops/tests/test_worker_process.py) runs with LEADNAV_CELERY_EAGER=0.
CELERY_TASK_ALWAYS_EAGER = env.bool("LEADNAV_CELERY_EAGER", default=True)
CELERY_TASK_EAGER_PROPAGATES = True
# Off, so fixtures that publish versions do not also warm caches; analytics/tests/test_precompute.py turns it on.
ANALYTICS_PRECOMPUTE = False
WHITENOISE_USE_FINDERS = True
STORAGES["staticfiles"] = {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}
TEST_OUTPUT_DIR = BASE_DIR / "test-output"
MEDIA_ROOT = BASE_DIR / "var" / "test-media"
ALLOWED_HOSTS = ["testserver", "localhost", "127.0.0.1"]

if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # A file, not :memory:, so a real Celery worker process started by a test sees the same data.
    DATABASES["default"]["TEST"] = {"NAME": env("LEADNAV_TEST_DB", default=str(BASE_DIR / "var" / "test.sqlite3"))}
