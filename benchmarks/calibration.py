"""How fast is this core right now? A fixed pure-Python loop, timed, printed beside every figure.

The machines are shared and their speed varies with load; two figures are comparable when their
calibration times are. On an idle core here the loop takes about 0.39 s with Debian's CPython.
"""

from __future__ import annotations

import time


def calibrate() -> float:
    """CPU seconds for two million additions in a Python loop."""
    started = time.process_time()
    total = 0
    for i in range(2_000_000):
        total += i
    return time.process_time() - started
