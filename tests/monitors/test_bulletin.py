"""The monthly bulletin from real stores: Suricata EVE lines of the CrowdSec hub corpus ingested by the
real pipeline, incidents grouped from alerts over them, a 通报 sent, a waf-block executed through its
playbook, and two 等保 assessments of one system. The PDF (read back with pdftotext) and the XLSX (read
back with openpyxl) must carry the figures the stores hold."""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from openpyxl import load_workbook
from openpyxl.worksheet.worksheet import Worksheet
from typer.testing import CliRunner

from egovops.audit import AuditTrail
from egovops.cli.main import app
from monitors.bulletin.layout import SECTIONS
from secops.compliance.assessment import Assessment, ItemAssessment
from secops.compliance.loader import load_catalogue
from secops.compliance.scoring import Result, Risk, load_scoring_model, score
from secops.compliance.store import AssessmentStore
from secops.drills.history import History
from secops.drills.scorecard import Scorecard
from secops.incidents.cases import open_cases
from secops.incidents.grouping import record_alerts
from secops.incidents.lifecycle import transition
from secops.response.settings import ResponseSettings
from secops.response.workflow import Responder
from tests.components import CORPORA, require_binary
from tests.incidents.helpers import FakeClock, alert_from, events, ingest
from tests.monitors.estates import write_estate

MONTH = "2026-10"
NOW = datetime(2026, 10, 20, 2, 0, tzinfo=UTC)
EVE = CORPORA / "crowdsec-hub" / ".tests" / "suricata-eve-detect" / "suricata-eve-detect.log"
BLOCKED = 2
"""EVE alerts the test turns into IDS drops (alert.action blocked)."""
METERING = {
    "d1": {"vcpu_used": 30, "ram_used_gb": 100, "storage_used_tb": 0},
    "d2": {"vcpu_used": 90, "ram_used_gb": 360},
    "d3": {"vcpu_used": 50, "ram_used_gb": 200},
}
"""Quotas are 100 vCPU / 400 GB: overall d2 0.9, d3 0.5, d1 0.275 — ranked d2, d3, d1."""
FIXED = ("L3-8.1.4.1-a", "L3-8.1.4.1-b")
FIGURES = ("封堵攻击源（个）", "通报预警（份）", "修复漏洞（项）", "发现网页木马（起）", "拦截攻击（次）")
"""The plan's security figures, as the bulletin names them: sources blocked, warnings issued,
vulnerabilities fixed, webshells found, attacks blocked."""
runner = CliRunner()


@dataclass
class World:
    root: Path
    store_url: str
    estate: Path
    history: Path
    drills: Path


def drill(scenario: str, started: datetime, score: int, coverage: float) -> Scorecard:
    return Scorecard(scenario=scenario, started=started, finished=started, steps=[], coverage=coverage,
                     techniques_executed=[], techniques_detected=[], false_positives=[], blue=score, red=0,
                     score=score)  # fmt: skip


