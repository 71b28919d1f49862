"""The bulletin's two charts as SVG, drawn server-side from Jinja2 templates (no plotting library):
the departments' utilisation ranking (horizontal bars, the target as a dashed line) and the indicators'
monthly trend (one line per indicator). The geometry is computed here; the templates only place it."""

from __future__ import annotations

from dataclasses import dataclass

from jinja2 import Environment, PackageLoader, select_autoescape

from monitors.bulletin.gather import Series
from monitors.departments import Utilisation

WIDTH = 640
LABEL = 150
"""Room for the department names left of the bars."""
BAR, GAP = 16, 6
PLOT_HEIGHT = 220
COLOURS = ("#1f5fa8", "#c0392b", "#27884b", "#d68910", "#7d3c98", "#148f77", "#555555")


@dataclass(frozen=True)
class Bar:
    y: float
    width: float
    label: str
    value: str
    below: bool


def environment() -> Environment:
    return Environment(
        loader=PackageLoader("monitors.bulletin", "templates"),
        autoescape=select_autoescape(["svg.j2", "html.j2"], default_for_string=True),
    )


def _scale(values: list[float], target: float | None) -> float:
    """The axis maximum: 100 % unless a value or the target goes beyond it."""
    return max([1.0, *values, *([target] if target is not None else [])])


def ranking_svg(ranking: list[Utilisation], target: float | None) -> str:
    """Bars of each department's overall utilisation, best first, with the target line."""
    values = [u.overall or 0.0 for u in ranking]
    top = _scale(values, target)
    span = WIDTH - LABEL - 60
    bars = [
        Bar(30 + i * (BAR + GAP), span * value / top, f"{u.rank}. {u.title}", f"{value:.1%}",
            target is not None and value < target)
        for i, (u, value) in enumerate(zip(ranking, values, strict=True))
    ]  # fmt: skip
    height = 40 + max(1, len(bars)) * (BAR + GAP)
    return environment().get_template("ranking.svg.j2").render(
        width=WIDTH, height=height, left=LABEL, span=span, bar=BAR, bars=bars,
        target_x=LABEL + span * target / top if target is not None else None,
        target_label=f"目标 {target:.0%}" if target is not None else "", empty=not bars,
    )  # fmt: skip


def trend_svg(series: list[Series]) -> str:
    """One line per indicator over the months of history (ratios, 0–100 %)."""
    months = sorted({m for s in series for m, _ in s.points})
    left, top_margin, span = 50, 20, WIDTH - 50 - 170
    step = span / max(1, len(months) - 1)
    top = _scale([v for s in series for _, v in s.points], None)

    def x(month: str) -> float:
        return left + step * months.index(month) if len(months) > 1 else left + span / 2

    def y(value: float) -> float:
        return top_margin + PLOT_HEIGHT * (1 - value / top)

    lines = [
        {"name": s.name, "colour": COLOURS[i % len(COLOURS)],
         "points": [(round(x(m), 1), round(y(v), 1)) for m, v in s.points]}
        for i, s in enumerate(series)
    ]  # fmt: skip
    ticks = [(round(y(top * k / 4), 1), f"{top * k / 4:.0%}") for k in range(5)]
    return environment().get_template("trend.svg.j2").render(
        width=WIDTH, height=PLOT_HEIGHT + 60, left=left, right=left + span, bottom=top_margin + PLOT_HEIGHT,
        lines=lines, ticks=ticks, months=[(round(x(m), 1), m) for m in months], empty=not lines,
    )  # fmt: skip
