"""Failed logins counted per client address, across user names: the account lockout stops guessing one
user's password, this stops one address from spraying many users (and spending an argon2 hash on each)."""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable


class AddressThrottle:
    """At most `limit` failed logins per address in `window` seconds; past that the address waits."""

    def __init__(self, limit: int, window: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.limit, self.window, self.clock = limit, window, clock
        self._failures: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def __len__(self) -> int:
        """Addresses with failures on record."""
        return len(self._failures)

    def wait(self, address: str) -> float:
        """Seconds until `address` may try again (0: it may try now)."""
        with self._lock:
            recent = self._prune(address)
            return 0.0 if len(recent) < self.limit else recent[0] + self.window - self.clock()

    def failed(self, address: str) -> None:
        with self._lock:
            self._prune(address)
            self._failures.setdefault(address, deque()).append(self.clock())

    def _prune(self, address: str) -> deque[float]:
        """The address's failures still inside the window; an address with none is forgotten, so the
        table stays as small as the attack."""
        recent = self._failures.get(address, deque())
        cutoff = self.clock() - self.window
        while recent and recent[0] <= cutoff:
            recent.popleft()
        if not recent:
            self._failures.pop(address, None)
        return recent
