"""An in-process cache of computed results, keyed by the data version.

Every load bumps the data version (:func:`api.db.bump_data_version`), so a key that includes it
can never serve a stale result; old entries simply age out of the LRU. The cache is per process
(each server worker has its own). Entries that say their size (a ``cache_bytes`` attribute, as
cached response bodies do) also count against a byte budget, so a few city-wide GeoJSON answers
cannot fill the memory of a worker.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any, TypeVar

__all__ = ["ResultCache"]

T = TypeVar("T")


class ResultCache:
    """A thread-safe least-recently-used cache.

    Parameters
    ----------
    max_entries
        Entries kept; the least recently used go first.
    max_bytes
        Budget of the entries that give their size (``cache_bytes``); past it the least
        recently used entries go first (the newest entry is always kept).
    """

    def __init__(self, max_entries: int = 128, max_bytes: int = 512 * 2**20) -> None:
        if max_entries < 1:
            raise ValueError(f"max_entries must be >= 1; got {max_entries}")
        if max_bytes < 1:
            raise ValueError(f"max_bytes must be >= 1; got {max_bytes}")
        self._max = max_entries
        self._max_bytes = max_bytes
        self._bytes = 0
        self._data: OrderedDict[Hashable, Any] = OrderedDict()
        self._lock = threading.Lock()
        self._key_locks: dict[Hashable, threading.Lock] = {}
        self.hits = 0
        self.misses = 0

    def get_or_compute(self, key: Hashable, compute: Callable[[], T]) -> T:
        """Return the cached value of ``key``, computing it once (even under concurrency)."""
        with self._lock:
            if key in self._data:
                self._data.move_to_end(key)
                self.hits += 1
                return self._data[key]
            key_lock = self._key_locks.setdefault(key, threading.Lock())
        with key_lock:
            with self._lock:
                if key in self._data:
                    self.hits += 1
                    return self._data[key]
            try:
                value = compute()
            except BaseException:
                # A failed computation caches nothing and keeps no lock: refused requests with
                # ever-new keys must not pile locks up.
                with self._lock:
                    self._key_locks.pop(key, None)
                raise
            with self._lock:
                self.misses += 1
                replaced = self._data.pop(key, None)
                if replaced is not None:  # computed twice by racing threads: count it once
                    self._bytes -= _size(replaced)
                self._data[key] = value
                self._data.move_to_end(key)
                self._bytes += _size(value)
                while len(self._data) > self._max or (self._bytes > self._max_bytes
                                                      and len(self._data) > 1):
                    self._bytes -= _size(self._data.popitem(last=False)[1])
                self._key_locks.pop(key, None)
            return value

    def clear(self) -> None:
        """Drop every entry."""
        with self._lock:
            self._data.clear()
            self._bytes = 0

    @property
    def nbytes(self) -> int:
        """Bytes held by the entries that give their size."""
        return self._bytes

    def __len__(self) -> int:
        return len(self._data)


def _size(value: Any) -> int:
    return int(getattr(value, "cache_bytes", 0))
