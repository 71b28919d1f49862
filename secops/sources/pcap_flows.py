"""Bidirectional flow tracking for the packet-capture source.

A flow is keyed the way Community ID v1 orders a conversation (both endpoints sorted, ICMP types mapped to
their request/reply "ports"), plus the VLAN tags, so a request and its reply land in one flow and the
same 5-tuple on two VLANs stays two flows, as Suricata keeps them. The initiator (ECS `source`) is the
sender of the first packet, except that a TCP flow first seen at its SYN-ACK belongs to the other side.
Flows end when the capture does: timeouts and port reuse are not modelled.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from communityid import CommunityID, FlowTuple, icmp6
from communityid import icmp as icmp4

from secops.events import Doc, format_ts, from_epoch, stamp_time

TRANSPORT_NUMBERS = {"tcp": 6, "udp": 17, "sctp": 132, "icmp": 1, "icmpv6": 58}
"""tshark protocol names of the layers a flow is keyed on, with their IANA numbers."""

FlowKey = tuple[tuple[int, ...], int, tuple[str, int | None], tuple[str, int | None]]
"""VLAN tags, IANA number and the two (address, port) ends in Community ID order."""

_PORTED = {6, 17, 132}
_ECS_TRANSPORT = {6: "tcp", 17: "udp", 132: "sctp", 1: "icmp", 58: "ipv6-icmp"}


@dataclass(slots=True)
class Endpoint:
    ip: str
    port: int | None
    mac: str | None = None
    packets: int = 0
    bytes: int = 0


@dataclass(slots=True)
class Flow:
    """One conversation; `source` is the initiator. App-layer docs of its first frame wait for it."""

    family: str
    iana: int
    vlans: tuple[int, ...]
    source: Endpoint
    destination: Endpoint
    first_frame: int
    start: float
    end: float
    icmp: tuple[int, int] | None = None
    protocol: str | None = None
    held: list[Doc] = field(default_factory=list)
    community: str | None = None

    def community_id(self, hasher: CommunityID) -> str:
        """Community ID v1 of the flow, computed once, from the initiator's side as Suricata does."""
        if self.community is None:
            src, dst = self.source, self.destination
            if self.icmp is not None:
                make = FlowTuple.make_icmp if self.iana == 1 else FlowTuple.make_icmp6
                tpl = make(src.ip, dst.ip, *self.icmp)
            elif src.port is not None and dst.port is not None:
                tpl = FlowTuple(self.iana, src.ip, dst.ip, src.port, dst.port)
            elif self.iana in _PORTED:  # a non-first fragment: its ports are in another packet
                tpl = FlowTuple(self.iana, src.ip, dst.ip, 0, 0)
            else:
                tpl = FlowTuple.make_ip(src.ip, dst.ip, self.iana)
            self.community = str(hasher.calc(tpl))
        return self.community


