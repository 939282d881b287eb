"""Charts drawn on the server as SVG: the geometry is computed here, the template draws
it (no script, no inline style: the bars take their colours from console.css classes).
Every chart is also given as a table of its numbers, its text alternative."""

from collections.abc import Callable
from dataclasses import dataclass, field

# Vertical bars: incidents by month beside the same months a year earlier.
COLUMN_WIDTH = 640
COLUMN_HEIGHT = 240
COLUMN_TOP = 24  # room for the legend
COLUMN_BOTTOM = 28  # room for the month labels
COLUMN_LEFT = 8
# Horizontal bars: one row per category or team kind.
ROW_HEIGHT = 26
ROW_LABEL_WIDTH = 220
ROW_NUMBER_WIDTH = 56
ROW_WIDTH = 640


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    value: str  # the number as the reader reads it (Vietnamese formats)
    css: str  # "bar-current" or "bar-previous"
    label_x: float = 0.0
    label_y: float = 0.0


@dataclass
class ColumnChart:
    """Groups of two bars (this period, a year earlier) under a label each."""

    width: int
    height: int
    bars: list[Bar] = field(default_factory=list)
    labels: list[tuple[float, float, str]] = field(default_factory=list)
    baseline: float = 0.0


@dataclass
class RowChart:
    """One row per item: its label, and one or two bars with their numbers."""

    width: int
    height: int
    bars: list[Bar] = field(default_factory=list)
    labels: list[tuple[float, float, str]] = field(default_factory=list)


def _scale(values: list[float]) -> float:
    top = max(values, default=0)
    return top if top > 0 else 1


def column_chart(
    groups: list[tuple[str, int, int]], fmt: Callable[[int], str] = str
) -> ColumnChart:
    """``groups``: (label, this period, a year earlier)."""
    plot_height = COLUMN_HEIGHT - COLUMN_TOP - COLUMN_BOTTOM
    baseline = COLUMN_TOP + plot_height
    chart = ColumnChart(COLUMN_WIDTH, COLUMN_HEIGHT, baseline=baseline)
    if not groups:
        return chart
    top = _scale([v for _, current, previous in groups for v in (current, previous)])
    slot = (COLUMN_WIDTH - COLUMN_LEFT) / len(groups)
    bar_width = min(22.0, slot * 0.38)
    for index, (label, current, previous) in enumerate(groups):
        centre = COLUMN_LEFT + slot * index + slot / 2
        for offset, value, css in (
            (-bar_width, previous, "bar-previous"),
            (0, current, "bar-current"),
        ):
            height = plot_height * value / top
            x = centre + offset
            chart.bars.append(
                Bar(
                    x=round(x, 1),
                    y=round(baseline - height, 1),
                    width=round(bar_width, 1),
                    height=round(height, 1),
                    value=fmt(value),
                    css=css,
                    label_x=round(x + bar_width / 2, 1),
                    label_y=round(baseline - height - 3, 1),
                )
            )
        chart.labels.append((round(centre, 1), baseline + 16, label))
    return chart


def row_chart(
    rows: list[tuple[str, list[tuple[int, str]]]], fmt: Callable[[int], str] = str
) -> RowChart:
    """``rows``: (label, [(value, css), …]) with one or two bars a row."""
    per_row = max((len(bars) for _, bars in rows), default=1)
    row_height = ROW_HEIGHT if per_row == 1 else ROW_HEIGHT + 8
    chart = RowChart(ROW_WIDTH, max(row_height * len(rows) + 8, row_height))
    top = _scale([value for _, bars in rows for value, _ in bars])
    plot = ROW_WIDTH - ROW_LABEL_WIDTH - ROW_NUMBER_WIDTH
    thickness = (row_height - 8) / per_row
    for index, (label, bars) in enumerate(rows):
        y0 = 4 + index * row_height
        chart.labels.append((ROW_LABEL_WIDTH - 6, round(y0 + (row_height - 8) / 2 + 4, 1), label))
        for position, (value, css) in enumerate(bars):
            width = plot * value / top
            y = y0 + position * thickness
            chart.bars.append(
                Bar(
                    x=ROW_LABEL_WIDTH,
                    y=round(y, 1),
                    width=round(width, 1),
                    height=round(thickness - 1, 1),
                    value=fmt(value),
                    css=css,
                    label_x=round(ROW_LABEL_WIDTH + width + 4, 1),
                    label_y=round(y + thickness - 3, 1),
                )
            )
    return chart
