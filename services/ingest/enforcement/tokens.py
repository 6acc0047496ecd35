"""An access-token cache shared by the WeCom and Feishu clients (both issue 2-hour tokens).

Both platforms limit how often a token may be fetched, so the token is kept until shortly before it
expires and re-fetched only then, or when the platform rejects it (``invalidate``).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from services.ingest.enforcement.calls import Reply

Fetch = Callable[[], "tuple[str, float] | Reply"]  # (token, lifetime in seconds) or a classified failure


class TokenCache:
    """Thread-safe; ``clock`` is a monotonic clock in seconds (injectable for tests)."""

    def __init__(self, fetch: Fetch, *, margin_s: float = 300.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._fetch, self._margin, self._clock = fetch, margin_s, clock
        self._token: str | None = None
        self._expires_at = 0.0
        self._lock = threading.Lock()

    def get(self) -> str | Reply:
        """The current token, fetching a new one when there is none or it is about to expire."""
        with self._lock:
            if self._token is not None and self._clock() < self._expires_at:
                return self._token
            fetched = self._fetch()
            if isinstance(fetched, Reply):
                return fetched
            token, lifetime = fetched
            self._token = token
            self._expires_at = self._clock() + max(lifetime - self._margin, lifetime / 2)
            return token

    def invalidate(self) -> None:
        with self._lock:
            self._token = None
