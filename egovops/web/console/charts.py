"""Server-rendered charts: geometry computed here, drawn as SVG by the templates (so every label is
escaped like any other text, and the browser runs no chart library)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

PALETTE = ("#1f6feb", "#d9480f", "#2f9e44", "#ae3ec9", "#f59f00", "#0c8599", "#e03131", "#5c940d")
ROW = 22
"""Height of one bar of a bar chart, in SVG units."""


@dataclass(frozen=True)
class Bar:
    label: str
    value: int
    y: int
    width: float


@dataclass(frozen=True)
class BarChart:
    bars: list[Bar]
    width: int
    height: int
    label_width: int


def bar_chart(items: Sequence[tuple[str, int]], width: int = 520, label_width: int = 160) -> BarChart:
    """Horizontal bars, longest for the largest value; labels on the left."""
    top = max((value for _label, value in items), default=0) or 1
    room = width - label_width - 60
    bars = [Bar(label, value, i * ROW, room * value / top) for i, (label, value) in enumerate(items)]
    return BarChart(bars, width, max(len(bars), 1) * ROW, label_width)


@dataclass(frozen=True)
class Line:
    name: str
    colour: str
    points: str
    total: int


@dataclass(frozen=True)
class Tick:
    x: float
    label: str


@dataclass(frozen=True)
class TimeChart:
    lines: list[Line]
    ticks: list[Tick]
    width: int
    height: int
    top: int


def time_chart(
    per_day: Mapping[str, Mapping[str, int]], days: int = 30, width: int = 640, height: int = 180
) -> TimeChart:
    """One line per dataset over the last `days` days that have events (x: day, y: events that day)."""
    shown = sorted(per_day)[-days:]
    datasets = sorted({name for day in shown for name in per_day[day]})
    top = max((n for day in shown for n in per_day[day].values()), default=0) or 1
    step = (width - 70) / max(len(shown) - 1, 1)  # room for the axis label left, a date label right

    def point(index: int, value: int) -> str:
        return f"{30 + index * step:.1f},{height - 20 - (height - 40) * value / top:.1f}"

    lines = [
        Line(
            name,
            PALETTE[n % len(PALETTE)],
            " ".join(point(i, per_day[day].get(name, 0)) for i, day in enumerate(shown)),
            sum(per_day[day].get(name, 0) for day in shown),
        )
        for n, name in enumerate(datasets)
    ]
    every = max(len(shown) // 6, 1)
    ticks = [Tick(30 + i * step, day[5:]) for i, day in enumerate(shown) if i % every == 0]
    return TimeChart(lines, ticks, width, height, top)
