"""The one bridge from Django models to the engine: a DatasetVersion becomes a `Source`.

Kept apart so the rest of the engine imports no models (tests and bench scripts build a Source
from a Parquet path and a schema). Callers fetch the version inside the workspace first
(`DatasetVersion.objects.for_workspace(ws)`); the workspace id then goes into every cache key.
"""

from __future__ import annotations

from .schema import Source


def source_for_version(version) -> Source:
    """The engine's view of one immutable DatasetVersion (its Parquet file and column schema)."""
    from datasets.storage import version_parquet_path

    return Source.from_schema(version_parquet_path(version), version.columns, version_id=version.pk)
