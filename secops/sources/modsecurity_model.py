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

from secops.events import Doc, Rejected, stamp_time

SEVERITIES = ("EMERGENCY", "ALERT", "CRITICAL", "ERROR", "WARNING", "NOTICE", "INFO", "DEBUG")
"""ModSecurity severities in syslog order: the index is the numeric form libmodsecurity 3 writes."""

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
MAX_URL_IN_MESSAGE = 200


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
            if tag.startswith("paranoia-level/") and tag[15:].isdigit():
                return int(tag[15:])
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
    pairs = _split_metadata(text[start + 1 :].rstrip()) if start >= 0 else None
    if pairs is None:
        found = list(_META.finditer(text, max(start, 0)))
        pairs = [(m.group(1), m.group(2)) for m in found]
        start = found[0].start() - 1 if found else len(text)
    match = RuleMatch(text=text[: max(start, 0)].strip())
    for key, escaped in pairs:
        value = _UNESCAPE.sub(r"\1", escaped) if "\\" in escaped else escaped
        if key == "tag":
            match.tags.append(value)
        elif key == "id":
            match.id = value
        elif key == "msg":
            match.message = value
        elif key == "data":
            match.data = value
        elif key == "severity":
            match.severity = severity_name(value)
        elif key == "file":
            match.file = value
        elif key == "line":
            match.line = int(value) if value.isdigit() else None
        elif key == "ver":
            match.version = value
    return match


def _split_metadata(tail: str) -> list[tuple[str, str]] | None:
    """Fast path for the usual `[k "v"] [k "v"]` tail; None when it is anything else (regex path)."""
    if not tail.startswith("[") or not tail.endswith('"]'):
        return None
    pairs = []
    for part in tail[1:-2].split('"] ['):
        key, sep, value = part.partition(' "')
        if not sep or key not in _KEYS:
            return None
        pairs.append((key, value))
    return pairs


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
    if length.isdigit():
        tx.request_body_bytes = int(length)


def _host_domain(host: str) -> str:
    if host.startswith("["):
        return host[1 : host.find("]")] if "]" in host else host[1:]
    name, _, _ = host.partition(":") if host.count(":") == 1 else (host, "", "")
    return name


def to_doc(tx: Transaction) -> Doc:
    """The ECS document of a transaction (Filebeat's ModSecurity layout: `rule.id` per matched rule)."""
    doc: Doc = {}
    stamp_time(doc, tx.time)
    ids: list[str] = []
    seen: set[str] = set()
    tags: list[str] = []
    tag_seen: set[str] = set()
    inbound = outbound = None
    severities: list[int] = []
    for rule in tx.rules:
        if rule.id is not None and rule.id not in seen:
            seen.add(rule.id)
            ids.append(rule.id)
        for tag in rule.tags:
            if tag not in tag_seen:
                tag_seen.add(tag)
                tags.append(tag)
        if rule.message and "Anomaly Score Exceeded" in rule.message:
            found = _INBOUND.search(rule.message)
            if found:
                inbound = max(inbound or 0, int(found.group(1)))
            found = _OUTBOUND.search(rule.message)
            if found:
                outbound = max(outbound or 0, int(found.group(1)))
        if rule.severity in SEVERITIES:
            severities.append(SEVERITIES.index(rule.severity))
    alert = bool(tx.rules)
    action = "intercepted" if tx.intercepted else "detected" if alert else "passed"
    types = ["access"]
    if tx.intercepted:
        types.append("denied")
    elif alert:
        types.append("allowed")
    event: Doc = {
        "kind": "alert" if alert else "event",
        "category": ["web", "intrusion_detection"] if alert else ["web"],
        "type": types,
        "action": action,
    }
    if tx.status is not None:
        event["outcome"] = "success" if tx.status < 400 else "failure"
    if severities:
        event["severity"] = min(severities)
    event.update(doc.get("event", {}))
    doc["event"] = event

    http: Doc = {}
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
    http["request"] = request
    if tx.http_version:
        http["version"] = tx.http_version
    if tx.status is not None:
        response: Doc = {"status_code": tx.status}
        length = tx.response_headers.get("content-length", "")
        if length.isdigit():
            response["body"] = {"bytes": int(length)}
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
        doc["source"] = {"ip": tx.client_ip}
        if tx.client_port is not None:
            doc["source"]["port"] = tx.client_port
    if tx.server_ip:
        doc["destination"] = {"ip": tx.server_ip}
        if tx.server_port is not None:
            doc["destination"]["port"] = tx.server_port
    doc["transaction"] = {"id": tx.unique_id}
    if ids:
        doc["rule"] = {"id": ids}
        ruleset = next((r.version for r in tx.rules if r.version), None)
        if ruleset:
            doc["rule"]["ruleset"] = ruleset
    if tags:
        doc["tags"] = tags

    modsec: Doc = {"unique_id": tx.unique_id, "intercepted": tx.intercepted}
    if tx.rules:
        modsec["rules"] = [rule.as_doc() for rule in tx.rules]
    if tags:
        modsec["tags"] = tags
    score: Doc = {}
    if inbound is not None:
        score["inbound"] = inbound
    if outbound is not None:
        score["outbound"] = outbound
    if score:
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
