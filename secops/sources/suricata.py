"""Suricata EVE JSON: one JSON object per line, every event type, laid out like Filebeat's Suricata module.

ECS fields go where Elastic users expect them (`source.*`, `rule.*`, `http.*`, `dns.*`, `tls.*`, …); what
ECS has no name for stays under `suricata.eve.*` in Suricata's own words, including the join keys
`flow_id` and `tx_id` (with `network.community_id` beside them). Fields Filebeat renames are moved out of
`suricata.eve`, fields it copies (alert rule, DNS, TLS) stay in both places.

This is the hot path of the ingest benchmark, so documents are built as nested dicts directly, values are
type-checked once where they enter ECS (a number field that holds a string would break a typed store),
and timestamps are converted once per minute of log rather than once per event.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta, tzinfo
from email.utils import getaddresses
from socket import AF_INET, AF_INET6, inet_ntop, inet_pton
from typing import Any
from zoneinfo import ZoneInfo

import orjson

from secops.events import Doc, Frame, Rejected, decode, format_offset, format_ts
from secops.sources.base import Source, SourceOptions

__all__ = ["SuricataEve"]

Obj = dict[str, Any]
"""A JSON object of the EVE record (mutated in place: mapped fields are moved out of it)."""

_BOM = b"\xef\xbb\xbf"
_CACHE_LIMIT = 8192
_REASON_VALUE = 60


def _show(value: object) -> str:
    """A short repr of a bad value for a dead-letter reason."""
    text = repr(value)
    return text if len(text) <= _REASON_VALUE else text[: _REASON_VALUE - 3] + "..."


def _load(raw: bytes) -> Any:
    """Parse one JSON line: UTF-8 first (orjson reads only that), then a BOM-less or GBK-decoded retry."""
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        first = exc
    text = decode(raw.removeprefix(_BOM))  # GBK from Chinese systems; never raises
    if text.encode("utf-8", "surrogatepass") == raw:  # valid UTF-8 all along: the JSON itself is bad
        raise Rejected(f"malformed JSON: {first}")
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        raise Rejected(f"malformed JSON: {exc}") from None


# --- time ---------------------------------------------------------------------------------------------

_MICROSECOND = timedelta(microseconds=1)


class _Clock:
    """ISO 8601 → ECS UTC timestamps, exactly as `stamp_time` writes them, at a fraction of its cost.

    Suricata writes `2024-03-05T10:15:42.123456+0800` (certificate dates: `2024-01-01T00:00:00`, UTC).
    Zone offsets are whole minutes, so the UTC form of such a time is the UTC form of its minute followed
    by its own seconds: one conversion per (minute, zone) — a handful per minute of log — instead of a
    strftime per event. Other layouts take the general path.
    """

    def __init__(self, naive_zone: tzinfo) -> None:
        self._naive_zone = naive_zone
        self._minutes: dict[str, tuple[str, str | None]] = {}

    def read(self, text: str, naive_zone: tzinfo | None = None) -> tuple[str, str | None, datetime]:
        """`(@timestamp, event.timezone, moment)`; ValueError when `text` is not an ISO 8601 time.

        Times without a zone are read in `naive_zone`, by default the configured one.
        """
        moment = datetime.fromisoformat(text)  # validates every field, including the ones reused below
        size = len(text)
        if size == 31 and text[19] == "." and text[26] in "+-" and text[16] == ":":
            key, seconds = text[:16] + text[26:], text[16:26]
        elif moment.tzinfo is not None:
            return format_ts(moment), format_offset(moment), moment
        else:
            moment = moment.replace(tzinfo=naive_zone or self._naive_zone)
            if text[16:17] != ":" or not (size == 19 or (size == 26 and text[19] == ".")):
                return format_ts(moment), format_offset(moment), moment
            key, seconds = f"{text[:16]} {moment.tzinfo}", text[16:] if size == 26 else text[16:] + ".000000"
        known = self._minutes.get(key)
        if known is None:
            if len(self._minutes) >= _CACHE_LIMIT:
                self._minutes.clear()
            known = self._minutes[key] = (format_ts(moment)[:16], format_offset(moment))
        return known[0] + seconds + "Z", known[1], moment

    def field(
        self, obj: Obj, key: str, keep: bool = False, naive_zone: tzinfo | None = None
    ) -> tuple[str, datetime] | None:
        """A time field of a record (flow start, certificate dates) as ECS UTC and as a datetime.

        The field moves out of `obj` unless `keep`; an unreadable value stays where it is.
        """
        text = obj.get(key)
        if type(text) is not str:
            return None
        try:
            utc, _, moment = self.read(text, naive_zone)
        except ValueError:
            return None
        if not keep:
            del obj[key]
        return utc, moment


# --- typed extraction ---------------------------------------------------------------------------------
# EVE values enter ECS only with the type ECS gives them; anything else stays under `suricata.eve`.


def _str(obj: Obj, key: str) -> str | None:
    value = obj.get(key)
    return value if type(value) is str else None


def _int(obj: Obj, key: str) -> int | None:
    value = obj.get(key)
    return value if type(value) is int else None


def _pop_str(obj: Obj, key: str) -> str | None:
    """Move a string out of the EVE object (it stays there when it holds something else)."""
    value = obj.get(key)
    if type(value) is str:
        del obj[key]
        return value
    return None


def _pop_int(obj: Obj, key: str) -> int | None:
    value = obj.get(key)
    if type(value) is int:
        del obj[key]
        return value
    return None


def _obj(doc: Doc, key: str) -> Obj:
    """The ECS object `key` of a document, created on first use."""
    child: Obj | None = doc.get(key)
    if child is None:
        child = doc[key] = {}
    return child


def _strings(value: Any) -> list[str]:
    """A string or a list of strings as a list (other values dropped)."""
    if type(value) is str:
        return [value]
    if type(value) is list:
        return [item for item in value if type(item) is str]
    return []


def _hostport(endpoint: Obj | None) -> str:
    if endpoint is None or "ip" not in endpoint:
        return "?"
    ip: str = endpoint["ip"]
    port = endpoint.get("port")
    if port is None:
        return ip
    return f"[{ip}]:{port}" if ":" in ip else f"{ip}:{port}"


def _connection(doc: Doc, kind: str) -> str:
    """A flow summary: `flow tcp 10.0.0.1:5000 -> 10.0.0.2:80`."""
    transport = doc.get("network", {}).get("transport")
    head = kind if transport is None else f"{kind} {transport}"
    return f"{head} {_hostport(doc.get('source'))} -> {_hostport(doc.get('destination'))}"


# --- per-object mappers -------------------------------------------------------------------------------
# Each takes the document, the EVE sub-object of its name and the source's clock, fills ECS fields
# and returns a short summary, used as `message` when the object is the record's own event type.

Mapper = Callable[[Doc, Obj, _Clock], "str | None"]


def _alert(doc: Doc, alert: Obj, clock: _Clock) -> str | None:
    event = doc["event"]
    event["kind"] = "alert"
    rule: Obj = {}
    sid = alert.get("signature_id")
    if type(sid) is int:
        rule["id"] = str(sid)
    name = alert.get("signature")
    if type(name) is str:
        rule["name"] = name
    category = alert.get("category")
    if type(category) is str and category:
        rule["category"] = category
    if rule:
        doc["rule"] = rule
    severity = alert.get("severity")
    if type(severity) is int:
        event["severity"] = severity
        del alert["severity"]
    action = alert.get("action")
    if type(action) is str:
        event["type"] = ["denied" if action in ("blocked", "drop", "rejected") else "allowed"]
    if type(name) is str:
        return name
    return "Suricata alert" if "id" not in rule else f"Suricata alert {rule['id']}"


def _traffic(doc: Doc, counts: Obj, clock: _Clock, two_way: bool) -> None:
    """Bytes and packets per direction (to server = source) and the flow's start, end and duration.

    A flow record counts both directions; a netflow record is one direction, source to destination.
    """
    if two_way:
        src_bytes, src_packets = _pop_int(counts, "bytes_toserver"), _pop_int(counts, "pkts_toserver")
        dst_bytes, dst_packets = _pop_int(counts, "bytes_toclient"), _pop_int(counts, "pkts_toclient")
    else:
        src_bytes, src_packets = _pop_int(counts, "bytes"), _pop_int(counts, "pkts")
        dst_bytes = dst_packets = None
    if src_bytes is not None or src_packets is not None:
        src = _obj(doc, "source")
        if src_bytes is not None:
            src["bytes"] = src_bytes
        if src_packets is not None:
            src["packets"] = src_packets
    if dst_bytes is not None or dst_packets is not None:
        dst = _obj(doc, "destination")
        if dst_bytes is not None:
            dst["bytes"] = dst_bytes
        if dst_packets is not None:
            dst["packets"] = dst_packets
    total_bytes = (src_bytes or 0) + (dst_bytes or 0)
    total_packets = (src_packets or 0) + (dst_packets or 0)
    if total_bytes or total_packets:
        network = _obj(doc, "network")
        if total_bytes:
            network["bytes"] = total_bytes
        if total_packets:
            network["packets"] = total_packets
    event = doc["event"]
    start = clock.field(counts, "start")
    if start is not None:
        event["start"] = start[0]
    end = clock.field(counts, "end")
    if end is not None:
        event["end"] = end[0]
        if start is not None and end[1] >= start[1]:
            event["duration"] = (end[1] - start[1]) // _MICROSECOND * 1000


def _flow(doc: Doc, flow: Obj, clock: _Clock) -> str | None:
    _traffic(doc, flow, clock, two_way=True)
    state = flow.get("state")
    types = doc["event"]["type"]
    if types[0] == "connection":  # a flow record; an alert's flow object is a snapshot of an open flow
        if state == "new":
            types.append("start")
        elif state == "closed":
            types.append("end")
    summary = _connection(doc, "flow")
    if type(state) is str:
        summary = f"{summary} {state}"
    reason = flow.get("reason")
    return summary if type(reason) is not str else f"{summary} ({reason})"


def _netflow(doc: Doc, netflow: Obj, clock: _Clock) -> str | None:
    _traffic(doc, netflow, clock, two_way=False)
    return _connection(doc, "netflow")


def _http(doc: Doc, http: Obj, clock: _Clock) -> str | None:
    ecs: Obj = {}
    request: Obj = {}
    method = _pop_str(http, "http_method")
    if method is not None:
        request["method"] = method
    referrer = _pop_str(http, "http_refer")
    if referrer is not None:
        request["referrer"] = referrer
    if request:
        ecs["request"] = request
    status = _pop_int(http, "status")
    length = _pop_int(http, "length")
    if status is not None or length is not None:
        response: Obj = {}
        ecs["response"] = response
        if status is not None:
            response["status_code"] = status
            event = doc["event"]
            if "web" in event["category"]:  # an HTTP record; an alert's outcome is not the response's
                event["outcome"] = "success" if status < 400 else "failure"
        if length is not None:
            response["body"] = {"bytes": length}
    protocol = http.get("protocol")
    if type(protocol) is str and protocol.startswith("HTTP/"):
        ecs["version"] = protocol[5:]
    if ecs:
        doc["http"] = ecs
    url: Obj = {}
    host = _pop_str(http, "hostname")
    if host is not None:
        url["domain"] = host
        _obj(doc, "destination")["domain"] = host
    port = _pop_int(http, "http_port")
    if port is not None:
        url["port"] = port
    original = _pop_str(http, "url")
    if original is not None:
        url["original"] = original
        path, _, fragment = original.partition("#")
        path, question, query = path.partition("?")
        url["path"] = path
        if question:
            url["query"] = query
        if fragment:
            url["fragment"] = fragment
    if url:
        doc["url"] = url
    agent = _pop_str(http, "http_user_agent")
    if agent is not None:
        doc["user_agent"] = {"original": agent}
    summary = f"{method or '-'} {host or ''}{original or ''}"
    return summary if status is None else f"{summary} {status}"


_DNS_TYPES = {"query": "query", "request": "query", "answer": "answer", "response": "answer"}
_DNS_FLAGS = (("aa", "AA"), ("tc", "TC"), ("rd", "RD"), ("ra", "RA"), ("ad", "AD"), ("cd", "CD"))
_ADDRESS_TYPES = ("A", "AAAA")


def _dns_answer(record: Obj) -> Obj:
    """An EVE answer (`rrname`, `rrtype`, `rdata`, `ttl`) in ECS `dns.answers` form."""
    answer: Obj = {}
    for eve_key, ecs_key in (("rrname", "name"), ("rrtype", "type"), ("rdata", "data")):
        value = record.get(eve_key)
        if type(value) is str:
            answer[ecs_key] = value
    ttl = record.get("ttl")
    if type(ttl) is int:
        answer["ttl"] = ttl
    return answer


def _dns_question(dns: Obj, kind: str | None) -> tuple[str | None, str | None]:
    """The queried name and type.

    Queries and v2 answers carry them at the top; a v1 answer names its answer record, not the question
    (Filebeat leaves the question empty for it); v3 records and alerts list queries under `queries` /
    `query`.
    """
    if kind == "query" or "version" in dns:
        name = dns.get("rrname")
        if type(name) is str:
            qtype = dns.get("rrtype")
            return name, qtype if type(qtype) is str else None
    for key in ("queries", "query"):
        listed = dns.get(key)
        if type(listed) is list and listed and type(listed[0]) is dict:
            return _str(listed[0], "rrname"), _str(listed[0], "rrtype")
    return None, None


def _dns_answers(dns: Obj) -> list[Obj]:
    """ECS answers of a response: v2/v3 `answers`, a v1 answer record itself, or v2 `grouped` alone."""
    listed = dns.get("answers")
    if type(listed) is list:
        del dns["answers"]
        return [answer for item in listed if type(item) is dict and (answer := _dns_answer(item))]
    if "version" not in dns:
        single = _dns_answer(dns)
        return [single] if "data" in single else []
    grouped = dns.get("grouped")
    if type(grouped) is dict:
        return [{"type": kind, "data": data} for kind, rdata in grouped.items() for data in _strings(rdata)]
    return []


def _dns(doc: Doc, dns: Obj, clock: _Clock) -> str | None:
    ecs: Obj = {}
    record_type = dns.get("type")
    kind = _DNS_TYPES.get(record_type) if type(record_type) is str else None
    if kind is not None:
        ecs["type"] = kind
    dns_id = dns.get("id")
    if type(dns_id) is int:
        ecs["id"] = str(dns_id)
    rcode = dns.get("rcode")
    if type(rcode) is str:
        ecs["response_code"] = rcode
    name, qtype = _dns_question(dns, kind)
    if name is not None or qtype is not None:
        question = ecs["question"] = {}
        if name is not None:
            question["name"] = name
        if qtype is not None:
            question["type"] = qtype
    answers = _dns_answers(dns) if kind == "answer" else []
    if answers:
        ecs["answers"] = answers
        resolved = [a["data"] for a in answers if a.get("type") in _ADDRESS_TYPES and "data" in a]
        if resolved:
            ecs["resolved_ip"] = resolved
            related = _obj(doc, "related").setdefault("ip", [])
            related.extend(ip for ip in resolved if ip not in related)
    flags = [flag for key, flag in _DNS_FLAGS if dns.get(key) is True]
    if flags:
        ecs["header_flags"] = flags
    if ecs:
        doc["dns"] = ecs
    if name is None and answers:
        name = answers[0].get("name")
    summary = f"DNS {kind or 'record'} {name or '?'}"
    if qtype is not None:
        summary = f"{summary} {qtype}"
    if kind == "answer" and rcode is not None:
        summary = f"{summary} {rcode}"
    data = [a["data"] for a in answers[:3] if "data" in a]
    return summary if not data else f"{summary} {', '.join(data)}"


_TLS_PROTOCOLS = {"SSLv2": ("ssl", "2.0"), "SSLv3": ("ssl", "3.0")}


def _tls(doc: Doc, tls: Obj, clock: _Clock) -> str | None:
    ecs: Obj = {}
    client: Obj = {}
    server: Obj = {}
    version = _str(tls, "version")
    if version is not None:
        protocol, _, number = version.partition(" ")
        if number:
            ecs["version_protocol"], ecs["version"] = protocol.lower(), number
        elif version in _TLS_PROTOCOLS:
            ecs["version_protocol"], ecs["version"] = _TLS_PROTOCOLS[version]
    sni = _str(tls, "sni")
    if sni:
        sni = tls["sni"] = sni.removesuffix(".")
        client["server_name"] = sni
        _obj(doc, "destination")["domain"] = sni
    for key, side, field in (("ja3", client, "ja3"), ("ja3s", server, "ja3s")):
        fingerprint = tls.get(key)
        if type(fingerprint) is dict and type(fingerprint.get("hash")) is str:
            side[field] = fingerprint["hash"]
    for key, field in (("subject", "subject"), ("issuerdn", "issuer")):
        if (value := _str(tls, key)) is not None:
            server[field] = value
    fingerprint = _str(tls, "fingerprint")
    if fingerprint:
        server["hash"] = {"sha1": fingerprint.replace(":", "").upper()}
    serial = _str(tls, "serial")
    if serial:
        server["x509"] = {"serial_number": serial.replace(":", "")}
    for key, field in (("notbefore", "not_before"), ("notafter", "not_after")):
        # Suricata writes certificate validity in UTC without a zone.
        if (known := clock.field(tls, key, keep=True, naive_zone=UTC)) is not None:
            server[field] = known[0]
    resumed = tls.get("session_resumed")
    if type(resumed) is bool:
        ecs["resumed"] = resumed
    if client:
        ecs["client"] = client
    if server:
        ecs["server"] = server
    if ecs:
        doc["tls"] = ecs
    head = version if version is not None and version.startswith(("TLS", "SSL")) else "TLS"
    return head if not sni else f"{head} {sni}"


def _fileinfo(doc: Doc, info: Obj, clock: _Clock) -> str | None:
    file: Obj = {}
    path = _pop_str(info, "filename")
    if path is not None:
        file["path"] = path
        file["name"] = path.rsplit("/", 1)[-1]
    size = _pop_int(info, "size")
    if size is not None:
        file["size"] = size
    hashes = {key: value for key in ("md5", "sha1", "sha256") if (value := _pop_str(info, key)) is not None}
    if hashes:
        file["hash"] = hashes
    if file:
        doc["file"] = file
    summary = f"file {path or '?'}"
    return summary if size is None else f"{summary} ({size} bytes)"


def _addresses(value: Any) -> list[str]:
    """Bare addresses from `"Name" <a@b>` / `<a@b>` strings, as ECS `email.*.address` wants them."""
    return [address for _, address in getaddresses(_strings(value)) if address]


def _email(doc: Doc, email: Obj, clock: _Clock) -> str | None:
    ecs: Obj = {}
    for key in ("from", "to", "cc"):
        addresses = _addresses(email.get(key))
        if addresses:
            ecs[key] = {"address": addresses}
    subject = _str(email, "subject")
    if subject is not None:
        ecs["subject"] = subject
    attachments = _strings(email.get("attachment"))
    if attachments:
        ecs["attachments"] = [{"file": {"name": name}} for name in attachments]
    if ecs:
        doc["email"] = ecs
    return None


def _smtp(doc: Doc, smtp: Obj, clock: _Clock) -> str | None:
    sender = ", ".join(_addresses(smtp.get("mail_from"))) or "?"
    recipients = ", ".join(_addresses(smtp.get("rcpt_to"))) or "?"
    return f"SMTP mail from {sender} to {recipients}"


def _ftp(doc: Doc, ftp: Obj, clock: _Clock) -> str | None:
    command = _str(ftp, "command")
    if command:
        doc["event"]["action"] = command.lower()
    parts = ["FTP", command or "?"]
    if (data := _str(ftp, "command_data")) is not None:
        parts.append(data)
    codes = _strings(ftp.get("completion_code"))
    if codes:
        parts.append(codes[-1])
    return " ".join(parts)


def _ftp_data(doc: Doc, data: Obj, clock: _Clock) -> str | None:
    name = _str(data, "filename")
    if name is not None:
        doc["file"] = {"name": name.rsplit("/", 1)[-1], "path": name}
    return f"FTP data {_str(data, 'command') or '?'} {name or '?'}"


def _dhcp(doc: Doc, dhcp: Obj, clock: _Clock) -> str | None:
    kind = _str(dhcp, "dhcp_type")
    if kind:
        doc["event"]["action"] = kind
    parts = ["DHCP", kind or _str(dhcp, "type") or "?"]
    if (assigned := _str(dhcp, "assigned_ip")) and assigned != "0.0.0.0":
        parts.append(assigned)
    if (mac := _str(dhcp, "client_mac")) is not None:
        parts.append(f"for {mac}")
    return " ".join(parts)


def _ssh(doc: Doc, ssh: Obj, clock: _Clock) -> str | None:
    sides = []
    for key in ("client", "server"):
        side = ssh.get(key)
        software = _str(side, "software_version") if type(side) is dict else None
        sides.append(software or "?")
    return f"SSH {sides[0]} -> {sides[1]}"


def _anomaly(doc: Doc, anomaly: Obj, clock: _Clock) -> str | None:
    name = _str(anomaly, "event")
    if name:
        doc["event"]["action"] = name
    return f"anomaly {_str(anomaly, 'type') or '?'} {name or '?'}"


_MAPPERS: tuple[tuple[str, Mapper], ...] = (
    ("alert", _alert),
    ("flow", _flow),
    ("netflow", _netflow),
    ("http", _http),
    ("dns", _dns),
    ("tls", _tls),
    ("fileinfo", _fileinfo),
    ("email", _email),
    ("smtp", _smtp),
    ("ftp", _ftp),
    ("ftp_data", _ftp_data),
    ("dhcp", _dhcp),
    ("ssh", _ssh),
    ("anomaly", _anomaly),
)
"""Sub-objects with an ECS mapping. An alert, a file or an unknown record may carry any of them."""

_PLANS: dict[str, tuple[tuple[str, Mapper], ...]] = {
    name: tuple((key, mapper) for key, mapper in _MAPPERS if key in keys)
    for name, keys in {
        "flow": {"flow"},
        "netflow": {"netflow"},
        "http": {"http"},
        "dns": {"dns"},
        "tls": {"tls"},
        "smtp": {"smtp", "email"},
        "ftp": {"ftp"},
        "ftp_data": {"ftp_data"},
        "dhcp": {"dhcp"},
        "ssh": {"ssh"},
    }.items()
}
"""The objects protocol and flow records carry; checking only those keeps the hot types cheap."""

_CATEGORIES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "alert": (("network", "intrusion_detection"), ("info",)),
    "flow": (("network",), ("connection",)),
    "netflow": (("network",), ("connection",)),
    "http": (("network", "web"), ("access", "protocol")),
    "fileinfo": (("network", "file"), ("info",)),
    "anomaly": (("network",), ("info",)),
    "drop": (("network",), ("denied",)),
}
"""`event.category` / `event.type` per event type, beyond application-protocol records and unknown types."""
_PROTOCOL_RECORD = (("network",), ("protocol",))
_OTHER_RECORD = (("network",), ("info",))

_NOT_PROTOCOLS = {"failed", "template", "template-rust", "unknown"}
_APP_LAYER = {
    "http", "dns", "tls", "ssh", "smtp", "ftp", "dhcp", "smb", "rdp", "tftp", "krb5", "nfs", "snmp", "sip",
    "mqtt", "http2", "quic", "dnp3", "modbus", "ike", "rfb", "pgsql", "ldap", "bittorrent-dht",
}
"""Application-protocol record types; they name `network.protocol` when `app_proto` does not."""


class SuricataEve(Source):
    """Suricata's EVE JSON log (Suricata 4 to 7): alerts, flows, protocol records, files, stats."""

    format = "suricata"
    dataset = "suricata.eve"
    description = "Suricata EVE JSON (eve.json), one event per line"

    def __init__(self, options: SourceOptions | None = None) -> None:
        super().__init__(options)
        self._clock = _Clock(ZoneInfo(self.options.timezone))

    @classmethod
    def sniff(cls, head: bytes) -> bool:
        line = head.removeprefix(_BOM).lstrip().split(b"\n", 1)[0].strip()
        if not line.startswith(b"{"):
            return False
        try:
            record = _load(line)
        except Rejected:
            # The head may cut a long first line short: look for the keys every EVE record starts with.
            return b'"event_type"' in line and b'"timestamp"' in line
        return type(record) is dict and "event_type" in record and "timestamp" in record

    def parse(self, frame: Frame) -> list[Doc]:
        record = _load(frame.raw)
        if type(record) is not dict:
            raise Rejected(f"EVE record must be a JSON object, got {type(record).__name__}")
        return [self.normalise(record)]

    def normalise(self, eve: Obj) -> Doc:
        """The ECS document of one EVE record; `eve` becomes its `suricata.eve` part."""
        stamp = eve.pop("timestamp", None)
        if stamp is None:
            raise Rejected("EVE record has no timestamp")
        if type(stamp) is not str:
            raise Rejected(f"EVE timestamp is not a string: {_show(stamp)}")
        try:
            utc, zone, _ = self._clock.read(stamp)
        except ValueError as exc:
            raise Rejected(f"invalid EVE timestamp {_show(stamp)}: {exc}") from None
        event_type = eve.get("event_type")
        if type(event_type) is not str or not event_type:
            raise Rejected(f"EVE record has no event_type (got {_show(event_type)})")
        if not event_type.islower():
            event_type = eve["event_type"] = event_type.lower()
        event: Obj = {"kind": "event"}
        if zone is not None:
            event["timezone"] = zone
        doc: Doc = {"@timestamp": utc, "event": event}
        if event_type == "stats":
            event["kind"] = "metric"
            event["dataset"] = "suricata.stats"
            event["type"] = ["info"]
            stats = eve.get("stats")
            uptime = _int(stats, "uptime") if type(stats) is dict else None
            doc["message"] = "Suricata stats" if uptime is None else f"Suricata stats, uptime {uptime} s"
            doc["suricata"] = {"eve": eve}
            return doc
        categories, types = _CATEGORIES.get(event_type) or (
            _PROTOCOL_RECORD if event_type in _APP_LAYER or event_type == "ftp_data" else _OTHER_RECORD
        )
        event["category"] = list(categories)
        event["type"] = list(types)
        self._endpoints(doc, eve, event_type)
        message = None
        for key, mapper in _PLANS.get(event_type, _MAPPERS):
            part = eve.get(key)
            if type(part) is dict:
                summary = mapper(doc, part, self._clock)
                if key == event_type:
                    message = summary
                if not part:  # everything in it moved to ECS
                    del eve[key]
        doc["message"] = message or _connection(doc, event_type)
        doc["suricata"] = {"eve": eve}
        return doc

    def _endpoint(self, eve: Obj, ip_key: str, port_key: str) -> Obj | None:
        """`source` or `destination` from the record's address and port (moved out of it when valid)."""
        endpoint: Obj = {}
        text = eve.get(ip_key)
        if type(text) is str:
            # socket's C parsers, not `ipaddress` (15-25 times slower); Suricata writes IPv6 in full,
            # pcap tools compressed: the canonical form lets the two meet.
            try:
                if ":" in text:
                    endpoint["ip"] = inet_ntop(AF_INET6, inet_pton(AF_INET6, text))
                else:
                    inet_pton(AF_INET, text)
                    endpoint["ip"] = text
                del eve[ip_key]
            except (OSError, ValueError):  # not an address (UnicodeEncodeError is a ValueError)
                pass
        port = eve.get(port_key)
        if type(port) is int and 0 <= port <= 65535:
            endpoint["port"] = port
            del eve[port_key]
        return endpoint or None

    def _endpoints(self, doc: Doc, eve: Obj, event_type: str) -> None:
        """The 5-tuple, transport, application protocol, community id and `related.ip`."""
        src = self._endpoint(eve, "src_ip", "src_port")
        dst = self._endpoint(eve, "dest_ip", "dest_port")
        related = []
        if src is not None:
            doc["source"] = src
            if "ip" in src:
                related.append(src["ip"])
        if dst is not None:
            doc["destination"] = dst
            if "ip" in dst and dst["ip"] not in related:
                related.append(dst["ip"])
        if related:
            doc["related"] = {"ip": related}
        network: Obj = {}
        transport = eve.get("proto")
        if type(transport) is str:
            network["transport"] = transport.lower()
            del eve["proto"]
        app = eve.get("app_proto")
        if type(app) is str and (app := app.lower()) not in _NOT_PROTOCOLS:
            network["protocol"] = "ftp" if app == "ftp-data" else app
            del eve["app_proto"]
        elif event_type in _APP_LAYER:
            network["protocol"] = event_type
        elif event_type == "ftp_data":
            network["protocol"] = "ftp"
        community = eve.get("community_id")
        if type(community) is str:
            network["community_id"] = community
            del eve["community_id"]
        if network:
            doc["network"] = network
