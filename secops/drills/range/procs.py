"""Commands and long-running processes of the range: run in a namespace, started in their own session
(so stopping one never signals egovops), stopped by PID from any process that reads the state. The
process handling itself is `egovops.processes`, shared with the network test bed; here failures are
RangeError."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

from egovops import processes
from egovops.processes import alive, stop

__all__ = ["RangeError", "Starting", "alive", "run", "spawn", "stop", "tail", "wait_for"]


class RangeError(RuntimeError):
    """A step of building or using the range failed; the message names the step and what the system said."""


def run(*argv: str, input: str | None = None) -> str:
    """Run a command to completion; RangeError with its own words when it fails."""
    return processes.run(*argv, input=input, error=RangeError)


def spawn(netns: str | None, argv: list[str], log: Path, env: dict[str, str] | None = None) -> int:
    """Start `argv` inside `netns` (None: this namespace) in a new session, output appended to `log`; its
    PID. RangeError when the program is missing."""
    return processes.spawn(netns, argv, log, env, error=RangeError,
                           hint="install it or correct its path in the description")  # fmt: skip


class Starting(NamedTuple):
    """A process being started: its PID, the test that it is ready, and the log that says why not."""

    pid: int
    ready: Callable[[], bool]
    logs: tuple[Path, ...]


def tail(logs: tuple[Path, ...], lines: int = 5) -> str:
    text = "".join(log.read_text(errors="replace") for log in logs if log.exists())
    return " | ".join(text.strip().splitlines()[-lines:]) or "(nothing logged)"


def wait_for(starting: dict[str, Starting], timeout: float) -> None:
    """Poll until every process is ready; RangeError naming the one that died (with the end of its log)
    or the ones still not ready at the deadline."""
    deadline = time.monotonic() + timeout
    pending = dict(starting)
    while pending:
        for name, (pid, check, logs) in list(pending.items()):
            if not alive(pid):
                raise RangeError(f"{name} exited while starting: {tail(logs)}")
            if check():
                del pending[name]
        if not pending:
            return
        if time.monotonic() > deadline:
            names = "; ".join(f"{n}: {tail(s.logs, 2)}" for n, s in pending.items())
            raise RangeError(f"not ready after {timeout:.0f} s: {names}")
        time.sleep(0.05)
