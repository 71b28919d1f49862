"""From check outcomes to item results, and the cloud and SOC collectors that feed them: manual items stay
不适用 pending review, an item takes its worst failed check, high-risk rules raise the risk, outcomes of
several targets merge; cloud plans and egovops's own settings, store and audit trail are judged as data."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from typer.testing import CliRunner

from cloud.planner import plan_estate
from egovops.audit import AuditTrail
from egovops.cli.common import Exit
from egovops.cli.main import app
from egovops.config import DrillSettings, RetentionSettings, Settings, StoreSettings
from egovops.estate import load_estate, parse_estate
from secops.compliance.assessment import CheckOutcome
from secops.compliance.evidence.cloud import judge_plan
from secops.compliance.evidence.grading import PENDING, grade, load_grading, merge
from secops.compliance.evidence.soc import collect_soc, load_soc_rules
from secops.compliance.loader import load_catalogue
from secops.compliance.scoring import Result, Risk, load_scoring_model
from secops.detection.alerts import Alert
from secops.drills.history import History
from secops.drills.scorecard import Scorecard
from secops.events import format_ts
from secops.incidents import open_cases, record_alerts
from secops.response.settings import ResponseSettings

AT = datetime(2026, 11, 22, tzinfo=UTC)
CATALOGUE = load_catalogue(3)
SMALL = Path(__file__).resolve().parents[1] / "cloud" / "data" / "small.yaml"
runner = CliRunner()


def outcome(check: str, passed: bool) -> CheckOutcome:
    return CheckOutcome(check=check, passed=passed)


def graded(*outcomes: CheckOutcome) -> dict[str, tuple[Result, Risk | None, str]]:
    items = grade(CATALOGUE, outcomes, load_scoring_model(), load_grading(), AT)
    assert len(items) == len(CATALOGUE.items)
    return {i.item_id: (i.result, i.risk, i.evidence[0].content if i.evidence else "") for i in items}


def test_items_take_their_worst_failed_check_and_high_risk_rules_raise_the_risk() -> None:
    found = graded(
        outcome("host.auth.login_lockout", False), outcome("host.auth.session_timeout", True),
        outcome("host.audit.forwarding", True), outcome("host.audit.protected", False),
        outcome("host.ssh.root_login", True), outcome("net.snmp.community", False),
    )  # fmt: skip
    assert found["L3-8.1.4.1-b"][:2] == (Result.NON_COMPLIANT, Risk.MEDIUM)
    assert found["L3-8.1.4.3-c"][:2] == (Result.PARTIAL, Risk.LOW)  # protected: 部分符合/低 by grading.yaml
    assert found["L3-8.1.4.2-b"][:2] == (Result.NON_COMPLIANT, Risk.HIGH)  # HR-CE-01 on the SNMP community
    assert found["L3-8.1.4.9-a"] == (Result.NOT_APPLICABLE, None,
                                     f"{PENDING} (checks not collected: host.backup.local)")  # fmt: skip
    assert found["L3-8.1.6.1-a"] == (Result.NOT_APPLICABLE, None, PENDING)  # a manual item


def test_a_check_passes_only_where_every_target_passed() -> None:
    merged = merge([outcome("net.snmp.community", True), outcome("net.snmp.community", False)])
    assert merged["net.snmp.community"].passed is False


def test_cloud_plan_open_management_port_and_shares() -> None:
    estate = load_estate(SMALL)
    plan = plan_estate(estate)
    found = {o.check: o for o in judge_plan(estate, plan, AT)}
    assert {c: o.passed for c, o in found.items() if o.judged} == {
        "cloud.sg.mgmt_open": True, "cloud.sg.default_deny": True, "cloud.tenant.isolation": True,
        "cloud.quota.within_pool": True,
    }  # fmt: skip
    # platform networks and images exist only in a running cloud: not judged on the plan, and it says why
    assert {c for c, o in found.items() if not o.judged} == {
        "cloud.mgmt.separated", "cloud.image.protected", "cloud.snapshot.private",
    }  # fmt: skip
    assert "give --os-cloud NAME" in found["cloud.mgmt.separated"].evidence[0].content
    assert "alpha: alpha-app>beta -> project:beta/beta" in found["cloud.tenant.isolation"].evidence[0].content
    text = SMALL.read_text(encoding="utf-8")
    text = text.replace("remote: 10.90.0.0/28", "remote: 0.0.0.0/0")  # SSH from anywhere
    text = text.replace("quota: {vcpu: 20, ram_gb: 80}", "quota: {vcpu: 90, ram_gb: 80}")  # 40 + 90 > 100
    opened = parse_estate(text)
    found = {o.check: o for o in judge_plan(opened, plan_estate(opened), AT)}
    assert found["cloud.sg.mgmt_open"].passed is False
    assert "alpha: alpha-baseline:ingress-tcp-22-22-0.0.0.0/0 opens SSH (22) to the world" in (
        found["cloud.sg.mgmt_open"].evidence[0].content
    )
    assert found["cloud.quota.within_pool"].passed is False


def test_soc_evidence_from_settings_store_and_audit_trail(tmp_path: Path) -> None:
    trail = AuditTrail(tmp_path / "audit.log")
    trail.append("auditor", "compliance.assess", "政务服务网", {"level": 3})
    settings = soc_settings(tmp_path, RetentionSettings(default_days=180, datasets={"system.auth": 90}))
    found = {o.check: o for o in collect_soc(settings, AT, load_soc_rules())}
    assert {c: o.passed for c, o in found.items() if o.judged} == {
        "soc.retention": False, "soc.ids.events": False, "soc.sources.coverage": False,
        "soc.audit_trail.verifies": True, "soc.alerts.sla": True, "soc.drills.recent": False,
    }  # fmt: skip
    assert not found["soc.waf.blocking"].judged  # an empty store shows no WAF mode
    assert found["soc.alerts.sla"].evidence[0].content == "no open incident past its SLA"
    assert "0 drill(s) since 2025-11-22 (365 days)" in found["soc.drills.recent"].evidence[0].content
    assert "below 180 days: {'system.auth': 90}" in found["soc.retention"].evidence[0].content
    assert "detection rules loaded: " in found["soc.ids.events"].evidence[0].content
    lines = (tmp_path / "audit.log").read_text().splitlines()
    (tmp_path / "audit.log").write_text(lines[0].replace("政务服务网", "another") + "\n")
    found = {o.check: o for o in collect_soc(settings, AT, load_soc_rules())}
    assert found["soc.audit_trail.verifies"].passed is False


def soc_settings(tmp_path: Path, retention: RetentionSettings | None = None) -> Settings:
    return Settings(
        store=StoreSettings(url=f"sqlite:///{tmp_path / 'events.db'}"),
        response=ResponseSettings(audit_log=tmp_path / "audit.log"),
        retention=retention or RetentionSettings(),
        drills=DrillSettings(history=tmp_path / "drills.db"),
    )


def test_soc_evidence_of_sla_breaches_and_recent_drills(tmp_path: Path) -> None:
    settings = soc_settings(tmp_path)
    raised = AT - timedelta(days=2)  # detection raised it two days before the assessment; nobody took it
    alert = Alert(
        id="a-1", rule_id="ssh_brute_force", title="SSH brute force", severity="high",
        entity={"source.ip": "203.0.113.9"}, event_ids=["e1"], tags=[], first_seen=format_ts(raised),
        last_seen=format_ts(raised), count=6,
    )  # fmt: skip
    with open_cases(settings.store.url, clock=lambda: raised) as cases:
        (number,) = record_alerts(cases, [alert])
    month_ago = AT - timedelta(days=30)
    card = Scorecard.model_validate({
        "scenario": "web-attack-chain", "started": month_ago, "finished": month_ago, "steps": [],
        "techniques_executed": [], "techniques_detected": [], "coverage": 1.0, "false_positives": [],
        "score": 10, "blue": 10, "red": 0,
    })  # fmt: skip
    with History(settings.drills.history) as history:
        history.add(card)
    found = {o.check: o for o in collect_soc(settings, AT, load_soc_rules())}
    assert found["soc.alerts.sla"].passed is False
    assert f"acknowledge high: incidents {number}" in found["soc.alerts.sla"].evidence[0].content
    assert found["soc.drills.recent"].passed is True
    assert "1 drill(s) since" in found["soc.drills.recent"].evidence[0].content
    assert "web-attack-chain" in found["soc.drills.recent"].evidence[0].content


def test_assess_refuses_bad_input_with_exit_codes(tmp_path: Path) -> None:
    base = ["compliance", "assess", "--system", "s", "--level", "3", "--no-host", "--no-soc",
            "--db", f"sqlite:///{tmp_path / 'a.db'}", "--json"]  # fmt: skip
    result = runner.invoke(app, [*base, "--cloud"])
    assert result.exit_code == Exit.USAGE
    assert "give --estate FILE" in json.loads(result.stdout)["error"]
    result = runner.invoke(app, [*base, "--router-config", str(tmp_path / "missing.cfg")])
    assert result.exit_code == Exit.INPUT
    assert "missing.cfg: cannot read the configuration" in json.loads(result.stdout)["error"]


def test_assess_from_configurations_and_the_cloud_plan_only(tmp_path: Path) -> None:
    result = runner.invoke(app, [
        "compliance", "assess", "--system", "云平台", "--level", "3", "--no-host", "--no-soc", "--cloud",
        "--estate", str(SMALL), "--router-config", str(Path(__file__).with_name("data") / "weak-r1.cfg"),
        "--db", f"sqlite:///{tmp_path / 'a.db'}", "--json",
    ])  # fmt: skip
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert len(report["items"]) == 257 and report["band"] == "差"
    items = {i["id"]: i for i in report["items"]}
    assert (items["L3-8.2.2.1-b"]["result"], items["L3-8.1.4.2-b"]["risk"]) == ("符合", "高")
    assert [p["rule"] for p in report["high_risks"]] == ["HR-CE-01"]
