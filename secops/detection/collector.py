"""A larger young generation for Python's cyclic garbage collector while the engine works on a batch.

The engine's window state is hundreds of thousands of small containers (a window, its entries) that live
for minutes, and a batch of 1,000 events allocates some ten thousand more that mostly die within it.
With the default young-generation threshold (700) a batch triggers about eleven young collections, every
tenth of those walks the middle generation, and the long-lived state is walked again and again: about a
fifth of the engine's CPU time on the benchmark stream (benchmarks/bench_detect.py prints it). With a
young generation of about a batch, most of a batch's objects are already freed when it is collected and
the older generations are walked far less often. Only the threshold changes: when and what to collect is
still the collector's own decision (allocations keep counting; the first one after the batch, with the
usual threshold back, collects what the batch left).
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

YOUNG_DURING_BATCH = 20_000
"""Young-generation threshold (net allocations of tracked objects) while a batch is processed."""


@contextmanager
def young_generation(size: int = YOUNG_DURING_BATCH) -> Iterator[None]:
    """The collector's young-generation threshold at least `size` inside the block, then as it was.

    Left alone when collection is off (threshold 0) or the threshold is already that large (which is
    also what another thread inside this block sees, so only the outermost block restores it).
    """
    thresholds = gc.get_threshold()
    if thresholds[0] == 0 or thresholds[0] >= size:
        yield
        return
    gc.set_threshold(size, *thresholds[1:])
    try:
        yield
    finally:
        gc.set_threshold(*thresholds)
