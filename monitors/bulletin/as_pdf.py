"""The bulletin as PDF: HTML from the Jinja2 template, laid out by WeasyPrint with the Noto CJK fonts (as
the 测评 reports are), the two charts embedded as SVG images."""

from __future__ import annotations

from base64 import b64encode
from pathlib import Path

from monitors.bulletin import layout
from monitors.bulletin.charts import environment, ranking_svg, trend_svg
from monitors.bulletin.gather import Bulletin


def _data_uri(svg: str) -> str:
    return "data:image/svg+xml;base64," + b64encode(svg.encode()).decode()


def html(bulletin: Bulletin) -> str:
    target = bulletin.ranking_target
    note = (f"目标线：利用率 {target:.0%}（estate cloud.targets）；红色为未达标部门。" if target is not None
            else "estate 未设利用率目标。") + f" 计量日期 {bulletin.metered_at or '—'}。"  # fmt: skip
    return environment().get_template("bulletin.html.j2").render(
        title=layout.TITLE, bulletin=bulletin, sections=layout.SECTIONS, overview=layout.overview(bulletin),
        keywords=f"egovops bulletin {bulletin.month}", created=bulletin.month.last_day.isoformat(),
        indicators=[layout.indicator_cells(r) for r in bulletin.indicators],
        indicator_columns=layout.INDICATOR_COLUMNS, trend_svg=_data_uri(trend_svg(bulletin.trend)),
        ranking=[layout.ranking_cells(r, target) for r in bulletin.ranking],
        ranking_columns=layout.RANKING_COLUMNS, ranking_note=note,
        ranking_svg=_data_uri(ranking_svg(bulletin.ranking, target)),
        security=layout.security_rows(bulletin), security_columns=layout.SECURITY_COLUMNS,
        drills_note=layout.drills_note(bulletin), drill_columns=layout.DRILL_COLUMNS,
        drills=[layout.drill_cells(run) for run in bulletin.drills or []], no_estate=layout.NO_ESTATE,
        done=[layout.assessment_cells(a) for a in bulletin.done],
        due=[layout.assessment_cells(a) for a in bulletin.due], assessment_columns=layout.ASSESSMENT_COLUMNS,
    )  # fmt: skip


def write(bulletin: Bulletin, path: Path) -> None:
    from weasyprint import HTML  # type: ignore[import-untyped]  # WeasyPrint ships no type hints

    HTML(string=html(bulletin)).write_pdf(path)
