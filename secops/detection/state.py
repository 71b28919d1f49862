"""Window state of the correlation engine: one window per (correlation, group), bounded and restorable.

Each correlation keeps its groups in a dict used as a queue: expiry looks at the front, drops a window once
the watermark has passed the last moment a new event could still share a window with it (its horizon) or
its TTL, and sends live ones to the back. A cap on the number of groups evicts the front windows of the
largest correlation (those looked at longest ago). Every drop is counted by reason. Deadlines (windows
judged when they close, absence) sit in a heap. The whole state round-trips through JSON bytes
(`snapshot` / `restore` in the engine), so a restart in the middle of a brute force carries on.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Hashable, Iterator
from dataclasses import dataclass, field
from itertools import islice
from typing import Any

Entry = tuple[float, int, Any, tuple[str, ...]]
"""(event time, input index, counted value or None, ids of the contributing events)."""

GroupKey = tuple[Hashable, ...]


def freeze(value: Any) -> Any:
    """A hashable form of a field value (JSON lists back to tuples; objects to sorted item tuples)."""
    if isinstance(value, list | tuple):
        return tuple(freeze(v) for v in value)
    if isinstance(value, dict):
        return tuple(sorted((k, freeze(v)) for k, v in value.items()))
    return value


class Window:
    """The entries of one group of one correlation, in event-time order.

    `lo` and `counts` describe the trailing span [newest - timespan, newest] for correlations that fire as
    soon as their condition holds; `deadline` is set while a window waits to be evaluated at its close.
    """

    __slots__ = ("counts", "deadline", "entries", "lo", "newest")

    def __init__(self) -> None:
        self.entries: list[Entry] = []
        self.lo = 0
        self.counts: dict[Hashable, int] | None = None
        self.newest = -math.inf
        self.deadline: float | None = None


@dataclass(slots=True)
class StateCounters:
    expired: int = 0  # windows past their horizon (nothing could join them any more)
    evicted_ttl: int = 0  # windows older than the TTL, dropped before their horizon
    evicted_cap: int = 0  # windows dropped because the group cap was reached
    restore_dropped: int = 0  # windows in a snapshot whose correlation is no longer loaded


@dataclass(slots=True)
class WindowStore:
    """Windows per correlation (index into the plan), with their horizons, TTL, cap and deadlines."""

    horizons: list[float]
    max_groups: int
    ttl: float
    tables: list[dict[GroupKey, Window]] = field(init=False)
    size: int = 0
    counters: StateCounters = field(default_factory=StateCounters)
    _deadlines: list[tuple[float, int, int, GroupKey]] = field(default_factory=list)
    _seq: int = 0
    _created: list[int] = field(init=False)

    def __post_init__(self) -> None:
        self.tables = [{} for _ in self.horizons]
        self._created = [0 for _ in self.horizons]

    def get(self, index: int, key: GroupKey) -> Window:
        """The window of one group, created if new."""
        table = self.tables[index]
        window = table.get(key)
        if window is None:
            window = table[key] = Window()
            self.size += 1
            self._created[index] += 1
            if self.size > self.max_groups:
                self._evict()
        return window

    def drop(self, index: int, key: GroupKey) -> None:
        if self.tables[index].pop(key, None) is not None:
            self.size -= 1

    def _evict(self) -> None:
        """Make room: drop the front hundredth of the largest table (in one pass over its front)."""
        largest = max(range(len(self.tables)), key=lambda i: len(self.tables[i]))
        table = self.tables[largest]
        batch = min(len(table) - 1, max(1, self.max_groups // 100))  # never the window just made
        for key in list(islice(table, batch)):
            del table[key]
        self.size -= batch
        self.counters.evicted_cap += batch

    def arm(self, index: int, key: GroupKey, window: Window, deadline: float) -> None:
        """Evaluate this window once the watermark passes `deadline` (replaces an earlier deadline)."""
        window.deadline = deadline
        self._seq += 1
        heapq.heappush(self._deadlines, (deadline, self._seq, index, key))

    def next_deadline(self) -> float:
        return self._deadlines[0][0] if self._deadlines else math.inf

    def due(self, watermark: float) -> Iterator[tuple[int, GroupKey, Window]]:
        """Windows whose armed deadline the watermark has passed, earliest first."""
        heap = self._deadlines
        while heap and heap[0][0] < watermark:
            deadline, _, index, key = heapq.heappop(heap)
            window = self.tables[index].get(key)
            if window is not None and window.deadline == deadline:
                window.deadline = None
                yield index, key, window

    def sweep(self, watermark: float) -> None:
        """Drop windows past their horizon or TTL.

        Each table is a queue: the sweep looks at its front, drops what is done and sends live windows to
        the back. It looks at twice as many windows as were created since the last sweep (and at least
        64), so expiry keeps pace with creation at a constant cost per new window.
        """
        for index, table in enumerate(self.tables):
            horizon = self.horizons[index]
            budget = 2 * self._created[index] + 64
            self._created[index] = 0
            for key in list(islice(table, budget)):
                window = table[key]
                if window.newest + self.ttl < watermark:
                    self.counters.evicted_ttl += 1
                elif window.deadline is None and window.newest + horizon < watermark:
                    self.counters.expired += 1
                else:
                    del table[key]
                    table[key] = window
                    continue
                del table[key]
                self.size -= 1

    def items(self) -> Iterator[tuple[int, GroupKey, Window]]:
        for index, table in enumerate(self.tables):
            for key, window in table.items():
                yield index, key, window

    def to_state(self, names: list[str]) -> list[Any]:
        """Every window as [correlation, group key, newest, deadline, entries] (tuples serialise as lists)."""
        return [
            [names[index], key, window.newest, window.deadline, window.entries]
            for index, key, window in self.items()
        ]

    def load_state(self, items: list[Any], index_of: dict[str, int]) -> list[tuple[int, Window]]:
        """Rebuild windows from `to_state` output; returns them so the engine can recompute spans."""
        self.tables = [{} for _ in self.horizons]
        self._deadlines = []
        self.size = 0
        loaded: list[tuple[int, Window]] = []
        for name, key, newest, deadline, entries in items:
            index = index_of.get(name)
            if index is None:
                self.counters.restore_dropped += 1
                continue
            window = Window()
            window.entries = [
                (t, i, v if v.__class__ is not list else freeze(v), tuple(ids)) for t, i, v, ids in entries
            ]
            window.newest = newest
            frozen = tuple(v if v.__class__ is not list else freeze(v) for v in key)
            self.tables[index][frozen] = window
            self.size += 1
            if deadline is not None:
                self.arm(index, frozen, window, deadline)
            loaded.append((index, window))
        return loaded
