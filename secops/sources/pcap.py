"""Packet captures (pcap, pcapng) through pyshark over tshark: flows, DNS, HTTP requests, TLS client hellos.

pyshark runs tshark in EK mode restricted to the fields below (`-e`), so tshark dissects what it must and
prints one small JSON line per packet. pyshark's per-packet objects and its one-event-loop-turn-per-packet
reader cost far more than tshark itself (about 3,900 packets/s with nothing else done), so the capture
hands pyshark a parser that returns every complete EK line of each read as one batch: pyshark still
starts, reads and cleans up tshark, and the event loop turns once per 64 KiB instead of once per packet.

Positions are frame numbers. A flow is yielded at its first frame together with the application events
of that frame (so ids never collide); an HTTP request waits for its response (status code) and a client
hello for the server hello (negotiated version) before it is yielded, at the latest when the capture ends.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import dns.opcode
import dns.rcode
import dns.rdatatype
import orjson
import pyshark
from communityid import CommunityID
from pyshark.tshark.output_parser.tshark_ek import TsharkEkJsonParser

from secops.events import Doc, Rejected, from_epoch, stamp_time
from secops.sources.base import FileSource, Parsed, SourceOptions
from secops.sources.pcap_flows import (
    TRANSPORT_NUMBERS,
    Endpoint,
    Flow,
    FlowTable,
    endpoint_fields,
    flow_doc,
)

FIELDS = (
    "frame.number", "frame.time_epoch", "frame.len", "frame.protocols",
    "eth.src", "eth.dst", "vlan.id",
    "ip.src", "ip.dst", "ip.proto", "ipv6.src", "ipv6.dst", "ipv6.nxt",
    "tcp.srcport", "tcp.dstport", "tcp.flags", "udp.srcport", "udp.dstport", "sctp.srcport", "sctp.dstport",
    "icmp.type", "icmp.code", "icmpv6.type", "icmpv6.code",
    "dns.id", "dns.flags", "dns.count.queries", "dns.count.answers", "dns.count.auth_rr", "dns.count.add_rr",
    "dns.qry.name", "dns.qry.type", "dns.resp.name", "dns.resp.type", "dns.resp.ttl", "dns.resp.len",
    "dns.a", "dns.aaaa", "dns.cname", "dns.ptr.domain_name", "dns.ns", "dns.mx.mail_exchange",
    "dns.txt", "dns.txt.length", "dns.soa.mname", "dns.srv.target",
    "http.request.method", "http.request.uri", "http.request.version", "http.host", "http.user_agent",
    "http.referer", "http.response.code", "http.request_in",
    "tls.handshake.type", "tls.handshake.extensions_server_name", "tls.handshake.version",
    "tls.handshake.extensions.supported_version", "tls.handshake.ja3",
)
"""What tshark prints per packet; EK names them with `_` for `.` (`dns.qry.name` -> `dns_qry_name`)."""

_MAGIC = {
    b"\xd4\xc3\xb2\xa1", b"\xa1\xb2\xc3\xd4",  # pcap, microseconds, both byte orders
    b"\x4d\x3c\xb2\xa1", b"\xa1\xb2\x3c\x4d",  # pcap, nanoseconds
    b"\x34\xcd\xb2\xa1", b"\xa1\xb2\xcd\x34",  # "modified" pcap (Alexey Kuznetsov's patches)
    b"\x0a\x0d\x0d\x0a",  # pcapng section header block
}

_DNS_DATA = {
    1: "dns_a", 28: "dns_aaaa", 5: "dns_cname", 12: "dns_ptr_domain_name", 2: "dns_ns",
    15: "dns_mx_mail_exchange", 6: "dns_soa_mname", 33: "dns_srv_target",
}
_DNS_SECTIONS = ("queries", "answers", "auth_rr", "add_rr")
_DNS_TXT = 16
_DNS_OPT = 41
_DNS_FLAGS = (("AA", 0x0400), ("TC", 0x0200), ("RD", 0x0100), ("RA", 0x0080), ("AD", 0x0020), ("CD", 0x0010))

Layers = dict[str, list[str]]


class _EkBatchParser(TsharkEkJsonParser):  # type: ignore[misc]
    """Returns every complete EK line in pyshark's buffer at once (the `index` lines dropped)."""

    async def get_packets_from_stream(
        self, stream: Any, existing_data: bytes, got_first_packet: bool = True
    ) -> tuple[list[Layers] | None, bytes]:
        end = existing_data.rfind(b"\n")
        if end >= 0:
            batch = [
                orjson.loads(line)["layers"]
                for line in existing_data[:end].split(b"\n")
                if line.startswith(b'{"timestamp"')
            ]
            existing_data = existing_data[end + 1 :]
            if batch:
                return batch, existing_data
        new_data = await stream.read(self.DEFAULT_BATCH_SIZE)
        if not new_data:
            raise EOFError()
        return None, existing_data + new_data


