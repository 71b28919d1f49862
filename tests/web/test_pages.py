"""The console's pages in real Chromium, per role: what each shows, which buttons it offers, and what
the server refuses."""

from __future__ import annotations

import re

from playwright.sync_api import Browser, Page

from egovops.estate import load_estate
from network.estate import load_network
from secops.detection.ruleset import BUILTIN_RULES, RuleSet
from secops.store.sqlite import SQLiteStore
from tests.web.conftest import REPO, USERS, Console, log_in
from tests.web.payloads import ATTACKER

ESTATE = REPO / "stacks" / "shanwei" / "estate.yaml"


PAGES = ["/", "/incidents", "/alerts", "/events", "/estate", "/rules", "/ingest", "/users", "/assessments",
         "/audit"]  # fmt: skip


def rows(page: Page, selector: str) -> list[list[str]]:
    """The cells of a table's rows, header left out."""
    return [r.split("\t") for r in page.locator(f"{selector} tr").all_inner_texts()[1:]]


def test_response_action_dry_run_request_and_second_person(console: Console, browser: Browser) -> None:
    analyst = log_in(browser, console, "analyst1")
    analyst.goto("/incidents")
    analyst.locator("#incidents tr", has_text=ATTACKER).locator("a").first.click()
    number = analyst.url.rsplit("/", 1)[1]
    analyst.select_option("select[name=preview]", "waf-block")
    analyst.click("button:has-text('预演')")
    plan = analyst.locator("#plan").inner_text()
    assert ATTACKER in plan and analyst.locator("#actions tr").count() == 2  # a dry run records nothing
    analyst.click("#plan button:has-text('申请执行')")
    [action] = rows(analyst, "#actions")
    assert action[1:6] == ["waf-block", "high", "pending", "analyst1", ""]
    analyst.click("#actions button:has-text('批准')")
    assert "second person" in analyst.locator(".error").inner_text()
    assert rows(analyst, "#actions")[0][3] == "pending"

    auditor = log_in(browser, console, "auditor1")
    auditor.goto("/audit")
    actions = [(r[2], r[3], r[4]) for r in rows(auditor, "#audit")]
    assert ("analyst1", "response.request", f"incident/{number}") in actions  # the Responder's naming
    assert any(who == "analyst1" and what.startswith("response.approve") for who, what, _ in actions)


def test_admin_pages_show_the_configured_estate_rules_ingestion_and_users(
    console: Console, browser: Browser
) -> None:
    admin = log_in(browser, console, "admin1")
    estate, network = load_estate(ESTATE), load_network(ESTATE)
    admin.goto("/estate")
    assert [r[0] for r in rows(admin, "#departments")] == [t.name for t in estate.tenants]
    assert len(rows(admin, "#systems")) == sum(len(t.systems) for t in estate.tenants)
    assert [r[0] for r in rows(admin, "#planes")] == [p.name for p in estate.planes]
    assert [r[0] for r in rows(admin, "#sites")] == [s.name for s in network.sites]

    admin.goto("/rules")
    listed = {r[0]: r for r in rows(admin, "#rules")}
    loaded = RuleSet.load([BUILTIN_RULES])
    assert set(listed) == {r.ref.name or r.ref.id for r in loaded.rules}
    assert all(r[4] == "✓" for r in listed.values())
    fixtures = {r[6].split("\n")[0] for r in listed.values()}
    assert fixtures <= {"通过", "无"} and "通过" in fixtures
    assert any(r[5].startswith("2026-11-22") for r in listed.values()), "rules that fired show when"

    admin.goto("/ingest")
    with SQLiteStore(console.home / "var" / "egovops.db") as store:
        per_dataset = store.stats().per_dataset
    stored = {r[0]: int(r[1]) for r in rows(admin, "table:nth-of-type(2)") if r[0] in per_dataset}
    assert stored == per_dataset

    admin.goto("/users")
    assert {(r[0], r[1]) for r in rows(admin, "#users")} == {
        (name, {"admin": "系统管理员", "analyst": "安全分析员", "auditor": "安全审计员"}[role.value])
        for name, role in USERS.items()
    }
    admin.goto("/incidents/1")
    assert admin.locator("#lifecycle").count() == 0, "the admin reads incidents but does not work them"


def test_each_role_reaches_only_its_pages(console: Console, browser: Browser) -> None:
    refused = {
        "analyst1": ["/estate", "/rules", "/ingest", "/users", "/assessments", "/audit"],
        "admin1": ["/audit"],
        "auditor1": [],
    }
    for name, paths in refused.items():
        page = log_in(browser, console, name)
        for path in PAGES:
            status = page.request.get(path).status
            assert status == (403 if path in paths else 200), (name, path, status)
    stranger = browser.new_context(base_url=console.url).new_page()
    stranger.goto("/incidents?state=new")
    assert stranger.url == f"{console.url}/login?next=/incidents%3Fstate%3Dnew" or "/login" in stranger.url
    assert stranger.request.post("/incidents/1/note", form={"text": "x"}).status in (401, 403)


def test_dashboard_draws_its_charts_on_the_server(console: Console, browser: Browser) -> None:
    page = log_in(browser, console, "auditor1")
    page.goto("/")
    assert page.locator("svg.chart").count() == 4 and page.locator("script").count() == 0
    lines = page.locator("svg.chart polyline")
    with SQLiteStore(console.home / "var" / "egovops.db") as store:
        figures = store.stats()
    assert lines.count() == len(figures.per_dataset)
    legend = str(page.locator("svg.chart").first.text_content())
    for dataset, n in figures.per_dataset.items():
        assert f"{dataset} ({n})" in legend
    sources = str(page.locator("svg.chart").nth(3).text_content())
    assert ATTACKER in sources
    assert re.search(r"已存储日志", page.locator(".cards").inner_text())


def test_english_by_switch_chinese_by_default(console: Console, browser: Browser) -> None:
    page = log_in(browser, console, "analyst1")
    page.goto("/incidents")
    assert page.locator("html").get_attribute("lang") == "zh-CN"
    assert "事件处置队列" in page.locator("header nav").inner_text()
    page.click("header a:has-text('English')")
    assert page.url.endswith("/incidents")
    assert page.locator("html").get_attribute("lang") == "en"
    assert "Incident queue" in page.locator("header nav").inner_text()
    assert "New (发现)" in page.locator("#incidents").inner_text()
    page.click("header a:has-text('中文')")
    assert "事件处置队列" in page.locator("header nav").inner_text()
    page.goto("/lang/en?back=//evil.example/")
    assert page.url == f"{console.url}/", "the switch only returns to this site"
