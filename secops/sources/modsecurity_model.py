"""One WAF transaction, whatever audit-log format it came from, and its ECS document.

The three readers (native serial, ModSecurity 2.9 JSON, libmodsecurity 3 JSON) fill a `Transaction`;
`to_doc` is the single place that maps it to ECS, so the formats cannot drift apart. Rule metadata lives
only in the message text (`... [id "942100"] [msg "..."] [tag "attack-sqli"]`), hence `parse_message`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from secops.events import Doc, Rejected, format_offset, format_ts

SEVERITIES = ("EMERGENCY", "ALERT", "CRITICAL", "ERROR", "WARNING", "NOTICE", "INFO", "DEBUG")
"""ModSecurity severities in syslog order: the index is the numeric form libmodsecurity 3 writes."""
_RANK = {name: rank for rank, name in enumerate(SEVERITIES)}

_META = re.compile(
    r'\[(file|line|id|rev|msg|data|severity|ver|maturity|accuracy|tag|hostname|uri|unique_id) "'
    r'([^"\\]*(?:\\.[^"\\]*)*)"\]'
)
_KEYS = frozenset(
    (
        "file",
        "line",
        "id",
        "rev",
        "msg",
        "data",
        "severity",
        "ver",
        "maturity",
        "accuracy",
        "tag",
        "hostname",
        "uri",
        "unique_id",
    )
)
_UNESCAPE = re.compile(r"\\([\"\\])")
_INBOUND = re.compile(r"Inbound Anomaly Score Exceeded \(Total (?:Inbound )?Score: (\d+)")
_OUTBOUND = re.compile(r"Outbound Anomaly Score Exceeded \((?:Total (?:Outbound )?Score: |score )(\d+)")
_MONTHS = {
    m: i
    for i, m in enumerate(
        ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"), 1
    )
}
_ZONES: dict[str, timezone] = {}
_STAMPS: dict[tuple[int, int, int, int, int, int, timedelta | None], tuple[str, str | None]] = {}
MAX_STAMPS = 4096
"""Seconds whose formatting is kept (one entry per distinct second and offset; cleared when full)."""
MAX_URL_IN_MESSAGE = 200
MAX_COUNT = 2**63 - 1
"""The largest number a document keeps: orjson and the stores stop at 64 bits."""


@dataclass(slots=True)
class RuleMatch:
    """One rule that matched, as the audit log's message describes it."""

    id: str | None = None
    message: str | None = None
    severity: str | None = None
    data: str | None = None
    tags: list[str] = field(default_factory=list)
    file: str | None = None
    line: int | None = None
    version: str | None = None
    text: str = ""
    """The match description before the bracketed metadata (`Warning. Pattern match ... at ARGS:q.`)."""

    @property
    def paranoia_level(self) -> int | None:
        for tag in self.tags:
            if tag.startswith("paranoia-level/") and (level := count(tag[15:])) is not None:
                return level
        return None

    def as_doc(self) -> Doc:
        out: Doc = {"id": self.id, "message": self.message, "severity": self.severity}
        if self.data is not None:
            out["data"] = self.data
        if self.tags:
            out["tags"] = self.tags
        if self.file is not None:
            out["file"] = self.file
        if self.line is not None:
            out["line"] = self.line
        level = self.paranoia_level
        if level is not None:
            out["paranoia_level"] = level
        return out


def count(text: str) -> int | None:
    """A number the log writes as digits, None when it is none or too large to store (a hostile
    `Content-Length: 99999999999999999999` must not stop the ingest of every event after it)."""
    if not text.isdigit():
        return None
    number = int(text)
    return number if number <= MAX_COUNT else None


def severity_name(value: str | int | None) -> str | None:
    """`CRITICAL` stays; `2` (libmodsecurity 3, old 2.x logs) becomes `CRITICAL`."""
    if value is None or value == "":
        return None
    text = str(value).strip()
    if text.isdigit():
        number = int(text)
        return SEVERITIES[number] if number < len(SEVERITIES) else text
    return text.upper()


def parse_message(text: str) -> RuleMatch:
    """A `Message:` line (without its prefix) → the rule it names and all its bracketed metadata."""
    # Metadata follows the match description, which may quote a whole regex full of brackets: it
    # starts at the first `[file "` (ModSecurity writes that first) when there is one.
    start = text.find(' [file "')
    if start >= 0:
        tail = text[start + 1 :].rstrip()
        # The usual tail, `[k "v"] [k "v"]`, is cut with str.split (regexes cost more, value by value).
        if tail.startswith("[") and tail.endswith('"]'):
            parts = [part.partition(' "') for part in tail[1:-2].split('"] [')]
            rule = _rule(parts, text[:start], "\\" in tail)
            if rule is not None:
                return rule
    found = list(_META.finditer(text, max(start, 0)))
    start = found[0].start() - 1 if found else len(text)
    rule = _rule([(m[1], ' "', m[2]) for m in found], text[: max(start, 0)], "\\" in text)
    assert rule is not None  # the regex only finds known keys
    return rule


