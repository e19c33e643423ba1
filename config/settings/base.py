"""Settings shared by every environment; everything that differs comes from the environment.

The zero-server default (no DATABASE_URL, no REDIS_URL) is SQLite in WAL mode, a
filesystem Celery broker and a database cache, so `make run` needs nothing running.
"""

from datetime import timedelta
from pathlib import Path

import environ

BASE_DIR = Path(__file__).resolve().parent.parent.parent
env = environ.Env()
if env.bool("DJANGO_READ_DOT_ENV_FILE", default=False):
    env.read_env(str(BASE_DIR / ".env"))

VAR_DIR = Path(env("LEADNAV_VAR_DIR", default=str(BASE_DIR / "var")))
VAR_DIR.mkdir(parents=True, exist_ok=True)

SECRET_KEY = env("DJANGO_SECRET_KEY", default="insecure-local-development-key-do-not-use")
DEBUG = env.bool("DJANGO_DEBUG", default=False)
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])
SITE_ID = 1
SITE_NAME = "Lead Navigator"
SITE_DOMAIN = env("DJANGO_SITE_DOMAIN", default="localhost:8000")  # shown in emails

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.sites",
    "django.contrib.humanize",
    "allauth",
    "allauth.account",
    "allauth.mfa",
    "allauth.usersessions",
    "django_celery_beat",
    "django_celery_results",
    "csp",
    # ours, in dependency order (each may import only from those above it)
    "accounts",
    "workspaces",
    "audit",
    "datasets",
    "analytics",
    "segments",
    "exports",
    "ops",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "audit.middleware.DeniedAccessAuditMiddleware",
    "audit.middleware.LoginCodeRequestAuditMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    "allauth.usersessions.middleware.UserSessionsMiddleware",
    "accounts.middleware.IdleSessionTimeoutMiddleware",
    "accounts.middleware.ApprovalRequiredMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "workspaces.context_processors.workspace_nav",
            ],
        },
    },
]

# --- database -------------------------------------------------------------------------------
SQLITE_PATH = VAR_DIR / "db.sqlite3"
DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{SQLITE_PATH}")}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets the web, worker and beat processes read while one writes; IMMEDIATE takes the
    # write lock at BEGIN so two writers queue instead of failing with "database is locked".
    DATABASES["default"]["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
DATABASES["default"]["ATOMIC_REQUESTS"] = True
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DATABASES["default"]["CONN_MAX_AGE"] = env.int("DJANGO_CONN_MAX_AGE", default=0)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- cache: Redis when configured (allauth rate limits need a shared cache) ----------------
REDIS_URL = env("REDIS_URL", default="")
if REDIS_URL:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}}
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.db.DatabaseCache", "LOCATION": "leadnav_cache"}}

# --- auth -------------------------------------------------------------------------------------
AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 8}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "account_login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "account_login"

ACCOUNT_ADAPTER = "accounts.adapters.AccountAdapter"
ACCOUNT_USER_MODEL_USERNAME_FIELD = None
ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "password1*", "password2*"]
ACCOUNT_EMAIL_VERIFICATION = "mandatory"
ACCOUNT_UNIQUE_EMAIL = True
ACCOUNT_PREVENT_ENUMERATION = True
ACCOUNT_LOGOUT_ON_GET = False
ACCOUNT_LOGOUT_ON_PASSWORD_CHANGE = False  # the changing session stays; others die with the hash
ACCOUNT_LOGIN_ON_EMAIL_CONFIRMATION = True
ACCOUNT_LOGIN_ON_PASSWORD_RESET = False
ACCOUNT_SESSION_REMEMBER = False
ACCOUNT_CHANGE_EMAIL = True
ACCOUNT_EMAIL_SUBJECT_PREFIX = "[Lead Navigator] "
ACCOUNT_EMAIL_NOTIFICATIONS = True  # mail the user when their password or email address changes
ACCOUNT_LOGIN_BY_CODE_ENABLED = True
ACCOUNT_LOGIN_BY_CODE_TIMEOUT = env.int("ACCOUNT_LOGIN_BY_CODE_TIMEOUT", default=300)
ACCOUNT_LOGIN_BY_CODE_MAX_ATTEMPTS = 3
ACCOUNT_EMAIL_VERIFICATION_BY_CODE_ENABLED = False
ACCOUNT_RATE_LIMITS = {
    "login": "30/m/ip",
    "login_failed": "10/m/ip,5/5m/key",
    "signup": "20/m/ip",
    "request_login_code": "20/m/ip,3/m/key",
    "reset_password": "20/m/ip,5/m/key",
    "reset_password_from_key": "20/m/ip",
    "confirm_email": "1/3m/key",
    "change_password": "5/m/user",
    "manage_email": "10/m/user",
}
# Requests arrive through exactly this many reverse proxies; X-Forwarded-For beyond them is ignored.
ALLAUTH_TRUSTED_PROXY_COUNT = env.int("ALLAUTH_TRUSTED_PROXY_COUNT", default=0)
ACCOUNT_REQUIRE_APPROVAL = env.bool("ACCOUNT_REQUIRE_APPROVAL", default=False)
MFA_SUPPORTED_TYPES = ["totp", "recovery_codes"]
MFA_TOTP_ISSUER = "Lead Navigator"
MFA_TOTP_TOLERANCE = 1
# Off: tracking writes a UserSession row on every authenticated request (a DB write per GET,
# and a write lock per page view on SQLite). The sessions page still shows IP, browser and start.
USERSESSIONS_TRACK_ACTIVITY = False

