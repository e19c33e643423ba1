"""Result caching, pluggable: Django's cache when Django is configured, else a small in-process LRU.

Keys always contain the workspace id (SECURITY.md T-IDOR-09: two workspaces asking the same
question of the same bytes must still never share an entry), the fingerprint of the source
files (path, mtime, size, schema) and a hash of the canonical query.
"""

from __future__ import annotations

import contextlib
import contextvars
import hashlib
import json
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator
from typing import Protocol

KEY_PREFIX = "analytics:v1"
DEFAULT_TIMEOUT = 24 * 3600  # versions are immutable; the mtime in the key retires stale entries anyway
_MISS = object()
_UNSET = object()
# Per-version precomputation (analytics/precompute.py) keeps its entries this long: long enough that
# a dashboard nobody opened for weeks is still warm, bounded so a cache shared with other data (a
# Redis without an allkeys-* eviction policy) never fills up with entries that cannot expire.
PRECOMPUTED_TIMEOUT = 30 * 24 * 3600
# Set by `keep_long()`: entries written meanwhile get PRECOMPUTED_TIMEOUT.
_timeout_override: contextvars.ContextVar = contextvars.ContextVar("analytics_cache_timeout", default=_UNSET)


class ResultCache(Protocol):
    def get(self, key: str, default=None): ...

    def set(self, key: str, value, timeout: int | None = None) -> None: ...


class MemoryCache:
    """A bounded, thread-safe LRU (for scripts and processes without Django)."""

    def __init__(self, max_entries: int = 512) -> None:
        self.max_entries = max_entries
        self._data: OrderedDict[str, object] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: str, default=None):
        with self._lock:
            if key not in self._data:
                return default
            self._data.move_to_end(key)
            return self._data[key]

    def set(self, key: str, value, timeout: int | None = None) -> None:
        with self._lock:
            self._data[key] = value
            self._data.move_to_end(key)
            while len(self._data) > self.max_entries:
                self._data.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._data.clear()


class NullCache:
    """Caches nothing (benchmarks of cold queries, tests of the compute path)."""

    def get(self, key: str, default=None):
        return default

    def set(self, key: str, value, timeout: int | None = None) -> None:
        return None


class DjangoCache:
    def __init__(self, alias: str = "default") -> None:
        from django.core.cache import caches

        self._cache = caches[alias]

    def get(self, key: str, default=None):
        return self._cache.get(key, default)

    def set(self, key: str, value, timeout: int | None = DEFAULT_TIMEOUT) -> None:
        self._cache.set(key, value, timeout)


_process_cache = MemoryCache()


def default_cache() -> ResultCache:
    try:
        from django.conf import settings

        if settings.configured:
            return DjangoCache()
    except ImportError:  # pragma: no cover - Django is a dependency, but the engine does not need it
        pass
    return _process_cache


def cache_key(*, workspace_id: int, fingerprints: Iterable[str], kind: str, payload) -> str:
    if workspace_id is None or isinstance(workspace_id, bool):
        raise ValueError("a workspace id is required for analytics cache keys")
    body = json.dumps([kind, list(fingerprints), payload], sort_keys=True, default=str)
    digest = hashlib.sha256(body.encode()).hexdigest()
    return f"{KEY_PREFIX}:ws{int(workspace_id)}:{kind}:{digest}"


def cached(
    *,
    cache: ResultCache | None,
    workspace_id: int,
    fingerprints: Iterable[str],
    kind: str,
    payload,
    compute: Callable[[], object],
    timeout: int = DEFAULT_TIMEOUT,
):
    """`compute()`, memoised under (workspace, sources, kind, payload).

    Inside `keep_long()` a hit is written again with PRECOMPUTED_TIMEOUT, and a miss is stored so."""
    cache = default_cache() if cache is None else cache
    key = cache_key(workspace_id=workspace_id, fingerprints=fingerprints, kind=kind, payload=payload)
    override = _timeout_override.get()
    hit = cache.get(key, _MISS)
    if hit is not _MISS:
        if override is not _UNSET:
            cache.set(key, hit, override)
        return hit
    value = compute()
    store(cache, key, value, timeout)
    return value


def touch(cache: ResultCache, key: str, value) -> None:
    """Inside `keep_long()`, write a cache hit again so it is kept PRECOMPUTED_TIMEOUT too."""
    override = _timeout_override.get()
    if override is not _UNSET:
        cache.set(key, value, override)


def store(cache: ResultCache, key: str, value, timeout: int = DEFAULT_TIMEOUT) -> None:
    """`cache.set`, with PRECOMPUTED_TIMEOUT instead of `timeout` inside `keep_long()`."""
    override = _timeout_override.get()
    cache.set(key, value, timeout if override is _UNSET else override)


@contextlib.contextmanager
def keep_long() -> Iterator[None]:
    """Results cached inside this block are kept PRECOMPUTED_TIMEOUT (30 days). Safe because every
    key holds the source files' fingerprint: an entry can only ever be read for the exact immutable
    bytes it was computed from."""
    token = _timeout_override.set(PRECOMPUTED_TIMEOUT)
    try:
        yield
    finally:
        _timeout_override.reset(token)
