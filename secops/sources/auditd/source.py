"""The Linux audit source: raw `audit.log` lines, grouped into events by serial, one document per event."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from secops.events import Doc, Frame, Rejected, decode
from secops.sources.auditd.coalesce import Accounts, coalesce
from secops.sources.auditd.records import parse_record
from secops.sources.auditd.tables import CONSTANTS, record_type_number
from secops.sources.base import Framer, Source, SourceOptions

__all__ = ["AuditFramer", "AuditdLog"]

_HEADER = re.compile(rb"(?:node=(\S+) )?type=(\S+) msg=(audit\((\d+)\.\d+:\d+\))")
_SNIFF = re.compile(rb"^(?:node=\S+ )?type=[A-Z0-9_\[\]]+ msg=audit\(\d+\.\d+:\d+\)", re.MULTILINE)
_EOE = CONSTANTS["EOE"]
_PROCTITLE = CONSTANTS["PROCTITLE"]  # the kernel writes it last in a syscall event (auparse ends there too)
_FIRST_USER_MSG = CONSTANTS["FIRST_USER_MSG"]  # user-space and daemon messages: one record each ...
_FIRST_EVENT = CONSTANTS["FIRST_EVENT"]  # ... until the kernel's event records start
_FIRST_USER_MSG2 = CONSTANTS["FIRST_USER_MSG2"]  # and again from here


@dataclass(slots=True)
class _Open:
    offset: int
    seconds: int
    lines: list[bytes] = field(default_factory=list)


class AuditFramer(Framer):
    """Groups records into events by `msg=audit(time:serial)` (and `node=`).

    The kernel writes a syscall event as several records ended by PROCTITLE and EOE, and records of
    different events can interleave. User-space and daemon messages (types 1100-1299 and from 2100) are
    events of one record. Kernel records without an end (AppArmor AVC, ANOM_ABEND, old kernels without
    PROCTITLE) close when the log has moved `max_age` seconds past them, or when more than `window` events
    are open; both rules depend only on the input, so re-reading a file frames it the same way. The EOE
    that follows a PROCTITLE carries no data and is dropped.
    """

    def __init__(self, window: int = 64, max_age: int = 2) -> None:
        self.window = window
        self.max_age = max_age
        self._open: dict[bytes, _Open] = {}
        self._closed: dict[bytes, None] = {}  # recently ended events, to drop their trailing EOE
        self._newest = 0

    def push(self, offset: int, line: bytes) -> list[Frame]:
        line = line.rstrip(b"\r")
        if not line.strip():
            return []
        header = _HEADER.match(line) or _HEADER.search(line, 0, 200)
        if header is None:
            return [Frame(offset, line)]
        number = record_type_number(header.group(2).decode("ascii", "replace"))
        seconds = int(header.group(4))
        self._newest = max(self._newest, seconds)
        done = self._expire()
        key = header.group(3) if header.group(1) is None else header.group(1) + b" " + header.group(3)
        current = self._open.get(key)
        if current is None:
            if number is not None and (_FIRST_USER_MSG <= number < _FIRST_EVENT
                                       or number >= _FIRST_USER_MSG2):
                done.append(Frame(offset, line))
                return done
            if number == _EOE and key in self._closed:
                return done
            current = self._open[key] = _Open(offset, seconds)
        current.lines.append(line)
        if number in (_EOE, _PROCTITLE):
            del self._open[key]
            done.append(_frame(current))
            self._closed[key] = None
            if len(self._closed) > 4 * self.window:
                del self._closed[next(iter(self._closed))]
        elif len(self._open) > self.window:
            done.append(_frame(self._open.pop(next(iter(self._open)))))
        return done

    def _expire(self) -> list[Frame]:
        done = []
        limit = self._newest - self.max_age
        while self._open:
            key = next(iter(self._open))
            if self._open[key].seconds >= limit:
                break
            done.append(_frame(self._open.pop(key)))
        return done

    def finish(self) -> list[Frame]:
        done = [_frame(event) for event in self._open.values()]
        self._open.clear()
        return done

    def pending_offset(self) -> int | None:
        if not self._open:
            return None
        return min(event.offset for event in self._open.values())


def _frame(event: _Open) -> Frame:
    return Frame(event.offset, b"\n".join(event.lines), len(event.lines))


class AuditdLog(Source):
    """Linux audit daemon logs (`/var/log/audit/audit.log`, raw or enriched format)."""

    format = "auditd"
    dataset = "auditd.log"
    description = "Linux audit (auditd) log: records joined into events by serial, Auditbeat layout"

    def __init__(
        self,
        options: SourceOptions | None = None,
        users: Mapping[str, str] | None = None,
        groups: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(options)
        self.accounts = Accounts(users or {}, groups or {})

    @classmethod
    def sniff(cls, head: bytes) -> bool:
        return _SNIFF.search(head.lstrip()[:4096]) is not None and head.lstrip()[:1] in (b"t", b"n")

    def framer(self) -> Framer:
        return AuditFramer()

    def parse(self, frame: Frame) -> list[Doc]:
        records = [parse_record(line) for line in decode(frame.raw).split("\n") if line.strip()]
        if not records:
            raise Rejected("empty audit event")
        return [coalesce(records, self.accounts)]