SESSION_COOKIE_AGE = env.int("SESSION_IDLE_TIMEOUT_SECONDS", default=8 * 3600)
SESSION_IDLE_TIMEOUT_SECONDS = SESSION_COOKIE_AGE
SESSION_SAVE_EVERY_REQUEST = False
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"

# --- email -------------------------------------------------------------------------------------
EMAIL_BACKEND = env("DJANGO_EMAIL_BACKEND", default="django.core.mail.backends.console.EmailBackend")
if env("EMAIL_HOST", default=""):
    EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    EMAIL_HOST = env("EMAIL_HOST")
    EMAIL_PORT = env.int("EMAIL_PORT", default=587)
    EMAIL_HOST_USER = env("EMAIL_HOST_USER", default="")
    EMAIL_HOST_PASSWORD = env("EMAIL_HOST_PASSWORD", default="")
    EMAIL_USE_TLS = env.bool("EMAIL_USE_TLS", default=True)
    EMAIL_TIMEOUT = env.int("EMAIL_TIMEOUT", default=10)  # a stuck SMTP server must not hang a login request
DEFAULT_FROM_EMAIL = env("DJANGO_DEFAULT_FROM_EMAIL", default="Lead Navigator <noreply@localhost>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL

# --- i18n / static / media -----------------------------------------------------------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATICFILES_FINDERS = [
    "django.contrib.staticfiles.finders.FileSystemFinder",
    "django.contrib.staticfiles.finders.AppDirectoriesFinder",
    "analytics.staticfinders.PlotlyFinder",  # vendor/plotly.min.js from the plotly package
]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}
MEDIA_ROOT = Path(env("DJANGO_MEDIA_ROOT", default=str(VAR_DIR / "media")))
MEDIA_URL = "/media-not-served/"  # uploaded files are only served through views that check access
# S3-compatible object storage for uploads and dataset files when a bucket is set (django-storages);
# else the files live under MEDIA_ROOT. Credentials: AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, or
# left empty for boto3's own chain (instance role, ~/.aws). MEDIA_ROOT still holds the receiving
# parts and the workers' staging; see datasets/storage.py.
LEADNAV_S3_BUCKET = env("LEADNAV_S3_BUCKET", default="") or env("AWS_STORAGE_BUCKET_NAME", default="")
if LEADNAV_S3_BUCKET:
    STORAGES["default"] = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": LEADNAV_S3_BUCKET,
            "endpoint_url": env("AWS_S3_ENDPOINT_URL", default="") or None,
            "region_name": env("AWS_S3_REGION_NAME", default="") or None,
            "access_key": env("AWS_ACCESS_KEY_ID", default="") or None,
            "secret_key": env("AWS_SECRET_ACCESS_KEY", default="") or None,
            "location": env("LEADNAV_S3_PREFIX", default=""),  # a key prefix inside the bucket
            "addressing_style": env("AWS_S3_ADDRESSING_STYLE", default="") or None,  # "path" for MinIO-likes
            "default_acl": None,  # the bucket's own policy (private); files are served through views
            "file_overwrite": True,  # keys are ours and fresh: never renamed
        },
    }

# --- security headers ----------------------------------------------------------------------------
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'none'"],
        "frame-ancestors": ["'none'"],
        "form-action": ["'self'"],
    },
}
DATA_UPLOAD_MAX_NUMBER_FILES = 10
DATA_UPLOAD_MAX_NUMBER_FIELDS = 1000

# --- Celery (SECURITY.md §2.2) --------------------------------------------------------------------
CELERY_BROKER_URL = env("CELERY_BROKER_URL", default=REDIS_URL or "filesystem://")
CELERY_FILESYSTEM_BROKER_DIR = VAR_DIR / "broker"
if CELERY_BROKER_URL.startswith("filesystem://"):
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(CELERY_FILESYSTEM_BROKER_DIR / "out"),
        "data_folder_out": str(CELERY_FILESYSTEM_BROKER_DIR / "out"),
        "control_folder": str(CELERY_FILESYSTEM_BROKER_DIR / "control"),
        "store_processed": False,
    }
    # kombu lists these folders without creating them: a fresh clone's first publish would crash.
    for _folder in ("out", "control"):
        (CELERY_FILESYSTEM_BROKER_DIR / _folder).mkdir(parents=True, exist_ok=True)
else:
    CELERY_BROKER_TRANSPORT_OPTIONS = {}
