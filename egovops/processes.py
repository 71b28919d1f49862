"""Commands and long-running processes run by PID, shared by the network test bed and the cyber range.

A process is started in its own session (so stopping it never signals egovops) and is later stopped by
PID, possibly from another process that only read the PID from a state file. Failures raise the error
class the caller passes, so each caller keeps its own error type; the default is `ProcessError`.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from pathlib import Path


class ProcessError(RuntimeError):
    """A command failed or a program is missing; the message names the command and what it said."""


def run(*argv: str, input: str | None = None, error: type[Exception] = ProcessError) -> str:
    """Run a command to completion and return its output; `error` with its own words when it fails."""
    result = subprocess.run(argv, input=input, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise error(f"{' '.join(argv)}: {result.stderr.strip() or result.stdout.strip()}")
    return result.stdout


def spawn(
    netns: str | None,
    argv: list[str],
    log: Path,
    env: dict[str, str] | None = None,
    error: type[Exception] = ProcessError,
    hint: str = "install it",
) -> int:
    """Start `argv` inside `netns` (None: this namespace) in a new session, output appended to `log`; its
    PID (`ip netns exec` execs the program, so the PID is the program's). A missing program raises
    `error` at once, with `hint` as what to do, rather than as a line in a log."""
    program = Path(argv[0])
    if not (program.is_file() and os.access(program, os.X_OK)):
        raise error(f"{program}: no such program ({hint})")
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
