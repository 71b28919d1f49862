"""How fast is this core right now? A fixed pure-Python loop, timed, printed beside every figure.

The machines are shared virtual machines whose speed varies from minute to minute (the loop took from
0.14 s to 0.5 s on an otherwise idle machine here with Debian's CPython); two figures are comparable
when their calibration times are.
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
