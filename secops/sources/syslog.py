"""Syslog headers as they reach log files: RFC 3164, RFC 5424, ISO-timestamp (rsyslog) and journalctl.

Every syslog-based source (auth logs now, firewall syslog later) reads the header here and only the
message part itself. The four layouts seen on disk:

- RFC 3164: `[<PRI>]Nov 22 10:01:02 host sshd[123]: msg` -- no year, no zone; both come from
  `SourceOptions` (the year is inferred, stepping back one when the date would lie in the future);
- RFC 5424: `<PRI>1 2026-11-22T10:01:02.123+08:00 host sshd 123 MSGID [sd-id k="v"] msg`;
- rsyslog's ISO layout: `2026-11-22T10:01:02.123456+08:00 host sshd[123]: msg`;
- `journalctl -o short-iso`: `2026-11-22T10:01:02+0800 host sshd[123]: msg`.

ECS: `host.hostname`, `process.name/pid`, `log.syslog.*` (priority, facility, severity, and the RFC 5424
fields), `message`, `@timestamp` (UTC) with `event.timezone` keeping the zone the line was written in.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, tzinfo
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from secops.events import Doc, Rejected, format_offset, format_ts, parse_iso

__all__ = ["SyslogHeader", "SyslogReader", "looks_like_syslog"]

FACILITIES = (
    "kern", "user", "mail", "daemon", "auth", "syslog", "lpr", "news", "uucp", "cron", "authpriv", "ftp",
    "ntp", "security", "console", "solaris-cron", "local0", "local1", "local2", "local3", "local4",
    "local5", "local6", "local7",
)  # fmt: skip
SEVERITIES = ("emergency", "alert", "critical", "error", "warning", "notice", "informational", "debug")
MONTHS = {name: number for number, name in enumerate(
    ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"), start=1)}

FUTURE_SLACK = timedelta(days=1)
"""RFC 3164 dates up to a day ahead of now stay in the current year (clock skew between hosts)."""

_TAG = r"(?:(?P<program>[^\s\[\]:]+)(?:\[(?P<pid>[^\]\s]*)\])?:(?: +|$))?"
_BSD_TIME = (
    r"(?P<month>[A-Za-z]{3}) {1,2}(?P<day>\d{1,2}) "
    r"(?P<hour>\d{2}):(?P<minute>\d{2}):(?P<second>\d{2})(?:\.(?P<fraction>\d{1,9}))?"
)
_ISO_TIME = r"(?P<iso>\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?(?:Z|[+-]\d{2}:?\d{2})?)"
# One pattern for the three "timestamp host tag: message" layouts (RFC 3164, rsyslog ISO, journalctl).
_LEGACY = re.compile(
    rf"(?:<(?P<pri>\d{{1,3}})>)?(?:{_BSD_TIME}|{_ISO_TIME}) +(?P<host>\S+)(?: +{_TAG}(?P<message>.*))?",
    re.ASCII | re.DOTALL,
)
_RFC5424 = re.compile(
    r"<(?P<pri>\d{1,3})>(?P<version>\d{1,2}) (?P<time>\S+) (?P<host>\S+) (?P<app>\S+) (?P<procid>\S+) "
    r"(?P<msgid>\S+)(?: (?P<rest>.*))?",
    re.ASCII | re.DOTALL,
)
_SD_ELEMENT = re.compile(r'\[(?P<id>[^\s\]="]+)(?P<params>(?: +[^\s\]="]+="(?:[^"\\]|\\.)*")*) *\]')
_SD_PARAM = re.compile(r'([^\s\]="]+)="((?:[^"\\]|\\.)*)"')
_SD_ESCAPE = re.compile(r'\\(["\\\]])')
_NILABLE = ("app", "procid", "host", "msgid")
_TIME_CACHE_LIMIT = 4096


@dataclass(slots=True)
class SyslogHeader:
    """What a syslog header says about a line; `message` is the rest, for the format's own parser."""

    timestamp: datetime
    message: str
    hostname: str | None = None
    program: str | None = None
    pid: int | None = None
    priority: int | None = None
    version: int | None = None
    procid: str | None = None
    msgid: str | None = None
    structured_data: dict[str, dict[str, str]] = field(default_factory=dict)

    def to_ecs(self, doc: Doc) -> None:
        """Write the header's ECS fields (time, host, process, `log.syslog.*`, `message`) into `doc`."""
        doc["@timestamp"], zone = _stamp(self.timestamp, self.timestamp.utcoffset())
        if zone is not None:
            doc.setdefault("event", {})["timezone"] = zone
        doc["message"] = self.message
        if self.hostname:
            doc.setdefault("host", {})["hostname"] = self.hostname
        if self.program:
            doc.setdefault("process", {})["name"] = self.program
        if self.pid is not None:
            doc.setdefault("process", {})["pid"] = self.pid
        if self.priority is None and self.version is None:
            return
        syslog = doc.setdefault("log", {}).setdefault("syslog", {})
        if self.priority is not None:
            facility, severity = divmod(self.priority, 8)
            syslog["priority"] = self.priority
            syslog["facility"] = {"code": facility, "name": FACILITIES[facility]}
            syslog["severity"] = {"code": severity, "name": SEVERITIES[severity]}
        if self.version is not None:
            syslog["version"] = str(self.version)
            optional = {"appname": self.program, "hostname": self.hostname, "procid": self.procid,
                        "msgid": self.msgid, "structured_data": self.structured_data}
            syslog.update((key, value) for key, value in optional.items() if value)