class _EkCapture(pyshark.FileCapture):  # type: ignore[misc]
    """pyshark's file capture in EK mode, restricted to FIELDS, read in batches."""

    def __init__(self, path: Path) -> None:
        params = [arg for name in FIELDS for arg in ("-e", name)]
        super().__init__(str(path), keep_packets=False, use_ek=True, custom_parameters=params)

    def _setup_tshark_output_parser(self) -> _EkBatchParser:
        return _EkBatchParser()


def read_layers(path: Path) -> Iterator[Layers]:
    """The EK `layers` object of every packet, through pyshark; tshark's failure is raised at the end."""
    capture = _EkCapture(path)
    try:
        for batch in capture:
            yield from batch
    finally:
        capture.close()


def _at(values: list[str] | None, index: int) -> str | None:
    if values is None or index >= len(values):
        return None
    return values[index]


def _int(value: str | None, default: int = 0) -> int:
    if value is None or value == "":
        return default
    try:
        return int(value, 0)
    except ValueError:
        return default


def _mac(value: str | None) -> str | None:
    return value.upper().replace(":", "-") if value else None


class _NotIP(Exception):  # noqa: N818 - a frame without an IP layer is skipped, not an error
    pass


class _Packet:
    """The network facts of one frame: which IP layer and transport it is keyed on."""

    __slots__ = (
        "family", "frame", "iana", "icmp", "moment", "receiver", "sender", "size", "syn_ack", "vlans",
    )

    def __init__(self, layers: Layers) -> None:
        self.frame = int(layers["frame_number"][0])
        self.moment = float(layers["frame_time_epoch"][0])
        self.size = int(layers["frame_len"][0])
        self.family = ""
        self.iana = 0
        self.icmp: tuple[int, int] | None = None
        self.syn_ack = False
        self.vlans = tuple(int(v) for v in layers.get("vlan_id", ()))
        seen: dict[str, int] = {}
        ip: tuple[str, int] | None = None
        transport: tuple[str, int] | None = None
        for name in layers["frame_protocols"][0].split(":"):
            occurrence = seen.get(name, 0)
            seen[name] = occurrence + 1
            if name in ("ip", "ipv6"):
                ip, transport = (name, occurrence), None  # tunnels: the innermost IP layer counts
            elif ip is not None and name in TRANSPORT_NUMBERS:
                transport = (name, occurrence)
                if name.startswith("icmp"):  # an ICMP error quotes the packet it is about: stop here
                    break
        if ip is None:
            raise _NotIP
        layer, nth = ip
        self.family = "ipv4" if layer == "ip" else "ipv6"
        src = layers[f"{layer}_src"][nth]
        dst = layers[f"{layer}_dst"][nth]
        sport = dport = None
        if transport is None:
            self.iana = _int(_at(layers.get("ip_proto" if layer == "ip" else "ipv6_nxt"), nth))
        else:
            proto, nth = transport
            self.iana = TRANSPORT_NUMBERS[proto]
            if proto.startswith("icmp"):
                kind, code = layers.get(f"{proto}_type"), layers.get(f"{proto}_code")
                self.icmp = (_int(_at(kind, nth)), _int(_at(code, nth)))
            else:
                sport = _int(_at(layers.get(f"{proto}_srcport"), nth))
                dport = _int(_at(layers.get(f"{proto}_dstport"), nth))
                if proto == "tcp":
                    self.syn_ack = _int(_at(layers.get("tcp_flags"), nth)) & 0x12 == 0x12
        eth_src, eth_dst = layers.get("eth_src"), layers.get("eth_dst")
        self.sender = Endpoint(src, sport, _mac(eth_src[0]) if eth_src else None)
        self.receiver = Endpoint(dst, dport, _mac(eth_dst[0]) if eth_dst else None)


