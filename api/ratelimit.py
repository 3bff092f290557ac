"""Per-key rate limiting: a token bucket per identity, in process memory.

Each identity (``key:<id>`` for an authenticated key; in the app's second, stricter limiter of
failed authentications ``ip:<address>`` and ``prefix:<key prefix>``) has a bucket of
``per_minute`` tokens refilled continuously at ``per_minute / 60`` tokens a second; a request
takes one token, and a request that finds the bucket empty is refused with the time until the
next token. So a client may burst up to ``per_minute`` requests and sustain ``per_minute`` a
minute.

The buckets live in the memory of one worker process: with ``pingan serve --workers N`` a key
may make up to N times the limit. That is enough to stop a runaway dashboard or a key-guessing
loop without a shared store (pingan deliberately needs nothing but its database). It is written
here rather than taken from ``limits``/``slowapi`` because the identity is only known after the
key has been checked inside a dependency, and the whole mechanism is thirty lines.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from api.errors import RateLimitedError

__all__ = ["RateLimiter"]


class RateLimiter:
    """Token buckets keyed by identity.

    Parameters
    ----------
    per_minute
        Requests a minute per identity; 0 disables the limiter.
    clock
        Monotonic clock in seconds (tests pass a fake one).
    """

    def __init__(self, per_minute: int, *, clock: Callable[[], float] = time.monotonic) -> None:
        if per_minute < 0:
            raise ValueError(f"per_minute must be >= 0 (0 disables); got {per_minute}")
        self.per_minute = per_minute
        self._clock = clock
        self._lock = threading.Lock()
        self._buckets: dict[str, tuple[float, float]] = {}
        self._last_prune = clock()

    @property
    def enabled(self) -> bool:
        """Whether requests are limited at all."""
        return self.per_minute > 0

    def check(self, identity: str) -> None:
        """Take one token for ``identity``.

        Parameters
        ----------
        identity
            ``key:<id>`` or ``ip:<address>``.

        Raises
        ------
        api.errors.RateLimitedError
            When the identity's bucket is empty; ``Retry-After`` is the wait for one token.
        """
        if not self.enabled:
            return
        rate_per_s = self.per_minute / 60.0
        capacity = float(self.per_minute)
        with self._lock:
            now = self._clock()
            tokens, stamp = self._buckets.get(identity, (capacity, now))
            tokens = min(capacity, tokens + (now - stamp) * rate_per_s)
            if tokens < 1.0:
                self._buckets[identity] = (tokens, now)
                raise RateLimitedError((1.0 - tokens) / rate_per_s)
            self._buckets[identity] = (tokens - 1.0, now)
            if now - self._last_prune > 60.0:
                self._prune(now, rate_per_s, capacity)

    def ensure_available(self, identity: str) -> None:
        """Refuse when ``identity``'s bucket is empty, without taking a token.

        The failure limiter calls this before checking credentials, so an address that has used
        up its failed attempts is refused before its next guess is even looked at.

        Raises
        ------
        api.errors.RateLimitedError
            When the bucket holds less than one token.
        """
        if not self.enabled:
            return
        rate_per_s = self.per_minute / 60.0
        with self._lock:
            now = self._clock()
            tokens, stamp = self._buckets.get(identity, (float(self.per_minute), now))
            tokens = min(float(self.per_minute), tokens + (now - stamp) * rate_per_s)
            if tokens < 1.0:
                raise RateLimitedError((1.0 - tokens) / rate_per_s)

    def _prune(self, now: float, rate_per_s: float, capacity: float) -> None:
        """Forget buckets that have refilled completely (they hold no state worth keeping)."""
        full = [k for k, (tokens, stamp) in self._buckets.items()
                if tokens + (now - stamp) * rate_per_s >= capacity]
        for k in full:
            del self._buckets[k]
        self._last_prune = now
