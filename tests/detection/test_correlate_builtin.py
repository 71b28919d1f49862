"""The built-in SOC correlations (rules/corr_soc.yml), each with events that must and must not raise it.

sshd lines go through the real auth source; the other events are ECS documents in the shape our sources
write (see tests/data and the CrowdSec hub logs ingested in test_crowdsec.py).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from secops.detection.alerts import Alert, iso, latest
from secops.detection.engine import Engine, event_seconds
from secops.detection.ruleset import BUILTIN_RULES, RuleSet
from secops.events import Event, event_id, put
from secops.ingest.pipeline import Ingestor
from secops.store import open_store

ATTACKER = "203.0.113.9"


@pytest.fixture(scope="module")
def ruleset() -> RuleSet:
    loaded = RuleSet.load(sorted(BUILTIN_RULES.glob("corr_*.yml")))
    assert loaded.failed == []
    return loaded


def sshd(tmp: Path, lines: list[str]) -> list[Event]:
    """sshd syslog lines through the real auth source and store, back in time order."""
    log = tmp / f"auth-{len(list(tmp.iterdir()))}.log"
    log.write_text("".join(line + "\n" for line in lines))
    store = open_store(f"sqlite:///{tmp / (log.stem + '.db')}")
    Ingestor(store).run([log])
    events = [Event(d["event"]["id"], d["@timestamp"], d["event"]["dataset"], d) for d in store.export()]
    store.close()
    return events


def ecs(dataset: str, at: str, **fields: Any) -> Event:
    """An ECS event; keyword names use `__` for dots (`source__ip`)."""
    doc: dict[str, Any] = {"@timestamp": at, "event": {"dataset": dataset}}
    for name, value in fields.items():
        put(doc, name.replace("__", "."), value)
    ident = event_id(dataset, at, sorted(fields.items()))
    doc["event"]["id"] = ident
    return Event(ident, at, dataset, doc)


def ts(minute: int, second: float = 0) -> str:
    return f"2026-11-22T10:{minute:02d}:{second:09.6f}Z"


def run(ruleset: RuleSet, events: list[Event]) -> list[Alert]:
    engine = Engine(ruleset)
    out: list[Alert] = []
    for event in sorted(events, key=lambda e: e.timestamp):
        out.extend(engine.process(event))
    return latest(out)


def named(alerts: list[Alert], rule: str) -> list[Alert]:
    return [a for a in alerts if a.rule_name == rule]


def failures(n: int, every: int = 5, source: str = ATTACKER, host: str = "web01") -> list[str]:
    return [
        f"Nov 22 10:00:{i * every:02d} {host} sshd[{100 + i}]: Failed password for root from {source} "
        f"port {40000 + i} ssh2"
        for i in range(n)
    ]


def test_ssh_brute_force(ruleset: RuleSet, tmp_path: Path) -> None:
    alerts = run(ruleset, sshd(tmp_path, failures(6)))
    [alert] = named(alerts, "ssh_brute_force")
    assert alert.entity == {"source.ip": ATTACKER} and alert.count == 6 and len(alert.event_ids) == 6
    assert "attack.t1110" in alert.tags and alert.severity == "high"
    assert [a for a in alerts if a.rule_type == "sigma"] == []  # failed logins alone raise nothing
    assert named(run(ruleset, sshd(tmp_path, failures(5))), "ssh_brute_force") == []
    spread = [line.replace("10:00:", f"10:{i * 2:02d}:") for i, line in enumerate(failures(6, every=1))]
    assert named(run(ruleset, sshd(tmp_path, spread)), "ssh_brute_force") == []


def test_brute_force_then_login(ruleset: RuleSet, tmp_path: Path) -> None:
    success = f"Nov 22 10:05:00 web01 sshd[200]: Accepted password for root from {ATTACKER} port 41000 ssh2"
    alerts = run(ruleset, sshd(tmp_path, [*failures(6), success]))
    [alert] = named(alerts, "ssh_bf_then_login")
    assert alert.severity == "critical" and alert.count == 7
    assert {"attack.t1110", "attack.t1078"} <= set(alert.tags)
    assert len(named(alerts, "ssh_brute_force")) == 1  # the stage is silent, the standalone rule is not
    other = success.replace(ATTACKER, "198.51.100.77")
    assert named(run(ruleset, sshd(tmp_path, [*failures(6), other])), "ssh_bf_then_login") == []
    before = success.replace("10:05:00", "09:59:00")
    assert named(run(ruleset, sshd(tmp_path, [before, *failures(6)])), "ssh_bf_then_login") == []


def waf_hit(at: str, source: str = ATTACKER) -> Event:
    return ecs(
        "modsecurity.audit",
        at,
        event__kind="alert",
        event__severity=2,
        source__ip=source,
        url__original="/index.php?id=1%27%20or%20%271%27=%271",
        url__path="/index.php",
        http__request__method="GET",
        rule__id=["942100", "949110"],
    )


def ids_hit(at: str, source: str = ATTACKER, severity: int = 2) -> Event:
    return ecs(
        "suricata.eve",
        at,
        event__kind="alert",
        event__severity=severity,
        source__ip=source,
        destination__ip="10.20.30.40",
        destination__port=80,
        network__transport="tcp",
        rule__id="2013028",
        suricata__eve__event_type="alert",
    )


def test_web_attack_confirmed_across_sources(ruleset: RuleSet) -> None:
    alerts = run(ruleset, [waf_hit(ts(0)), ids_hit(ts(2))])
    [alert] = named(alerts, "web_attack_confirmed")
    assert alert.entity == {"source.ip": ATTACKER} and alert.count == 2 and "attack.t1190" in alert.tags
    pcap = ecs(
        "network.pcap",
        ts(4),
        event__action="http-request",
        source__ip=ATTACKER,
        url__original="/cgi-bin/../../etc/passwd",
    )
    assert len(named(run(ruleset, [waf_hit(ts(0)), pcap]), "web_attack_confirmed")) == 1
    assert named(run(ruleset, [waf_hit(ts(0)), ids_hit(ts(6))]), "web_attack_confirmed") == []
    assert named(run(ruleset, [waf_hit(ts(0)), ids_hit(ts(1), "192.0.2.1")]), "web_attack_confirmed") == []
    assert named(run(ruleset, [waf_hit(ts(0)), waf_hit(ts(1))]), "web_attack_confirmed") == []


def flows(n: int, start_minute: int = 0, source: str = ATTACKER) -> list[Event]:
    return [
        ecs(
            "suricata.eve",
            ts(start_minute, i * 0.5),
            suricata__eve__event_type="flow",
            source__ip=source,
            destination__ip="10.20.30.40",
            destination__port=1000 + i,
            network__transport="tcp",
        )
        for i in range(n)
    ]


def test_scan_then_exploit(ruleset: RuleSet) -> None:
    alerts = run(ruleset, [*flows(20), ids_hit(ts(10))])
    [alert] = named(alerts, "scan_then_exploit")
    assert alert.entity == {"source.ip": ATTACKER}
    assert alert.count == 17  # the 16 flows that made the scan, and the IDS hit
    assert len(named(alerts, "port_scan")) == 1  # the scan alerts on its own too (recon has generate: true)
    assert named(run(ruleset, [ids_hit(ts(0)), *flows(20, 1)]), "scan_then_exploit") == []
    assert named(run(ruleset, [*flows(10), ids_hit(ts(10))]), "scan_then_exploit") == []


def login(host: str, at: str) -> str:
    return f"Nov 22 {at} {host} sshd[300]: Accepted publickey for deploy from 192.0.2.50 port 50000 ssh2"


def exec_event(host: str, at: str, executable: str) -> Event:
    return ecs(
        "auditd.log",
        at,
        event__action="executed",
        event__category=["process"],
        host__name=host,
        process__executable=executable,
        process__pid=4242,
        process__ppid=4200,
    )


def test_post_exploitation_after_login(ruleset: RuleSet, tmp_path: Path) -> None:
    logins = sshd(tmp_path, [login("web01", "10:00:00")])
    later = iso(event_seconds(logins[0].timestamp) + 20 * 60)  # sshd logs local time: read it back
    alerts = run(ruleset, [*logins, exec_event("web01", later, "/tmp/.x/miner")])
    [alert] = named(alerts, "post_exploitation_after_login")
    assert alert.entity == {"host": "web01"} and alert.count == 2 and alert.severity == "critical"
    dropper = exec_event("web01", later, "/usr/bin/curl")
    assert len(named(run(ruleset, [*logins, dropper]), "post_exploitation_after_login")) == 1
    elsewhere = exec_event("db01", later, "/tmp/.x/miner")
    assert named(run(ruleset, [*logins, elsewhere]), "post_exploitation_after_login") == []
    harmless = exec_event("web01", later, "/usr/bin/ls")
    assert named(run(ruleset, [*logins, harmless]), "post_exploitation_after_login") == []
    too_late = exec_event("web01", iso(event_seconds(logins[0].timestamp) + 2 * 3600), "/tmp/.x/miner")
    assert named(run(ruleset, [*logins, too_late]), "post_exploitation_after_login") == []


def test_web_tampering(ruleset: RuleSet) -> None:
    upload = ecs(
        "modsecurity.audit",
        ts(0),
        source__ip=ATTACKER,
        http__request__method="POST",
        url__path="/upload/avatar.php",
        url__original="/upload/avatar.php",
    )
    write = ecs(
        "auditd.log",
        ts(1),
        event__action="opened-file",
        event__category=["file"],
        event__type=["creation"],
        host__name="web01",
        file__path="/var/www/html/upload/avatar.php",
    )
    [alert] = named(run(ruleset, [upload, write]), "web_tampering")
    assert alert.entity == {} and set(alert.event_ids) == {upload.id, write.id}
    outside = ecs(
        "auditd.log",
        ts(1),
        event__action="opened-file",
        event__category=["file"],
        event__type=["creation"],
        host__name="web01",
        file__path="/home/deploy/notes.txt",
    )
    assert named(run(ruleset, [upload, outside]), "web_tampering") == []
    later = ecs(
        "auditd.log",
        ts(5),
        event__action="opened-file",
        event__category=["file"],
        event__type=["creation"],
        host__name="web01",
        file__path="/var/www/html/index.php",
    )
    assert named(run(ruleset, [upload, later]), "web_tampering") == []
