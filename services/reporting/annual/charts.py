"""Server-side SVG charts for the annual report: plain vector graphics that print crisply in the
PDF and need no JavaScript. Every bar carries its full label (wrapped over as many lines as it
needs, never cut) and its value; withheld figures say so."""

from __future__ import annotations

import textwrap
from dataclasses import dataclass
from xml.sax.saxutils import escape

WIDTH = 720
LABEL_WIDTH = 300
VALUE_WIDTH = 90
BAR_AREA = WIDTH - LABEL_WIDTH - VALUE_WIDTH
ROW = 20
HEADER_ROW = 24
LINE = 13  # baseline to baseline of wrapped label lines (11px type)
# What fits in the label column at 11px DejaVu Sans (about 6.6px a character, capitals wider),
# and across the whole chart for group headings.
LABEL_CHARS = 46
HEADING_CHARS = 100
FONT = "DejaVu Sans, Arial, sans-serif"
ATTRIBUTE = {'"': "&quot;"}  # a title (catalogue text) must not close its attribute
BAR_COLOUR = "#1f5fa8"
PERIOD_COLOURS = ["#9ecae1", "#4292c6", "#08519c", "#08306b", "#6baed6", "#2171b5"]


@dataclass(frozen=True)
class Bar:
    label: str
    rate: float | None
    note: str = ""


def _text(x: float, y: float, content: str, **attrs: str) -> str:
    extra = "".join(f' {k.replace("_", "-")}="{v}"' for k, v in attrs.items())
    return f'<text x="{x:.1f}" y="{y:.1f}"{extra}>{escape(content)}</text>'


def wrap(label: str, width: int = LABEL_CHARS) -> list[str]:
    """The label in lines of at most ``width`` characters, split at spaces where it can."""
    return textwrap.wrap(label, width, break_on_hyphens=False) or [""]


def _lines(x: float, first_baseline: float, lines: list[str], **attrs: str) -> str:
    """One text element, one tspan a line: the whole label stays one piece of text."""
    extra = "".join(f' {k.replace("_", "-")}="{v}"' for k, v in attrs.items())
    spans = "".join(
        f'<tspan x="{x:.1f}" dy="{0 if i == 0 else LINE}">{escape(line)}</tspan>'
        for i, line in enumerate(lines)
    )
    return f'<text x="{x:.1f}" y="{first_baseline:.1f}"{extra}>{spans}</text>'


def _label_height(lines: list[str]) -> float:
    return (len(lines) - 1) * LINE


def _axis(top: float, bottom: float) -> list[str]:
    parts = []
    for tick in (0, 25, 50, 75, 100):
        x = LABEL_WIDTH + BAR_AREA * tick / 100
        parts.append(
            f'<line x1="{x:.1f}" y1="{top:.1f}" x2="{x:.1f}" y2="{bottom:.1f}" '
            f'stroke="#d0d0d0" stroke-width="0.6"/>'
        )
        parts.append(_text(x, bottom + 12, f"{tick}%", text_anchor="middle", fill="#555"))
    return parts


def _bar(y: float, bar: Bar, colour: str = BAR_COLOUR, height: float = ROW - 6) -> list[str]:
    """A bar and its value at ``y``; its label, if any, is the first element, centred on it."""
    parts = []
    if bar.label:
        lines = wrap(bar.label)
        first = y + height - 3 - _label_height(lines) / 2
        parts.append(_lines(LABEL_WIDTH - 6, first, lines, text_anchor="end"))
    if bar.rate is None:
        parts.append(
            _text(
                LABEL_WIDTH + 4,
                y + height - 3,
                bar.note or "withheld",
                fill="#777",
                font_style="italic",
            )
        )
        return parts
    length = max(BAR_AREA * bar.rate, 0.8)
    parts.append(
        f'<rect x="{LABEL_WIDTH}" y="{y:.1f}" width="{length:.1f}" height="{height:.1f}" '
        f'fill="{colour}"/>'
    )
    parts.append(_text(LABEL_WIDTH + length + 4, y + height - 3, f"{bar.rate * 100:.0f}%"))
    return parts


def _bar_row(y: float, bar: Bar) -> tuple[list[str], float]:
    """A labelled bar in a row tall enough for its wrapped label; returns the row's height."""
    extra = _label_height(wrap(bar.label))
    return _bar(y + extra / 2, bar), ROW + extra


def _svg(height: float, body: list[str], title: str) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {height:.0f}" '
        f'width="100%" role="img" aria-label="{escape(title, ATTRIBUTE)}" font-family="{FONT}" '
        f'font-size="11">'
        f"<title>{escape(title)}</title>" + "".join(body) + "</svg>"
    )


def grouped_bar_chart(title: str, groups: list[tuple[str, list[Bar]]]) -> str:
    """Horizontal bars grouped under bold headings (compliance points under their cluster)."""
    body: list[str] = []
    y = 6.0
    top = y
    for heading, bars in groups:
        lines = wrap(heading, HEADING_CHARS)
        body.append(_lines(6, y + 15, lines, font_weight="bold"))
        y += HEADER_ROW + _label_height(lines)
        for bar in bars:
            parts, height = _bar_row(y, bar)
            body.extend(parts)
            y += height
    body = _axis(top, y) + body
    return _svg(y + 20, body, title)


def bar_chart(title: str, bars: list[Bar]) -> str:
    body: list[str] = []
    y = 6.0
    for bar in bars:
        parts, height = _bar_row(y, bar)
        body.extend(parts)
        y += height
    return _svg(y + 20, _axis(6.0, y) + body, title)


def period_chart(title: str, periods: list[str], rows: list[tuple[str, list[float | None]]]) -> str:
    """One group of thin bars per row (cluster), one bar per period, with a legend."""
    body: list[str] = []
    legend_y = 14.0
    x = LABEL_WIDTH
    for index, period in enumerate(periods):
        colour = PERIOD_COLOURS[index % len(PERIOD_COLOURS)]
        body.append(f'<rect x="{x}" y="{legend_y - 9}" width="10" height="10" fill="{colour}"/>')
        body.append(_text(x + 14, legend_y, period))
        x += 24 + 7 * len(period)
    y = legend_y + 12
    top = y
    bar_height = 9.0
    for label, values in rows:
        lines = wrap(label)
        bars_height = len(values) * (bar_height + 2)
        # A long label gets a taller group; the bars sit in its middle.
        group_top = y
        y += max(0.0, _label_height(lines) + LINE - bars_height) / 2
        for index, value in enumerate(values):
            colour = PERIOD_COLOURS[index % len(PERIOD_COLOURS)]
            bar = Bar("", value, "withheld" if value is None else "")
            # The row label is drawn once for the group; values in a smaller type.
            body.append('<g font-size="8">' + "".join(_bar(y, bar, colour, bar_height)) + "</g>")
            y += bar_height + 2
        y = max(y, group_top + _label_height(lines) + LINE)
        middle = (group_top + y) / 2 + 4
        body.append(
            _lines(LABEL_WIDTH - 6, middle - _label_height(lines) / 2, lines, text_anchor="end")
        )
        y += 8
    return _svg(y + 20, _axis(top, y) + body, title)