@lru_cache(maxsize=4096)
def _stamp(moment: datetime, offset: timedelta | None) -> tuple[str, str | None]:
    """`@timestamp` and `event.timezone`; cached, as consecutive lines share their second.

    The offset is part of the key because equal instants in different zones compare equal.
    """
    return format_ts(moment), format_offset(moment)


def looks_like_syslog(line: str) -> bool:
    """True when a line starts with one of the four headers and names the program that wrote it."""
    if line.startswith("<") and (match := _RFC5424.match(line)) is not None:
        return match["app"] != "-" and _valid_iso(match["time"])
    match = _LEGACY.match(line)
    if match is None or match["program"] is None:
        return False
    return match["iso"] is not None or match["month"].title() in MONTHS


def _valid_iso(text: str) -> bool:
    try:
        parse_iso(text)
    except ValueError:
        return False
    return True


class SyslogReader:
    """Parses syslog headers, completing RFC 3164 times with a configured zone and (inferred) year."""

    def __init__(self, timezone: str = "Asia/Shanghai", year: int | None = None) -> None:
        try:
            self.zone: tzinfo = ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown timezone {timezone!r}: expected an IANA name") from exc
        self.year = year
        self._times: dict[str, datetime] = {}

    def read(self, line: str) -> SyslogHeader:
        """The header of one line; `Rejected` with the reason when no known header is there."""
        if line.startswith("<") and (match := _RFC5424.match(line)) is not None:
            return self._rfc5424(match)
        match = _LEGACY.match(line)
        if match is None:
            raise Rejected(self._why_not(line))
        moment = self._iso(match["iso"]) if match["iso"] is not None else self._bsd(match)
        return SyslogHeader(
            timestamp=moment,
            message=match["message"] or "",
            hostname=match["host"],
            program=match["program"],
            pid=_pid(match["pid"]),
            priority=_priority(match["pri"]),
        )

    @staticmethod
    def _why_not(line: str) -> str:
        if not line.strip():
            return "empty line"
        if line.startswith("-- "):
            return "journalctl banner line, not a log record"
        head = line[:40]
        if line.startswith("<") and not re.match(r"<\d{1,3}>", line):
            return f"malformed syslog PRI at start of line: {head!r}"
        return f"no syslog header (RFC 3164, RFC 5424 or ISO timestamp, then host) at start of line: {head!r}"

    def _rfc5424(self, match: re.Match[str]) -> SyslogHeader:
        if match["time"] == "-":
            raise Rejected("RFC 5424 record without a timestamp (NILVALUE)")
        moment = self._iso(match["time"])
        structured, message = _structured_data(match["rest"] or "")
        app, procid, host, msgid = (None if v == "-" else v for v in match.group(*_NILABLE))
        return SyslogHeader(
            timestamp=moment,
            message=message.removeprefix("\ufeff"),
            hostname=host,
            program=app,
            pid=_pid(procid),
            priority=_priority(match["pri"]),
            version=int(match["version"]),
            procid=procid,
            msgid=msgid,
            structured_data=structured,
        )

    def _iso(self, text: str) -> datetime:
        try:
            moment = parse_iso(text)
        except ValueError:
            raise Rejected(f"timestamp {text[:40]!r} is not a valid ISO 8601 time") from None
        return moment if moment.tzinfo is not None else moment.replace(tzinfo=self.zone)

    def _bsd(self, match: re.Match[str]) -> datetime:
        """RFC 3164 time in the configured zone; parsed once per distinct timestamp text."""
        text = match.string[match.start("month") : match.end("second")]
        cached = self._times.get(text)
        if cached is None:
            cached = self._bsd_uncached(match)
            if len(self._times) >= _TIME_CACHE_LIMIT:
                self._times.clear()
            self._times[text] = cached
        fraction = match["fraction"]
        if fraction:
            cached = cached.replace(microsecond=int(fraction[:6].ljust(6, "0")))
        return cached

    def _bsd_uncached(self, match: re.Match[str]) -> datetime:
        month = MONTHS.get(match["month"].title())
        if month is None:
            raise Rejected(f"unknown month {match['month']!r} in RFC 3164 timestamp")
        day, hour, minute, second = (int(match[name]) for name in ("day", "hour", "minute", "second"))
        if self.year is not None:
            years = [self.year]
        else:
            now = datetime.now(UTC)
            # Newest first; a few years back so that February 29 finds its leap year.
            years = list(range(now.astimezone(self.zone).year, now.year - 8, -1))
        for year in years:
            try:
                moment = datetime(year, month, day, hour, minute, second, tzinfo=self.zone)
            except ValueError:
                continue
            if self.year is not None or moment <= datetime.now(UTC) + FUTURE_SLACK:
                return moment
        stamp = f"{match['month']} {day} {match['hour']}:{match['minute']}:{match['second']}"
        where = f"in {self.year}" if self.year is not None else "in any recent year"
        raise Rejected(f"RFC 3164 timestamp {stamp!r} is not a valid date {where}")


