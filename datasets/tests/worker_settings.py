"""Settings for processes a pipeline test starts (a Celery worker, `manage.py ingest`, a bounded-memory run).

The test settings pin MEDIA_ROOT to var/test-media; here it comes from the environment, so the
subprocess and the test that started it share a private media directory.
"""

from pathlib import Path

from config.settings.test import *  # noqa: F403
from config.settings.test import env

MEDIA_ROOT = Path(env("LEADNAV_TEST_MEDIA_ROOT"))
# Engine limits a test wants in the subprocess, e.g. '{"max_compression_ratio": 1e9}'.
DATASETS_INGEST_LIMITS = env.json("LEADNAV_TEST_INGEST_LIMITS", default={})