CELERY_RESULT_BACKEND = "django-db"
CELERY_RESULT_EXTENDED = True
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_RESULT_SERIALIZER = "json"
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_TASK_ACKS_ON_FAILURE_OR_TIMEOUT = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SOFT_TIME_LIMIT = 2 * 3600
CELERY_TASK_TIME_LIMIT = 2 * 3600 + 300
CELERY_TASK_RETRY_BACKOFF_MAX = 600
CELERY_VISIBILITY_TIMEOUT = 4 * 3600  # > hard time limit + the longest retry countdown
CELERY_BROKER_TRANSPORT_OPTIONS["visibility_timeout"] = CELERY_VISIBILITY_TIMEOUT
CELERY_RESULT_BACKEND_TRANSPORT_OPTIONS = {"visibility_timeout": CELERY_VISIBILITY_TIMEOUT}
CELERY_WORKER_SOFT_SHUTDOWN_TIMEOUT = 60
CELERY_WORKER_CANCEL_LONG_RUNNING_TASKS_ON_CONNECTION_LOSS = True
CELERY_WORKER_MAX_TASKS_PER_CHILD = 50
CELERY_WORKER_MAX_MEMORY_PER_CHILD = 1_500_000
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TASK_PUBLISH_RETRY_POLICY = {"max_retries": 2, "interval_start": 0, "interval_step": 0.5, "interval_max": 1}
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_TIMEZONE = TIME_ZONE
WORKER_HEARTBEAT_SECONDS = 15
WORKER_HEARTBEAT_STALE_AFTER = timedelta(seconds=90)

# --- datasets (DESIGN.md §5, SECURITY.md §2.3) ---------------------------------------------------------
DATASETS_MAX_UPLOAD_BYTES = env.int("DATASETS_MAX_UPLOAD_BYTES", default=2 << 30)
DATASETS_CHUNK_BYTES = env.int("DATASETS_CHUNK_BYTES", default=8 << 20)
DATASETS_WORKSPACE_QUOTA_BYTES = env.int("DATASETS_WORKSPACE_QUOTA_BYTES", default=20 << 30)
DATASETS_WORKSPACE_MAX_UPLOADS = env.int("DATASETS_WORKSPACE_MAX_UPLOADS", default=500)
DATASETS_MAX_DECOMPRESSED_BYTES = env.int("DATASETS_MAX_DECOMPRESSED_BYTES", default=10 << 30)
DATASETS_LEASE_SECONDS = env.int("DATASETS_LEASE_SECONDS", default=300)
DATASETS_HEARTBEAT_SECONDS = env.float("DATASETS_HEARTBEAT_SECONDS", default=2.0)
DATASETS_MAX_ATTEMPTS = env.int("DATASETS_MAX_ATTEMPTS", default=3)
# The queue ingest tasks are published to ("celery": the queue `make run`'s worker consumes).
DATASETS_INGEST_QUEUE = env("DATASETS_INGEST_QUEUE", default="celery")
# With S3 storage: local copies of published Parquet files for DuckDB, least recently used evicted.
DATASETS_PARQUET_CACHE_DIR = Path(env("LEADNAV_PARQUET_CACHE_DIR", default=str(VAR_DIR / "parquet-cache")))
DATASETS_PARQUET_CACHE_MAX_BYTES = env.int("LEADNAV_PARQUET_CACHE_MAX_BYTES", default=10 << 30)
FILE_UPLOAD_TEMP_DIR = str(VAR_DIR / "upload-tmp")
Path(FILE_UPLOAD_TEMP_DIR).mkdir(parents=True, exist_ok=True)

# --- workspaces ---------------------------------------------------------------------------------------
INVITATION_TTL = timedelta(days=7)
INVITATION_RATE_LIMIT_PER_HOUR = env.int("INVITATION_RATE_LIMIT_PER_HOUR", default=50)

# --- analytics -------------------------------------------------------------------------------------------
# A worker computes a just-published version's default dashboards into the cache (analytics/precompute.py).
ANALYTICS_PRECOMPUTE = env.bool("ANALYTICS_PRECOMPUTE", default=True)
# Top combos run on a worker above this many (rows x attribute subsets).
COMBOS_BACKGROUND_THRESHOLD = env.int("COMBOS_BACKGROUND_THRESHOLD", default=50_000_000)
COMBOS_JOB_STALE_SECONDS = env.int("COMBOS_JOB_STALE_SECONDS", default=2 * 3600 + 600)  # > the task time limit

# --- exports (SECURITY.md §3.6): streamed up to these sizes, a background job with a download above ----
EXPORT_STREAM_MAX_ROWS = env.int("EXPORT_STREAM_MAX_ROWS", default=100_000)
EXPORT_XLSX_STREAM_MAX_CELLS = env.int("EXPORT_XLSX_STREAM_MAX_CELLS", default=250_000)
EXPORT_VIEWER_ROW_CAP = env.int("EXPORT_VIEWER_ROW_CAP", default=10_000)
EXPORT_FILE_TTL_HOURS = env.int("EXPORT_FILE_TTL_HOURS", default=72)
EXPORTS_QUEUE = env("EXPORTS_QUEUE", default="celery")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env("DJANGO_LOG_LEVEL", default="INFO")},
}
