"""The dashboard's SVG charts: structure, proportions, escaping, accessibility and CSP safety."""

from __future__ import annotations

import ast
import math
import re
import sys
import xml.etree.ElementTree as ET
from itertools import pairwise
from pathlib import Path

import pytest

from agent_zero.web import charts
from agent_zero.web.charts import (
    DEFAULT_PALETTE,
    EMPTY_MESSAGE,
    OUTCOME_COLORS,
    RISK_COLORS,
    TEXT_COLOR,
    format_duration,
    horizontal_bars,
    nice_ticks,
    stacked_bars,
)

NS = "{http://www.w3.org/2000/svg}"
DAYS = ["2026-11-23", "2026-11-24", "2026-11-25"]
SERIES = {"approved": [3, 0, 4], "denied": [1, 2, 0], "pending": [0, 5, 2]}
NASTY = '<script>alert("x")</script> & \' " ]]>'


def parse(svg: str) -> ET.Element:
    root = ET.fromstring(svg)
    assert root.tag == f"{NS}svg"
    return root


def by_class(root: ET.Element, css_class: str) -> list[ET.Element]:
    return [el for el in root.iter() if css_class in el.get("class", "").split()]


def child(element: ET.Element, path: str) -> ET.Element:
    found = element.find(path)
    assert found is not None, path
    return found


def tick_positions(root: ET.Element) -> dict[int, float]:
    return {
        int(label.text.replace(",", "")): float(label.get("y", "nan"))
        for label in by_class(root, "chart-tick-label")
        if label.text
    }


def sample_charts() -> dict[str, str]:
    return {
        "stacked": stacked_bars(DAYS, SERIES, title="Requests by outcome"),
        "horizontal": horizontal_bars([("alice", 7), ("bob", 3)], title="Top principals"),
        "empty-stacked": stacked_bars([], {}, title="Requests by outcome"),
        "empty-horizontal": horizontal_bars([], title="Top principals"),
        "hostile": stacked_bars([NASTY], {NASTY: [1]}, title=NASTY),
    }


# --- stacked bars -------------------------------------------------------------------------


def test_one_bar_per_day_with_segments_stacked_bottom_up_in_series_order() -> None:
    root = parse(stacked_bars(DAYS, SERIES, title="Requests"))
    bars = by_class(root, "chart-bar")
    assert [bar.get("data-day") for bar in bars] == DAYS
    baseline = tick_positions(root)[0]
    for index, bar in enumerate(bars):
        segments = bar.findall(f"{NS}rect")
        expected = [name for name, values in SERIES.items() if values[index]]
        assert [seg.get("data-series") for seg in segments] == expected
        # The first series sits on the axis; each next one starts where the previous ended.
        bottom = baseline
        for segment in segments:
            y, height = float(segment.get("y", "nan")), float(segment.get("height", "nan"))
            assert y + height == pytest.approx(bottom, abs=0.11)
            bottom = y


def test_segment_heights_are_proportional_to_values_on_the_tick_scale() -> None:
    root = parse(stacked_bars(DAYS, SERIES, title="Requests"))
    ticks = tick_positions(root)
    top = max(ticks)
    pixels_per_unit = (ticks[0] - ticks[top]) / top
    segments = by_class(root, "chart-segment")
    assert len(segments) == sum(1 for values in SERIES.values() for v in values if v)
    for segment in segments:
        value = int(segment.get("data-value", "0"))
        assert float(segment.get("height", "nan")) == pytest.approx(
            value * pixels_per_unit, abs=0.15
        )


def test_zero_counts_draw_no_segment_and_no_tooltip() -> None:
    root = parse(stacked_bars(["d1", "d2"], {"approved": [0, 2], "denied": [1, 0]}, title="T"))
    tooltips = [title.text for title in root.iter(f"{NS}title")][1:]
    assert tooltips == ["d1 · denied: 1", "d2 · approved: 2"]


def test_segment_tooltips_name_day_series_and_count() -> None:
    root = parse(stacked_bars(["2026-11-25"], {"approved": [4], "denied": [1234]}, title="T"))
    tooltips = [seg.findtext(f"{NS}title") for seg in by_class(root, "chart-segment")]
    assert tooltips == ["2026-11-25 · approved: 4", "2026-11-25 · denied: 1,234"]


