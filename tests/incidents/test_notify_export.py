"""通报 text from the Chinese template, on real Suricata events; exports as JSON and Markdown files."""

from __future__ import annotations

import json
from pathlib import Path

from secops.incidents import CaseStore, record_alerts
from secops.incidents.advice import ALWAYS, BY_TACTIC
from secops.incidents.cases import to_alert
from secops.incidents.lifecycle import add_note, assign, transition
from secops.incidents.report import incident_detail, incident_markdown
from secops.store.sqlite import SQLiteStore
from tests.incidents.helpers import FakeClock, alert_from, events

WEB = ("attack.initial-access", "attack.t1190")


def notified_incident(store: SQLiteStore, cases: CaseStore, clock: FakeClock) -> int:
    docs = events(store, source__ip="203.0.113.45")
    [number] = record_alerts(cases, [alert_from(docs, "ids-web", "high", WEB, {"source.ip": "203.0.113.45"})])
    clock.advance(minutes=20)
    assign(cases, number, "zhang.wei", "lead")
    add_note(cases, number, "curl against the login API | from abroad", "zhang.wei")
    transition(cases, number, "notified", "zhang.wei", recipients=["公安局网安支队"], events=store)
    return number


def test_notification_names_recipient_assets_timeline_actions_and_deadline(
    eve_store: SQLiteStore, cases: CaseStore, clock: FakeClock
) -> None:
    number = notified_incident(eve_store, cases, clock)

    [notice] = cases.incident(number).notifications
    lines = notice.body.splitlines()

    assert notice.subject == "关于“rule ids-web”网络安全事件的通报（INC-1）"
    assert lines[0] == f"# {notice.subject}"
    assert "**公安局网安支队**：" in lines
    assert "- 事件级别：高危（high）" in lines
    assert "- 当前状态：通报" in lines
    assert "- 发生时间：2024-03-05 10:15:42（北京时间） 至 2024-03-05 10:15:42（北京时间）" in lines
    assert "- 攻击阶段：初始访问（ATT&CK 战术：初始访问；技术：T1190）" in lines
    assert "- 攻击来源：203.0.113.45" in lines
    assert "- 受攻击目标：10.20.30.40、gov.example.cn" in lines, "from the contributing event"
    assert "- 涉及URL：/api/login?user=admin&next=%2F" in lines
    timeline = [ln for ln in lines if ln.startswith("| 20")]
    summary = to_alert(cases.alerts()[0]).summary_zh
    assert timeline == [
        f"| 2024-03-05 10:15:42（北京时间） | 高危 | {summary} |",
        "| 2026-11-22 10:00:00（北京时间） | — | 监测发现，立案为安全事件 |",
        "| 2026-11-22 10:20:00（北京时间） | — | 状态变更：发现 → 通报（zhang.wei） |",
    ]
    assert f"2. {BY_TACTIC['initial-access']}" in lines and f"3. {ALWAYS}" in lines
    assert (
        "请接报后立即组织核查处置，并于2026-11-23 10:00:00（北京时间）前将处置情况反馈市政务云安全运营中心。"
    ) in lines
    assert lines[-2:] == ["通报人：zhang.wei", "2026-11-22 10:20:00（北京时间）"]


def test_exports_as_json_and_markdown(
    eve_store: SQLiteStore, cases: CaseStore, clock: FakeClock, tmp_path: Path
) -> None:
    number = notified_incident(eve_store, cases, clock)
    detail = incident_detail(cases.incident(number), cases.settings, clock())
    (tmp_path / "inc.json").write_text(json.dumps(detail, ensure_ascii=False), encoding="utf-8")
    (tmp_path / "inc.md").write_text(incident_markdown(detail, cases.settings), encoding="utf-8")

    data = json.loads((tmp_path / "inc.json").read_text(encoding="utf-8"))
    markdown = (tmp_path / "inc.md").read_text(encoding="utf-8")

    assert (data["id"], data["state"], data["state_zh"]) == (1, "notified", "通报")
    assert data["assignee"] == "zhang.wei"
    assert [a["rule_id"] for a in data["alerts"]] == ["ids-web"]
    assert data["alerts"][0]["event_ids"] == ["4fa2beaa2fb6a5290000000000000000"]
    assert [(t["from"], t["to"], t["by"]) for t in data["transitions"]] == [("new", "notified", "zhang.wei")]
    assert [n["kind"] for n in data["notes"]] == ["assign", "note"]
    assert data["notifications"][0]["body"] == cases.incident(number).notifications[0].body
    assert data["sla"]["acknowledge"] == {
        "due": "2026-11-22T03:00:00.000000Z", "met_at": "2026-11-22T02:20:00.000000Z", "breached": False,
    }
    assert markdown.startswith("# 安全事件报告 INC-1：rule ids-web\n")
    assert "| 状态 | 通报（notified） |" in markdown
    assert "| 2026-11-22 10:20:00（北京时间） | 发现 → 通报 | zhang.wei | — |" in markdown
    assert "curl against the login API \\| from abroad" not in markdown, "notes are a list, not a table"
    assert "- 2026-11-22 10:20:00（北京时间） zhang.wei：curl against the login API | from abroad" in markdown
    assert "## 附：通报 1（致公安局网安支队，2026-11-22 10:20:00（北京时间），zhang.wei）" in markdown
    assert data["notifications"][0]["body"] in markdown
