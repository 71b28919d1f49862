"""The four report formats behind one shape: write a report, read back its stamp, list what differs."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

from secops.compliance.report.model import Report


class ReportFileError(ValueError):
    """A file that is not a report egovops wrote, or that cannot be read."""


class Stamp(NamedTuple):
    """What a report file says about itself: the assessment it was made from and its SM3 digest."""

    assessment_id: str
    sm3: str


@dataclass(frozen=True)
class Format:
    name: str
    write: Callable[[Report, Path], None]
    stamp: Callable[[Path], Stamp]
    differences: Callable[[Path, Report], list[str]]
    """What in the file differs from `report` as this format renders it (empty: faithful)."""


def formats() -> dict[str, Format]:
    """Imported on demand: WeasyPrint alone takes a second to import."""
    from secops.compliance.report import as_docx, as_json, as_pdf, as_xlsx

    return {f.name: f for f in (as_pdf.FORMAT, as_docx.FORMAT, as_xlsx.FORMAT, as_json.FORMAT)}


def detect(path: Path) -> Format:
    """The format of a report file, from its first bytes and, for the two zip formats, its parts."""
    try:
        with path.open("rb") as file:
            head = file.read(8)
    except OSError as exc:
        raise ReportFileError(f"{path}: cannot read the report: {exc.strerror}") from exc
    if head.startswith(b"%PDF-"):
        return formats()["pdf"]
    if head.startswith(b"PK"):
        import zipfile

        try:
            with zipfile.ZipFile(path) as archive:
                names = set(archive.namelist())
        except zipfile.BadZipFile as exc:
            raise ReportFileError(f"{path}: a damaged zip file, not a DOCX or XLSX report: {exc}") from exc
        if "word/document.xml" in names:
            return formats()["docx"]
        if "xl/workbook.xml" in names:
            return formats()["xlsx"]
    if head.lstrip()[:1] == b"{":
        return formats()["json"]
    raise ReportFileError(f"{path}: not a PDF, DOCX, XLSX or JSON report "
                          "(give a file `egovops compliance report` wrote)")


def first(differences: list[str], limit: int = 5) -> list[str]:
    """The first few differences, and how many more there are."""
    more = len(differences) - limit
    return differences[:limit] + ([f"… and {more} more"] if more > 0 else [])