@pytest.mark.parametrize("peak", [1, 3, 7, 10, 23, 99, 101, 1234, 98765])
def test_y_axis_ticks_are_round_numbers_that_just_cover_the_tallest_bar(peak: int) -> None:
    # The tallest bar is the day total, not a single series.
    root = parse(stacked_bars(["a"], {"x": [peak // 2], "y": [peak - peak // 2]}, title="T"))
    values = sorted(tick_positions(root))
    step = values[1] - values[0]
    assert values[0] == 0
    assert values == list(range(0, values[-1] + 1, step))
    assert step // 10 ** int(math.log10(step)) in {1, 2, 5}
    assert step % 10 ** int(math.log10(step)) == 0
    assert values[-1] >= peak > values[-1] - step
    assert len(values) - 1 <= 5


def test_ticks_are_drawn_top_down_at_evenly_spaced_heights() -> None:
    positions = tick_positions(parse(stacked_bars(DAYS, SERIES, title="T")))
    ordered = [positions[value] for value in sorted(positions)]
    gaps = {round(lower - upper, 1) for lower, upper in pairwise(ordered)}
    assert len(gaps) == 1
    assert gaps.pop() > 0


@pytest.mark.parametrize(
    ("max_value", "expected"),
    [
        (0, [0, 1]),
        (1, [0, 1]),
        (5, [0, 1, 2, 3, 4, 5]),
        (6, [0, 2, 4, 6]),
        (7, [0, 2, 4, 6, 8]),
        (11, [0, 5, 10, 15]),
        (1234, [0, 500, 1000, 1500]),
    ],
)
def test_nice_ticks(max_value: int, expected: list[int]) -> None:
    assert nice_ticks(max_value) == expected


def test_legend_lists_series_in_order_with_the_bar_colours() -> None:
    series = {"revoked": [1], "approved": [2], "denied": [3], "pending": [4]}
    root = parse(stacked_bars(["d"], series, title="T", colors={"approved": "#123456"}))
    items = by_class(root, "chart-legend-item")
    assert [item.findtext(f"{NS}text") for item in items] == list(series)
    swatches = {item.get("data-series"): item.find(f"{NS}rect") for item in items}
    for segment in by_class(root, "chart-segment"):
        swatch = swatches[segment.get("data-series")]
        assert swatch is not None
        assert segment.get("fill") == swatch.get("fill")
    assert segment_fill(root, "approved") == "#123456"
    assert segment_fill(root, "revoked") == DEFAULT_PALETTE[0]
    assert segment_fill(root, "denied") == DEFAULT_PALETTE[2]


def segment_fill(root: ET.Element, series: str) -> str | None:
    [segment] = [s for s in by_class(root, "chart-segment") if s.get("data-series") == series]
    return segment.get("fill")


def test_legend_wraps_inside_a_narrow_chart() -> None:
    series = {f"outcome-number-{i}": [i + 1] for i in range(8)}
    root = parse(stacked_bars(["d"], series, title="T", width=320, height=300))
    swatches = [item.find(f"{NS}rect") for item in by_class(root, "chart-legend-item")]
    rows = {swatch.get("y") for swatch in swatches if swatch is not None}
    assert len(rows) > 1
    for item in by_class(root, "chart-legend-item"):
        label = child(item, f"{NS}text")
        right_edge = float(label.get("x", "nan")) + len(label.text or "") * 7
        assert right_edge <= 320


def test_many_days_thin_the_x_labels_so_they_do_not_overlap() -> None:
    days = [f"2026-10-{d:02d}" for d in range(1, 32)] + [f"2026-11-{d:02d}" for d in range(1, 30)]
    root = parse(stacked_bars(days, {"approved": [1] * len(days)}, title="T"))
    labels = by_class(root, "chart-axis-label")
    shown = [label.text for label in labels]
    assert 1 < len(shown) < len(days)
    assert shown[0] == days[0]
    indices = [days.index(text) for text in shown if text is not None]
    steps = {b - a for a, b in pairwise([float(i) for i in indices])}
    assert len(steps) == 1
    centers = [float(label.get("x", "nan")) for label in labels]
    label_width = len(days[0]) * 7
    assert all(b - a >= label_width for a, b in pairwise(centers))


def test_few_days_label_every_bar() -> None:
    root = parse(stacked_bars(DAYS, SERIES, title="T"))
    assert [label.text for label in by_class(root, "chart-axis-label")] == DAYS


def test_bars_and_labels_stay_inside_the_view_box() -> None:
    days = [f"day {i}" for i in range(40)]
    svg = stacked_bars(days, {"a": list(range(40)), "b": [3] * 40}, title="T", width=500)
    root = parse(svg)
    for rect in root.iter(f"{NS}rect"):
        x, width = float(rect.get("x", "nan")), float(rect.get("width", "nan"))
        y, height = float(rect.get("y", "nan")), float(rect.get("height", "nan"))
        assert x >= 0
        assert x + width <= 500
        assert y >= 0
        assert y + height <= 240


@pytest.mark.parametrize(
    "series",
    [{"approved": [1, 2]}, {"approved": [1, 2, 3], "denied": [1]}],
)
def test_a_series_of_the_wrong_length_is_rejected(series: dict[str, list[int]]) -> None:
    with pytest.raises(ValueError, match="values for 3 days"):
        stacked_bars(DAYS, series, title="T")


def test_negative_counts_are_rejected() -> None:
    with pytest.raises(ValueError, match="negative"):
        stacked_bars(["d"], {"approved": [-1]}, title="T")
    with pytest.raises(ValueError, match="negative"):
        horizontal_bars([("alice", -1)], title="T")


@pytest.mark.parametrize("colour", ["url(https://evil.example/x.svg#a)", "red", "#12345", ""])
def test_only_hex_colours_are_accepted(colour: str) -> None:
    with pytest.raises(ValueError, match="hex colour"):
        stacked_bars(["d"], {"approved": [1]}, title="T", colors={"approved": colour})
    with pytest.raises(ValueError, match="hex colour"):
        horizontal_bars([("a", 1)], title="T", color=colour)


# --- horizontal bars ----------------------------------------------------------------------


def test_horizontal_bars_keep_order_scale_lengths_and_show_values() -> None:
    items = [("alice", 40), ("bob", 10), ("carol", 0), ("dave", 1234)]
    root = parse(horizontal_bars(items, title="Top principals", width=640))
    rows = by_class(root, "chart-row")
    assert [row.findtext(f"{NS}text[@class='chart-label']") for row in rows] == [
        "alice",
        "bob",
        "carol",
        "dave",
    ]
    assert [row.findtext(f"{NS}text[@class='chart-value']") for row in rows] == [
        "40",
        "10",
        "0",
        "1,234",
    ]
    lengths = [float(child(row, f"{NS}rect").get("width", "nan")) for row in rows]
    per_unit = lengths[3] / 1234
    for (_, value), length in zip(items, lengths, strict=True):
        assert length == pytest.approx(value * per_unit, abs=0.11)
    tops = [float(child(row, f"{NS}rect").get("y", "nan")) for row in rows]
    assert tops == sorted(tops)
    assert len(set(tops)) == len(tops)


def test_horizontal_value_sits_just_past_the_end_of_its_bar() -> None:
    root = parse(horizontal_bars([("alice", 5), ("bob", 2)], title="T"))
    for row in by_class(root, "chart-row"):
        rect = child(row, f"{NS}rect")
        value = child(row, f"{NS}text[@class='chart-value']")
        bar_end = float(rect.get("x", "nan")) + float(rect.get("width", "nan"))
        assert 0 < float(value.get("x", "nan")) - bar_end <= 10


def test_horizontal_bars_use_per_label_colours_with_a_fallback() -> None:
    items = [("low", 5), ("medium", 3), ("high", 1), ("unknown", 1)]
    root = parse(horizontal_bars(items, title="Risk mix", colors=RISK_COLORS, color="#333333"))
    fills = [child(row, f"{NS}rect").get("fill") for row in by_class(root, "chart-row")]
    assert fills == [RISK_COLORS["low"], RISK_COLORS["medium"], RISK_COLORS["high"], "#333333"]


def test_long_labels_are_shortened_but_the_tooltip_keeps_them_whole() -> None:
    arn = "arn:aws:sts::123456789012:assumed-role/very-long-role-name/agent-session-0001"
    root = parse(horizontal_bars([(arn, 3)], title="T", width=400))
    [row] = by_class(root, "chart-row")
    shown = row.findtext(f"{NS}text[@class='chart-label']")
    assert shown is not None
    assert shown.endswith("…")
    assert arn.startswith(shown[:-1])
    assert len(shown) < len(arn)
    assert row.findtext(f"{NS}title") == f"{arn}: 3"


def test_horizontal_bars_height_grows_with_the_rows() -> None:
    one = parse(horizontal_bars([("a", 1)], title="T", bar_height=20))
    three = parse(horizontal_bars([("a", 1), ("b", 2), ("c", 3)], title="T", bar_height=20))
    assert int(three.get("height", "0")) - int(one.get("height", "0")) >= 2 * 20
    assert three.get("viewBox") == f"0 0 640 {three.get('height')}"


# --- empty state --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "svg",
    [
        stacked_bars([], {}, title="T"),
        stacked_bars([], {"approved": []}, title="T"),
        stacked_bars(DAYS, {"approved": [0, 0, 0]}, title="T"),
        stacked_bars(DAYS, {}, title="T"),
        horizontal_bars([], title="T"),
        horizontal_bars([("low", 0), ("high", 0)], title="T"),
    ],
)
def test_empty_data_renders_a_centred_message_and_nothing_else(svg: str) -> None:
    root = parse(svg)
    width, height = root.get("width", "0"), root.get("height", "0")
    assert root.get("viewBox") == f"0 0 {width} {height}"
    [message] = root.findall(f"{NS}text")
    assert message.text == EMPTY_MESSAGE
    assert message.get("text-anchor") == "middle"
    assert float(message.get("x", "nan")) == int(width) / 2
    assert float(message.get("y", "nan")) == int(height) / 2
    assert root.findall(f".//{NS}rect") == []
    assert root.findtext(f"{NS}desc") == EMPTY_MESSAGE


# --- accessibility, escaping and CSP safety -----------------------------------------------


@pytest.mark.parametrize("name", list(sample_charts()))
def test_svg_is_an_image_labelled_by_its_title_and_desc(name: str) -> None:
    root = parse(sample_charts()[name])
    assert root.get("role") == "img"
    title_id, desc_id = root.get("aria-labelledby", "").split()
    title, desc = child(root, f"{NS}title"), child(root, f"{NS}desc")
    assert (title.get("id"), desc.get("id")) == (title_id, desc_id)
    assert list(root)[:2] == [title, desc]
    assert title.text
    assert desc.text
    assert re.fullmatch(r"0 0 \d+ \d+", root.get("viewBox", ""))


def test_desc_summarises_the_totals() -> None:
    stacked = parse(stacked_bars(DAYS, SERIES, title="T"))
    assert stacked.findtext(f"{NS}desc") == (
        "17 requests over 3 days: approved 7, denied 3, pending 7."
    )
    horizontal = parse(horizontal_bars([("alice", 1200), ("bob", 34)], title="T"))
    assert horizontal.findtext(f"{NS}desc") == "2 entries, total 1,234: alice 1,200, bob 34."


@pytest.mark.parametrize("name", list(sample_charts()))
def test_no_scripts_styles_handlers_or_external_references(name: str) -> None:
    svg = sample_charts()[name]
    root = parse(svg)
    for element in root.iter():
        assert element.tag.removeprefix(NS) not in {"script", "style", "foreignObject", "image"}
        for attribute, value in element.attrib.items():
            assert attribute != "style"
            assert not attribute.lower().startswith("on")
            assert "href" not in attribute
            assert "url(" not in value
    assert "<script" not in svg.lower()
    assert "style=" not in svg


@pytest.mark.parametrize("name", list(sample_charts()))
def test_chart_classes_are_prefixed(name: str) -> None:
    root = parse(sample_charts()[name])
    classes = {c for el in root.iter() for c in el.get("class", "").split()}
    assert classes
    assert all(c == "chart" or c.startswith("chart-") for c in classes)


def test_hostile_labels_are_escaped_and_round_trip_as_text() -> None:
    svg = stacked_bars([NASTY], {NASTY: [1], "ok": [2]}, title=NASTY)
    assert "<script" not in svg
    root = parse(svg)
    assert root.findall(f".//{NS}script") == []
    assert root.findtext(f"{NS}title") == NASTY
    assert [label.text for label in by_class(root, "chart-axis-label")] == [NASTY]
    assert by_class(root, "chart-bar")[0].get("data-day") == NASTY
    [segment] = [s for s in by_class(root, "chart-segment") if s.get("data-series") == NASTY]
    assert segment.findtext(f"{NS}title") == f"{NASTY} · {NASTY}: 1"


def test_hostile_principal_ids_cannot_break_out_of_attributes_or_text() -> None:
    label = 'x" onload="alert(1)" a="<script>alert(2)</script>'
    svg = horizontal_bars([(label, 3)], title="Top principals")
    assert "<script" not in svg
    root = parse(svg)
    [row] = by_class(root, "chart-row")
    assert row.get("data-label") == label
    assert row.findtext(f"{NS}title") == f"{label}: 3"
    assert all("onload" not in el.attrib for el in root.iter())


def test_characters_xml_forbids_are_replaced_so_the_svg_still_parses() -> None:
    label = "bad\x00\x1b\x0cname"
    root = parse(horizontal_bars([(label, 1)], title="T\x07"))
    [row] = by_class(root, "chart-row")
    assert row.get("data-label") == "bad\ufffd\ufffd\ufffdname"
    assert root.findtext(f"{NS}title") == "T\ufffd"


def test_coordinates_have_at_most_one_decimal() -> None:
    svg = stacked_bars(
        [f"d{i}" for i in range(7)],
        {"a": [3, 1, 4, 1, 5, 9, 2], "b": [6, 5, 3, 5, 8, 9, 7]},
        title="T",
        width=613,
        height=217,
    )
    numeric = {"x", "y", "x1", "y1", "x2", "y2", "width", "height"}
    for element in parse(svg).iter():
        for attribute in numeric & element.attrib.keys():
            assert re.fullmatch(r"-?\d+(\.\d)?", element.attrib[attribute]), element.attrib


# --- determinism and ids ------------------------------------------------------------------


def test_same_input_gives_the_same_string() -> None:
    assert stacked_bars(DAYS, SERIES, title="T") == stacked_bars(
        DAYS, {k: list(v) for k, v in SERIES.items()}, title="T"
    )
    items = [("alice", 3), ("bob", 1)]
    assert horizontal_bars(items, title="T") == horizontal_bars(list(items), title="T")


def test_different_charts_on_one_page_get_different_ids() -> None:
    ids = [
        parse(svg).get("aria-labelledby")
        for svg in (
            stacked_bars(DAYS, SERIES, title="Requests"),
            stacked_bars(DAYS, SERIES, title="Requests (agents)"),
            horizontal_bars([("alice", 3)], title="Top principals"),
            horizontal_bars([("low", 3)], title="Risk mix"),
        )
    ]
    assert len(set(ids)) == len(ids)


def test_an_explicit_chart_id_is_used_and_validated() -> None:
    root = parse(stacked_bars(DAYS, SERIES, title="T", chart_id="requests-chart"))
    assert root.get("aria-labelledby") == "requests-chart-title requests-chart-desc"
    with pytest.raises(ValueError, match="element id"):
        horizontal_bars([("a", 1)], title="T", chart_id='x" onload="y')


# --- colours ------------------------------------------------------------------------------


def contrast_with_white(colour: str) -> float:
    channels = [int(colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    linear = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    luminance = 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]
    return 1.05 / (luminance + 0.05)


@pytest.mark.parametrize(
    "colour",
    sorted({*DEFAULT_PALETTE, *OUTCOME_COLORS.values(), *RISK_COLORS.values()}),
)
def test_bar_colours_meet_non_text_contrast_against_white(colour: str) -> None:
    assert contrast_with_white(colour) >= 3.0


def test_palette_colours_are_distinct_and_text_is_dark() -> None:
    assert len({c.lower() for c in DEFAULT_PALETTE}) == len(DEFAULT_PALETTE)
    assert contrast_with_white(TEXT_COLOR) >= 7.0
    root = parse(stacked_bars(DAYS, SERIES, title="T"))
    assert {text.get("fill") for text in root.iter(f"{NS}text")} == {TEXT_COLOR}


def test_series_beyond_the_palette_reuse_it_rather_than_failing() -> None:
    series = {f"s{i}": [1] for i in range(len(DEFAULT_PALETTE) + 1)}
    root = parse(stacked_bars(["d"], series, title="T", height=300))
    fills = [segment.get("fill") for segment in by_class(root, "chart-segment")]
    assert fills == [*DEFAULT_PALETTE, DEFAULT_PALETTE[0]]


# --- format_duration ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("seconds", "expected"),
    [
        (None, "—"),
        (0, "0.0 s"),
        (0.42, "0.4 s"),
        (1.2, "1.2 s"),
        (9.96, "10 s"),
        (12.4, "12 s"),
        (59.7, "1 min"),
        (60, "1 min"),
        (185, "3 min 5 s"),
        (3599.6, "1 h"),
        (7500, "2 h 5 min"),
        (86_400, "1 d"),
        (97_200, "1 d 3 h"),
    ],
)
def test_format_duration(seconds: float | None, expected: str) -> None:
    assert format_duration(seconds) == expected


@pytest.mark.parametrize("seconds", [-0.5, math.nan, math.inf])
def test_format_duration_rejects_impossible_durations(seconds: float) -> None:
    with pytest.raises(ValueError, match="not a duration"):
        format_duration(seconds)


# --- purity -------------------------------------------------------------------------------


def test_module_imports_only_the_standard_library() -> None:
    tree = ast.parse(Path(charts.__file__).read_text(encoding="utf-8"))
    imported = {
        name.split(".")[0]
        for node in ast.walk(tree)
        for name in (
            [alias.name for alias in node.names]
            if isinstance(node, ast.Import)
            else [node.module or ""]
            if isinstance(node, ast.ImportFrom)
            else []
        )
    }
    assert imported
    assert imported <= set(sys.stdlib_module_names) | {"__future__"}
    assert not imported & {"os", "io", "socket", "subprocess", "pathlib", "urllib"}
