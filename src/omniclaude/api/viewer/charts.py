"""Bar charts as data for the viewer's SVG: bars, value labels and labelled axes. Pure.

The template draws what :func:`bar_chart` returns in a fixed ``viewBox`` scaled without
distortion, so text stays readable at any width (a phone's included).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from omniclaude.storage.queries import Overview

__all__ = ["Bar", "BarChart", "Tick", "bar_chart", "nice_ceiling", "overview_charts"]

WIDTH = 640
HEIGHT = 220
LEFT, RIGHT, TOP, BOTTOM = 48, 12, 22, 40
"""Margins of the plot area: y labels on the left, x labels and the axis title below."""


@dataclass(frozen=True, slots=True)
class Bar:
    """One bar: its box, its value, what its tooltip says and whether its value is printed."""

    x: float
    y: float
    width: float
    height: float
    value: int
    title: str
    labelled: bool
    warn: bool = False

    @property
    def label_x(self) -> float:
        """Where the value label is centred."""
        return round(self.x + self.width / 2, 2)


@dataclass(frozen=True, slots=True)
class Tick:
    """A labelled position on an axis."""

    at: float
    text: str


@dataclass(slots=True)
class BarChart:
    """Everything an SVG bar chart draws."""

    title: str
    x_title: str
    y_title: str
    bars: list[Bar] = field(default_factory=list)
    y_ticks: list[Tick] = field(default_factory=list)
    x_ticks: list[Tick] = field(default_factory=list)
    width: int = WIDTH
    height: int = HEIGHT
    left: int = LEFT
    top: int = TOP
    bottom: float = HEIGHT - BOTTOM
    right: float = WIDTH - RIGHT


def nice_ceiling(value: float) -> int:
    """The smallest of 1, 2, 2.5, 5 times 10^n at or above ``value`` (an axis' top)."""
    if value <= 1:
        return 1
    power = 10.0 ** math.floor(math.log10(value))
    for step in (1.0, 2.0, 2.5, 5.0):
        if step * power >= value:
            return max(1, math.ceil(step * power))
    return math.ceil(10 * power)


def bar_chart(
    values: Sequence[int],
    labels: Sequence[str],
    *,
    title: str,
    x_title: str,
    y_title: str,
    x_tick_every: int = 1,
    label_values: str = "all",
    warn: Sequence[bool] | None = None,
) -> BarChart:
    """Lay out a bar chart.

    Args:
        values: one count per bar.
        labels: one x label per bar (also in its tooltip).
        title: what the chart shows (its accessible name).
        x_title: the x axis' title.
        y_title: the y axis' title (with its unit).
        x_tick_every: print every n-th x label (and the last).
        label_values: ``all`` bars print their value, or only the ``peak`` and the last one.
        warn: bars to draw in the warning colour.
    """
    chart = BarChart(title=title, x_title=x_title, y_title=y_title)
    top = nice_ceiling(max(values, default=0))
    plot_w = chart.right - chart.left
    plot_h = chart.bottom - chart.top
    n = max(len(values), 1)
    slot = plot_w / n
    peak = max(range(len(values)), key=lambda i: values[i], default=-1)
    for i, (value, label) in enumerate(zip(values, labels, strict=True)):
        height = plot_h * value / top
        labelled = label_values == "all" or (value > 0 and i in {peak, len(values) - 1})
        chart.bars.append(
            Bar(
                x=round(chart.left + i * slot + slot * 0.1, 2),
                y=round(chart.bottom - height, 2),
                width=round(slot * 0.8, 2),
                height=round(height, 2),
                value=value,
                title=f"{label}: {value}",
                labelled=labelled,
                warn=bool(warn[i]) if warn is not None else False,
            )
        )
        if i % x_tick_every == 0 or i == len(values) - 1:
            chart.x_ticks.append(Tick(round(chart.left + (i + 0.5) * slot, 2), label))
    for fraction in (0.0, 0.5, 1.0):
        tick = top * fraction
        text = f"{tick:g}" if tick != int(tick) else str(int(tick))
        chart.y_ticks.append(Tick(round(chart.bottom - plot_h * fraction, 2), text))
    return chart


LOW_CONFIDENCE = 0.6
"""Routing confidence at or below this is drawn in the warning colour (the router's floor)."""


def overview_charts(found: Overview) -> dict[str, BarChart]:
    """The overview's two charts: events per minute, and routing decisions per confidence."""
    activity = bar_chart(
        [b.events for b in found.activity],
        [b.start.strftime("%H:%M") for b in found.activity],
        title="Events per minute, the last hour", x_title="minute (UTC)",
        y_title="events / min", x_tick_every=10, label_values="peak",
    )  # fmt: skip
    confidence = bar_chart(
        [b.decisions for b in found.confidence],
        [f"{b.low:.1f}" for b in found.confidence],
        title="Routing decisions per confidence bucket", x_title="confidence (from)",
        y_title="decisions", warn=[b.high <= LOW_CONFIDENCE for b in found.confidence],
    )  # fmt: skip
    return {"activity_chart": activity, "confidence_chart": confidence}
