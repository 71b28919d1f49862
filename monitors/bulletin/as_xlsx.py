"""The bulletin as XLSX (openpyxl): one sheet per section with the same cells as the PDF, figures kept
as numbers where a reader would compute with them, and openpyxl's native charts (the ranking as bars,
the trend as lines) so Excel / WPS redraw them from the cells."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from openpyxl import Workbook
from openpyxl.chart import BarChart, LineChart, Reference
from openpyxl.styles import Alignment, Font
from openpyxl.worksheet.worksheet import Worksheet

from monitors.bulletin import layout
from monitors.bulletin.gather import Bulletin

if TYPE_CHECKING:
    from secops.drills.history import Run

OVERVIEW, INDICATORS, RANKING, SECURITY, DRILLS, ASSESSMENTS, TREND = (
    "概况", "主要指标", "利用率排名", "安全态势", "攻防演练", "等保测评", "指标趋势",
)  # fmt: skip


def write(bulletin: Bulletin, path: Path) -> None:
    book = Workbook()
    sheet = book.active
    assert sheet is not None  # a new workbook always has one sheet
    sheet.title = OVERVIEW
    _fill(sheet, ("项目", "内容"), [(layout.TITLE, bulletin.month.zh), *layout.overview(bulletin)])
    _fill(book.create_sheet(INDICATORS), layout.INDICATOR_COLUMNS,
          [layout.indicator_cells(r) for r in bulletin.indicators] or [(layout.NO_ESTATE,)])  # fmt: skip
    _ranking(book.create_sheet(RANKING), bulletin)
    _fill(book.create_sheet(SECURITY), layout.SECURITY_COLUMNS, layout.security_rows(bulletin))
    note = layout.drills_note(bulletin)
    _fill(book.create_sheet(DRILLS), ("情况",) if note else layout.DRILL_COLUMNS,
          [(note,)] if note else [_drill_row(run) for run in bulletin.drills or []])  # fmt: skip
    assessments = book.create_sheet(ASSESSMENTS)
    _fill(assessments, ("类别", *layout.ASSESSMENT_COLUMNS),
          [("本月完成", *layout.assessment_cells(a)) for a in bulletin.done]
          + [("到期待测", *layout.assessment_cells(a)) for a in bulletin.due])  # fmt: skip
    _trend(book.create_sheet(TREND), bulletin)
    book.properties.title = f"{layout.TITLE}（{bulletin.month.zh}）"
    book.save(path)


def _drill_row(run: Run) -> tuple[object, ...]:
    """Score, change and coverage as numbers."""
    return (run.scenario, run.started.strftime("%Y-%m-%d %H:%M"), run.score, run.score_delta, run.coverage,
            run.false_positives)  # fmt: skip


def _ranking(sheet: Worksheet, bulletin: Bulletin) -> None:
    """The ranking with the utilisation as numbers (percent format) and a bar chart with the target."""
    header = ("排名", "部门", "vCPU利用率", "内存利用率", "存储利用率", "综合利用率", "目标")
    target = bulletin.ranking_target
    rows = [(u.rank, u.title, u.ratios["vcpu"], u.ratios["memory"], u.ratios["storage"], u.overall, target)
            for u in bulletin.ranking]  # fmt: skip
    _fill(sheet, header, rows)
    for line in sheet.iter_rows(min_row=2, min_col=3, max_col=7):
        for cell in line:
            cell.number_format = "0.0%"
    if not rows:
        return
    chart = BarChart()
    chart.type, chart.title, chart.style = "bar", "各部门综合利用率（目标线）", 10
    chart.y_axis.number_format = "0%"
    chart.add_data(Reference(sheet, min_col=6, min_row=1, max_row=len(rows) + 1), titles_from_data=True)
    chart.set_categories(Reference(sheet, min_col=2, min_row=2, max_row=len(rows) + 1))
    chart.x_axis.scaling.orientation = "maxMin"  # best at the top, as in the table
    if target is not None:
        target_line = LineChart()
        target_line.add_data(
            Reference(sheet, min_col=7, min_row=1, max_row=len(rows) + 1), titles_from_data=True
        )
        chart += target_line
    chart.height, chart.width = max(7.5, 0.6 * len(rows)), 18
    sheet.add_chart(chart, "I2")


def _trend(sheet: Worksheet, bulletin: Bulletin) -> None:
    """Months down, one column per indicator (ratios), and a line chart over them."""
    months = sorted({m for s in bulletin.trend for m, _ in s.points})
    values = [dict(s.points) for s in bulletin.trend]
    _fill(sheet, ("月份", *(s.name for s in bulletin.trend)),
          [(m, *(v.get(m) for v in values)) for m in months])  # fmt: skip
    for line in sheet.iter_rows(min_row=2, min_col=2):
        for cell in line:
            cell.number_format = "0.0%"
    if not months:
        return
    chart = LineChart()
    chart.title, chart.y_axis.number_format = "指标月度趋势", "0%"
    chart.add_data(Reference(sheet, min_col=2, max_col=len(values) + 1, min_row=1, max_row=len(months) + 1),
                   titles_from_data=True)  # fmt: skip
    chart.set_categories(Reference(sheet, min_col=1, min_row=2, max_row=len(months) + 1))
    sheet.add_chart(chart, "J2")


def _fill(sheet: Worksheet, header: Sequence[str], rows: Iterable[Sequence[object]]) -> None:
    sheet.append(list(header))
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    for row in rows:
        sheet.append(list(row))
    for column in "ABCDEFGH":
        sheet.column_dimensions[column].width = 16
    sheet.column_dimensions["A"].width = 28
    for line in sheet.iter_rows(min_row=2):
        for cell in line:
            cell.alignment = Alignment(wrap_text=True, vertical="top")
    sheet.freeze_panes = "A2"
