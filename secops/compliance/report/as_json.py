"""The JSON report: the report model itself, with the assessment id and its SM3 digest beside it.

`{"kind": "egovops-compliance-report", "assessment_id", "sm3", "report": {...}}`; the digest is over the
canonical form of `report`, so re-digesting the file's own `report` tells whether it was edited.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from secops.compliance.report.formats import Format, ReportFileError, Stamp
from secops.compliance.report.model import Report

KIND = "egovops-compliance-report"


def write(report: Report, path: Path) -> None:
    document = {"kind": KIND, "assessment_id": report.assessment_id, "sm3": report.digest(),
                "report": report.model_dump(mode="json")}
    path.write_text(json.dumps(document, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")


def _document(path: Path) -> dict[str, Any]:
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ReportFileError(f"{path}: cannot read the JSON report: {exc}") from exc
    if not isinstance(document, dict) or document.get("kind") != KIND:
        raise ReportFileError(f"{path}: not an egovops compliance report (no \"kind\": \"{KIND}\")")
    return document


def stamp(path: Path) -> Stamp:
    document = _document(path)
    assessment_id, sm3 = document.get("assessment_id"), document.get("sm3")
    if not isinstance(assessment_id, str) or not isinstance(sm3, str):
        raise ReportFileError(f"{path}: the fields assessment_id and sm3 must be strings")
    return Stamp(assessment_id, sm3)


def differences(path: Path, report: Report) -> list[str]:
    document = _document(path)
    try:
        own = Report.model_validate(document.get("report"))
    except ValidationError as exc:
        return [f"the report field is no longer a valid report: {exc.errors()[0]['msg']}"]
    found = [] if own.digest() == document.get("sm3") else [
        "the report's content does not match the SM3 digest it carries (edited after it was written)"]
    expected = report.model_dump(mode="json")
    return found + [f"report.{key}: the file differs from the stored assessment"
                    for key, value in own.model_dump(mode="json").items() if expected.get(key) != value]


FORMAT = Format("json", write, stamp, differences)
