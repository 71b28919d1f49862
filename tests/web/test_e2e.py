"""The issue's end-to-end test in real headless Chromium: an analyst logs in, finds the incident the
ingested attack logs raised, moves it through 通报 and 处置 with a note using the page's buttons; the
auditor then sees those steps in the audit trail, has no buttons, and is refused when posting anyway."""

from __future__ import annotations

import re

from playwright.sync_api import Browser

from tests.web.conftest import Console, log_in

ATTACK_SOURCE = "192.0.2.10"
"""The client of the XSS transaction in tests/data/modsecurity/libmodsecurity3.json."""


def test_analyst_moves_an_incident_on_and_the_auditor_sees_it(console: Console, browser: Browser) -> None:
    analyst = log_in(browser, console, "analyst1")
    analyst.goto("/incidents?severity=high&state=new")
    row = analyst.locator("#incidents tr", has_text=ATTACK_SOURCE)
    assert row.count() == 1
    row.locator("a").first.click()
    number = int(re.sub(r".*/incidents/(\d+)$", r"\1", analyst.url))
    assert analyst.locator("#state").inner_text() == "发现"

    analyst.fill("#lifecycle input[name=recipients]", "市网信办, 市政务服务数据管理局")
    analyst.click("#lifecycle button:has-text('转为 通报')")
    assert analyst.locator("#state").inner_text() == "通报"
    analyst.fill("#lifecycle textarea[name=text]", "已通知网信办；封禁来源地址")
    analyst.click("#lifecycle button:has-text('添加备注')")
    analyst.click("#lifecycle button:has-text('转为 处置')")
    assert analyst.locator("#state").inner_text() == "处置"
    moves = analyst.locator("#transitions tr").all_inner_texts()[1:]
    assert [m.split("\t")[1:4] for m in moves] == [["发现", "通报", "analyst1"], ["通报", "处置", "analyst1"]]
    assert "已通知网信办；封禁来源地址" in analyst.locator("#notes").inner_text()

    auditor = log_in(browser, console, "auditor1")
    auditor.goto("/audit")
    assert auditor.locator("#verification").get_attribute("class") == "ok"
    trail = [
        cells for cells in (r.split("\t") for r in auditor.locator("#audit tr").all_inner_texts()[1:])
        if cells[4] == f"incident/{number}"
    ]
    assert [(c[2], c[3]) for c in reversed(trail)] == [
        ("analyst1", "incident.transition"),
        ("analyst1", "incident.note"),
        ("analyst1", "incident.transition"),
    ]
    newest = trail[0][5]
    assert '"before": "notified"' in newest and '"after": "contained"' in newest

    auditor.goto(f"/incidents/{number}")
    assert auditor.locator("#state").inner_text() == "处置"
    assert auditor.locator("main form").count() == 0 and auditor.locator("main button").count() == 0
    token = auditor.locator("header input[name=csrf_token]").get_attribute("value")
    refused = auditor.request.post(
        f"/incidents/{number}/transition", form={"csrf_token": str(token), "target": "traced"}
    )
    assert refused.status == 403
    auditor.reload()
    assert auditor.locator("#state").inner_text() == "处置"
