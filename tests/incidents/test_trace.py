"""溯源 on a real capture: the pipeline reads the pcap, an alert names two of its flow events, and the
trace cuts exactly that flow's packets with tshark and stores the evidence."""

from __future__ import annotations

import hashlib
import subprocess
from pathlib import Path

import pytest

from secops.incidents import CaseStore, TraceError, record_alerts
from secops.incidents.lifecycle import transition
from secops.incidents.trace import trace
from secops.store.sqlite import SQLiteStore
from tests.components import corpus, require_binary
from tests.incidents.helpers import alert_from, events, ingest

INSTALL = "apt-get install -y tshark"
FLOW = "1:A2ZtjKT+vLFtShuyR0KODCoZdEQ="  # 192.168.43.213:65218 -> 207.148.248.143:80, 11 packets


@pytest.fixture
def capture() -> Path:
    require_binary("tshark", INSTALL)
    return corpus("suricata-verify", "tests", "bug-3616-urldecode", "input.pcap")


@pytest.fixture
def pcap_store(db: Path, capture: Path) -> SQLiteStore:
    return ingest(db, capture)


def community_ids(path: Path) -> list[str]:
    result = subprocess.run(
        ["tshark", "--enable-protocol", "communityid", "-r", str(path), "-T", "fields", "-e", "communityid"],
        capture_output=True, text=True, check=True,
    )
    return result.stdout.split()


def test_trace_cuts_the_flow_and_stores_the_evidence(
    pcap_store: SQLiteStore, cases: CaseStore, capture: Path, tmp_path: Path
) -> None:
    flow_events = events(pcap_store, network__community_id=FLOW)
    assert [d["event"]["dataset"] for d in flow_events] == ["network.pcap", "network.pcap"]
    alert = alert_from(flow_events, "web-flow", "high", ("attack.initial-access",))
    alert.event_ids.append("0" * 32)  # an event the store does not hold (pruned, say)
    [number] = record_alerts(cases, [alert])
    unrelated = corpus("suricata-verify", "tests", "ssh-banner-only", "input.pcap")

    report = trace(cases, number, pcap_store, pcaps=[capture, unrelated], output_dir=tmp_path / "ev",
                   actor="li.na")

    [cut] = report.cuts
    output = Path(cut.output)
    assert output == tmp_path / "ev" / "incident-1-1-input.pcapng"
    assert (report.events, report.missing, report.flows) == (2, ["0" * 32], [FLOW])
    assert report.empty == [str(unrelated)] and not (tmp_path / "ev" / "incident-1-2-input.pcapng").exists()
    assert cut.packets == 11 and community_ids(output) == [FLOW] * 11, "that flow, all of it, only it"
    assert community_ids(capture).count(FLOW) == 11 and len(community_ids(capture)) == 15
    assert cut.sha256 == hashlib.sha256(output.read_bytes()).hexdigest()
    assert "ip.src==192.168.43.213 && tcp.srcport==65218 && ip.dst==207.148.248.143" in cut.filter

    evidence = cases.incident(number).evidence
    assert [(e.kind, e.ref) for e in evidence] == [
        ("event", flow_events[0]["event"]["id"]),
        ("event", flow_events[1]["event"]["id"]),
        ("event", "0" * 32),
        ("pcap", str(output)),
    ]
    assert evidence[0].detail["community_id"] == FLOW and evidence[0].detail["collected_by"] == "li.na"
    assert evidence[2].detail["missing"] is True
    assert evidence[3].detail["packets"] == 11

    trace(cases, number, pcap_store, pcaps=[capture], output_dir=tmp_path / "ev", actor="li.na")
    assert len(cases.incident(number).evidence) == 4, "tracing again refreshes, never duplicates"
    transition(cases, number, "notified", "li.na", recipients=["网信办"])
    transition(cases, number, "contained", "li.na")
    assert transition(cases, number, "traced", "li.na").state == "traced"


def test_trace_errors_say_what_to_do(
    pcap_store: SQLiteStore, cases: CaseStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    flow_events = events(pcap_store, network__community_id=FLOW)
    [number] = record_alerts(cases, [alert_from(flow_events, "web-flow", "high")])

    with pytest.raises(TraceError, match="no such capture file"):
        trace(cases, number, pcap_store, pcaps=[tmp_path / "missing.pcap"], actor="a")
    (tmp_path / "junk.pcap").write_bytes(b"not a capture")
    with pytest.raises(TraceError, match=r"cannot cut .*junk\.pcap"):
        trace(cases, number, pcap_store, pcaps=[tmp_path / "junk.pcap"], output_dir=tmp_path, actor="a")
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(TraceError, match=r"tshark is not installed.*apt-get install tshark"):
        trace(cases, number, pcap_store, pcaps=[tmp_path / "junk.pcap"], actor="a")
    assert cases.incident(number).evidence == [], "nothing stored from a failed trace"
