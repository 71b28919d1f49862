"""溯源: collect an incident's evidence — its contributing log lines from the event store and, for
network events that carry a Community ID, the packets of those flows cut from a capture with tshark.

A flow is cut by its 5-tuple (both directions) within its time span (event start/end and timestamps of
all the incident's events of that flow) widened by `pcap_margin`: a display filter any tshark reads, and
one pass over the capture for all flows. Evidence is upserted, so tracing again refreshes it.
"""

from __future__ import annotations

import hashlib
import ipaddress
import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select

from secops.events import Doc, get, parse_iso
from secops.incidents.cases import CaseStore
from secops.incidents.contributing import contributing_events
from secops.incidents.errors import TraceError
from secops.incidents.schema import Evidence
from secops.store import Store

TSHARK_INSTALL = "apt-get install tshark"
_PORTED = {"tcp", "udp", "sctp"}
_PORTLESS = {"icmp": "icmp", "ipv6-icmp": "icmpv6", "icmpv6": "icmpv6"}


@dataclass(slots=True)
class Flow:
    """One conversation named by its Community ID: the initiator's end, the responder's, and when."""

    community_id: str
    transport: str
    source: tuple[str, int | None]
    destination: tuple[str, int | None]
    start: float
    end: float

    def display_filter(self, margin: timedelta) -> str:
        (a, port_a), (b, port_b) = self.source, self.destination
        ip = "ip" if ipaddress.ip_address(a).version == 4 else "ipv6"
        if self.transport in _PORTED and port_a is not None and port_b is not None:
            t = self.transport
            there = f"{ip}.src=={a} && {t}.srcport=={port_a} && {ip}.dst=={b} && {t}.dstport=={port_b}"
            back = f"{ip}.src=={b} && {t}.srcport=={port_b} && {ip}.dst=={a} && {t}.dstport=={port_a}"
            match = f"(({there}) || ({back}))"
        else:
            match = f"({ip}.addr=={a} && {ip}.addr=={b} && {_PORTLESS.get(self.transport, ip)})"
        pad = margin.total_seconds()
        when = f"frame.time_epoch >= {self.start - pad:.6f} && frame.time_epoch <= {self.end + pad:.6f}"
        return f"({match} && {when})"


def _end(doc: Doc, name: str) -> tuple[str, int | None] | None:
    """A validated (address, port) end of a flow: values go into a filter, so nothing else passes."""
    try:
        address = str(ipaddress.ip_address(str(get(doc, f"{name}.ip"))))
        port = get(doc, f"{name}.port")
        return address, int(port) if port is not None else None
    except (ValueError, TypeError):
        return None


def flows(docs: Sequence[Doc]) -> list[Flow]:
    """The flows of the events that carry a Community ID, one per ID, spanning all their events."""
    found: dict[str, Flow] = {}
    for doc in docs:
        community = get(doc, "network.community_id")
        source, destination = _end(doc, "source"), _end(doc, "destination")
        if not isinstance(community, str) or source is None or destination is None:
            continue
        times = [
            parse_iso(str(t)).timestamp()
            for t in (doc.get("@timestamp"), get(doc, "event.start"), get(doc, "event.end"))
            if t
        ]
        flow = found.get(community)
        if flow is None:
            transport = str(get(doc, "network.transport") or "").lower()
            found[community] = Flow(community, transport, source, destination, min(times), max(times))
        else:
            flow.start, flow.end = min(flow.start, *times), max(flow.end, *times)
    return list(found.values())


@dataclass(slots=True)
class Cut:
    source: str
    output: str
    packets: int
    bytes: int
    sha256: str
    filter: str
    flows: list[str]


