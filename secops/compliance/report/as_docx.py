"""The DOCX report (python-docx), editable by auditors: headings, an overview table, one table per
category, the problem list, the conclusion and the advice. The assessment id is the core property
`identifier` and the SM3 digest the core property `keywords` (`sm3:<hex>`); both are also in the text."""

from __future__ import annotations

from collections.abc import Sequence
from io import BytesIO
from pathlib import Path
from typing import IO
from zipfile import BadZipFile

import docx
from docx.document import Document
from docx.oxml.ns import qn
from docx.shared import Pt

from secops.compliance.report import layout
from secops.compliance.report.formats import Format, ReportFileError, Stamp
from secops.compliance.report.model import Report

FONT = "Noto Sans CJK SC"
KEYWORD = "sm3:"


def write(report: Report, path: Path | IO[bytes]) -> None:
    digest = report.digest()
    document = docx.Document()
    normal = document.styles["Normal"]
    normal.font.name, normal.font.size = FONT, Pt(9)
    normal.element.rPr.rFonts.set(qn("w:eastAsia"), FONT)
    document.add_heading(f"{layout.TITLE}：{report.system}", level=0)
    overview, scope, results, problems, conclusion, advice = layout.SECTIONS
    document.add_heading(overview, level=1)
    _table(document, ("项目", "内容"), layout.overview(report, digest))
    document.add_heading(scope, level=1)
    document.add_paragraph(report.scope)
    document.add_heading(results, level=1)
    for table in report.categories:
        document.add_heading(layout.category_heading(table.score, table.category), level=2)
        _table(document, layout.ITEM_COLUMNS, [layout.item_cells(row) for row in table.items])
    document.add_heading(problems, level=1)
    _table(document, layout.PROBLEM_COLUMNS, [layout.problem_cells(p) for p in report.problems])
    document.add_heading(conclusion, level=1)
    _table(document, ("项目", "内容"), layout.conclusion(report))
    document.add_heading(advice, level=1)
    _table(document, layout.ADVICE_COLUMNS, layout.advised(report))
    props = document.core_properties
    props.title, props.identifier = f"{layout.TITLE}：{report.system}", report.assessment_id
    props.keywords = KEYWORD + digest
    props.created = props.modified = report.assessed_at
    document.save(path)  # type: ignore[arg-type]  # python-docx accepts a path or a binary stream


def _table(document: Document, header: tuple[str, ...], rows: Sequence[tuple[str, ...]]) -> None:
    """A bordered Word table: the header row, then one row per entry, every cell plain text."""
    table = document.add_table(rows=len(rows) + 1, cols=len(header))
    table.style = "Table Grid"
    for cells, values in zip(table.rows, [header, *rows], strict=True):
        for cell, value in zip(cells.cells, values, strict=True):
            cell.text = value


def _open(path: Path | IO[bytes]) -> Document:
    try:
        return docx.Document(path)  # type: ignore[arg-type]
    except (OSError, BadZipFile, KeyError, ValueError) as exc:
        raise ReportFileError(f"{path}: cannot read the DOCX report: {exc}") from exc


def stamp(path: Path) -> Stamp:
    props = _open(path).core_properties
    if not props.identifier or not props.keywords.startswith(KEYWORD):
        raise ReportFileError(f"{path}: no identifier/keywords core properties: not a report egovops wrote")
    return Stamp(props.identifier, props.keywords.removeprefix(KEYWORD))


def differences(path: Path, report: Report) -> list[str]:
    """Paragraph by paragraph and cell by cell against the document the stored assessment renders to."""
    expected = BytesIO()
    write(report, expected)
    found, want = _texts(_open(path)), _texts(_open(expected))
    diffs = [f"{where}: the file has {have!r}, the stored assessment gives {should!r}"
             for (where, have), (_, should) in zip(found, want, strict=False) if have != should]
    if len(found) != len(want):
        diffs.append(f"the file has {len(found)} paragraphs and cells, the stored assessment gives "
                     f"{len(want)}")
    return diffs


def _texts(document: Document) -> list[tuple[str, str]]:
    paragraphs = [(f"paragraph {n}", p.text) for n, p in enumerate(document.paragraphs, 1)]
    cells = [(f"table {t} row {r} column {c}", cell.text)
             for t, table in enumerate(document.tables, 1)
             for r, row in enumerate(table.rows, 1)
             for c, cell in enumerate(row.cells, 1)]
    return paragraphs + cells


FORMAT = Format("docx", write, stamp, differences)
