"""The auditor's 等保 pages against the running console: an assessment `egovops compliance assess` stored
in the case database, one with a reviewer's override beside it, their pages, and the four report
downloads checked by `egovops compliance verify` against the same store."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import openpyxl
import pytest
import requests
from docx import Document
from playwright.sync_api import Browser

from egovops.cli.common import Exit
from secops.compliance.assessment import Override
from secops.compliance.scoring import Result, Risk
from secops.compliance.store import AssessmentStore
from tests.security.conftest import log_in as session_of
from tests.web.conftest import PASSWORD, REPO, Console, log_in

ROUTER = REPO / "tests" / "compliance" / "data" / "weak-r1.cfg"
SYSTEM = "政务外网<边界>"
"""Markup in the system name: the pages must show it as text."""
OVERRIDDEN = "L3-8.1.1.1-a"


@dataclass(frozen=True)
class Stored:
    assessed: dict[str, Any]
    """What `compliance assess --json` printed."""
    reviewed: str
    """Id of the copy with a reviewer's override on OVERRIDDEN."""


def egovops(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "egovops", *args]
    return subprocess.run(command, cwd=home, capture_output=True, text=True, timeout=300, check=False)


@pytest.fixture(scope="module")
def stored(console: Console) -> Stored:
    done = egovops(console.home, "compliance", "assess", "--system", SYSTEM, "--level", "3", "--no-host",
                   "--no-soc", "--router-config", str(ROUTER), "--json")  # fmt: skip
    assert done.returncode == Exit.OK, done.stderr
    assessed = json.loads(done.stdout)
    with AssessmentStore(f"sqlite:///{console.home / 'var' / 'egovops.db'}") as store:  # the case database
        first = store.get(assessed["id"])
        override = Override(result=Result.NON_COMPLIANT, risk=Risk.MEDIUM, reason="机房门禁记录缺失",
                            reviewer="测评师张三", at=datetime.now(UTC))  # fmt: skip
        items = tuple(i.model_copy(update={"override": override}) if i.item_id == OVERRIDDEN else i
                      for i in first.items)  # fmt: skip
        store.save(first.model_copy(update={"id": f"{first.id}-review", "items": items}))
    return Stored(assessed, f"{first.id}-review")


@pytest.fixture(scope="module")
def auditor(console: Console) -> requests.Session:
    return session_of(console.url, "auditor1", PASSWORD)


def test_the_auditor_lists_both_newest_first(
    console: Console, stored: Stored, auditor: requests.Session
) -> None:
    page = auditor.get(f"{console.url}/assessments", timeout=120)
    assert page.status_code == 200
    assert stored.assessed["id"] in page.text and stored.reviewed in page.text
    assert "政务外网&lt;边界&gt;" in page.text and SYSTEM not in page.text
    listed = auditor.get(f"{console.url}/api/assessments", timeout=60).json()
    assert {a["id"] for a in listed} >= {stored.assessed["id"], stored.reviewed}
    assert [a["created_at"] for a in listed] == sorted((a["created_at"] for a in listed), reverse=True)


def test_the_page_shows_items_results_and_overrides(
    console: Console, stored: Stored, auditor: requests.Session
) -> None:
    first = auditor.get(f"{console.url}/assessments/{stored.assessed['id']}", timeout=120).text
    assert f'<dd id="score">{stored.assessed["score"]:.2f}</dd>' in first
    assert f'<dd id="high-risks">{len(stored.assessed["high_risks"])}</dd>' in first
    page = auditor.get(f"{console.url}/assessments/{stored.reviewed}", timeout=120)
    assert page.status_code == 200
    text = page.text
    for item in stored.assessed["items"][:20]:
        assert f'id="item-{item["id"]}"' in text
    assert all(result in text for result in ("符合", "不符合", "不适用", "待复核"))
    assert "复核改判：测评结果 不适用，改为 不符合" in text and "测评师张三" in text
    assert auditor.get(f"{console.url}/assessments/no-such-id", timeout=60).status_code == 404


def test_the_api_answers_in_the_cli_shape(
    console: Console, stored: Stored, auditor: requests.Session
) -> None:
    answer = auditor.get(f"{console.url}/api/assessments/{stored.assessed['id']}", timeout=120).json()
    assert answer == stored.assessed | {"diff": None}
    assert auditor.get(f"{console.url}/api/assessments/nope", timeout=60).status_code == 404


@pytest.mark.parametrize("fmt", ["pdf", "docx", "xlsx", "json"])
def test_each_report_downloads_and_verifies(
    fmt: str, console: Console, stored: Stored, auditor: requests.Session, tmp_path: Path
) -> None:
    answer = auditor.get(f"{console.url}/assessments/{stored.reviewed}/report.{fmt}", timeout=300)
    assert answer.status_code == 200
    assert f'filename="{stored.reviewed}.{fmt}"' in answer.headers["content-disposition"]
    body = answer.content
    if fmt == "pdf":
        assert body.startswith(b"%PDF") and answer.headers["content-type"] == "application/pdf"
    elif fmt == "docx":
        assert Document(io.BytesIO(body)).paragraphs[0].text == f"网络安全等级保护测评报告：{SYSTEM}"
    elif fmt == "xlsx":
        book = openpyxl.load_workbook(io.BytesIO(body))
        cells = {str(c.value) for sheet in book.worksheets for row in sheet.iter_rows() for c in row}
        assert {stored.reviewed, OVERRIDDEN} <= cells
    else:
        assert json.loads(body)["assessment_id"] == stored.reviewed
    path = tmp_path / f"downloaded.{fmt}"
    path.write_bytes(body)
    verdict = egovops(console.home, "compliance", "verify", str(path), "--json")
    assert verdict.returncode == Exit.OK, verdict.stdout + verdict.stderr
    assert json.loads(verdict.stdout)["assessment_id"] == stored.reviewed


def test_bad_formats_and_strangers_are_refused(
    console: Console, stored: Stored, auditor: requests.Session
) -> None:
    base = f"{console.url}/assessments/{stored.reviewed}"
    for fmt in ("html", "pdf%2F..%2F..%2Fetc%2Fpasswd", "PDF"):
        assert auditor.get(f"{base}/report.{fmt}", timeout=60).status_code == 404, fmt
    assert auditor.get(f"{console.url}/assessments/..%2F..%2Fetc/report.pdf", timeout=60).status_code == 404
    for path in (f"{base}/report.pdf", base, f"{console.url}/api/assessments"):
        answer = requests.get(path, headers={"Accept": "application/json"}, allow_redirects=False, timeout=60)
        assert answer.status_code == 401, path
    analyst = session_of(console.url, "analyst1", PASSWORD)
    assert analyst.get(f"{base}/report.pdf", timeout=60).status_code == 403


def test_the_page_renders_in_chromium(console: Console, stored: Stored, browser: Browser) -> None:
    page = log_in(browser, console, "auditor1")
    page.click("nav >> text=等保测评")
    page.click(f"#assessments a:text-is('{stored.reviewed}')")
    assert page.locator("#items tr").count() == len(stored.assessed["items"]) + 1
    assert page.locator("#overview").inner_text().count(SYSTEM) == 1
    assert page.locator("script").count() == 0
