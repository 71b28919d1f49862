"""Check a report file against the stored assessment it names: same digest, unedited file.

The file's stamp names the assessment; the report model is rebuilt from the store with the current data
files (milliseconds) and its digest compared with the one the file carries — was the assessment, the
catalogue, the scoring model or the advice changed since? Then the format says whether the file was
edited: JSON re-digests and compares its own model, DOCX and XLSX compare their text cell by cell, the
PDF checks the SM3 seal over its bytes (it is never rendered again).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from secops.compliance.report.formats import detect, first
from secops.compliance.report.model import Report


class Verdict(BaseModel):
    model_config = ConfigDict(frozen=True)

    ok: bool
    file: str
    format: str
    assessment_id: str
    sm3: str
    expected_sm3: str
    problems: list[str]


def verify(path: Path, rebuild: Callable[[str], Report]) -> Verdict:
    """`rebuild(assessment_id)` gives the report of the stored assessment (it raises when there is none)."""
    kind = detect(path)
    stamp = kind.stamp(path)
    report = rebuild(stamp.assessment_id)
    expected = report.digest()
    problems = [] if stamp.sm3 == expected else [
        f"the file carries SM3 {stamp.sm3}, the stored assessment gives {expected}: the assessment or the "
        "data files changed since the report was written, or the stamp was edited"]
    problems += first(kind.differences(path, report))
    return Verdict(ok=not problems, file=str(path), format=kind.name, assessment_id=stamp.assessment_id,
                   sm3=stamp.sm3, expected_sm3=expected, problems=problems)
