"""Suricata EVE JSON: one JSON object per line, every event type, laid out like Filebeat's Suricata module.

ECS fields go where Elastic users expect them (`source.*`, `rule.*`, `http.*`, `dns.*`, `tls.*`, …); what
ECS has no name for stays under `suricata.eve.*` in Suricata's own words, including the join keys
`flow_id` and `tx_id` (with `network.community_id` beside them). Fields Filebeat renames are moved out of
`suricata.eve`, fields it copies (alert rule, DNS, TLS) stay in both places.

This is the hot path of the ingest benchmark, so documents are built as nested dicts directly, reusing
the dict orjson returns as `suricata.eve`; values are type-checked once where they enter ECS (a number
field that holds a string would break a typed store) with `type(x) is int`-style tests written out inline
for the common record types; timestamps are converted once per minute of log rather than once per event.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta, tzinfo
from email.utils import getaddresses
from socket import AF_INET, AF_INET6, inet_ntop, inet_pton
from typing import Any
from zoneinfo import ZoneInfo

import egovops_native
import orjson

from secops.events import Doc, Frame, Rejected, decode, format_offset, format_ts
from secops.sources.base import NativeParser, Source, SourceOptions, Stamp

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
_NO_TIME = timedelta(0)


class _Clock:
    """ISO 8601 → ECS UTC timestamps, exactly as `stamp_time` writes them, at a fraction of its cost.

    Suricata writes `2024-03-05T10:15:42.123456+0800` (certificate dates: `2024-01-01T00:00:00`, UTC).
    Zone offsets are whole minutes, so the UTC form of such a time is the UTC form of its minute followed
    by its own seconds: one conversion per (minute, zone) — a handful per minute of log — instead of a
    strftime per event. Other layouts take the general path.
    """

    def __init__(self, naive_zone: tzinfo) -> None:
        self._naive_zone = naive_zone
        self._minutes: dict[str, tuple[str, str, str | None]] = {}
        """`YYYY-MM-DDTHH:MM` → (offset `+hhmm`, UTC minute, `event.timezone`) of times with an offset."""
        self._naive_minutes: dict[tzinfo, dict[str, tuple[str, str | None]]] = {}
        """Zone → `YYYY-MM-DDTHH:MM` → (UTC minute, `event.timezone`) of times without one."""

    def read(self, text: str, naive_zone: tzinfo | None = None) -> tuple[str, str | None, datetime]:
        """`(@timestamp, event.timezone, moment)`; ValueError when `text` is not an ISO 8601 time.

        Times without a zone are read in `naive_zone`, by default the configured one.
        """
        moment = datetime.fromisoformat(text)  # validates every field, including the ones reused below
        known = self._minutes.get(text[:16])
        # Remembered minutes come from `…THH:MM:SS.ffffff+hhmm`: a valid time with that minute, that offset
        # from 26 on (so 31 characters long) and a dot at 19 has the same layout (a fraction written right
        # after the minutes would have no second dot).
        if known is not None and text[26:] == known[0] and text[19] == ".":
            return f"{known[1]}{text[16:26]}Z", known[2], moment
        return self._convert(text, moment, naive_zone)

    def _convert(
        self, text: str, moment: datetime, naive_zone: tzinfo | None
    ) -> tuple[str, str | None, datetime]:
        """`read` for a minute not seen yet, a time without a zone, or another layout."""
        size = len(text)
        if size == 31 and text[19] == "." and text[26] in "+-" and text[16] == ":":
            if len(self._minutes) >= _CACHE_LIMIT:
                self._minutes.clear()
            known = self._minutes[text[:16]] = (text[26:], format_ts(moment)[:16], format_offset(moment))
            return f"{known[1]}{text[16:26]}Z", known[2], moment
        if moment.tzinfo is not None:
            return format_ts(moment), format_offset(moment), moment
        naive_zone = naive_zone or self._naive_zone
        moment = moment.replace(tzinfo=naive_zone)
        if text[16:17] != ":" or not (size == 19 or (size == 26 and text[19] == ".")):
            return format_ts(moment), format_offset(moment), moment
        minutes = self._naive_minutes.get(naive_zone)
        if minutes is None or len(minutes) >= _CACHE_LIMIT:
            minutes = self._naive_minutes[naive_zone] = {}
        minute = minutes.get(text[:16])
        if minute is None:
            minute = minutes[text[:16]] = (format_ts(moment)[:16], format_offset(moment))
        return minute[0] + (text[16:] if size == 26 else text[16:] + ".000000") + "Z", minute[1], moment

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
# EVE values enter ECS only with the type ECS gives them; anything else stays under `suricata.eve`. The
# hot types (flow, dns, http, tls, alert) test and move their fields inline rather than through these.


def _str(obj: Obj, key: str) -> str | None:
    value = obj.get(key)
    return value if type(value) is str else None


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


def _strings(value: Any) -> list[str]:
    """A string or a list of strings as a list (other values dropped)."""
    if type(value) is str:
        return [value]
    if type(value) is list:
        return [item for item in value if type(item) is str]
    return []


def _hostport(endpoint: Obj | None) -> str:
    if endpoint is None:
        return "?"
    ip: str | None = endpoint.get("ip")
    if ip is None:
        return "?"
    port = endpoint.get("port")
    if port is None:
        return ip
    return f"[{ip}]:{port}" if ":" in ip else f"{ip}:{port}"


def _connection(doc: Doc, kind: str) -> str:
    """A flow summary: `flow tcp 10.0.0.1:5000 -> 10.0.0.2:80`."""
    network = doc.get("network")
    transport = None if network is None else network.get("transport")
    source, destination = _hostport(doc.get("source")), _hostport(doc.get("destination"))
    if transport is None:
        return f"{kind} {source} -> {destination}"
    return f"{kind} {transport} {source} -> {destination}"


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
        event["type"] = ["denied" if action in _DENIED else "allowed"]
    if type(name) is str:
        return name
    return "Suricata alert" if "id" not in rule else f"Suricata alert {rule['id']}"


_DENIED = frozenset(("blocked", "drop", "rejected"))


def _traffic(doc: Doc, counts: Obj, clock: _Clock, two_way: bool) -> None:
    """Bytes and packets per direction (to server = source) and the flow's start, end and duration.

    A flow record counts both directions; a netflow record is one direction, source to destination.
    """
    if two_way:
        src_bytes = counts.get("bytes_toserver")
        if type(src_bytes) is int:
            del counts["bytes_toserver"]
        else:
            src_bytes = None
        src_packets = counts.get("pkts_toserver")
        if type(src_packets) is int:
            del counts["pkts_toserver"]
        else:
            src_packets = None
        dst_bytes = counts.get("bytes_toclient")
        if type(dst_bytes) is int:
            del counts["bytes_toclient"]
        else:
            dst_bytes = None
        dst_packets = counts.get("pkts_toclient")
        if type(dst_packets) is int:
            del counts["pkts_toclient"]
        else:
            dst_packets = None
    else:
        src_bytes, src_packets = _pop_int(counts, "bytes"), _pop_int(counts, "pkts")
        dst_bytes = dst_packets = None
    if src_bytes is not None or src_packets is not None:
        src = doc.get("source")
        if src is None:
            src = doc["source"] = {}
        if src_bytes is not None:
            src["bytes"] = src_bytes
        if src_packets is not None:
            src["packets"] = src_packets
    if dst_bytes is not None or dst_packets is not None:
        dst = doc.get("destination")
        if dst is None:
            dst = doc["destination"] = {}
        if dst_bytes is not None:
            dst["bytes"] = dst_bytes
        if dst_packets is not None:
            dst["packets"] = dst_packets
    total_bytes = (src_bytes or 0) + (dst_bytes or 0)
    total_packets = (src_packets or 0) + (dst_packets or 0)
    if total_bytes or total_packets:
        network = doc.get("network")
        if network is None:
            network = doc["network"] = {}
        if total_bytes:
            network["bytes"] = total_bytes
        if total_packets:
            network["packets"] = total_packets
    event = doc["event"]
    began = ended = None
    text = counts.get("start")
    if type(text) is str:
        try:
            event["start"], _, began = clock.read(text)
            del counts["start"]
        except ValueError:  # unreadable: stays under suricata.eve
            pass
    text = counts.get("end")
    if type(text) is str:
        try:
            event["end"], _, ended = clock.read(text)
            del counts["end"]
        except ValueError:
            pass
    if began is not None and ended is not None and (elapsed := ended - began) >= _NO_TIME:
        # One subtraction and no comparison: each asks both times for their zone offset, which is slow.
        event["duration"] = elapsed // _MICROSECOND * 1000


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
    reason = flow.get("reason")
    if type(state) is str:
        return f"{summary} {state}" if type(reason) is not str else f"{summary} {state} ({reason})"
    return summary if type(reason) is not str else f"{summary} ({reason})"


def _netflow(doc: Doc, netflow: Obj, clock: _Clock) -> str | None:
    _traffic(doc, netflow, clock, two_way=False)
    return _connection(doc, "netflow")


def _http(doc: Doc, http: Obj, clock: _Clock) -> str | None:
    ecs: Obj = {}
    method = http.get("http_method")
    if type(method) is str:
        del http["http_method"]
        request: Obj = {"method": method}
    else:
        method = None
        request = {}
    referrer = http.get("http_refer")
    if type(referrer) is str:
        del http["http_refer"]
        request["referrer"] = referrer
    if request:
        ecs["request"] = request
    status = http.get("status")
    if type(status) is int:
        del http["status"]
    else:
        status = None
    length = http.get("length")
    if type(length) is int:
        del http["length"]
    else:
        length = None
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
    host = http.get("hostname")
    if type(host) is str:
        del http["hostname"]
        url["domain"] = host
        destination = doc.get("destination")
        if destination is None:
            doc["destination"] = {"domain": host}
        else:
            destination["domain"] = host
    else:
        host = None
    port = http.get("http_port")
    if type(port) is int:
        del http["http_port"]
        url["port"] = port
    original = http.get("url")
    if type(original) is str:
        del http["url"]
        url["original"] = original
        path, _, fragment = original.partition("#")
        path, question, query = path.partition("?")
        url["path"] = path
        if question:
            url["query"] = query
        if fragment:
            url["fragment"] = fragment
    else:
        original = None
    if url:
        doc["url"] = url
    agent = http.get("http_user_agent")
    if type(agent) is str:
        del http["http_user_agent"]
        doc["user_agent"] = {"original": agent}
    summary = f"{method or '-'} {host or ''}{original or ''}"
    return summary if status is None else f"{summary} {status}"


_DNS_TYPES = {"query": "query", "request": "query", "answer": "answer", "response": "answer"}
_DNS_FLAGS = (("aa", "AA"), ("tc", "TC"), ("rd", "RD"), ("ra", "RA"), ("ad", "AD"), ("cd", "CD"))
_ADDRESS_TYPES = ("A", "AAAA")


def _dns_answer(record: Obj) -> Obj:
    """An EVE answer (`rrname`, `rrtype`, `rdata`, `ttl`) in ECS `dns.answers` form."""
    answer: Obj = {}
    value = record.get("rrname")
    if type(value) is str:
        answer["name"] = value
    value = record.get("rrtype")
    if type(value) is str:
        answer["type"] = value
    value = record.get("rdata")
    if type(value) is str:
        answer["data"] = value
    value = record.get("ttl")
    if type(value) is int:
        answer["ttl"] = value
    return answer


def _listed_question(dns: Obj) -> tuple[str | None, str | None]:
    """The queried name and type of v3 records and alerts, which list queries under `queries` / `query`."""
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
    # The question: queries and v2 answers carry it at the top; a v1 answer names its answer record, not
    # the question (Filebeat leaves the question empty for it); v3 records and alerts list it.
    name = qtype = None
    if kind == "query" or "version" in dns:
        name = dns.get("rrname")
        if type(name) is str:
            qtype = dns.get("rrtype")
            if type(qtype) is not str:
                qtype = None
        else:
            name = None
    if name is None:
        name, qtype = _listed_question(dns)
    if name is not None:
        ecs["question"] = {"name": name} if qtype is None else {"name": name, "type": qtype}
    elif qtype is not None:
        ecs["question"] = {"type": qtype}
    if kind == "answer" and (answers := _dns_answers(dns)):
        ecs["answers"] = answers
        resolved = [a["data"] for a in answers if a.get("type") in _ADDRESS_TYPES and "data" in a]
        if resolved:
            ecs["resolved_ip"] = resolved
            related = doc.get("related")
            if related is None:
                related = doc["related"] = {}
            ips = related.setdefault("ip", [])
            for ip in resolved:
                if ip not in ips:
                    ips.append(ip)
        if name is None:
            name = answers[0].get("name")
        data = [a["data"] for a in answers[:3] if "data" in a]
    else:
        data = None
    flags = [flag for key, flag in _DNS_FLAGS if dns.get(key) is True]
    if flags:
        ecs["header_flags"] = flags
    if ecs:
        doc["dns"] = ecs
    summary = f"DNS {kind or 'record'} {name or '?'}"
    if qtype is not None:
        summary = f"{summary} {qtype}"
    if kind == "answer" and rcode is not None:
        summary = f"{summary} {rcode}"
    return summary if not data else f"{summary} {', '.join(data)}"


_TLS_PROTOCOLS = {"SSLv2": ("ssl", "2.0"), "SSLv3": ("ssl", "3.0")}


def _tls(doc: Doc, tls: Obj, clock: _Clock) -> str | None:
    ecs: Obj = {}
    client: Obj = {}
    server: Obj = {}
    version = tls.get("version")
    if type(version) is not str:
        version = None
    else:
        protocol, _, number = version.partition(" ")
        if number:
            ecs["version_protocol"], ecs["version"] = protocol.lower(), number
        elif version in _TLS_PROTOCOLS:
            ecs["version_protocol"], ecs["version"] = _TLS_PROTOCOLS[version]
    sni = tls.get("sni")
    if type(sni) is str and sni:
        if sni[-1] == ".":
            sni = tls["sni"] = sni.removesuffix(".")
        client["server_name"] = sni
        destination = doc.get("destination")
        if destination is None:
            doc["destination"] = {"domain": sni}
        else:
            destination["domain"] = sni
    else:
        sni = None
    fingerprint = tls.get("ja3")
    if type(fingerprint) is dict and type(value := fingerprint.get("hash")) is str:
        client["ja3"] = value
    fingerprint = tls.get("ja3s")
    if type(fingerprint) is dict and type(value := fingerprint.get("hash")) is str:
        server["ja3s"] = value
    if type(value := tls.get("subject")) is str:
        server["subject"] = value
    if type(value := tls.get("issuerdn")) is str:
        server["issuer"] = value
    if type(value := tls.get("fingerprint")) is str and value:
        server["hash"] = {"sha1": value.replace(":", "").upper()}
    if type(value := tls.get("serial")) is str and value:
        server["x509"] = {"serial_number": value.replace(":", "")}
    # Suricata writes certificate validity in UTC without a zone.
    if (known := clock.field(tls, "notbefore", keep=True, naive_zone=UTC)) is not None:
        server["not_before"] = known[0]
    if (known := clock.field(tls, "notafter", keep=True, naive_zone=UTC)) is not None:
        server["not_after"] = known[0]
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


_MAPPERS: dict[str, Mapper] = {
    "alert": _alert,
    "flow": _flow,
    "netflow": _netflow,
    "http": _http,
    "dns": _dns,
    "tls": _tls,
    "fileinfo": _fileinfo,
    "email": _email,
    "smtp": _smtp,
    "ftp": _ftp,
    "ftp_data": _ftp_data,
    "dhcp": _dhcp,
    "ssh": _ssh,
    "anomaly": _anomaly,
}
"""Sub-objects with an ECS mapping, in the order they are mapped. An alert, a file or an unknown record
may carry any of them."""
_RANKS = {key: rank for rank, key in enumerate(_MAPPERS)}

_PLANS: dict[str, tuple[str, ...]] = {
    "flow": ("flow",),
    "netflow": ("netflow",),
    "http": ("http",),
    "dns": ("dns",),
    "tls": ("tls",),
    "smtp": ("email", "smtp"),
    "ftp": ("ftp",),
    "ftp_data": ("ftp_data",),
    "dhcp": ("dhcp",),
    "ssh": ("ssh",),
}
"""The objects protocol and flow records carry, in mapping order; checking only those keeps them cheap."""


def _carried(eve: Obj) -> list[str]:
    """The mapped objects a record of any other type has, in mapping order."""
    present = _MAPPERS.keys() & eve.keys()
    return sorted(present, key=_RANKS.__getitem__) if len(present) > 1 else list(present)


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
_LOWER = {
    name: name.lower() for name in ("TCP", "UDP", "ICMP", "IPv6-ICMP", "SCTP", "ftp-data", *_NOT_PROTOCOLS)
}
_APP_LAYER = {
    "http", "dns", "tls", "ssh", "smtp", "ftp", "dhcp", "smb", "rdp", "tftp", "krb5", "nfs", "snmp", "sip",
    "mqtt", "http2", "quic", "dnp3", "modbus", "ike", "rfb", "pgsql", "ldap", "bittorrent-dht",
}
"""Application-protocol record types; they name `network.protocol` when `app_proto` does not."""
_LOWER.update((name, name) for name in _APP_LAYER)
"""Lower case of common `proto` / `app_proto` values, without building a new string each time."""

Kind = tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...] | None]
"""`event.category`, `event.type` and the mapped objects to look for (None: any) of an event type."""


def _kind(event_type: str) -> Kind:
    categories, types = _CATEGORIES.get(event_type) or (
        _PROTOCOL_RECORD if event_type in _APP_LAYER or event_type == "ftp_data" else _OTHER_RECORD
    )
    return categories, types, _PLANS.get(event_type)


_KINDS = {event_type: _kind(event_type) for event_type in (*_CATEGORIES, *_APP_LAYER, "ftp_data")}
"""The known event types, worked out once."""


def _canonical_ip(text: str) -> str:
    """`text` as a canonical IP address, "" when it is none.

    socket's C parsers, not `ipaddress` (15-25 times slower); Suricata writes IPv6 in full, pcap tools
    compressed: the canonical form lets the two meet. IPv4 is only checked: it has one form.
    """
    try:
        if ":" in text:
            return inet_ntop(AF_INET6, inet_pton(AF_INET6, text))
        inet_pton(AF_INET, text)
    except (OSError, ValueError):  # not an address (UnicodeEncodeError is a ValueError)
        return ""
    return text


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

    def native_parser(self, stamp: Stamp) -> NativeParser:
        """The Rust port of this source (native/src/suricata), held to `parse` by a differential test."""
        return egovops_native.SuricataParser(
            id_prefix=stamp.id_prefix, label=stamp.label, observer=stamp.observer,
            keep_original=stamp.keep_original, dataset=stamp.dataset, timezone=self.options.timezone,
        )

    def parse(self, frame: Frame) -> list[Doc]:
        record = _load(frame.raw)
        if type(record) is not dict:
            raise Rejected(f"EVE record must be a JSON object, got {type(record).__name__}")
        return [self.normalise(record)]

    def normalise(self, eve: Obj) -> Doc:
        """The ECS document of one EVE record; `eve` becomes its `suricata.eve` part."""
        stamp = eve.pop("timestamp", None)
        if type(stamp) is not str:
            if stamp is None:
                raise Rejected("EVE record has no timestamp")
            raise Rejected(f"EVE timestamp is not a string: {_show(stamp)}")
        clock = self._clock
        try:
            utc, zone, _ = clock.read(stamp)
        except ValueError as exc:
            raise Rejected(f"invalid EVE timestamp {_show(stamp)}: {exc}") from None
        event_type = eve.get("event_type")
        if type(event_type) is not str:
            raise Rejected(f"EVE record has no event_type (got {_show(event_type)})")
        kind = _KINDS.get(event_type)
        if kind is None:
            if not event_type:
                raise Rejected(f"EVE record has no event_type (got {_show(event_type)})")
            if not event_type.islower():
                event_type = eve["event_type"] = event_type.lower()
            if event_type == "stats":
                return _stats(utc, zone, eve)
            kind = _KINDS.get(event_type) or _kind(event_type)
        categories, types, plan = kind
        if zone is None:
            event: Obj = {"kind": "event", "category": [*categories], "type": [*types]}
        else:
            event = {"kind": "event", "timezone": zone, "category": [*categories], "type": [*types]}
        doc: Doc = {"@timestamp": utc, "event": event}
        self._endpoints(doc, eve, event_type)
        message = None
        for key in _carried(eve) if plan is None else plan:
            part = eve.get(key)
            if type(part) is dict:
                summary = _MAPPERS[key](doc, part, clock)
                if key == event_type:
                    message = summary
                if not part:  # everything in it moved to ECS
                    del eve[key]
        doc["message"] = message or _connection(doc, event_type)
        doc["suricata"] = {"eve": eve}
        return doc

    @staticmethod
    def _endpoints(doc: Doc, eve: Obj, event_type: str) -> None:
        """The 5-tuple (moved out of the record where valid), transport, application protocol, community id
        and `related.ip`. Straight-line: it runs for every record."""
        source: Obj = {}
        src_ip = eve.get("src_ip")
        if type(src_ip) is str:
            address = _canonical_ip(src_ip)
            if address:
                source["ip"] = src_ip = address
                del eve["src_ip"]
            else:
                src_ip = None
        else:
            src_ip = None
        port = eve.get("src_port")
        if type(port) is int and 0 <= port <= 65535:
            source["port"] = port
            del eve["src_port"]
        destination: Obj = {}
        dst_ip = eve.get("dest_ip")
        if type(dst_ip) is str:
            address = _canonical_ip(dst_ip)
            if address:
                destination["ip"] = dst_ip = address
                del eve["dest_ip"]
            else:
                dst_ip = None
        else:
            dst_ip = None
        port = eve.get("dest_port")
        if type(port) is int and 0 <= port <= 65535:
            destination["port"] = port
            del eve["dest_port"]
        if source:
            doc["source"] = source
        if destination:
            doc["destination"] = destination
        if src_ip is not None:
            doc["related"] = {"ip": [src_ip] if dst_ip is None or dst_ip == src_ip else [src_ip, dst_ip]}
        elif dst_ip is not None:
            doc["related"] = {"ip": [dst_ip]}
        network: Obj = {}
        transport = eve.get("proto")
        if type(transport) is str:
            network["transport"] = _LOWER.get(transport) or transport.lower()
            del eve["proto"]
        app = eve.get("app_proto")
        if type(app) is str and (app := _LOWER.get(app) or app.lower()) not in _NOT_PROTOCOLS:
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


def _stats(utc: str, zone: str | None, eve: Obj) -> Doc:
    """A `stats` record: a metric kept apart from security events, under its own dataset."""
    event: Obj = {"kind": "metric"}
    if zone is not None:
        event["timezone"] = zone
    event["dataset"] = "suricata.stats"
    event["type"] = ["info"]
    stats = eve.get("stats")
    uptime = stats.get("uptime") if type(stats) is dict else None
    return {
        "@timestamp": utc,
        "event": event,
        "message": "Suricata stats" if type(uptime) is not int else f"Suricata stats, uptime {uptime} s",
        "suricata": {"eve": eve},
    }
