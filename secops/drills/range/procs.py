"""Commands and long-running processes of the range: run in a namespace, started in their own session
(so stopping one never signals egovops), stopped by PID from any process that reads the state."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple


class RangeError(RuntimeError):
    """A step of building or using the range failed; the message names the step and what the system said."""


def run(*argv: str, input: str | None = None) -> str:
    """Run a command to completion; RangeError with its own words when it fails."""
    result = subprocess.run(argv, input=input, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise RangeError(f"{' '.join(argv)}: {result.stderr.strip() or result.stdout.strip()}")
    return result.stdout


def spawn(netns: str | None, argv: list[str], log: Path, env: dict[str, str] | None = None) -> int:
    """Start `argv` inside `netns` (None: this namespace) in a new session, output appended to `log`; its
    PID (`ip netns exec` execs the program, so the PID is the program's)."""
    program = Path(argv[0])
    if not (program.is_file() and os.access(program, os.X_OK)):
        raise RangeError(f"{program}: no such program (install it or correct its path in the description)")
    with log.open("ab") as out:
        prefix = ["ip", "netns", "exec", netns] if netns else []
        process = subprocess.Popen([*prefix, *argv], stdin=subprocess.DEVNULL,
                                   stdout=out, stderr=subprocess.STDOUT, env=env,
                                   start_new_session=True)  # fmt: skip
    return process.pid


def alive(pid: int) -> bool:
    """True while the process exists and is not a zombie."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def stop(pids: list[int], grace: float = 5) -> None:
    """SIGTERM each process group, wait up to `grace` seconds in all, then SIGKILL what is left."""
    for pid in pids:
        _signal(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    for pid in pids:
        while alive(pid) and time.monotonic() < deadline:
            _reap(pid)
            time.sleep(0.02)
        if alive(pid):
            _signal(pid, signal.SIGKILL)
        _reap(pid, block=True)


def _signal(pid: int, signum: int) -> None:
    """Signal the process group `pid` leads, or the process alone when it leads none."""
    try:
        os.killpg(pid, signum)
    except ProcessLookupError:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signum)


def _reap(pid: int, block: bool = False) -> None:
    """Collect our own child's exit status (a no-op for processes another egovops started)."""
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, 0 if block else os.WNOHANG)


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
