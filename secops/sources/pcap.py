"""Packet captures (pcap, pcapng) through pyshark over tshark: flows, DNS, HTTP requests, TLS client hellos.

pyshark runs tshark in EK mode restricted to the fields below (`-e`), so tshark prints one small JSON line
per packet. pyshark's per-packet objects and its one-event-loop-run-per-packet reader cost far more than
tshark itself, so the capture hands pyshark a parser that returns about 128 KiB of EK lines per run, and
starts tshark without the per-packet flush pyshark asks for (see
`pcap_capture._EkCapture._get_tshark_process`): pyshark still reads, watches and cleans up tshark. What
is left is tshark's own work (about two thirds of the CPU time), orjson, and the per-packet flow update,
which reads a handful of fields and builds no object unless the packet opens a flow or carries DNS, HTTP
or TLS. `benchmarks/bench_pcap.py` measures it next to plain `tshark -T fields`.

The capture itself (tshark under pyshark) is `secops.sources.pcap_capture`, imported when a capture is
read, not when an input is sniffed.

Positions are frame numbers. A flow is yielded at its first frame together with the application events
of that frame (so ids never collide); an HTTP request waits for its response (status code) and a client
hello for the server hello (negotiated version) before it is yielded, at the latest when the capture ends.
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path
from typing import Any, NamedTuple
from urllib.parse import urlsplit

import dns.opcode
import dns.rcode
import dns.rdatatype
from communityid import CommunityID

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

PREFERENCES = {
    **{f"{name}.summary_in_tree": "FALSE" for name in ("ip", "ipv6", "tcp", "udp", "vlan")},
    **{f"{name}.calculate_timestamps": "FALSE" for name in ("tcp", "udp")},
    **{f"{name}.use_geoip": "FALSE" for name in ("ip", "ipv6")},
    "frame.generate_bits_field": "FALSE",
}
"""tshark preferences that only shape tree labels or add fields nobody reads: about 5% of tshark's work
per packet (instructions counted with callgrind); the EK output of the fields is byte-identical.
Not touched: anything that changes what is dissected (TCP sequence analysis decides which retransmitted
segments reach HTTP, reassembly which headers are seen)."""

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
_APP_LAYERS = frozenset(("dns_id", "http_request_method", "http_response_code", "tls_handshake_type"))
"""A frame without any of these EK fields gives no application event."""
_DNS_SECTIONS = ("queries", "answers", "auth_rr", "add_rr")
_DNS_TXT = 16
_DNS_OPT = 41
_DNS_FLAGS = (("AA", 0x0400), ("TC", 0x0200), ("RD", 0x0100), ("RA", 0x0080), ("AD", 0x0020), ("CD", 0x0010))

Layers = dict[str, list[str]]


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


class _Shape(NamedTuple):
    """Where the flow keys of a frame are, which depends only on its protocol stack (`frame.protocols`)."""

    family: str
    src: str  # EK names of the addresses of the IP layer the flow is keyed on
    dst: str
    nth: int  # which occurrence of that layer's fields (tunnels: the innermost IP layer counts)
    iana: int  # 0: no transport layer, the number is in `number`
    number: str
    first: str  # source and destination port, or ICMP type and code, of the transport layer
    second: str
    tnth: int
    icmp: bool
    tcp: bool


@lru_cache(maxsize=4096)
def _shape(protocols: str) -> _Shape | None:
    """The shape of a protocol stack, None without IP. Captures repeat a few stacks, hence the cache."""
    seen: dict[str, int] = {}
    ip: tuple[str, int] | None = None
    transport: tuple[str, int] | None = None
    for name in protocols.split(":"):
        occurrence = seen.get(name, 0)
        seen[name] = occurrence + 1
        if name in ("ip", "ipv6"):
            ip, transport = (name, occurrence), None
        elif ip is not None and name in TRANSPORT_NUMBERS:
            transport = (name, occurrence)
            if name.startswith("icmp"):  # an ICMP error quotes the packet it is about: stop here
                break
    if ip is None:
        return None
    layer, nth = ip
    family, number = ("ipv4", "ip_proto") if layer == "ip" else ("ipv6", "ipv6_nxt")
    if transport is None:
        return _Shape(family, f"{layer}_src", f"{layer}_dst", nth, 0, number, "", "", 0, False, False)
    proto, tnth = transport
    icmp = proto.startswith("icmp")
    first, second = (f"{proto}_type", f"{proto}_code") if icmp else (f"{proto}_srcport", f"{proto}_dstport")
    return _Shape(
        family, f"{layer}_src", f"{layer}_dst", nth, TRANSPORT_NUMBERS[proto], number, first, second, tnth,
        icmp, proto == "tcp",
    )


class _Packet:
    """The endpoints and time of a frame that carries application events."""

    __slots__ = ("frame", "moment", "receiver", "sender")

    def __init__(self, frame: int, moment: float, sender: Endpoint, receiver: Endpoint) -> None:
        self.frame, self.moment, self.sender, self.receiver = frame, moment, sender, receiver


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
            "op_code": _opcode((flags >> 11) & 0xF),
            "header_flags": (["QR"] if response else []) + [n for n, bit in _DNS_FLAGS if flags & bit],
        }
        summary = f"DNS {body['type']} {body['id']}"
        if questions:
            name, qtype = _dns_name(questions[0][0]), _rrtype(_int(questions[0][1]))
            body["question"] = {"name": name, "type": qtype}
            summary += f" {qtype} {name}"
        if response:
            body["response_code"] = _rcode(flags & 0xF)
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


@lru_cache(maxsize=1024)
def _rrtype(value: int) -> str:
    return dns.rdatatype.to_text(dns.rdatatype.RdataType.make(value))


@lru_cache(maxsize=16)
def _opcode(value: int) -> str:
    return dns.opcode.to_text(dns.opcode.Opcode.make(value))


@lru_cache(maxsize=16)
def _rcode(value: int) -> str:
    return dns.rcode.to_text(dns.rcode.Rcode.make(value))


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

    def feed(self, layers: Layers) -> Iterator[Parsed] | None:
        """Account one frame to its flow; its events, if it carries any, come from the returned iterator.

        This runs for every packet: it reads the few fields a flow needs, and builds objects only for a
        new flow or a frame with application events (most frames are neither).
        """
        frame = int(layers["frame_number"][0])
        moment = float(layers["frame_time_epoch"][0])
        size = int(layers["frame_len"][0])
        tags = layers.get("vlan_id")
        vlans = tuple(map(int, tags)) if tags else ()
        shape = _shape(layers["frame_protocols"][0])
        if shape is None:
            return None  # not IP: no flow, nothing to report
        family, src_key, dst_key, nth, iana, number, first_key, second_key, tnth, is_icmp, is_tcp = shape
        src, dst = layers[src_key][nth], layers[dst_key][nth]
        sport = dport = None
        icmp = None
        if not iana:
            iana = _int(_at(layers.get(number), nth))
        else:
            values = layers.get(first_key)
            first = _int(values[tnth]) if values is not None and tnth < len(values) else 0
            values = layers.get(second_key)
            second = _int(values[tnth]) if values is not None and tnth < len(values) else 0
            if is_icmp:
                icmp = (first, second)
            else:
                sport, dport = first, second
        flow = self.flows.track(moment, size, iana, src, sport, dst, dport, vlans, icmp)
        app = not layers.keys().isdisjoint(_APP_LAYERS)
        if flow is not None and not app:
            return None  # the common case: one more packet of a known flow
        eth_src, eth_dst = layers.get("eth_src"), layers.get("eth_dst")
        sender = Endpoint(src, sport, _mac(eth_src[0]) if eth_src else None)
        receiver = Endpoint(dst, dport, _mac(eth_dst[0]) if eth_dst else None)
        if flow is None:
            syn_ack = is_tcp and _int(_at(layers.get("tcp_flags"), tnth)) & 0x12 == 0x12
            self.flows.open(frame, moment, family, iana, sender, receiver, vlans, icmp, syn_ack)
            flow = self.flows.track(moment, size, iana, src, sport, dst, dport, vlans, icmp)
            if flow is None or not app:
                return None
        return self._app_events(layers, _Packet(frame, moment, sender, receiver), flow)

    def _app_events(self, layers: Layers, packet: _Packet, flow: Flow) -> Iterator[Parsed]:
        """The DNS, HTTP and TLS events of a frame that carries any."""
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
        from secops.sources.pcap_capture import read_layers  # pyshark: only when a capture is read

        session = _Session(self.community_id_seed)
        last = 0
        try:
            for layers in read_layers(path):
                last = _int(_at(layers.get("frame_number"), 0), last + 1)
                try:
                    events = session.feed(layers)
                    if events is not None:
                        yield from events
                except Exception as exc:  # a frame tshark printed oddly costs that frame, not the capture
                    yield last, Rejected(f"frame {last}: cannot decode: {type(exc).__name__}: {exc}"), b""
        except Exception as exc:  # tshark stops on a truncated or corrupt capture: keep what was read
            reason = " ".join(str(exc).split())[:400]
            yield last + 1, Rejected(f"tshark could not read past frame {last}: {reason}"), b""
        yield from session.finish()