@dataclass(slots=True)
class TraceReport:
    incident: int
    events: int = 0
    missing: list[str] = field(default_factory=list)
    flows: list[str] = field(default_factory=list)
    cuts: list[Cut] = field(default_factory=list)
    empty: list[str] = field(default_factory=list)  # captures holding none of the flows' packets

    def as_dict(self) -> dict[str, Any]:
        return {
            "incident": self.incident,
            "events": self.events,
            "missing": self.missing,
            "flows": self.flows,
            "pcaps": [asdict(c) for c in self.cuts],
            "empty": self.empty,
        }


def _tshark() -> str:
    found = shutil.which("tshark")
    if found is None:
        raise TraceError(f"tshark is not installed; cutting flows from a pcap needs it: {TSHARK_INSTALL}")
    return found


def _run(args: list[str], what: str) -> str:
    result = subprocess.run(args, capture_output=True, text=True, check=False, timeout=3600)
    if result.returncode != 0:
        lines = [ln for ln in result.stderr.splitlines() if ln.strip() and "Running as user" not in ln]
        raise TraceError(f"{what}: {lines[-1] if lines else f'tshark exited with {result.returncode}'}")
    return result.stdout


def cut_flows(capture: Path, output: Path, chosen: Sequence[Flow], margin: timedelta) -> Cut:
    """Write the packets of `chosen` flows found in `capture` to `output` (pcapng) in one tshark pass."""
    if not capture.is_file():
        raise TraceError(f"{capture}: no such capture file")
    tshark = _tshark()
    expression = " || ".join(f.display_filter(margin) for f in chosen)
    output.parent.mkdir(parents=True, exist_ok=True)
    _run([tshark, "-r", str(capture), "-Y", expression, "-w", str(output)], f"cannot cut {capture}")
    numbers = _run([tshark, "-r", str(output), "-T", "fields", "-e", "frame.number"], f"cannot read {output}")
    data = output.read_bytes()
    return Cut(
        source=str(capture),
        output=str(output),
        packets=len(numbers.split()),
        bytes=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
        filter=expression,
        flows=[f.community_id for f in chosen],
    )


def trace(
    cases: CaseStore,
    number: int,
    events: Store,
    *,
    pcaps: Sequence[Path] = (),
    output_dir: Path | None = None,
    actor: str,
) -> TraceReport:
    """Collect and store the incident's evidence; returns what was found and what was not."""
    incident = cases.incident(number)
    found = contributing_events(events, incident.alerts)
    report = TraceReport(number, events=len(found.events), missing=found.missing)
    chosen = flows(found.events)
    report.flows = [f.community_id for f in chosen]
    directory = output_dir or cases.settings.evidence_dir / f"incident-{number}"
    if chosen:
        for index, capture in enumerate(pcaps):
            name = f"incident-{number}-{index + 1}-{capture.stem}.pcapng"
            cut = cut_flows(capture, directory / name, chosen, cases.settings.pcap_margin)
            if cut.packets:
                report.cuts.append(cut)
            else:
                Path(cut.output).unlink()
                report.empty.append(str(capture))
    now = cases.clock()
    items: list[tuple[str, str, Any, dict[str, Any]]] = [
        ("event", str(get(doc, "event.id")), parse_iso(str(doc["@timestamp"])), {
            "dataset": get(doc, "event.dataset"),
            "line": get(doc, "event.original") or get(doc, "message"),
            "community_id": get(doc, "network.community_id"),
            "missing": False,
        })
        for doc in found.events
    ]
    items += [("event", i, None, {"dataset": None, "line": None, "missing": True}) for i in found.missing]
    items += [("pcap", c.output, None, {**asdict(c), "missing": False}) for c in report.cuts]
    with cases.writing() as session:
        stored = session.scalars(select(Evidence).where(Evidence.incident_id == number))
        known = {(e.kind, e.ref): e for e in stored}
        for kind, ref, timestamp, detail in items:
            row = known.get((kind, ref))
            if row is None:
                row = Evidence(incident_id=number, kind=kind, ref=ref)
                session.add(row)
            row.collected_at, row.timestamp, row.detail = now, timestamp, {**detail, "collected_by": actor}
    return report
