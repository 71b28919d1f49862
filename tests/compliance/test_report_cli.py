"""`egovops compliance report` and `verify` as an auditor uses them: every format written from a stored
assessment verifies; an edited cell, paragraph or JSON field fails; bad -o paths are clear errors."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import docx
import pytest
from openpyxl import load_workbook
from typer.testing import CliRunner

from egovops.cli.common import Exit
from egovops.cli.main import app
from secops.compliance.store import AssessmentStore
from tests.compliance.test_report import full_assessment

runner = CliRunner()


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = f"sqlite:///{tmp_path_factory.mktemp('store') / 'compliance.db'}"
    with AssessmentStore(url) as store:
        store.save(full_assessment("rpt-cli"))
    return url


def run(*args: str, code: int = 0) -> Any:
    result = runner.invoke(app, ["compliance", *args, "--json"])
    assert result.exit_code == code, result.output
    assert "Traceback" not in result.output
    return json.loads(result.stdout)


def report(db: str, fmt: str, path: Path) -> Any:
    return run("report", "rpt-cli", "--format", fmt, "-o", str(path), "--db", db)


@pytest.mark.parametrize("fmt", ["pdf", "docx", "xlsx", "json"])
def test_each_format_verifies_against_the_store(fmt: str, db: str, tmp_path: Path) -> None:
    path = tmp_path / f"report.{fmt}"
    written = report(db, fmt, path)
    assert (written["file"], written["format"], written["assessment_id"], written["band"]) == (
        str(path), fmt, "rpt-cli", "差")
    verdict = run("verify", str(path), "--db", db)
    assert (verdict["ok"], verdict["format"], verdict["assessment_id"], verdict["problems"]) == (
        True, fmt, "rpt-cli", [])
    assert verdict["sm3"] == verdict["expected_sm3"] == written["sm3"]


def test_an_edited_xlsx_cell_fails(db: str, tmp_path: Path) -> None:
    path = tmp_path / "report.xlsx"
    report(db, "xlsx", path)
    book = load_workbook(path)
    cell = book["安全计算环境"]["D2"]
    was, cell.value = cell.value, "符合" if cell.value != "符合" else "不符合"
    book.save(path)
    verdict = run("verify", str(path), "--db", db, code=Exit.PARTIAL)
    assert not verdict["ok"] and verdict["sm3"] == verdict["expected_sm3"]  # the stamp survived the edit
    assert verdict["problems"] == [
        f"安全计算环境!D2: the file has {cell.value!r}, the stored assessment gives {was!r}"]


def test_an_edited_json_report_fails(db: str, tmp_path: Path) -> None:
    path = tmp_path / "report.json"
    report(db, "json", path)
    document = json.loads(path.read_text(encoding="utf-8"))
    document["report"]["band"] = "良"
    path.write_text(json.dumps(document, ensure_ascii=False), encoding="utf-8")
    verdict = run("verify", str(path), "--db", db, code=Exit.PARTIAL)
    assert verdict["problems"] == [
        "the report's content does not match the SM3 digest it carries (edited after it was written)",
        "report.band: the file differs from the stored assessment",
    ]


def test_an_edited_docx_fails_and_the_text_output_says_mismatch(db: str, tmp_path: Path) -> None:
    path = tmp_path / "report.docx"
    report(db, "docx", path)
    document = docx.Document(str(path))
    document.tables[0].rows[1].cells[1].text = "另一个系统"
    document.save(str(path))
    result = runner.invoke(app, ["compliance", "verify", str(path), "--db", db])
    assert result.exit_code == Exit.PARTIAL
    assert f"mismatch: {path} (docx, assessment rpt-cli)" in result.stderr
    assert "table 1 row 2 column 2: the file has '另一个系统', the stored assessment gives '政务服务网'" in (
        " ".join(result.stderr.split()))


def test_bad_output_paths_and_unknown_ids_are_clear_errors(db: str, tmp_path: Path) -> None:
    body = run("report", "rpt-cli", "--format", "json", "-o", str(tmp_path), "--db", db, code=Exit.USAGE)
    assert body["error"].startswith(f"{tmp_path} is a directory: give a file path")
    inside_a_file = tmp_path / "plain.txt" / "report.json"
    (tmp_path / "plain.txt").write_text("x")
    body = run("report", "rpt-cli", "--format", "json", "-o", str(inside_a_file), "--db", db, code=Exit.USAGE)
    assert body["error"].startswith(f"{inside_a_file}: cannot write the report: Not a directory")
    body = run("report", "nope", "--format", "json", "-o", str(tmp_path / "r.json"), "--db", db,
               code=Exit.STORE)
    assert "no assessment 'nope'" in body["error"]
    body = run("verify", str(tmp_path / "plain.txt"), "--db", db, code=Exit.INPUT)
    assert "not a PDF, DOCX, XLSX or JSON report" in body["error"]