def _app_doc(
    packet: _Packet, flow: Flow, hasher: CommunityID, protocol: str, action: str, reverse: bool = False
) -> Doc:
    """The shared part of an application event: time, 5-tuple (sender first), flow community id."""
    if flow.protocol is None:
        flow.protocol = protocol
    doc: Doc = {}
    stamp_time(doc, from_epoch(packet.moment))
    doc["event"] = {"kind": "event", "category": ["network"], "type": ["protocol"], "action": action}
    ends = (packet.receiver, packet.sender) if reverse else (packet.sender, packet.receiver)
    endpoint_fields(doc, flow, *ends, hasher)
    doc["network"]["protocol"] = protocol
    return doc


def _where(packet: _Packet) -> str:
    s, d = packet.sender, packet.receiver
    return f"{s.ip}:{s.port} -> {d.ip}:{d.port}" if s.port is not None else f"{s.ip} -> {d.ip}"


# --- DNS ----------------------------------------------------------------------------------------------


class _Cursor:
    """Walks tshark's flat per-field lists, which hold the values of every record in message order."""

    def __init__(self, layers: Layers) -> None:
        self.layers = layers
        self.positions: dict[str, int] = {}

    def take(self, name: str) -> str | None:
        index = self.positions.get(name, 0)
        self.positions[name] = index + 1
        return _at(self.layers.get(name), index)


def _dns_name(name: str | None) -> str:
    return "" if name in (None, "<Root>") else str(name)


def _dns_docs(layers: Layers, packet: _Packet, flow: Flow, hasher: CommunityID) -> list[Doc]:
    """One event per DNS message in the frame (several when DNS over TCP packs them together)."""
    cursor = _Cursor(layers)
    docs = []
    for index, ident in enumerate(layers["dns_id"]):
        flags = _int(_at(layers.get("dns_flags"), index))
        counts = [_int(_at(layers.get(f"dns_count_{n}"), index)) for n in _DNS_SECTIONS]
        questions = [(cursor.take("dns_qry_name"), cursor.take("dns_qry_type")) for _ in range(counts[0])]
        answers: list[dict[str, Any]] = []
        for record in range(counts[1] + counts[2] + counts[3]):
            for answer in _dns_record(cursor):
                if record < counts[1]:
                    answers.append(answer)
        response = bool(flags & 0x8000)
        doc = _app_doc(packet, flow, hasher, "dns", "dns-answer" if response else "dns-query")
        body: dict[str, Any] = {
            "id": str(_int(ident)),
            "type": "answer" if response else "query",
            "op_code": dns.opcode.to_text(dns.opcode.Opcode.make((flags >> 11) & 0xF)),
            "header_flags": (["QR"] if response else []) + [n for n, bit in _DNS_FLAGS if flags & bit],
        }
        summary = f"DNS {body['type']} {body['id']}"
        if questions:
            name, qtype = _dns_name(questions[0][0]), _rrtype(_int(questions[0][1]))
            body["question"] = {"name": name, "type": qtype}
            summary += f" {qtype} {name}"
        if response:
            body["response_code"] = dns.rcode.to_text(dns.rcode.Rcode.make(flags & 0xF))
            summary += f" {body['response_code']}"
            if answers:
                body["answers"] = answers
                resolved = [a["data"] for a in answers if a["type"] in ("A", "AAAA")]
                if resolved:
                    body["resolved_ip"] = resolved
                summary += ": " + ", ".join(str(a["data"]) for a in answers[:3])
        doc["dns"] = body
        doc["message"] = f"{summary} ({_where(packet)})"
        docs.append(doc)
    return docs


def _rrtype(value: int) -> str:
    return dns.rdatatype.to_text(dns.rdatatype.RdataType.make(value))


def _dns_record(cursor: _Cursor) -> list[dict[str, Any]]:
    """One resource record; a TXT record gives one answer per character-string, as Suricata logs them."""
    name = _dns_name(cursor.take("dns_resp_name"))
    rtype = _int(cursor.take("dns_resp_type"))
    length = _int(cursor.take("dns_resp_len"))
    ttl = None if rtype == _DNS_OPT else cursor.take("dns_resp_ttl")
    base: dict[str, Any] = {"name": name, "type": _rrtype(rtype)}
    if ttl is not None:
        base["ttl"] = _int(ttl)
    if rtype == _DNS_TXT:
        strings, used = [], 0
        while used < length:
            text, size = cursor.take("dns_txt"), cursor.take("dns_txt_length")
            if text is None or size is None:
                break
            strings.append(text)
            used += 1 + _int(size)
        return [{**base, "data": text} for text in strings] or [base]
    field = _DNS_DATA.get(rtype)
    data = cursor.take(field) if field else None
    return [{**base, "data": data} if data is not None else base]


