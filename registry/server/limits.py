"""Rate limits (token buckets): requests per token (``rate`` a second, bursts of twice
that) and login attempts per account (``LOGIN_RATE``, bursts of ``LOGIN_BURST``); over
them, HTTP 429."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

#: Password attempts per account: 5 at once, then one every 10 seconds.
LOGIN_RATE, LOGIN_BURST = 0.1, 5.0


class RateLimiter:
    """``clock``: seconds, monotonic (tests stop it to make refills impossible)."""

    def __init__(
        self, rate: float, burst: float | None = None, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.rate = rate
        self.burst = burst if burst is not None else 2 * rate
        self.clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def allow(self, key: str, now: float | None = None) -> bool:
        """Take one request from ``key``'s bucket; False when it is empty."""
        now = self.clock() if now is None else now
        with self._lock:
            level, then = self._buckets.get(key, (self.burst, now))
            level = min(self.burst, level + (now - then) * self.rate)
            if level < 1:
                self._buckets[key] = (level, now)
                return False
            self._buckets[key] = (level - 1, now)
            return True
