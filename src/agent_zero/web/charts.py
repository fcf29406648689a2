"""Server-rendered SVG charts for the admin dashboard: pure functions, standard library only.

Every chart is one ``<svg role="img">`` element labelled by its own ``<title>`` and ``<desc>``.
The page's Content-Security-Policy forbids inline styles, so the markup uses presentation
attributes (``fill=``, ``font-size=``) and ``chart-*`` classes that the page CSS may override.
All text is escaped: labels come from user data such as principal ids.
"""

from __future__ import annotations

import hashlib
import html
import math
import re
from collections.abc import Mapping, Sequence

__all__ = [
    "DEFAULT_PALETTE",
    "EMPTY_MESSAGE",
    "OUTCOME_COLORS",
    "RISK_COLORS",
    "TEXT_COLOR",
    "format_duration",
    "horizontal_bars",
    "nice_ticks",
    "stacked_bars",
]

EMPTY_MESSAGE = "No requests in this period."
TEXT_COLOR = "#1f2937"

# Okabe-Ito hues (distinguishable with the common colour-vision deficiencies), darkened where
# needed so that each reaches WCAG's 3:1 non-text contrast against a white background.
DEFAULT_PALETTE: tuple[str, ...] = (
    "#009E73",  # bluish green
    "#D55E00",  # vermillion
    "#0072B2",  # blue
    "#C0609A",  # reddish purple
    "#8C6D00",  # ochre
    "#6B7280",  # grey
)
OUTCOME_COLORS: Mapping[str, str] = {
    "approved": "#009E73",
    "denied": "#D55E00",
    "pending": "#0072B2",
    "revoked": "#C0609A",
    "failed": "#8C6D00",
    "received": "#6B7280",
}
RISK_COLORS: Mapping[str, str] = {
    "low": "#009E73",
    "medium": "#8C6D00",
    "high": "#D55E00",
    "critical": "#882255",
}