# --- HTTP ---------------------------------------------------------------------------------------------


def _http_doc(layers: Layers, index: int, packet: _Packet, flow: Flow, hasher: CommunityID) -> Doc:
    method = layers["http_request_method"][index]
    target = _at(layers.get("http_request_uri"), index) or ""
    doc = _app_doc(packet, flow, hasher, "http", "http-request")
    http: dict[str, Any] = {"request": {"method": method}}
    version = _at(layers.get("http_request_version"), index)
    if version:
        http["version"] = version.removeprefix("HTTP/")
    referrer = _at(layers.get("http_referer"), index)
    if referrer:
        http["request"]["referrer"] = referrer
    doc["http"] = http
    url: dict[str, Any] = {"original": target}
    if target.startswith("/"):
        path, sep, query = target.partition("?")
        url["path"] = path
        if sep:
            url["query"] = query
    elif "://" in target:
        parts = urlsplit(target)
        url["path"] = parts.path
        if parts.query:
            url["query"] = parts.query
    host = _at(layers.get("http_host"), index)
    if host:
        domain, sep, port = host.rpartition(":")
        if sep and port.isdigit() and not domain.endswith(":"):
            url["domain"], url["port"] = domain, int(port)
        else:
            url["domain"] = host
    doc["url"] = url
    agent = _at(layers.get("http_user_agent"), index)
    if agent:
        doc["user_agent"] = {"original": agent}
    doc["message"] = f"HTTP {method} {url.get('domain', '')}{target} ({_where(packet)})"
    return doc


def _orphan_response(packet: _Packet, flow: Flow, hasher: CommunityID, status: int) -> Doc:
    """A response whose request is not in the capture, oriented client -> server like a request."""
    doc = _app_doc(packet, flow, hasher, "http", "http-response", reverse=True)
    doc["http"] = {"response": {"status_code": status}}
    doc["event"]["outcome"] = "success" if status < 400 else "failure"
    doc["message"] = f"HTTP response {status} without its request ({_where(packet)})"
    return doc


# --- TLS ----------------------------------------------------------------------------------------------


def tls_version(code: int) -> tuple[str, str] | None:
    """ECS (`version_protocol`, `version`) of a TLS version number; TLS 1.3 drafts count as 1.3."""
    if code in (0x0200, 0x0300):
        return "ssl", f"{code >> 8}.0"
    if 0x0301 <= code <= 0x0304:
        return "tls", f"1.{code - 0x0301}"
    if code >> 8 in (0x7F, 0x7E):
        return "tls", "1.3"
    return None


def _hello_doc(layers: Layers, packet: _Packet, flow: Flow, hasher: CommunityID) -> Doc:
    doc = _app_doc(packet, flow, hasher, "tls", "tls-client-hello")
    client: dict[str, Any] = {}
    sni = _at(layers.get("tls_handshake_extensions_server_name"), 0)
    if sni:
        client["server_name"] = sni
    ja3 = _at(layers.get("tls_handshake_ja3"), 0)
    if ja3:
        client["ja3"] = ja3
    doc["tls"] = {"client": client}
    doc["message"] = f"TLS client hello {sni or '(no SNI)'} ({_where(packet)})"
    return doc


# --- the capture as a whole ---------------------------------------------------------------------------


