"""How a window decides: the per-type rules that turn a group's entries into firings.

Two regimes. Correlations whose condition can only become true as events arrive (gt/gte counts, temporal
conditions without `not`) are *immediate*: each arrival is judged on the trailing span [newest - timespan,
newest] of its group and fires at once, so alert latency is one event. The rest (lt/lte/eq/neq counts,
extended conditions with `not`, and our absence type) can only be judged when a window *closes*: the window
opens at its first entry (for absence, at each A) and is judged once the watermark passes open + timespan.

A firing consumes its evidence: those entries leave the window, so the same events never fire twice and a
long brute force fires once per threshold's worth of attempts (suppression then folds the repeats).
An entry that arrives out of order but inside the allowed lateness is inserted in time order; if it falls
before the trailing span (possible only when lateness exceeds the timespan) it is judged on the span that
ends at the latest entry no later than its time + timespan.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Hashable

from secops.detection.correlate import Correlation
from secops.detection.correlate_absence import ABSENCE_TYPE
from secops.detection.state import Entry, Window


def _time(entry: Entry) -> float:
    return entry[0]


def _ordered_start(corr: Correlation, span: list[Entry]) -> tuple[int, frozenset[int]]:
    """Greedy in-order match of the inputs over the span: (offset of the first match, inputs matched)."""
    want = 0
    start = -1
    matched: set[int] = set()
    n = len(corr.inputs)
    for offset, entry in enumerate(span):
        if want < n and entry[1] == want:
            if start < 0:
                start = offset
            matched.add(want)
            want += 1
    return max(start, 0), frozenset(matched)


def satisfied(corr: Correlation, span: list[Entry]) -> int | None:
    """Offset in `span` where the evidence starts if the condition holds over it, else None."""
    if not span:
        return None
    kind = corr.kind
    if kind == "event_count":
        return 0 if corr.test(len(span)) else None
    if kind == "value_count":
        return 0 if corr.test(len({e[2] for e in span if e[2] is not None})) else None
    if kind == "temporal":
        seen = frozenset(e[1] for e in span)
        ok = corr.predicate(seen) if corr.predicate else corr.test(len(seen))
        return 0 if ok else None
    start, matched = _ordered_start(corr, span)
    ok = corr.predicate(matched) if corr.predicate else corr.test(len(matched))
    return start if ok else None


def _count(counts: dict[Hashable, int], key: Hashable) -> None:
    if key is not None:
        counts[key] = counts.get(key, 0) + 1


def _uncount(counts: dict[Hashable, int], key: Hashable) -> None:
    if key is not None:
        left = counts[key] - 1
        if left:
            counts[key] = left
        else:
            del counts[key]


def rebuild(corr: Correlation, window: Window) -> None:
    """Recompute the trailing span's start and counts (after a restore or an out-of-order firing)."""
    entries = window.entries
    window.lo = bisect_left(entries, window.newest - corr.timespan, key=_time)
    slot = corr.slot
    if not slot:
        window.counts = None
        return
    counts: dict[Hashable, int] = {}
    for entry in entries[window.lo :]:
        _count(counts, entry[slot])
    window.counts = counts


def _could_fire(corr: Correlation, n: int, counts: dict[Hashable, int] | None) -> bool:
    """A cheap necessary condition on the trailing span (n: events, values or inputs seen in it)."""
    if corr.predicate is None:
        return corr.test(n)
    if corr.kind == "temporal" and counts is not None:
        return corr.predicate(frozenset(k for k in counts if isinstance(k, int)))
    return True


def _fire_span(corr: Correlation, window: Window, lo: int) -> list[list[Entry]]:
    entries = window.entries
    offset = satisfied(corr, entries[lo:])
    if offset is None:
        return []
    evidence = entries[lo + offset :]
    del entries[lo + offset :]
    rebuild(corr, window)
    return [evidence]