def _rule(parts: list[tuple[str, str, str]], text: str, escaped: bool) -> RuleMatch | None:
    """The rule from its `(key, separator, value)` parts; None when a part is not `known-key "value`.

    Repeated keys: the last one counts, tags are all kept. Severities and line numbers are converted
    once every part has passed, in their order, as a failed conversion is an error of its own.
    """
    rule = RuleMatch(text=text.strip())
    converted: list[tuple[str, str]] = []
    for key, sep, raw in parts:
        if not sep:
            return None
        value = _UNESCAPE.sub(r"\1", raw) if escaped and "\\" in raw else raw
        if key == "tag":
            rule.tags.append(value)
        elif key == "id":
            rule.id = value
        elif key == "msg":
            rule.message = value
        elif key == "data":
            rule.data = value
        elif key == "file":
            rule.file = value
        elif key == "ver":
            rule.version = value
        elif key in ("severity", "line"):
            converted.append((key, value))
        elif key not in _KEYS:
            return None
    for key, value in converted:
        if key == "severity":
            rule.severity = severity_name(value)
        else:
            rule.line = count(value)
    return rule


def parse_log_time(text: str) -> datetime:
    """`22/Nov/2026:03:01:57.780932 +0800` (fraction optional) → aware datetime, zone kept."""
    try:
        stamp, _, zone = text.strip().partition(" ")
        day, month, rest = stamp.split("/", 2)
        year, hour, minute, second = rest.split(":")
        whole, _, fraction = second.partition(".")
        tz = _ZONES.get(zone)
        if tz is None:
            if len(zone) != 5 or zone[0] not in "+-" or not zone[1:].isdigit():
                raise ValueError(zone)
            minutes = int(zone[1:3]) * 60 + int(zone[3:5])
            tz = _ZONES[zone] = timezone(timedelta(minutes=-minutes if zone[0] == "-" else minutes))
        micro = int((fraction + "000000")[:6]) if fraction else 0
        return datetime(
            int(year), _MONTHS[month], int(day), int(hour), int(minute), int(whole), micro, tzinfo=tz
        )
    except (ValueError, KeyError) as exc:
        raise Rejected(f"unreadable transaction time {text[:60]!r}") from exc


@dataclass(slots=True)
class Transaction:
    """The facts of one transaction that egovops keeps, independent of the log format."""

    time: datetime
    unique_id: str
    client_ip: str | None = None
    client_port: int | None = None
    server_ip: str | None = None
    server_port: int | None = None
    method: str | None = None
    uri: str | None = None
    http_version: str | None = None
    request_headers: dict[str, str] = field(default_factory=dict)
    """Lower-case names, first occurrence wins."""
    request_body_bytes: int | None = None
    status: int | None = None
    response_headers: dict[str, str] = field(default_factory=dict)
    rules: list[RuleMatch] = field(default_factory=list)
    intercepted: bool = False
    engine_mode: str | None = None
    producer: str | None = None


def port(value: Any) -> int | None:
    try:
        number = int(value)
    except (TypeError, ValueError):
        return None
    return number if 0 <= number <= 65535 else None


def headers_from_lines(lines: list[str]) -> dict[str, str]:
    headers: dict[str, str] = {}
    for line in lines:
        name, sep, value = line.partition(":")
        if sep:
            headers.setdefault(name.strip().lower(), value.strip())
    return headers


def apply_request_line(tx: Transaction, line: str) -> None:
    """`GET /a?b HTTP/1.1` → method, uri, version (a URI with spaces is kept whole)."""
    parts = line.split(" ")
    tx.method = parts[0] or None
    if len(parts) >= 3 and parts[-1].startswith("HTTP/"):
        tx.uri = " ".join(parts[1:-1])
        tx.http_version = parts[-1][5:]
    elif len(parts) >= 2:
        tx.uri = " ".join(parts[1:])


def apply_content_length(tx: Transaction) -> None:
    """The request's Content-Length, when it has one, is the body size the client declared."""
    length = tx.request_headers.get("content-length", "")
    number = count(length)
    if number is not None:
        tx.request_body_bytes = number


def _host_domain(host: str) -> str:
    if host.startswith("["):
        return host[1 : host.find("]")] if "]" in host else host[1:]
    name, _, _ = host.partition(":") if host.count(":") == 1 else (host, "", "")
    return name


def _stamp(moment: datetime) -> tuple[str, str | None]:
    """`@timestamp` and `event.timezone` as `stamp_time` writes them, each second formatted once.

    strftime costs more than the rest of an event, and a busy WAF logs many transactions per second.
    Keyed by wall-clock second and offset (a datetime key would be slower, and aware datetimes of
    the same instant compare equal across zones).
    """
    key = (
        moment.second,
        moment.minute,
        moment.hour,
        moment.day,
        moment.month,
        moment.year,
        moment.utcoffset(),
    )
    cached = _STAMPS.get(key)
    if cached is None:
        if len(_STAMPS) >= MAX_STAMPS:
            _STAMPS.clear()
        whole = moment.replace(microsecond=0)
        cached = _STAMPS[key] = (format_ts(whole)[:-8], format_offset(whole))
    return f"{cached[0]}.{moment.microsecond:06d}Z", cached[1]