def eve_slice(path: Path) -> Path:
    """The corpus's EVE lines moved into the month (the first BLOCKED alerts as drops)."""
    lines = []
    for n, line in enumerate(EVE.read_text(encoding="utf-8").splitlines()):
        record = json.loads(line)
        record["timestamp"] = f"2026-10-{10 + n % 15:02d}T06:22:33.415742+0000"
        if record.get("event_type") == "alert" and n < BLOCKED:
            record["alert"]["action"] = "blocked"
        lines.append(json.dumps(record))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def assessment(assessment_id: str, at: datetime, failing: tuple[str, ...]) -> Assessment:
    items = [
        ItemAssessment(item_id=i.id, result=Result.NON_COMPLIANT, risk=Risk.MEDIUM)
        if i.id in failing else ItemAssessment(item_id=i.id, result=Result.COMPLIANT)
        for i in load_catalogue(3).items
    ]  # fmt: skip
    return Assessment(id=assessment_id, system="系统1-1", level=3, target="local", created_at=at,
                      catalogue_versions={}, scoring_version="test", items=tuple(items))  # fmt: skip


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> World:
    root = tmp_path_factory.mktemp("bulletin")
    store = ingest(root / "egovops.db", eve_slice(root / "eve.json"), fmt="suricata")
    alerts_on = [d for d in events(store, event__kind="alert")]
    cases = open_cases(store.url, clock=FakeClock(NOW))
    ids = alert_from(alerts_on[:1], "egovops_ids_alert", "high")
    webshell = alert_from(alerts_on[1:2], "egovops_web_script_request", "high", tags=["attack.t1505.003"],
                          entity={"source.ip": "198.51.100.23"})  # fmt: skip
    numbers = record_alerts(cases, [ids, webshell])
    transition(cases, numbers[0], "notified", "alice", recipients=["网信办", "公安局"])
    settings = ResponseSettings(audit_log=root / "audit.log", kinds={
        "waf-block": {"blocklist": str(root / "blocklist.txt"), "reload": ["true"]}
    })  # fmt: skip
    (root / "blocklist.txt").touch()  # the WAF ships an empty list
    respond = Responder(cases, AuditTrail(settings.audit_log), settings)
    respond.request("waf-block", numbers[0], "alice")
    assert respond.request("waf-block", numbers[0], "bob", approve=True).state == "executed"
    cases.close()
    model = load_scoring_model()
    with AssessmentStore(store.url) as found:
        for made in (assessment("a-sep", datetime(2025, 9, 1, tzinfo=UTC), FIXED),
                     assessment("a-oct", datetime(2026, 10, 5, tzinfo=UTC), ())):  # fmt: skip
            found.save(made, score(load_catalogue(3), made.results(), made.problems(), model))
    estate = write_estate(root / "estate.yaml", departments=3)
    (root / "metering.yaml").write_text(yaml.safe_dump({"at": "2026-10-31", "departments": METERING}))
    with History(root / "drills.db") as drills:
        drills.add(drill("web-attack-chain", datetime(2026, 9, 3, tzinfo=UTC), 20, 0.5))
        drills.add(drill("web-attack-chain", datetime(2026, 10, 3, tzinfo=UTC), 35, 0.75))
    history = root / "indicators.jsonl"
    history.write_text(
        '{"at": "2026-09-30", "values": {"on_cloud_rate||": 0.5, "ram_utilisation||": 0.2}}\n'
        '{"at": "2026-10-31", "values": {"on_cloud_rate||": 0.6, "ram_utilisation||": 0.25}}\n'
    )
    return World(root, store.url, estate, history, root / "drills.db")


def bulletin(world: World, month: str = MONTH) -> dict[str, Any]:
    result = runner.invoke(app, [
        "bulletin", "--month", month, "--estate", str(world.estate), "--history", str(world.history),
        "--store", world.store_url, "-o", str(world.root / month), "--json",
    ], env={"EGOVOPS_DRILLS__HISTORY": str(world.drills)})  # fmt: skip
    assert result.exit_code == 0, result.output
    body: dict[str, Any] = json.loads(result.stdout)
    return body


def test_the_sections_carry_what_the_stores_hold(world: World) -> None:
    body = bulletin(world)
    security = body["sections"]["security"]
    assert {k: security[k] for k in ("sources_blocked", "warnings_issued", "incidents_notified",
                                     "vulnerabilities_fixed", "webshells_found", "ids_dropped", "waf_blocked",
                                     "attacks_blocked")} == {
        "sources_blocked": 1, "warnings_issued": 2, "incidents_notified": 1, "vulnerabilities_fixed": 2,
        "webshells_found": 1, "ids_dropped": BLOCKED, "waf_blocked": 0, "attacks_blocked": BLOCKED,
    }  # fmt: skip
    assert security["incidents_by_state"] == {"contained": 1, "new": 1}
    ranking = body["sections"]["ranking"]["departments"]
    assert [(d["rank"], d["department"], d["overall"]) for d in ranking] == [
        (1, "d2", 0.9), (2, "d3", 0.5), (3, "d1", 0.275)
    ]  # fmt: skip
    indicators = {row["id"]: row for row in body["sections"]["indicators"]}
    assert (indicators["on_cloud_rate"]["value"], indicators["on_cloud_rate"]["previous"]) == (0.6, 0.5)
    assert indicators["ram_utilisation"]["target"] == 0.4
    assessments = body["sections"]["assessments"]
    assert [a["system"] for a in assessments["done"]] == ["系统1-1"]
    assert sorted(a["system"] for a in assessments["due"]) == ["系统2-1", "系统3-1"]  # never assessed
    drills = body["sections"]["drills"]
    assert [(d["scenario"], d["score"], d["score_delta"], d["coverage"]) for d in drills] == [
        ("web-attack-chain", 35, 15, 0.75)
    ]
    assert [f["path"].rsplit("/", 1)[1] for f in body["files"]] == [
        f"月度通报-{MONTH}.pdf",
        f"月度通报-{MONTH}.xlsx",
    ]
    assert all(len(f["sm3"]) == 64 and f["bytes"] == Path(f["path"]).stat().st_size for f in body["files"])