def _priority(text: str | None) -> int | None:
    if text is None:
        return None
    value = int(text)
    if value > 191:
        raise Rejected(f"syslog PRI {value} out of range (0-191)")
    return value


def _pid(text: str | None) -> int | None:
    return int(text) if text and text.isdigit() and len(text) < 11 else None


def _structured_data(rest: str) -> tuple[dict[str, dict[str, str]], str]:
    """RFC 5424 STRUCTURED-DATA (`-` or `[id k="v"]...`) and the message after it."""
    if rest == "-" or rest.startswith("- "):
        return {}, rest[2:]
    elements: dict[str, dict[str, str]] = {}
    position = 0
    while rest.startswith("[", position):
        element = _SD_ELEMENT.match(rest, position)
        if element is None:
            raise Rejected(f"malformed RFC 5424 structured data at {rest[position:position + 40]!r}")
        params = elements.setdefault(element["id"], {})
        for name, value in _SD_PARAM.findall(element["params"]):
            params[name] = _SD_ESCAPE.sub(r"\1", value)
        position = element.end()
    if position == 0:
        raise Rejected(f"RFC 5424 structured data must be '-' or start with '[': {rest[:40]!r}")
    return elements, rest[position + 1 :] if rest.startswith(" ", position) else rest[position:]
