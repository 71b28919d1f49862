"""Reports of a full level-3 + cloud assessment in all four formats: the content reads back in each,
every catalogue item is in them, and `verify` accepts a faithful report and refuses an edited one."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import docx
import pytest
from openpyxl import load_workbook

from secops.compliance.assessment import (
    Assessment,
    CheckOutcome,
    Evidence,
    EvidenceKind,
    ItemAssessment,
    Override,
)
from secops.compliance.loader import load_catalogue
from secops.compliance.models import CATEGORIES
from secops.compliance.report import layout
from secops.compliance.report.formats import formats
from secops.compliance.report.model import Report, report_for
from secops.compliance.report.verify import verify
from secops.compliance.scoring import Result, Risk
from tests.components import require_binary

AT = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)
DEFAULT_ACCOUNT = "L3-8.1.4.2-b"
"""默认账户: fails host.accounts.default, which fires a high-risk rule (default passwords)."""
OVERRIDDEN = "L3-8.1.4.1-c"
CYCLE = (Result.COMPLIANT, Result.COMPLIANT, Result.PARTIAL, Result.NON_COMPLIANT, Result.NOT_APPLICABLE)


def full_assessment(assessment_id: str = "rpt-1") -> Assessment:
    """Every item of level 3 + cloud: results cycle 符合, 符合, 部分符合 (低), 不符合 (中), 不适用;
    a default account fails its check with evidence (高); a reviewer overrides telnet's 不符合/高 to
    部分符合/中."""
    catalogue = load_catalogue(3, cloud=True)
    items = []
    for n, item in enumerate(catalogue.items):
        result = CYCLE[n % len(CYCLE)]
        risk = {Result.PARTIAL: Risk.LOW, Result.NON_COMPLIANT: Risk.MEDIUM}.get(result)
        items.append(ItemAssessment(item_id=item.id, result=result, risk=risk))
    evidence = Evidence(kind=EvidenceKind.COMMAND, source="host.accounts.default", collected_at=AT,
                        content="$ getent shadow guest\nguest:$6$default:19000:0:99999:7:::")
    special = {
        DEFAULT_ACCOUNT: ItemAssessment(
            item_id=DEFAULT_ACCOUNT, result=Result.NON_COMPLIANT, risk=Risk.HIGH,
            checks=(CheckOutcome(check="host.accounts.default", passed=False, evidence=(evidence,)),)),
        OVERRIDDEN: ItemAssessment(
            item_id=OVERRIDDEN, result=Result.NON_COMPLIANT, risk=Risk.HIGH,
            override=Override(result=Result.PARTIAL, risk=Risk.MEDIUM, reviewer="auditor-li", at=AT,
                              reason="telnet 只监听带外管理网 10.9.0.0/24，有补偿措施")),
    }
    return Assessment(id=assessment_id, system="政务服务网", level=3, cloud=True, target="local",
                      created_at=AT, catalogue_versions=catalogue.versions, scoring_version="2026.11.1",
                      items=tuple(special.get(item.item_id, item) for item in items))


@pytest.fixture(scope="module")
def report() -> Report:
    return report_for(full_assessment())


@pytest.fixture(scope="module")
def files(report: Report, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("reports")
    written = {}
    for name, kind in formats().items():
        written[name] = folder / f"report.{name}"
        kind.write(report, written[name])
    return written


def test_the_report_model_covers_every_item_with_advice_where_needed(report: Report) -> None:
    catalogue = load_catalogue(3, cloud=True)
    rows = [row for table in report.categories for row in table.items]
    assert [row.id for row in rows] == [item.id for item in sorted(
        catalogue.items, key=lambda i: CATEGORIES.index(i.category))]
    assert [t.category for t in report.categories] == list(CATEGORIES)
    assert all(bool(row.advice) == (row.result in (Result.PARTIAL, Result.NON_COMPLIANT)) for row in rows)
    root = next(row for row in rows if row.id == DEFAULT_ACCOUNT)
    assert root.failed_checks == ("host.accounts.default",)
    assert root.advice.startswith("删除、锁定默认账户")  # the check's advice first, then the control point's
    telnet = next(row for row in rows if row.id == OVERRIDDEN)
    assert (telnet.result, telnet.risk, telnet.assessed_result, telnet.assessed_risk) == (
        Result.PARTIAL, Risk.MEDIUM, Result.NON_COMPLIANT, Risk.HIGH)
    assert layout.item_cells(telnet)[3:] == (
        "部分符合/中（原判定 不符合/高）", "复核 auditor-li：telnet 只监听带外管理网 10.9.0.0/24，有补偿措施")
    assert layout.item_cells(root)[3:] == ("不符合/高", "未通过的检查 host.accounts.default")
    assert report.band == "差" and report.risks[Risk.HIGH] == 1
    assert sum(report.counts.values()) == len(catalogue.items) == 257
    high = report.problems[0]
    assert (high.item, high.risk) == (DEFAULT_ACCOUNT, Risk.HIGH) and high.rules
    assert len(report.problems) == sum(row.risk is not None for row in rows)
    assert len(report.digest()) == 64 and report_for(full_assessment()).digest() == report.digest()


def test_pdf_has_the_chinese_tables_and_a_problem(report: Report, files: dict[str, Path]) -> None:
    pdftotext = require_binary("pdftotext", "apt-get install -y poppler-utils")
    text = subprocess.run([pdftotext, "-layout", str(files["pdf"]), "-"], capture_output=True, text=True,
                          check=True).stdout
    squeezed = "".join(text.split())
    for category in CATEGORIES:
        assert category in squeezed
    problem = next(p for p in report.problems if p.item == OVERRIDDEN)
    assert "".join(problem.description.split()) in squeezed
    assert report.digest() in squeezed and layout.SECTIONS[5] in squeezed


def test_docx_reads_back_with_a_table_per_category(report: Report, files: dict[str, Path]) -> None:
    document = docx.Document(str(files["docx"]))
    headings = [p.text for p in document.paragraphs if p.style is not None and p.style.name == "Heading 2"]
    assert headings == [layout.category_heading(t.score, t.category) for t in report.categories]
    tables = document.tables
    # overview, ten categories, problems, conclusion, advice
    assert len(tables) == 1 + len(CATEGORIES) + 3
    for table, category in zip(tables[1:11], report.categories, strict=True):
        assert [row.cells[0].text for row in table.rows[1:]] == [row.id for row in category.items]
    conclusion = {row.cells[0].text: row.cells[1].text for row in tables[12].rows}
    assert conclusion["结论"] == "差" == report.band
    assert document.core_properties.identifier == "rpt-1"


def test_xlsx_has_a_sheet_per_category_and_the_problem_list(report: Report, files: dict[str, Path]) -> None:
    book = load_workbook(files["xlsx"])
    assert book.sheetnames == ["概况", *CATEGORIES, "问题清单", "整改建议"]
    for table in report.categories:
        sheet = book[table.category]
        assert sheet.max_row - 1 == len(table.items)
        assert [c.value for c in sheet["A"][1:]] == [row.id for row in table.items]
    assert book["问题清单"].max_row - 1 == len(report.problems)
    advised = [row for table in report.categories for row in table.items if row.advice]
    assert book["整改建议"].max_row - 1 == len(advised)


def test_json_has_every_catalogue_item(files: dict[str, Path]) -> None:
    document = json.loads(files["json"].read_text(encoding="utf-8"))
    ids = {row["id"] for table in document["report"]["categories"] for row in table["items"]}
    assert ids == {item.id for item in load_catalogue(3, cloud=True).items}
    assert document["assessment_id"] == "rpt-1" and len(document["sm3"]) == 64


@pytest.mark.parametrize("name", ["pdf", "docx", "xlsx", "json"])
def test_verify_accepts_each_faithful_report(name: str, report: Report, files: dict[str, Path]) -> None:
    verdict = verify(files[name], lambda assessment_id: report_for(full_assessment(assessment_id)))
    assert (verdict.ok, verdict.format, verdict.assessment_id, verdict.problems) == (True, name, "rpt-1", [])
    assert verdict.sm3 == verdict.expected_sm3 == report.digest()


@pytest.mark.parametrize("name", ["pdf", "docx", "xlsx", "json"])
def test_verify_refuses_a_report_of_a_changed_assessment(name: str, files: dict[str, Path]) -> None:
    def changed(assessment_id: str) -> Report:
        original = full_assessment(assessment_id)
        first = original.items[0].model_copy(update={"result": Result.NON_COMPLIANT, "risk": Risk.LOW})
        return report_for(original.model_copy(update={"items": (first, *original.items[1:])}))

    verdict = verify(files[name], changed)
    assert not verdict.ok and verdict.sm3 != verdict.expected_sm3
    assert "the stored assessment gives" in verdict.problems[0]


UPDATE = b"1 0 obj\n(an incremental update)\nendobj\n%%EOF\n"


@pytest.mark.parametrize(("edit", "problem"), [
    (lambda data: data + UPDATE, "does not end with egovops's seal"),
    (lambda data: data.replace(b"%PDF-1.7", b"%PDF-1.6", 1), "do not match the SM3 seal"),
], ids=["appended", "edited"])
def test_verify_refuses_an_edited_pdf(edit: Callable[[bytes], bytes], problem: str, report: Report,
                                      files: dict[str, Path], tmp_path: Path) -> None:
    data = files["pdf"].read_bytes()
    edited = tmp_path / "edited.pdf"
    edited.write_bytes(edit(data))
    assert edited.read_bytes() != data
    verdict = verify(edited, lambda assessment_id: report)
    assert not verdict.ok and verdict.sm3 == verdict.expected_sm3  # the stamp survived the edit
    assert len(verdict.problems) == 1 and problem in verdict.problems[0]