_SVG_NS = "http://www.w3.org/2000/svg"
_FONT_SIZE = 12
_CHAR_WIDTH = 7  # a generous average advance for 12px sans-serif text
_GRID_COLOR = "#e5e7eb"
_AXIS_COLOR = "#9ca3af"
_LEGEND_ROW = 18
_SWATCH = 12
_MAX_INTERVALS = 5
_MAX_BAR_WIDTH = 56.0
_HEX_COLOR = re.compile(r"#(?:[0-9a-fA-F]{3}|[0-9a-fA-F]{6})")
_CHART_ID = re.compile(r"[A-Za-z][A-Za-z0-9_-]{0,63}")
# Characters that XML 1.0 forbids even as character references; one in a label would make the
# whole document unparsable, so they are replaced rather than escaped.
_XML_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def stacked_bars(
    days: Sequence[str],
    series: Mapping[str, Sequence[int]],
    *,
    title: str,
    colors: Mapping[str, str] | None = None,
    width: int = 640,
    height: int = 240,
    chart_id: str | None = None,
) -> str:
    """Render a stacked vertical bar chart: one bar per day, stacked in ``series`` order.

    ``series`` maps each series name (an outcome, say) to one count per entry of ``days``; the
    first series sits at the bottom of every bar and first in the legend. ``colors`` overrides
    the default palette per series name (``#rgb`` or ``#rrggbb``). ``chart_id`` prefixes the
    element ids; by default it is derived from the content, so equal input gives equal output.
    Raises ``ValueError`` for a series of the wrong length, a negative count, a colour that is
    not a hex colour, or a size too small to lay out.
    """
    _check_size(width, height, min_width=200, min_height=120)
    for name, values in series.items():
        if len(values) != len(days):
            raise ValueError(
                f"series {name!r} has {len(values)} values for {len(days)} days",
            )
        if any(value < 0 for value in values):
            raise ValueError(f"series {name!r} has a negative count")
    fills = _series_colors(list(series), colors)
    ident = _identifier(
        chart_id, "stacked", title, tuple(days), tuple((k, tuple(v)) for k, v in series.items())
    )
    totals = {name: sum(values) for name, values in series.items()}
    grand_total = sum(totals.values())
    if not days or grand_total == 0:
        return _empty(ident, title, width, height)

    per_series = ", ".join(f"{name} {_count(total)}" for name, total in totals.items())
    desc = (
        f"{_count(grand_total)} {_plural(grand_total, 'request')} over "
        f"{len(days)} {_plural(len(days), 'day')}: {per_series}."
    )
    parts = [_open(ident, title, desc, width, height, "chart-stacked-bars")]

    legend, legend_height = _legend(list(series), fills, width)
    longest_day = max(len(day) for day in days) * _CHAR_WIDTH
    bar_max = max(sum(values[i] for values in series.values()) for i in range(len(days)))
    ticks = nice_ticks(bar_max)
    tick_width = max(len(_count(tick)) for tick in ticks) * _CHAR_WIDTH
    left = max(tick_width + 12, longest_day // 2)
    right = max(12, longest_day // 2)
    top = legend_height + 10
    bottom = 24
    baseline = height - bottom
    plot_width = width - left - right
    plot_height = baseline - top
    if plot_width < 40 or plot_height < 40:
        raise ValueError("the chart is too small for its labels and legend")
    scale = plot_height / ticks[-1]

    parts.append('<g class="chart-grid">')
    for tick in ticks:
        y = _num(baseline - tick * scale)
        parts.append(
            f'<line class="chart-gridline" x1="{left}" y1="{y}" x2="{width - right}" y2="{y}"'
            f' stroke="{_GRID_COLOR}" stroke-width="1"/>'
        )
        parts.append(
            f'<text class="chart-tick-label" x="{left - 6}" y="{y}" text-anchor="end"'
            f' dominant-baseline="middle"{_text_attrs()}>{_count(tick)}</text>'
        )
    parts.append("</g>")

    slot = plot_width / len(days)
    bar_width = min(_MAX_BAR_WIDTH, max(1.0, slot * 0.7))
    parts.append('<g class="chart-bars">')
    for index, day in enumerate(days):
        x = _num(left + index * slot + (slot - bar_width) / 2)
        parts.append(f'<g class="chart-bar" data-day="{_escape(day)}">')
        running = 0
        # Each edge is rounded from the running total, so the rounded segments stack exactly.
        lower = _round(baseline)
        for name, values in series.items():
            value = values[index]
            running += value
            upper = _round(baseline - running * scale)
            if value:
                parts.append(
                    f'<rect class="chart-segment" x="{x}" y="{_num(upper)}"'
                    f' width="{_num(bar_width)}" height="{_num(lower - upper)}"'
                    f' fill="{fills[name]}" stroke="#ffffff" stroke-width="1"'
                    f' data-series="{_escape(name)}" data-value="{value}">'
                    f"<title>{_escape(f'{day} · {name}: {_count(value)}')}</title></rect>"
                )
            lower = upper
        parts.append("</g>")
    parts.append("</g>")

    parts.append(
        f'<line class="chart-axis" x1="{left}" y1="{baseline}" x2="{width - right}"'
        f' y2="{baseline}" stroke="{_AXIS_COLOR}" stroke-width="1"/>'
    )
    # Show every step-th label so that the shown ones never overlap.
    fitting = max(1, math.floor(plot_width / (longest_day + 8)))
    step = math.ceil(len(days) / fitting)
    parts.append('<g class="chart-x-labels">')
    for index, day in enumerate(days):
        if index % step == 0:
            center = _num(left + (index + 0.5) * slot)
            parts.append(
                f'<text class="chart-axis-label" x="{center}" y="{baseline + 16}"'
                f' text-anchor="middle"{_text_attrs()}>{_escape(day)}</text>'
            )
    parts.append("</g>")
    parts.extend(legend)
    parts.append("</svg>")
    return "\n".join(parts)


def horizontal_bars(
    items: Sequence[tuple[str, int]],
    *,
    title: str,
    width: int = 640,
    bar_height: int = 22,
    color: str = DEFAULT_PALETTE[2],
    colors: Mapping[str, str] | None = None,
    chart_id: str | None = None,
) -> str:
    """Render labelled horizontal bars, in the given order, each with its value at its end.

    ``colors`` overrides ``color`` per label (the risk mix uses ``RISK_COLORS``, say). Labels
    too long for the label column are shortened with an ellipsis; the bar's tooltip keeps the
    whole label. ``chart_id`` is as for ``stacked_bars``. Raises ``ValueError`` for a negative
    value, a colour that is not a hex colour, or a size too small to lay out.
    """
    _check_size(width, bar_height, min_width=200, min_height=8)
    fill = _color(color)
    per_label = {label: _color(value) for label, value in (colors or {}).items()}
    if any(value < 0 for _, value in items):
        raise ValueError("a bar has a negative value")
    ident = _identifier(chart_id, "horizontal", title, tuple(items))
    total = sum(value for _, value in items)
    if not items or total == 0:
        return _empty(ident, title, width, max(80, 3 * bar_height))

    shown = ", ".join(f"{label} {_count(value)}" for label, value in items[:10])
    more = f", and {len(items) - 10} more" if len(items) > 10 else ""
    desc = f"{len(items)} {_plural(len(items), 'entry', 'entries')}, total {_count(total)}: "
    desc += f"{shown}{more}."
    gap = max(4, bar_height // 3)
    padding = 8
    height = 2 * padding + len(items) * bar_height + (len(items) - 1) * gap
    parts = [_open(ident, title, desc, width, height, "chart-horizontal-bars")]

    max_chars = max(4, (width * 2 // 5) // _CHAR_WIDTH)
    labels = [_truncate(label, max_chars) for label, _ in items]
    label_width = max(len(label) for label in labels) * _CHAR_WIDTH + 8
    largest = max(value for _, value in items)
    value_width = len(_count(largest)) * _CHAR_WIDTH + 8
    bar_left = label_width + 4
    bar_area = width - bar_left - value_width - padding
    if bar_area < 40:
        raise ValueError("the chart is too narrow for its labels")
    scale = bar_area / largest

    parts.append('<g class="chart-bars">')
    for index, ((label, value), shown_label) in enumerate(zip(items, labels, strict=True)):
        y = padding + index * (bar_height + gap)
        middle = _num(y + bar_height / 2)
        length = _round(value * scale)
        parts.append(f'<g class="chart-row" data-label="{_escape(label)}" data-value="{value}">')
        parts.append(f"<title>{_escape(f'{label}: {_count(value)}')}</title>")
        parts.append(
            f'<text class="chart-label" x="{label_width}" y="{middle}" text-anchor="end"'
            f' dominant-baseline="middle"{_text_attrs()}>{_escape(shown_label)}</text>'
        )
        parts.append(
            f'<rect class="chart-bar" x="{bar_left}" y="{y}" width="{_num(length)}"'
            f' height="{bar_height}" fill="{per_label.get(label, fill)}"/>'
        )
        parts.append(
            f'<text class="chart-value" x="{_num(bar_left + length + 6)}" y="{middle}"'
            f' dominant-baseline="middle"{_text_attrs()}>{_count(value)}</text>'
        )
        parts.append("</g>")
    parts.append("</g>")
    parts.append("</svg>")
    return "\n".join(parts)


def format_duration(seconds: float | None) -> str:
    """Format a duration for people: "0.4 s", "12 s", "3 min 5 s", "2 h 5 min", "1 d 3 h".

    ``None`` (nothing to measure) gives an em dash. Raises ``ValueError`` for a negative or
    non-finite duration, which would be a bug upstream rather than something to display.
    """
    if seconds is None:
        return "—"
    if not math.isfinite(seconds) or seconds < 0:
        raise ValueError(f"not a duration: {seconds!r}")
    tenths = round(seconds, 1)
    if tenths < 10:
        return f"{tenths:.1f} s"
    # Round at the unit being shown, so that 59.7 s reads "1 min" rather than "60 s".
    whole = round(seconds)
    if whole < 60:
        return f"{whole} s"
    if whole < 3600:
        minutes, rest = divmod(whole, 60)
        return f"{minutes} min {rest} s" if rest else f"{minutes} min"
    total_minutes = round(seconds / 60)
    if total_minutes < 24 * 60:
        hours, rest = divmod(total_minutes, 60)
        return f"{hours} h {rest} min" if rest else f"{hours} h"
    days, rest = divmod(round(seconds / 3600), 24)
    return f"{days} d {rest} h" if rest else f"{days} d"


def nice_ticks(max_value: int, *, max_intervals: int = _MAX_INTERVALS) -> list[int]:
    """Evenly spaced integer ticks from 0 that cover ``max_value``, at a step of 1, 2 or 5 x 10^n.

    The step is the smallest such number that needs at most ``max_intervals`` intervals.
    """
    if max_intervals < 1:
        raise ValueError("max_intervals must be at least 1")
    if max_value <= 0:
        return [0, 1]
    magnitude = 1
    while True:
        for factor in (1, 2, 5):
            step = factor * magnitude
            intervals = -(-max_value // step)
            if intervals <= max_intervals:
                return [i * step for i in range(intervals + 1)]
        magnitude *= 10


def _open(ident: str, title: str, desc: str, width: int, height: int, kind: str) -> str:
    return (
        f'<svg xmlns="{_SVG_NS}" class="chart {kind}" role="img"'
        f' aria-labelledby="{ident}-title {ident}-desc" viewBox="0 0 {width} {height}"'
        f' width="{width}" height="{height}" font-family="sans-serif">\n'
        f'<title id="{ident}-title">{_escape(title)}</title>\n'
        f'<desc id="{ident}-desc">{_escape(desc)}</desc>'
    )


def _empty(ident: str, title: str, width: int, height: int) -> str:
    return "\n".join(
        [
            _open(ident, title, EMPTY_MESSAGE, width, height, "chart-empty-state"),
            f'<text class="chart-empty" x="{_num(width / 2)}" y="{_num(height / 2)}"'
            f' text-anchor="middle" dominant-baseline="middle"{_text_attrs()}>'
            f"{_escape(EMPTY_MESSAGE)}</text>",
            "</svg>",
        ]
    )


def _legend(names: list[str], fills: Mapping[str, str], width: int) -> tuple[list[str], int]:
    """The legend's markup, wrapped into rows across the top, and the height it takes."""
    max_chars = max(4, (width - 40) // _CHAR_WIDTH)
    parts = ['<g class="chart-legend">']
    x, row = 12, 0
    for name in names:
        label = _truncate(name, max_chars)
        item_width = _SWATCH + 4 + len(label) * _CHAR_WIDTH + 16
        if x > 12 and x + item_width > width - 12:
            x, row = 12, row + 1
        y = 4 + row * _LEGEND_ROW
        parts.append(f'<g class="chart-legend-item" data-series="{_escape(name)}">')
        parts.append(
            f'<rect class="chart-swatch" x="{x}" y="{y}" width="{_SWATCH}"'
            f' height="{_SWATCH}" fill="{fills[name]}"/>'
        )
        parts.append(
            f'<text class="chart-legend-label" x="{x + _SWATCH + 4}" y="{y + _SWATCH // 2}"'
            f' dominant-baseline="middle"{_text_attrs()}>{_escape(label)}</text>'
        )
        parts.append("</g>")
        x += item_width
    parts.append("</g>")
    return parts, (row + 1) * _LEGEND_ROW + 4


def _series_colors(names: list[str], colors: Mapping[str, str] | None) -> dict[str, str]:
    chosen = {name: _color(value) for name, value in (colors or {}).items()}
    return {
        name: chosen.get(name, DEFAULT_PALETTE[index % len(DEFAULT_PALETTE)])
        for index, name in enumerate(names)
    }


def _color(value: str) -> str:
    # Only hex colours: anything else (url(...), say) could reach outside the page.
    if not _HEX_COLOR.fullmatch(value):
        raise ValueError(f"not a hex colour: {value!r}")
    return value


def _identifier(chart_id: str | None, *content: object) -> str:
    if chart_id is not None:
        if not _CHART_ID.fullmatch(chart_id):
            raise ValueError(f"not a usable element id: {chart_id!r}")
        return chart_id
    digest = hashlib.sha256(repr(content).encode("utf-8", "surrogatepass")).hexdigest()
    return f"chart-{digest[:10]}"


def _check_size(width: int, height: int, *, min_width: int, min_height: int) -> None:
    if width < min_width or height < min_height:
        raise ValueError(f"size {width}x{height} is below the minimum {min_width}x{min_height}")


def _text_attrs() -> str:
    return f' font-size="{_FONT_SIZE}" fill="{TEXT_COLOR}"'


def _escape(text: str) -> str:
    return html.escape(_XML_INVALID.sub("\ufffd", text), quote=True)


def _truncate(text: str, max_chars: int) -> str:
    return text if len(text) <= max_chars else text[: max_chars - 1] + "…"


def _count(value: int) -> str:
    return f"{value:,}"


def _plural(count: int, singular: str, plural: str | None = None) -> str:
    return singular if count == 1 else (plural or singular + "s")


def _round(value: float) -> float:
    return round(value, 1)


def _num(value: float) -> str:
    """A coordinate with at most one decimal, without a trailing ".0"."""
    rounded = round(value, 1)
    if rounded == int(rounded):
        return str(int(rounded))
    return f"{rounded:.1f}"