def add_immediate(corr: Correlation, window: Window, entry: Entry, lateness: float) -> list[list[Entry]]:
    """Add one entry to an immediate correlation's window; the evidence of each firing it causes."""
    entries = window.entries
    t = entry[0]
    if t < window.newest:
        return _add_late(corr, window, entry, lateness)
    # The common case, written out: an entry in time order extends the trailing span.
    entries.append(entry)
    window.newest = t
    start = t - corr.timespan
    lo = window.lo
    slot = corr.slot
    counts = window.counts
    if slot:
        if counts is None:
            counts = window.counts = {}
        while entries[lo][0] < start:
            _uncount(counts, entries[lo][slot])
            lo += 1
        _count(counts, entry[slot])
        n = len(counts)
    else:
        while entries[lo][0] < start:
            lo += 1
        n = len(entries) - lo
    window.lo = lo
    if corr.predicate is None:
        fired = _fire_span(corr, window, lo) if corr.test(n) else []
    else:
        fired = _fire_span(corr, window, lo) if _could_fire(corr, n, counts) else []
    cutoff = start - lateness
    if entries and entries[0][0] < cutoff:
        _prune(window, cutoff)
    return fired


def _add_late(corr: Correlation, window: Window, entry: Entry, lateness: float) -> list[list[Entry]]:
    """An entry older than the group's newest: inside the trailing span, or judged on a span of its own."""
    entries = window.entries
    t = entry[0]
    entries.insert(bisect_right(entries, t, key=_time), entry)
    if t >= window.newest - corr.timespan:
        counts = window.counts
        if counts is not None:
            _count(counts, entry[corr.slot])
        n = len(counts) if counts is not None else len(entries) - window.lo
        fired = _fire_span(corr, window, window.lo) if _could_fire(corr, n, counts) else []
    else:
        window.lo += 1
        fired = _late_span(corr, window, t)
    _prune(window, window.newest - corr.timespan - lateness)
    return fired


def _late_span(corr: Correlation, window: Window, t: float) -> list[list[Entry]]:
    entries = window.entries
    end = bisect_right(entries, t + corr.timespan, key=_time) - 1
    last = entries[end][0]
    begin = bisect_left(entries, last - corr.timespan, key=_time)
    offset = satisfied(corr, entries[begin : end + 1])
    if offset is None:
        return []
    evidence = entries[begin + offset : end + 1]
    del entries[begin + offset : end + 1]
    rebuild(corr, window)
    return [evidence]


def _prune(window: Window, cutoff: float) -> None:
    entries = window.entries
    if entries and entries[0][0] < cutoff:
        k = bisect_left(entries, cutoff, key=_time)
        del entries[:k]
        window.lo = max(window.lo - k, 0)


def add_closing(corr: Correlation, window: Window, entry: Entry) -> float | None:
    """Add one entry to a window judged at its close; the deadline to arm, if it moves earlier."""
    entries = window.entries
    t = entry[0]
    if t >= window.newest:
        entries.append(entry)
        window.newest = t
    else:
        entries.insert(bisect_right(entries, t, key=_time), entry)
    if corr.kind == ABSENCE_TYPE and entry[1] != 0:
        return None
    deadline = t + corr.timespan
    if window.deadline is None or deadline < window.deadline:
        return deadline
    return None


def close(corr: Correlation, window: Window, watermark: float) -> tuple[list[list[Entry]], float | None]:
    """Judge every window of this group that has closed by `watermark`; (firings, next deadline)."""
    if corr.kind == ABSENCE_TYPE:
        return _close_absence(corr, window, watermark)
    entries = window.entries
    fired: list[list[Entry]] = []
    while entries:
        end = entries[0][0] + corr.timespan
        if end >= watermark:
            return fired, end
        stop = bisect_right(entries, end, key=_time)
        span = entries[:stop]
        offset = satisfied(corr, span)
        if offset is not None:
            fired.append(span[offset:])
        del entries[:stop]
    return fired, None


def _close_absence(
    corr: Correlation, window: Window, watermark: float
) -> tuple[list[list[Entry]], float | None]:
    """Each A fires alone if no B of its group came within [A, A + timespan]."""
    entries = window.entries
    fired: list[list[Entry]] = []
    while True:
        anchor = next((i for i, e in enumerate(entries) if e[1] == 0), None)
        if anchor is None:
            # Only Bs left: those before the watermark can no longer follow any A still to come.
            entries[:] = [e for e in entries if e[0] >= watermark]
            return fired, None
        a = entries[anchor]
        end = a[0] + corr.timespan
        if end >= watermark:
            # Bs older than both the first pending A and the watermark can follow no A, now or to come.
            entries[:anchor] = [e for e in entries[:anchor] if e[0] >= watermark]
            return fired, end
        stop = bisect_right(entries, end, key=_time)
        if not any(e[1] != 0 for e in entries[anchor:stop]):
            fired.append([a])
        del entries[anchor]
