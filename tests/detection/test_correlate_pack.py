"""Every base rule of rules/corr_base_*.yml, and the CrowdSec rewrites no hub test covers, on their events.

Base rules: one ECS event each must match and one must not (the correlations' inputs, so a wrong field name
would silently starve a correlation). Rewrites: a burst that must fire and one just under the threshold.
"""

from __future__ import annotations

from typing import Any

import pytest

from secops.detection.alerts import Alert, iso, latest
from secops.detection.engine import Engine
from secops.detection.ruleset import BUILTIN_RULES, RuleSet
from secops.events import Event, event_id, put


@pytest.fixture(scope="module")
def pack() -> RuleSet:
    return RuleSet.load(sorted(BUILTIN_RULES.glob("corr_*.yml")))


def ecs(dataset: str, second: float = 0, **fields: Any) -> Event:
    """An ECS event `second`s after 2026-11-22T10:00Z; keyword names use `__` for dots."""
    at = iso(1_795_341_600 + second)
    doc: dict[str, Any] = {"@timestamp": at, "event": {"dataset": dataset}}
    for name, value in fields.items():
        put(doc, name.replace("__", "."), value)
    ident = event_id(dataset, at, sorted(fields.items(), key=str))
    doc["event"]["id"] = ident
    return Event(ident, at, dataset, doc)


AUTH, AUDIT, EVE, WAF, PCAP = "system.auth", "auditd.log", "suricata.eve", "modsecurity.audit", "network.pcap"
FILE_NEW: dict[str, Any] = {"event__category": ["file"], "event__type": ["creation"]}

CASES: dict[str, tuple[Event, Event]] = {
    "base_ssh_login_failed": (
        ecs(AUTH, event__action="ssh_login", event__outcome="failure"),
        ecs(AUTH, event__action="ssh_login", event__outcome="success"),
    ),
    "base_ssh_login_success": (
        ecs(AUTH, event__action="ssh_login", event__outcome="success"),
        ecs(AUTH, event__action="ssh_login", event__outcome="failure"),
    ),
    "base_ssh_connection_refused": (
        ecs(AUTH, event__action="ssh_connection_refused"),
        ecs(AUTH, event__action="ssh_disconnect"),
    ),
    "base_ssh_negotiation_failed": (
        ecs(AUTH, event__action="ssh_negotiation_failed"),
        ecs(AUTH, event__action="ssh_protocol_error"),
    ),
    "base_exec_from_tmp": (
        ecs(AUDIT, event__action="executed", process__executable="/dev/shm/x"),
        ecs(AUDIT, event__action="executed", process__executable="/usr/bin/tmpwatch"),
    ),
    "base_exec_download_tool": (
        ecs(AUDIT, event__action="executed", process__executable="/usr/bin/curl"),
        ecs(AUDIT, event__action="executed", process__executable="/usr/bin/curly"),
    ),
    "base_exec_nonsystem_or_shell": (
        ecs(AUDIT, event__action="executed", process__executable="/opt/x/run"),
        ecs(AUDIT, event__action="executed", process__executable="/usr/bin/id"),
    ),
    "base_exec_base64": (
        ecs(AUDIT, event__action="executed", process__executable="/usr/bin/base64"),
        ecs(AUDIT, event__action="executed", process__executable="/usr/bin/base32"),
    ),
    "base_exec_interpreter": (
        ecs(AUDIT, event__action="executed", process__executable="/usr/bin/python3.11"),
        ecs(AUDIT, event__action="executed", process__executable="/usr/bin/bashbug"),
    ),
    "base_exec_rm": (
        ecs(AUDIT, event__action="executed", process__executable="/bin/rm"),
        ecs(AUDIT, event__action="executed", process__executable="/bin/rmdir"),
    ),
    "base_suid_exec": (
        ecs(AUDIT, event__action="executed", user__effective__id="0", user__audit__id="1000"),
        ecs(AUDIT, event__action="executed", user__effective__id="0", user__audit__id="0"),
    ),
    "base_process_crash": (
        ecs(AUDIT, event__action="crashed-program", auditd__data__sig="11"),
        ecs(AUDIT, event__action="crashed-program", auditd__data__sig="9"),
    ),
    "base_user_added": (
        ecs(AUDIT, event__action="added-user-account"),
        ecs(AUDIT, event__action="deleted-user-account"),
    ),
    "base_sudoers_changed": (
        ecs(AUDIT, file__path="/etc/sudoers.d/90-x", **FILE_NEW),
        ecs(AUDIT, file__path="/etc/hosts", **FILE_NEW),
    ),
    "base_audit_rules_deleted": (
        ecs(
            AUDIT,
            event__action="executed",
            process__executable="/sbin/auditctl",
            process__args=["auditctl", "-D"],
        ),
        ecs(
            AUDIT,
            event__action="executed",
            process__executable="/sbin/auditctl",
            process__args=["auditctl", "-l"],
        ),
    ),
    "base_webroot_file_write": (
        ecs(AUDIT, file__path="/var/www/html/x.php", **FILE_NEW),
        ecs(AUDIT, file__path="/var/log/x.log", **FILE_NEW),
    ),
    "base_ids_alert": (ecs(EVE, event__kind="alert"), ecs(EVE, event__kind="event")),
    "base_ids_alert_sev1_tcp": (
        ecs(EVE, event__kind="alert", event__severity=1, network__transport="tcp"),
        ecs(EVE, event__kind="alert", event__severity=1, network__transport="udp"),
    ),
    "base_ids_alert_sev2_tcp": (
        ecs(EVE, event__kind="alert", event__severity=2, network__transport="tcp"),
        ecs(EVE, event__kind="alert", event__severity=3, network__transport="tcp"),
    ),
    "base_suricata_flow": (
        ecs(EVE, suricata__eve__event_type="flow"),
        ecs(EVE, suricata__eve__event_type="dns"),
    ),
    "base_pcap_flow": (ecs(PCAP, event__action="network_flow"), ecs(PCAP, event__action="dns-query")),
    "base_pcap_http_attack": (
        ecs(PCAP, event__action="http-request", url__original="/a?x=${jndi:ldap://e}"),
        ecs(PCAP, event__action="http-request", url__original="/index.html"),
    ),
    "base_waf_attack": (ecs(WAF, event__kind="alert"), ecs(WAF, event__kind="event")),
    "base_waf_critical": (
        ecs(WAF, event__kind="alert", event__severity=2),
        ecs(WAF, event__kind="alert", event__severity=4),
    ),
    "base_web_script_upload": (
        ecs(WAF, http__request__method="POST", url__path="/up/x.jsp"),
        ecs(WAF, http__request__method="GET", url__path="/up/x.jsp"),
    ),
    "base_http_path_traversal": (ecs(WAF, url__original="/?f=..%2f..%2fetc"), ecs(WAF, url__original="/a/b")),
    "base_http_sqli_probe": (
        ecs(WAF, url__original="/?id=1%20union%20select%201"),
        ecs(WAF, url__original="/?id=1"),
    ),
    "base_http_xss_probe": (
        ecs(WAF, url__original="/?q=%3Cscript%3Ealert(1)"),
        ecs(WAF, url__original="/?q=a"),
    ),
}


