import pytest

from datasets.tests.pipeline_helpers import media_root  # noqa: F401


@pytest.fixture(autouse=True)
def _private_media(media_root):  # noqa: F811
    """Parquet files of these tests in a private MEDIA_ROOT (other runs share var/test-media)."""
    return media_root
