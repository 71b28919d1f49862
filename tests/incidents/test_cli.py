"""`egovops alerts` and `egovops incidents` as scripts use them: --store, --json, exit codes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer
from typer.testing import CliRunner

from egovops.audit import AuditTrail
from egovops.cli.alerts import app as alerts_app
from egovops.cli.common import Exit
from egovops.cli.incidents import app as incidents_app
from secops.incidents import open_cases, record_alerts
from secops.store.sqlite import SQLiteStore
from tests.incidents.helpers import alert_from, events

runner = CliRunner()
CONTRACT = {"id", "rule_id", "title", "severity", "entity", "event_ids", "tags"}


def call(app: typer.Typer, *args: str, code: int = 0) -> Any:
    result = runner.invoke(app, [*args, "--json"])
    assert result.exit_code == code, result.output
    return json.loads(result.stdout)


def seed(store: SQLiteStore, db: Path) -> list[str]:
    """Two incidents: 203.0.113.45 (a high IDS alert) and 127.0.0.1 (two WAF alerts)."""
    ids = alert_from(events(store, source__ip="203.0.113.45"), "ids", "high", ("attack.initial-access",))
    waf = events(store, source__ip="127.0.0.1")
    alerts = [ids, alert_from(waf[:1], "waf", "medium"), alert_from(waf[1:3], "waf-burst", "low")]
    with open_cases(f"sqlite:///{db}") as cases:
        assert record_alerts(cases, alerts) == [1, 2]
    return [a.id for a in alerts]


def test_alerts_list_and_show(eve_store: SQLiteStore, db: Path) -> None:
    ids = seed(eve_store, db)
    url = f"sqlite:///{db}"

    listed = call(alerts_app, "list", "--store", url)
    high = call(alerts_app, "list", "--store", url, "--severity", "high")
    one = call(alerts_app, "show", ids[2][:10], "--store", url)

    assert sorted(a["id"] for a in listed) == sorted(ids)
    assert all(set(a) >= CONTRACT for a in listed)
    assert [a["id"] for a in high] == [ids[0]]
    assert high[0]["entity"] == {"source.ip": "203.0.113.45"} and high[0]["tags"] == ["attack.initial-access"]
    assert high[0]["event_ids"] == ["4fa2beaa2fb6a5290000000000000000"]
    assert (one["id"], one["rule_id"], one["count"], one["incident_id"]) == (ids[2], "waf-burst", 2, 2)
    assert call(alerts_app, "show", "ffff", "--store", url, code=Exit.USAGE)["error"].startswith(
        "no alert has the id 'ffff'"
    )


def test_incident_lifecycle_through_the_cli(
    eve_store: SQLiteStore, db: Path, tmp_path: Path, audit_log: Path
) -> None:
    seed(eve_store, db)
    url = f"sqlite:///{db}"

    listed = call(incidents_app, "list", "--store", url)
    assert [(i["id"], i["state"], i["severity"], i["alert_count"]) for i in listed] == [
        (2, "new", "medium", 2), (1, "new", "high", 1),
    ]
    assigned = call(incidents_app, "assign", "1", "zhang.wei", "--by", "lead", "--store", url)
    notified = call(
        incidents_app, "transition", "1", "通报", "--recipient", "网信办", "--recipient", "市大数据局",
        "--by", "zhang.wei", "--store", url,
    )
    refused = call(incidents_app, "transition", "1", "closed", "--store", url, code=Exit.USAGE)
    noted = call(incidents_app, "note", "1", "owner called back", "--by", "zhang.wei", "--store", url)
    dismissed = call(
        incidents_app, "transition", "2", "false_positive", "--reason", "health checks", "--store", url
    )

    assert assigned["assignee"] == "zhang.wei" and assigned["sla"]["acknowledge"]["met_at"]
    assert (notified["state"], notified["state_zh"]) == ("notified", "通报")
    assert [n["recipient"] for n in notified["notifications"]] == ["网信办", "市大数据局"]
    assert refused == {
        "error": "cannot go from notified (通报) to closed (打击); next can be: contained (处置), "
        "false_positive (误报), benign (无害)",
        "exit_code": 2,
    }
    assert [n["text"] for n in noted["notes"]] == ["zhang.wei", "owner called back"]
    assert (dismissed["state"], dismissed["next_states"]) == ("false_positive", [])
    trail = AuditTrail(audit_log)
    changes = [(r.actor, r.action, r.target, r.detail["before"], r.detail["after"]) for r in trail.records()]
    assert changes[:2] == [
        ("lead", "incident.assign", "incident/1", {"state": "new", "assignee": None},
         {"state": "new", "assignee": "zhang.wei"}),
        ("zhang.wei", "incident.transition", "incident/1", {"state": "new", "assignee": "zhang.wei"},
         {"state": "notified", "assignee": "zhang.wei"}),
    ]  # fmt: skip
    assert len(list(trail.records())) == 4 and trail.verify().ok  # the refused move changed nothing
    assert [i["id"] for i in call(incidents_app, "list", "--store", url, "--open")] == [1]
    assert [i["id"] for i in call(incidents_app, "list", "--store", url, "--state", "误报")] == [2]

    shown = call(incidents_app, "show", "1", "--store", url)
    assert [(t["from"], t["to"], t["by"]) for t in shown["transitions"]] == [("new", "notified", "zhang.wei")]
    assert len(shown["notifications"]) == 2 and "**网信办**：" in shown["notifications"][0]["body"]

    written = call(
        incidents_app, "export", "1", "--format", "md", "-o", str(tmp_path / "inc.md"), "--store", url
    )
    markdown = (tmp_path / "inc.md").read_text(encoding="utf-8")
    exported = runner.invoke(incidents_app, ["export", "1", "--format", "json", "--store", url])
    assert written == {"incident": 1, "format": "md", "output": str(tmp_path / "inc.md")}
    assert markdown.startswith("# 安全事件报告 INC-1") and markdown.count("## 附：通报") == 2
    assert json.loads(exported.stdout)["notifications"] == shown["notifications"]


def test_trace_and_errors_through_the_cli(eve_store: SQLiteStore, db: Path) -> None:
    seed(eve_store, db)
    url = f"sqlite:///{db}"

    traced = call(incidents_app, "trace", "2", "--store", url, "--by", "li.na")
    missing = call(incidents_app, "show", "7", "--store", url, code=Exit.USAGE)
    bad_store = call(incidents_app, "list", "--store", "mysql://x", code=Exit.STORE)
    bad_format = runner.invoke(incidents_app, ["export", "1", "--format", "pdf", "--store", url])

    assert (traced["events"], traced["missing"], traced["flows"], traced["pcaps"]) == (3, [], [], [])
    assert [e["kind"] for e in call(incidents_app, "show", "2", "--store", url)["evidence"]] == ["event"] * 3
    assert missing["error"] == "no incident 7; `egovops incidents list` shows them"
    assert "unknown store URL" in bad_store["error"]
    assert bad_format.exit_code == Exit.USAGE and "json and md" in bad_format.output
