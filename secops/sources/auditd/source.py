"""The Linux audit source: raw `audit.log` lines, grouped into events by serial, one document per event."""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import lru_cache

import egovops_native

from secops.events import Doc, Frame, Rejected, decode
from secops.sources.auditd.coalesce import Accounts, coalesce
from secops.sources.auditd.records import parse_record
from secops.sources.auditd.tables import CONSTANTS, record_type_number
from secops.sources.base import Framer, NativeParser, Source, SourceOptions, Stamp

__all__ = ["AuditFramer", "AuditdLog"]

_HEADER = re.compile(rb"(?:node=(\S+) )?type=(\S+) msg=(audit\((\d+)\.\d+:\d+\))")
_SNIFF = re.compile(rb"^(?:node=\S+ )?type=[A-Z0-9_\[\]]+ msg=audit\(\d+\.\d+:\d+\)", re.MULTILINE)
_EOE = CONSTANTS["EOE"]
_PROCTITLE = CONSTANTS["PROCTITLE"]  # the kernel writes it last in a syscall event (auparse ends there too)
_FIRST_USER_MSG = CONSTANTS["FIRST_USER_MSG"]  # user-space and daemon messages: one record each ...
_FIRST_EVENT = CONSTANTS["FIRST_EVENT"]  # ... until the kernel's event records start
_FIRST_USER_MSG2 = CONSTANTS["FIRST_USER_MSG2"]  # and again from here


_ORDINARY, _SINGLE, _END, _EOE_CLASS = range(4)


@lru_cache(maxsize=1024)
def _framing_class(name: bytes) -> int:
    """How a record type frames: alone, ending its event (EOE, PROCTITLE), or neither."""
    number = record_type_number(name.decode("ascii", "replace"))
    if number is None:
        return _ORDINARY
    if _FIRST_USER_MSG <= number < _FIRST_EVENT or number >= _FIRST_USER_MSG2:
        return _SINGLE
    if number == _EOE:
        return _EOE_CLASS
    return _END if number == _PROCTITLE else _ORDINARY


class _Open:
    __slots__ = ("lines", "offset", "seconds")

    def __init__(self, offset: int, seconds: int, line: bytes) -> None:
        self.offset = offset
        self.seconds = seconds
        self.lines = [line]


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
        done: list[Frame] = []
        self._take(offset, line, done)
        return done

    def feed(self, offset: int, data: bytes) -> list[Frame]:
        done: list[Frame] = []
        take = self._take
        for line in data.split(b"\n")[:-1]:
            take(offset, line, done)
            offset += len(line) + 1
        return done

    def _take(self, offset: int, line: bytes, done: list[Frame]) -> None:
        """Push one line, appending the frames it completes to `done`."""
        line = line.rstrip(b"\r")
        if not line.strip():
            return
        header = _HEADER.match(line) or _HEADER.search(line, 0, 200)
        if header is None:
            done.append(Frame(offset, line))
            return
        node, typ, stamp, second = header.groups()
        kind = _framing_class(typ)
        seconds = int(second)
        self._newest = max(self._newest, seconds)
        events = self._open
        if events and next(iter(events.values())).seconds < self._newest - self.max_age:
            self._expire(done)
        key = stamp if node is None else node + b" " + stamp
        current = events.get(key)
        if current is None:
            if kind == _SINGLE:
                done.append(Frame(offset, line))
                return
            if kind == _EOE_CLASS and key in self._closed:
                return
            current = events[key] = _Open(offset, seconds, line)
        else:
            current.lines.append(line)
        if kind >= _END:
            del events[key]
            done.append(_frame(current))
            self._closed[key] = None
            if len(self._closed) > 4 * self.window:
                del self._closed[next(iter(self._closed))]
        elif len(events) > self.window:
            done.append(_frame(events.pop(next(iter(events)))))

    def _expire(self, done: list[Frame]) -> None:
        limit = self._newest - self.max_age
        while self._open:
            key = next(iter(self._open))
            if self._open[key].seconds >= limit:
                break
            done.append(_frame(self._open.pop(key)))

    def finish(self) -> list[Frame]:
        done = [_frame(event) for event in self._open.values()]
        self._open.clear()
        return done

    def pending_offset(self) -> int | None:
        if not self._open:
            return None
        return min(event.offset for event in self._open.values())


def _frame(event: _Open) -> Frame:
    return Frame(event.offset, b"\n".join(event.lines))


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

    def native_parser(self, stamp: Stamp) -> NativeParser | None:
        """The Rust port of this source (native/src/auditd), held to `framer` + `parse` by a
        differential test; not used when account names are given (only the Python side maps them)."""
        if self.accounts.users or self.accounts.groups:
            return None
        return egovops_native.AuditdParser(
            id_prefix=stamp.id_prefix, label=stamp.label, observer=stamp.observer,
            keep_original=stamp.keep_original, dataset=stamp.dataset,
        )

    def parse(self, frame: Frame) -> list[Doc]:
        records = [parse_record(line) for line in decode(frame.raw).split("\n") if line.strip()]
        if not records:
            raise Rejected("empty audit event")
        return [coalesce(records, self.accounts)]