def to_doc(tx: Transaction) -> Doc:
    """The ECS document of a transaction (Filebeat's ModSecurity layout: `rule.id` per matched rule)."""
    timestamp, zone = _stamp(tx.time)
    doc: Doc = {"@timestamp": timestamp}
    rules = tx.rules
    ids = list(dict.fromkeys([rule.id for rule in rules if rule.id is not None]))
    tags = list(dict.fromkeys([tag for rule in rules for tag in rule.tags]))
    inbound = outbound = severity = None
    for rule in rules:
        if rule.message and "Anomaly Score Exceeded" in rule.message:
            found = _INBOUND.search(rule.message)
            points = count(found.group(1)) if found else None
            if points is not None:
                inbound = max(inbound or 0, points)
            found = _OUTBOUND.search(rule.message)
            points = count(found.group(1)) if found else None
            if points is not None:
                outbound = max(outbound or 0, points)
        rank = _RANK.get(rule.severity or "")
        if rank is not None and (severity is None or rank < severity):
            severity = rank
    intercepted = tx.intercepted
    if rules:
        event: Doc = {
            "kind": "alert",
            "category": ["web", "intrusion_detection"],
            "type": ["access", "denied" if intercepted else "allowed"],
            "action": "intercepted" if intercepted else "detected",
        }
    else:
        event = {
            "kind": "event",
            "category": ["web"],
            "type": ["access", "denied"] if intercepted else ["access"],
            "action": "intercepted" if intercepted else "passed",
        }
    status = tx.status
    if status is not None:
        event["outcome"] = "success" if status < 400 else "failure"
    if severity is not None:
        event["severity"] = severity
    if zone is not None:
        event["timezone"] = zone
    doc["event"] = event

    request: Doc = {}
    if tx.method:
        request["method"] = tx.method
    if tx.request_body_bytes is not None:
        request["body"] = {"bytes": tx.request_body_bytes}
    headers = tx.request_headers
    if "referer" in headers:
        request["referrer"] = headers["referer"]
    if "content-type" in headers:
        request["mime_type"] = headers["content-type"].partition(";")[0].strip()
    request["id"] = tx.unique_id
    http: Doc = {"request": request}
    if tx.http_version:
        http["version"] = tx.http_version
    if status is not None:
        response: Doc = {"status_code": status}
        length = tx.response_headers.get("content-length", "")
        number = count(length)
        if number is not None:
            response["body"] = {"bytes": number}
        http["response"] = response
    doc["http"] = http

    url: Doc = {}
    if tx.uri is not None:
        url["original"] = tx.uri
        path, sep, query = tx.uri.partition("?")
        url["path"] = path
        if sep:
            url["query"] = query
    host = headers.get("host")
    if host:
        url["domain"] = _host_domain(host)
    if url:
        doc["url"] = url
    if "user-agent" in headers:
        doc["user_agent"] = {"original": headers["user-agent"]}
    if tx.client_ip:
        doc["source"] = (
            {"ip": tx.client_ip} if tx.client_port is None else {"ip": tx.client_ip, "port": tx.client_port}
        )
    if tx.server_ip:
        doc["destination"] = (
            {"ip": tx.server_ip} if tx.server_port is None else {"ip": tx.server_ip, "port": tx.server_port}
        )
    doc["transaction"] = {"id": tx.unique_id}
    if ids:
        ruleset = next((r.version for r in rules if r.version), None)
        doc["rule"] = {"id": ids, "ruleset": ruleset} if ruleset else {"id": ids}
    if tags:
        doc["tags"] = tags

    modsec: Doc = {"unique_id": tx.unique_id, "intercepted": intercepted}
    if rules:
        modsec["rules"] = [rule.as_doc() for rule in rules]
    if tags:
        modsec["tags"] = tags
    if inbound is not None or outbound is not None:
        score: Doc = {}
        if inbound is not None:
            score["inbound"] = inbound
        if outbound is not None:
            score["outbound"] = outbound
        modsec["anomaly_score"] = score
    if tx.engine_mode:
        modsec["engine_mode"] = tx.engine_mode
    if tx.producer:
        modsec["producer"] = tx.producer
    doc["modsecurity"] = modsec
    doc["message"] = summary(tx, ids)
    return doc


def summary(tx: Transaction, ids: list[str]) -> str:
    """`GET /path?x → 403; rules 942100,949110` — short enough to read in a list of alerts."""
    uri = tx.uri or "?"
    if len(uri) > MAX_URL_IN_MESSAGE:
        uri = uri[:MAX_URL_IN_MESSAGE] + "…"
    text = f"{tx.method or '?'} {uri} → {tx.status if tx.status is not None else '?'}"
    if tx.intercepted:
        text += " intercepted"
    if ids:
        text += "; rules " + ",".join(ids)
    return text
