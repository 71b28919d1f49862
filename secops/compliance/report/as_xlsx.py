"""The XLSX report (openpyxl): an overview sheet, one sheet per category (one row per item), the problem
list and the advice. The assessment id and SM3 digest are custom document properties
(`egovops.assessment_id`, `egovops.sm3`) and also shown on the overview sheet."""

from __future__ import annotations

from io import BytesIO
from pathlib import Path
from typing import IO, Any
from zipfile import BadZipFile

from openpyxl import Workbook, load_workbook
from openpyxl.packaging.custom import CustomPropertyList, StringProperty
from openpyxl.styles import Alignment, Font
from openpyxl.worksheet.worksheet import Worksheet

from secops.compliance.report import layout
from secops.compliance.report.formats import Format, ReportFileError, Stamp
from secops.compliance.report.model import Report

OVERVIEW, PROBLEMS, ADVICE = "概况", "问题清单", "整改建议"
ID_PROPERTY, SM3_PROPERTY = "egovops.assessment_id", "egovops.sm3"
_WIDTHS = {"A": 16, "B": 16, "C": 60, "D": 18, "E": 40, "F": 30, "G": 30}


def write(report: Report, path: Path | IO[bytes]) -> None:
    digest = report.digest()
    book = Workbook()
    sheet = book.active
    assert sheet is not None  # a new workbook always has one sheet
    sheet.title = OVERVIEW
    _fill(sheet, ("项目", "内容"), [*layout.overview(report, digest), *layout.conclusion(report)])
    for table in report.categories:
        _fill(book.create_sheet(table.category), layout.ITEM_COLUMNS,
              [layout.item_cells(row) for row in table.items])
    _fill(book.create_sheet(PROBLEMS), layout.PROBLEM_COLUMNS,
          [layout.problem_cells(p) for p in report.problems])
    _fill(book.create_sheet(ADVICE), layout.ADVICE_COLUMNS, layout.advised(report))
    _custom(book).append(StringProperty(name=ID_PROPERTY, value=report.assessment_id))
    _custom(book).append(StringProperty(name=SM3_PROPERTY, value=digest))
    book.properties.title = f"{layout.TITLE}：{report.system}"
    book.properties.created = book.properties.modified = report.assessed_at
    book.save(path)


def _fill(sheet: Worksheet, header: tuple[str, ...], rows: list[tuple[str, ...]]) -> None:
    sheet.append(header)
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    for row in rows:
        sheet.append(row)
    for column, width in _WIDTHS.items():
        sheet.column_dimensions[column].width = width
    for line in sheet.iter_rows(min_row=2):
        for cell in line:
            cell.alignment = Alignment(wrap_text=True, vertical="top")
    sheet.freeze_panes = "A2"


def _custom(book: Workbook) -> CustomPropertyList[Any]:
    props: CustomPropertyList[Any] = book.custom_doc_props  # type: ignore[attr-defined]  # not in types-openpyxl
    return props


def _open(path: Path | IO[bytes]) -> Workbook:
    try:
        return load_workbook(path, read_only=False)
    except (OSError, BadZipFile, KeyError, ValueError) as exc:
        raise ReportFileError(f"{path}: cannot read the XLSX report: {exc}") from exc


def stamp(path: Path) -> Stamp:
    props = {prop.name: str(prop.value) for prop in _custom(_open(path)).props}
    if ID_PROPERTY not in props or SM3_PROPERTY not in props:
        raise ReportFileError(f"{path}: no {ID_PROPERTY}/{SM3_PROPERTY} properties: "
                              "not a report egovops wrote")
    return Stamp(props[ID_PROPERTY], props[SM3_PROPERTY])


def differences(path: Path, report: Report) -> list[str]:
    """Cell by cell against the workbook the stored assessment renders to."""
    expected = BytesIO()
    write(report, expected)
    found, want = _values(_open(path)), _values(_open(expected))
    if list(found) != list(want):
        return [f"sheets {list(found)} differ from {list(want)}"]
    return [
        f"{name}!{cell}: the file has {value!r}, the stored assessment gives {want[name].get(cell)!r}"
        for name, cells in found.items()
        for cell, value in {**{c: None for c in want[name]}, **cells}.items()
        if want[name].get(cell) != value
    ]


def _values(book: Workbook) -> dict[str, dict[str, object]]:
    return {sheet.title: {cell.coordinate: cell.value for row in sheet.iter_rows() for cell in row
                          if cell.value is not None}
            for sheet in book.worksheets}


FORMAT = Format("xlsx", write, stamp, differences)