def test_every_base_rule_has_a_case(pack: RuleSet) -> None:
    names = {rule.ref.name for rule in pack.rules}
    assert names == set(CASES)


@pytest.mark.parametrize("rule", sorted(CASES))
def test_base_rule_matches_its_event_and_not_the_other(pack: RuleSet, rule: str) -> None:
    positive, negative = CASES[rule]
    assert rule in {ref.name for ref in pack.match_event(positive)}
    assert rule not in {ref.name for ref in pack.match_event(negative)}


def run(pack: RuleSet, events: list[Event]) -> list[Alert]:
    engine = Engine(pack)
    out: list[Alert] = []
    for event in events:
        out.extend(engine.process(event))
    return latest(out)


def count(alerts: list[Alert], rule: str) -> int:
    return sum(a.rule_name == rule for a in alerts)


def failures(users: list[str], every: float = 1, source: str = "203.0.113.9") -> list[Event]:
    return [
        ecs(
            AUTH,
            i * every,
            event__action="ssh_login",
            event__outcome="failure",
            source__ip=source,
            user__name=user,
        )
        for i, user in enumerate(users)
    ]


BURSTS: dict[str, tuple[int, Any]] = {
    # rule: (threshold, events for n of them)
    "ssh_user_enum": (6, lambda n: failures([f"user{i}" for i in range(n)])),
    "ssh_time_based_bf": (4, lambda n: failures(["root"] * n, every=1200)),
    "ssh_refused_conn": (
        1,
        lambda n: [
            ecs(AUTH, i, event__action="ssh_connection_refused", source__ip="192.0.2.3") for i in range(n)
        ],
    ),
    "http_path_traversal_probing": (
        4,
        lambda n: [ecs(WAF, i, source__ip="192.0.2.4", url__original=f"/{i}/../x") for i in range(n)],
    ),
    "http_sqli_probing": (
        11,
        lambda n: [
            ecs(WAF, i * 0.5, source__ip="192.0.2.5", url__original=f"/?id={i}%20union%20select%20null")
            for i in range(n)
        ],
    ),
    "http_xss_probing": (
        6,
        lambda n: [
            ecs(WAF, i * 0.5, source__ip="192.0.2.6", url__original=f"/?q=<script>{i}") for i in range(n)
        ],
    ),
    "auditd_rm_burst": (
        6,
        lambda n: [
            ecs(AUDIT, i * 0.5, event__action="executed", process__executable="/bin/rm", process__ppid=77)
            for i in range(n)
        ],
    ),
}


@pytest.mark.parametrize("rule", sorted(BURSTS))
def test_rewrite_fires_at_its_threshold_and_not_below(pack: RuleSet, rule: str) -> None:
    threshold, make = BURSTS[rule]
    assert count(run(pack, make(threshold)), rule) == 1
    if threshold > 1:
        assert count(run(pack, make(threshold - 1)), rule) == 0


def test_repeated_probe_targets_count_once(pack: RuleSet) -> None:
    same = [ecs(WAF, i, source__ip="192.0.2.4", url__original="/../etc/passwd") for i in range(10)]
    assert count(run(pack, same), "http_path_traversal_probing") == 0