class _Session:
    """Turns packets into events, holding the ones that wait for a later packet or for their flow."""

    def __init__(self, seed: int) -> None:
        self.flows = FlowTable(seed)
        self.hasher = self.flows.hasher
        self.slots: dict[int, list[Doc]] = {}
        self.waiting: dict[int, int] = {}
        self.requests: dict[int, list[Doc]] = {}
        self.hellos: dict[int, tuple[int, Doc]] = {}

    def feed(self, layers: Layers) -> Iterator[Parsed]:
        try:
            packet = _Packet(layers)
        except _NotIP:
            return  # not IP: no flow, nothing to report
        flow, _ = self.flows.track(
            packet.frame, packet.moment, packet.size, packet.family, packet.iana,
            (packet.sender.ip, packet.sender.port, packet.sender.mac),
            (packet.receiver.ip, packet.receiver.port, packet.receiver.mac),
            packet.vlans, packet.icmp, packet.syn_ack,
        )
        docs: list[Doc] = []
        pending = 0
        if "dns_id" in layers:
            docs += _dns_docs(layers, packet, flow, self.hasher)
        for index in range(len(layers.get("http_request_method", ()))):
            doc = _http_doc(layers, index, packet, flow, self.hasher)
            self.requests.setdefault(packet.frame, []).append(doc)
            docs.append(doc)
            pending += 1
        for index, code in enumerate(layers.get("http_response_code", ())):
            request = _int(_at(layers.get("http_request_in"), index), -1)
            if request in self.requests:
                yield from self._response(request, _int(code))
            else:  # its request was not captured (capture started mid-stream): report what was seen
                docs.append(_orphan_response(packet, flow, self.hasher, _int(code)))
        types = layers.get("tls_handshake_type", ())
        if "2" in types:
            yield from self._server_hello(layers, flow)
        if "1" in types:
            yield from self._release_hello(flow)
            doc = _hello_doc(layers, packet, flow, self.hasher)
            self.hellos[flow.first_frame] = (packet.frame, doc)
            docs.append(doc)
            pending += 1
        if not docs:
            return
        if packet.frame == flow.first_frame:
            flow.held.extend(docs)
        elif pending:
            self.slots[packet.frame] = docs
            self.waiting[packet.frame] = pending
        else:
            yield packet.frame, docs

    def _done(self, frame: int) -> Iterator[Parsed]:
        left = self.waiting.get(frame)
        if left is None:
            return
        if left > 1:
            self.waiting[frame] = left - 1
            return
        del self.waiting[frame]
        yield frame, self.slots.pop(frame)

    def _response(self, frame: int, status: int) -> Iterator[Parsed]:
        docs = self.requests[frame]
        doc = docs.pop(0)
        if not docs:
            del self.requests[frame]
        doc["http"]["response"] = {"status_code": status}
        doc["message"] += f" -> {status}"
        doc["event"]["outcome"] = "success" if status < 400 else "failure"
        yield from self._done(frame)

    def _server_hello(self, layers: Layers, flow: Flow) -> Iterator[Parsed]:
        pending = self.hellos.pop(flow.first_frame, None)
        if pending is None:
            return
        frame, doc = pending
        selected = layers.get("tls_handshake_extensions_supported_version")
        code = _int(selected[-1] if selected else _at(layers.get("tls_handshake_version"), 0))
        named = tls_version(code)
        if named is not None:
            doc["tls"]["version_protocol"], doc["tls"]["version"] = named
            doc["message"] += f" {named[0].upper()} {named[1]}"
        yield from self._done(frame)

    def _release_hello(self, flow: Flow) -> Iterator[Parsed]:
        pending = self.hellos.pop(flow.first_frame, None)
        if pending is not None:
            yield from self._done(pending[0])

    def finish(self) -> Iterator[Parsed | tuple[int, Rejected, bytes]]:
        for flow in self.flows.drain():
            try:
                yield flow.first_frame, [flow_doc(flow, self.hasher), *flow.held]
            except Exception as exc:
                yield flow.first_frame, Rejected(f"flow of frame {flow.first_frame}: {exc}"), b""
        for frame in sorted(self.slots):
            yield frame, self.slots[frame]
        self.slots.clear()
        self.waiting.clear()


class PcapSource(FileSource):
    """Packet captures read through pyshark (tshark): flows, DNS, HTTP and TLS client hellos in ECS."""

    format = "pcap"
    dataset = "network.pcap"
    description = "pcap/pcapng captures via pyshark over tshark: flows, DNS, HTTP, TLS client hello"

    def __init__(self, options: SourceOptions | None = None, community_id_seed: int = 0) -> None:
        super().__init__(options)
        self.community_id_seed = community_id_seed

    @classmethod
    def sniff(cls, head: bytes) -> bool:
        return head[:4] in _MAGIC

    def read_path(self, path: Path) -> Iterator[Parsed | tuple[int, Rejected, bytes]]:
        session = _Session(self.community_id_seed)
        last = 0
        try:
            for layers in read_layers(path):
                last = _int(_at(layers.get("frame_number"), 0), last + 1)
                try:
                    yield from session.feed(layers)
                except Exception as exc:  # a frame tshark printed oddly costs that frame, not the capture
                    yield last, Rejected(f"frame {last}: cannot decode: {type(exc).__name__}: {exc}"), b""
        except Exception as exc:  # tshark stops on a truncated or corrupt capture: keep what was read
            reason = " ".join(str(exc).split())[:400]
            yield last + 1, Rejected(f"tshark could not read past frame {last}: {reason}"), b""
        yield from session.finish()