class FlowTable:
    """Packets in, flows out; holds every flow until the capture ends.

    `seed` is the Community ID seed (0 unless every sensor of a site agrees on another, as Suricata's
    `community-id-seed` allows). `track` is the per-packet path, so it takes plain values and builds
    nothing but the key; `open` runs once per flow.
    """

    def __init__(self, seed: int = 0) -> None:
        self._flows: dict[FlowKey, Flow] = {}
        self.hasher = CommunityID(seed)

    @staticmethod
    def _key(
        iana: int, src: str, sport: int | None, dst: str, dport: int | None, vlans: tuple[int, ...],
        icmp: tuple[int, int] | None,
    ) -> FlowKey:
        if icmp is not None:
            sport, dport, _ = (icmp4 if iana == 1 else icmp6).get_port_equivalents(*icmp)
        a, b = (src, sport), (dst, dport)
        return (vlans, iana, a, b) if a <= b else (vlans, iana, b, a)

    def track(
        self, moment: float, size: int, iana: int, src: str, sport: int | None, dst: str, dport: int | None,
        vlans: tuple[int, ...] = (), icmp: tuple[int, int] | None = None,
    ) -> Flow | None:
        """Account one packet to its flow and return the flow; None (nothing counted) if it is new."""
        flow = self._flows.get(self._key(iana, src, sport, dst, dport, vlans, icmp))
        if flow is None:
            return None
        source = flow.source
        if (source.ip == src and source.port == sport) or (
            source.ip == flow.destination.ip and source.port == flow.destination.port
        ):
            source.packets += 1
            source.bytes += size
        else:
            flow.destination.packets += 1
            flow.destination.bytes += size
        flow.end = max(flow.end, moment)
        return flow

    def open(
        self, frame: int, moment: float, family: str, iana: int, sender: Endpoint, receiver: Endpoint,
        vlans: tuple[int, ...] = (), icmp: tuple[int, int] | None = None, syn_ack: bool = False,
    ) -> None:
        """Start the flow of a packet `track` did not know; its initiator sent it, unless it is a SYN-ACK."""
        key = self._key(iana, sender.ip, sender.port, receiver.ip, receiver.port, vlans, icmp)
        first, second = (receiver, sender) if syn_ack else (sender, receiver)
        self._flows[key] = Flow(
            family, iana, vlans,
            Endpoint(first.ip, first.port, first.mac), Endpoint(second.ip, second.port, second.mac),
            frame, moment, moment, icmp,
        )

    def drain(self) -> list[Flow]:
        """Every flow, in order of first frame; the table is empty afterwards."""
        flows = sorted(self._flows.values(), key=lambda f: f.first_frame)
        self._flows.clear()
        return flows


def endpoint_fields(doc: Doc, flow: Flow, sender: Endpoint, receiver: Endpoint, hasher: CommunityID) -> None:
    """ECS `source`/`destination`/`network` fields of one packet or flow (`doc` has no `source` yet)."""
    for name, end in (("source", sender), ("destination", receiver)):
        fields: dict[str, Any] = {"ip": end.ip}
        if end.port is not None:
            fields["port"] = end.port
        if end.mac is not None:
            fields["mac"] = end.mac
        doc[name] = fields
    network = doc.setdefault("network", {})
    network["type"] = flow.family
    network["transport"] = _ECS_TRANSPORT.get(flow.iana, str(flow.iana))
    network["iana_number"] = str(flow.iana)
    network["community_id"] = flow.community_id(hasher)
    if flow.vlans:
        network["vlan"] = {"id": str(flow.vlans[0])}
        if len(flow.vlans) > 1:
            network["inner"] = {"vlan": {"id": str(flow.vlans[1])}}


def flow_doc(flow: Flow, hasher: CommunityID) -> Doc:
    """The ECS flow event: 5-tuple, counters per side, duration, app protocol and community id."""
    src, dst = flow.source, flow.destination
    doc: Doc = {}
    stamp_time(doc, from_epoch(flow.start))
    doc["event"] = {
        "kind": "event",
        "category": ["network"],
        "type": ["connection"],
        "action": "network_flow",
        "start": format_ts(from_epoch(flow.start)),
        "end": format_ts(from_epoch(flow.end)),
        "duration": round((flow.end - flow.start) * 1e9),
    }
    endpoint_fields(doc, flow, src, dst, hasher)
    for name, end in (("source", src), ("destination", dst)):
        doc[name]["packets"] = end.packets
        doc[name]["bytes"] = end.bytes
    network = doc["network"]
    network["packets"] = src.packets + dst.packets
    network["bytes"] = src.bytes + dst.bytes
    if flow.protocol:
        network["protocol"] = flow.protocol
    where = f"{_fmt(src)} -> {_fmt(dst)}"
    app = f" ({flow.protocol})" if flow.protocol else ""
    doc["message"] = (
        f"{network['transport']} flow {where}{app}: "
        f"{network['packets']} packets, {network['bytes']} bytes"
    )
    return doc


def _fmt(end: Endpoint) -> str:
    host = f"[{end.ip}]" if ":" in end.ip else end.ip
    return host if end.port is None else f"{host}:{end.port}"
