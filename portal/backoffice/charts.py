"""The shop page's chart of personalised tickets over time, as coordinates for an inline SVG.

Server-rendered, with presentation attributes only (the CSP allows no inline style or
script); the page gives the same numbers as text beside it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from portal.services.progress import Progress

WIDTH, HEIGHT = 360, 200
LEFT, RIGHT, TOP, BOTTOM = 36, 12, 22, 30


@dataclass(frozen=True)
class Chart:
    """Everything the template draws, in the SVG's own units."""

    width: int
    height: int
    #: The baseline and the top of the plot (the total number of tickets).
    x0: float
    x1: float
    y0: float
    y_total: float
    #: The step line of tickets personalised by the end of each day so far, and the area under it.
    line: str
    area: str
    #: Where today is, when it lies within the chart.
    today_x: float | None
    start: date
    end: date
    #: Personalised by the end of each day so far: the table beside the chart.
    days: list[tuple[date, int]]


def progress_chart(progress: Progress, *, end: date, today: date) -> Chart:
    """Personalised tickets from the first order's day to `end` (the deadline's, or the event's), drawn up to today."""
    days = progress.cumulative(min(today, end))
    start = days[0][0] if days else min(today, end)
    span = (end - start).days + 1
    plot_width, plot_height = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    total = max(progress.total, 1)

    def x(day: date) -> float:
        return round(LEFT + (day - start).days / span * plot_width, 1)

    def y(count: int) -> float:
        return round(TOP + plot_height - count / total * plot_height, 1)

    points = [(x(start), y(0))]
    for day, count in days:
        points.append((points[-1][0], y(count)))
        points.append((x(day + timedelta(days=1)), y(count)))
    line = " ".join(f"{px},{py}" for px, py in points)
    area = f"{line} {points[-1][0]},{y(0)} {x(start)},{y(0)}"
    return Chart(
        width=WIDTH,
        height=HEIGHT,
        x0=x(start),
        x1=x(end + timedelta(days=1)),
        y0=y(0),
        y_total=y(progress.total),
        line=line,
        area=area,
        today_x=x(today) if start <= today <= end else None,
        start=start,
        end=end,
        days=days,
    )