def test_the_pdf_reads_in_chinese_with_the_ranking_in_order(world: World) -> None:
    pdftotext = require_binary("pdftotext", "apt-get install poppler-utils")
    body = bulletin(world)
    text = subprocess.run([pdftotext, "-layout", body["files"][0]["path"], "-"], capture_output=True,
                          text=True, check=True).stdout  # fmt: skip
    for title in (*SECTIONS, "政务云与网络安全月度通报", "web-attack-chain"):
        assert title in text
    rows = [line.split() for line in text.splitlines() if line.strip().startswith(("1 ", "2 ", "3 "))]
    assert [(r[0], r[1], r[5]) for r in rows[:3]] == [("1", "部门2", "90.0%"), ("2", "部门3", "50.0%"),
                                                      ("3", "部门1", "27.5%")]  # fmt: skip
    cells = [line.split() for line in text.splitlines()]
    figures = {words[0]: words[1] for words in cells if len(words) > 1 and words[0] in FIGURES}
    assert [figures[name] for name in FIGURES] == ["1", "2", "2", "1", str(BLOCKED)]


def charts_of(sheet: object) -> list[object]:
    """The charts openpyxl read back from a sheet's drawing."""
    assert isinstance(sheet, Worksheet)
    found: list[object] = sheet._charts  # type: ignore[attr-defined]  # not in types-openpyxl
    return found


def test_the_xlsx_has_the_same_figures_and_native_charts(world: World) -> None:
    body = bulletin(world)
    book = load_workbook(body["files"][1]["path"])
    ranking = book["利用率排名"]
    assert [(row[0], row[1], row[5]) for row in ranking.iter_rows(min_row=2, values_only=True)] == [
        (1, "部门2", 0.9), (2, "部门3", 0.5), (3, "部门1", 0.275)
    ]  # fmt: skip
    assert [len(charts_of(book[name])) for name in ("利用率排名", "指标趋势")] == [1, 1]
    assert [row[:4] for row in book["攻防演练"].iter_rows(min_row=2, values_only=True)] == [
        ("web-attack-chain", "2026-10-03 00:00", 35, 15)
    ]  # fmt: skip
    security = {row[0]: row[1] for row in book["安全态势"].iter_rows(min_row=2, values_only=True)}
    assert [security[name] for name in FIGURES] == [1, 2, 2, 1, BLOCKED]


def test_an_empty_month_gives_zeros(world: World) -> None:
    body = bulletin(world, "2026-07")
    security = body["sections"]["security"]
    assert security["attacks_blocked"] == security["sources_blocked"] == security["warnings_issued"] == 0
    assert security["incidents_by_state"] == {} and body["sections"]["assessments"]["done"] == []
    assert body["sections"]["drills"] == [] and body["sections"]["ranking"]["departments"]
    assert all(Path(f["path"]).stat().st_size > 0 for f in body["files"])


def test_a_bad_month_is_a_clear_error(world: World) -> None:
    result = runner.invoke(app, ["bulletin", "--month", "2026-13", "-o", str(world.root), "--json"])
    assert result.exit_code == 2
    assert json.loads(result.stdout)["error"] == "--month '2026-13': write the month as YYYY-MM, e.g. 2026-10"
