"""Stamp sshd's bare `-E` messages into an rsyslog-style auth log, as journald or rsyslog would.

sshd given `-E FILE` writes messages without time, host or program; egovops' `auth` source reads syslog
lines. `LineStamper.ship` copies each complete new line stamped with the moment it was read. The range
runs it as a process (`python -m secops.drills.range.shipper SOURCE TARGET HOST PID`) because a range
outlives the command that started it; tests drive the same class from a thread.
"""

from __future__ import annotations

import signal
import sys
import threading
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType


class LineStamper:
    """Copies each complete line of `source` to `target` as `ISO-TIME HOST sshd[PID]: MESSAGE`."""

    def __init__(self, source: Path, target: Path, host: str, pid: int) -> None:
        self.source, self.target, self.host, self.pid = source, target, host, pid
        self.offset, self.pending = 0, b""

    def ship(self) -> int:
        """Copy what is new; the number of lines written."""
        if not self.source.exists():
            return 0
        with self.source.open("rb") as src:
            src.seek(self.offset)
            chunk = src.read()
        self.offset += len(chunk)
        *lines, self.pending = (self.pending + chunk).split(b"\n")
        if lines:
            stamp = datetime.now(UTC).isoformat(timespec="microseconds")
            text = "".join(
                f"{stamp} {self.host} sshd[{self.pid}]: {line.decode(errors='replace').rstrip()}\n"
                for line in lines
            )
            with self.target.open("a", encoding="utf-8") as out:
                out.write(text)
        return len(lines)

    def follow(self, stop: threading.Event, interval: float = 0.05) -> None:
        """Ship until `stop` is set, then once more so nothing written before the stop is lost."""
        while not stop.wait(interval):
            self.ship()
        self.ship()


def main(argv: list[str]) -> None:
    source, target, host, pid = argv
    stop = threading.Event()

    def finish(_signum: int, _frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, finish)
    signal.signal(signal.SIGINT, finish)
    LineStamper(Path(source), Path(target), host, int(pid)).follow(stop)


if __name__ == "__main__":
    main(sys.argv[1:])
