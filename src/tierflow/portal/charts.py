"""Accessible charts as server-rendered SVG, each with the same numbers as an HTML table.

Design overview:

- **Pure and small.** Standard library plus ``markupsafe``; no I/O. Each chart function takes small frozen
  dataclasses and returns a :class:`Chart`: ``svg`` (the figure), ``table`` (the same numbers as a ``<table>``
  with a caption and scoped headers), and the ``title`` and ``desc`` text. Templates write ``{{ chart.svg }}``
  and ``{{ chart.table }}``; both are ``Markup``.
- **Accessible.** The root is ``<svg role="img" aria-labelledby="ID-title ID-desc">`` with a ``<title>`` and a
  ``<desc>`` that says in words what the chart shows (totals, the largest bucket). A graph with links is a
  ``role="group"`` instead (an image's children are hidden from assistive technology) and each linked node is
  an ``<a href>`` with its full text as ``aria-label``, so keyboard users can tab through the nodes. Colours pass
  WCAG AA on white (text at least 4.5:1, marks at least 3:1) and never carry meaning alone: bars are labelled,
  series also differ by pattern, and the legend names them.
- **Escaped and exact.** Every attribute and text node goes through ``markupsafe.escape`` (party names can hold
  ``<&"``). Amounts are integer minor units: :func:`format_money` writes them exactly (``CNY 1,234,567.89``) in
  descriptions, tooltips, tier lines and tables; :func:`format_compact` writes the short form where room is
  short (axis ticks, bar tops, heat-map cells: ``1.23m``), rounding in integers. Floats place shapes only.
- **Unique ids.** Every id a chart uses starts with its ``chart_id`` (``ID-title``, ``ID-desc``, ``ID-arrow``,
  ``ID-table``…), so several charts can share a page.
- **Sized by the viewBox.** No pixel width or height: the SVG scales to its container (``width: 100%``) and the
  text (``font-family: system-ui, sans-serif``, set as presentation attributes) keeps its proportions. Layouts
  estimate text widths (wide glyphs count double), truncate long labels with "…" and keep the full text in a
  tooltip and in the table. Large inputs are capped and the chart says "and N more"; the table always lists
  everything. A provenance graph too wide to stay legible when scaled down keeps its natural size inside a
  horizontally scrolling, focusable region (the one inline ``style``).
- **Empty data** gives a small chart that says "No data" (still titled) and a paragraph instead of a table.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

__all__ = [
    "BACKGROUND",
    "HEAT_LEVELS",
    "MARK_COLOURS",
    "TEXT_COLOURS",
    "CategoryAmount",
    "Chart",
    "GraphEdge",
    "GraphNode",
    "MaturityBucket",
    "PortfolioRow",
    "TierLevel",
    "category_bars",
    "currency_exponent",
    "data_table",
    "default_layer_label",
    "format_compact",
    "format_money",
    "maturity_ladder",
    "portfolio",
    "provenance_graph",
    "tier_travel",
]

# --- colours (all checked against WCAG AA by the tests) ------------------------------------------------------

BACKGROUND = "#ffffff"
INK = "#1a1f2b"  # body text, 16.5:1 on white
MUTED = "#4a5365"  # secondary text and node borders, 7.7:1
AXIS = "#6b7385"  # axis lines and arrows, 4.8:1
GRID = "#d5dae2"  # grid lines: decoration only, never the sole carrier of meaning
BRAND = "#0b5cad"  # bars, links, the current node, 6.7:1
OVERDUE = "#a3161a"  # 7.8:1, drawn with a hatch
PAID = "#1b6b34"  # 6.6:1, drawn with dots
CURRENT_FILL = "#e8f0fa"  # the current node's background (INK and BRAND text on it are checked)

#: Foreground colours used for text, with the backgrounds they are drawn on.
TEXT_COLOURS: Mapping[str, tuple[str, ...]] = {
    INK: (BACKGROUND, CURRENT_FILL),
    MUTED: (BACKGROUND, CURRENT_FILL),
    BRAND: (BACKGROUND, CURRENT_FILL),
}
#: Colours of marks (bars, series, borders, arrows) that must reach 3:1 against the background.
MARK_COLOURS: tuple[str, ...] = (BRAND, OVERDUE, PAID, MUTED, AXIS)
#: Heat-map shades (fill, text colour on it), from the smallest non-zero amount to the largest.
HEAT_LEVELS: tuple[tuple[str, str], ...] = (
    ("#eef4fb", INK),
    ("#cfe0f5", INK),
    ("#9fc1ea", INK),
    ("#2a64ad", BACKGROUND),
    ("#0b3d73", BACKGROUND),
)

FONT_FAMILY = "system-ui, sans-serif"
WIDTH = 760  # the viewBox width every chart starts from, so text has the same scale across a page
WIDE = 1100  # a graph wider than this scrolls sideways at its natural size rather than shrink

MAX_BUCKETS = 52  # maturity ladder bars (a year of weeks); a note sums up later buckets
MAX_TIER_ROWS = 12  # tier travel rows; a note sums up deeper tiers
MAX_CATEGORY_ROWS = 15  # category bars; a note sums up the smaller categories
MAX_OBLIGORS = 15  # portfolio rows; the rest fold into "Other obligors"
MAX_PORTFOLIO_BUCKETS = 12  # portfolio columns; later buckets fold into one
MAX_LAYERS = 12  # provenance graph columns
MAX_PER_LAYER = 10  # provenance graph nodes in one column (less when the graph is large)
MAX_NODES = 40  # provenance graph boxes in all

# --- money --------------------------------------------------------------------------------------------------

_EXPONENTS: Mapping[str, int] = {
    **dict.fromkeys(("BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW", "PYG", "RWF", "UGX", "VND"), 0),
    **dict.fromkeys(("VUV", "XAF", "XOF", "XPF"), 0),
    **dict.fromkeys(("BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"), 3),
}
_SUFFIXES: tuple[tuple[int, str], ...] = ((3, "k"), (6, "m"), (9, "b"), (12, "t"))


def currency_exponent(currency: str) -> int:
    """Decimal places of ``currency``'s minor unit: 0 (JPY, KRW…), 3 (KWD, BHD…), otherwise 2."""
    return _EXPONENTS.get(currency, 2)


def _check_minor(minor: int) -> None:
    if isinstance(minor, bool) or not isinstance(minor, int):
        raise TypeError(f"amounts are integer minor units; got {minor!r}")


def _div_half_up(numerator: int, denominator: int) -> int:
    """``numerator / denominator`` rounded half up, for non-negative integers."""
    quotient, remainder = divmod(numerator, denominator)
    return quotient + (1 if 2 * remainder >= denominator else 0)


def _decimal(whole: int, fraction: int, places: int) -> str:
    text = f"{whole:,}"
    return f"{text}.{fraction:0{places}d}" if places else text


def format_money(minor: int, currency: str) -> str:
    """Exact amount with grouping: ``format_money(123456789, "CNY") == "CNY 1,234,567.89"``.

    Negative amounts put the sign after the code (``CNY -0.05``); JPY has no decimals, KWD three.
    """
    _check_minor(minor)
    places = currency_exponent(currency)
    whole, fraction = divmod(abs(minor), 10**places)
    sign = "-" if minor < 0 else ""
    return f"{currency} {sign}{_decimal(whole, fraction, places)}"


def format_compact(minor: int, currency: str) -> str:
    """Short form for axes and bar labels, without the code: ``350k``, ``1.23m``, ``10t``, ``12.5``.

    Below 1,000 major units the amount is exact (trailing zeros dropped); above, three significant digits
    with a k/m/b/t suffix, rounded half up in integers (no floats).
    """
    _check_minor(minor)
    places = currency_exponent(currency)
    unit = 10**places
    sign = "-" if minor < 0 else ""
    value = abs(minor)
    if value < 1000 * unit:
        whole, fraction = divmod(value, unit)
        text = f"{whole}.{fraction:0{places}d}".rstrip("0").rstrip(".") if fraction else str(whole)
        return sign + text
    index = max(i for i, (power, _) in enumerate(_SUFFIXES) if value >= 10**power * unit)
    while True:
        power, suffix = _SUFFIXES[index]
        divisor = 10**power * unit
        decimals = max(0, 3 - len(str(value // divisor)))
        scaled = _div_half_up(value * 10**decimals, divisor)
        whole, fraction = divmod(scaled, 10**decimals)
        if whole >= 1000 and index + 1 < len(_SUFFIXES):
            index += 1  # 999.95k rounds to 1,000k: say 1m
            continue
        text = _decimal(whole, fraction, decimals)
        if decimals:
            text = text.rstrip("0").rstrip(".")
        return f"{sign}{text}{suffix}"


def _percent(part: int, total: int) -> str:
    """``part`` of ``total`` as a percentage with one decimal, rounded half up: ``42.5%``, ``<0.1%``."""
    if total <= 0:
        return "0%"
    tenths = _div_half_up(part * 1000, total)
    if tenths == 0 and part > 0:
        return "<0.1%"
    whole, tenth = divmod(tenths, 10)
    return f"{whole}.{tenth}%" if tenth else f"{whole}%"


def _plural(count: int, noun: str, plural: str | None = None) -> str:
    return f"{count:,} {noun}" if count == 1 else f"{count:,} {plural or noun + 's'}"


# --- inputs and output --------------------------------------------------------------------------------------


def _non_negative(name: str, value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an integer; got {value!r}")
    if value < 0:
        raise ValueError(f"{name} must not be negative; got {value}")


@dataclass(frozen=True, slots=True)
class Chart:
    """A rendered chart: ``svg`` for the figure, ``table`` for the same numbers, and its words."""

    svg: Markup
    table: Markup
    title: str
    desc: str


@dataclass(frozen=True, slots=True)
class MaturityBucket:
    """What falls due in one maturity bucket (a month such as ``2026-12``, or a week).

    The three amounts are disjoint parts stacked in one bar: ``outstanding_minor`` not yet due or due and
    unpaid but not overdue, ``overdue_minor`` past maturity and unpaid, ``paid_minor`` already paid.
    """

    label: str
    outstanding_minor: int
    overdue_minor: int = 0
    paid_minor: int = 0

    def __post_init__(self) -> None:
        _non_negative("outstanding_minor", self.outstanding_minor)
        _non_negative("overdue_minor", self.overdue_minor)
        _non_negative("paid_minor", self.paid_minor)

    @property
    def total_minor(self) -> int:
        return self.outstanding_minor + self.overdue_minor + self.paid_minor


@dataclass(frozen=True, slots=True)
class TierLevel:
    """How much of the vouchers' value is held at one tier (1 = the core enterprise's direct suppliers)."""

    tier: int
    amount_minor: int
    holders: int

    def __post_init__(self) -> None:
        _non_negative("amount_minor", self.amount_minor)
        _non_negative("tier", self.tier)
        _non_negative("holders", self.holders)


@dataclass(frozen=True, slots=True)
class CategoryAmount:
    """An amount under one named category (a taxonomy's level-1 category), with how many subjects it counts."""

    name: str
    amount_minor: int
    count: int

    def __post_init__(self) -> None:
        _non_negative("amount_minor", self.amount_minor)
        _non_negative("count", self.count)


@dataclass(frozen=True, slots=True)
class PortfolioRow:
    """A bank's exposure to one obligor in one maturity bucket (rows for the same pair are added up)."""

    obligor: str
    bucket: str
    amount_minor: int

    def __post_init__(self) -> None:
        _non_negative("amount_minor", self.amount_minor)


@dataclass(frozen=True, slots=True)
class GraphNode:
    """A box in a provenance graph: a holding (``label`` the party, ``sublabel`` e.g. "Tier 2 · CNY 12.00").

    ``layer`` is the tier (0 = the obligor or issuer). ``href`` makes the box a link: a path on this site
    (``/…``), a fragment (``#…``) or an ``http(s)`` URL. ``current`` marks the holding the page is about.
    """

    id: str
    label: str
    sublabel: str = ""
    layer: int = 0
    href: str | None = None
    current: bool = False

    def __post_init__(self) -> None:
        _non_negative("layer", self.layer)
        if self.href is not None and not _safe_href(self.href):
            raise ValueError(f"href must be a site path, a fragment or an http(s) URL; got {self.href!r}")


@dataclass(frozen=True, slots=True)
class GraphEdge:
    """An arrow from ``source`` to ``target`` (node ids); ``label`` is shown on it, e.g. the amount passed."""

    source: str
    target: str
    label: str = ""


_HREF = re.compile(r"(?:/(?!/)|#|https?://)[^\s\x00-\x1f\x7f]*")


def _safe_href(href: str) -> bool:
    return _HREF.fullmatch(href) is not None


# --- markup helpers -----------------------------------------------------------------------------------------

Attr = str | int | float | None
_NOT_ID = re.compile(r"[^A-Za-z0-9_-]")


def _check_id(chart_id: str) -> str:
    """``chart_id`` as the prefix of the chart's ids: any character but letters, digits, ``-`` and ``_`` becomes
    ``-``, and one that does not start with a letter gets ``chart-`` in front (ids go into ``url(#…)`` and CSS)."""
    if not isinstance(chart_id, str) or not chart_id:
        raise ValueError(f"chart_id must be a non-empty string; got {chart_id!r}")
    cleaned = _NOT_ID.sub("-", chart_id)
    return cleaned if cleaned[0].isascii() and cleaned[0].isalpha() else f"chart-{cleaned}"


def _num(value: float) -> str:
    text = f"{value:.1f}"
    text = text[:-2] if text.endswith(".0") else text
    return "0" if text == "-0" else text


def _el(tag: str, attrs: Mapping[str, Attr] | None = None, *children: str) -> Markup:
    """One element; attribute values and ``str`` children are escaped, ``Markup`` children kept."""
    parts = []
    for name, value in (attrs or {}).items():
        if value is None:
            continue
        text = _num(value) if isinstance(value, float) else str(value)
        parts.append(f' {name}="{escape(text)}"')
    opening = f"<{tag}{''.join(parts)}"
    if not children:
        return Markup(f"{opening}/>")
    return Markup(f"{opening}>{Markup('').join(children)}</{tag}>")


def _text(
    x: float,
    y: float,
    content: str,
    *,
    size: int = 12,
    fill: str = INK,
    anchor: str | None = None,
    weight: str | None = None,
    rotate: int | None = None,
) -> Markup:
    return _el(
        "text",
        {
            "x": float(x),
            "y": float(y),
            "font-size": size,
            "fill": fill,
            "text-anchor": anchor,
            "font-weight": weight,
            "transform": f"rotate({rotate} {_num(x)} {_num(y)})" if rotate else None,
        },
        content,
    )


def _char_width(char: str) -> float:
    return 1.0 if unicodedata.east_asian_width(char) in ("W", "F") else 0.6


def _text_width(text: str, size: float) -> float:
    """A generous estimate of ``text``'s width in the chart font (no font metrics on a server)."""
    return size * sum(_char_width(char) for char in text)


def _fit(text: str, width: float, size: float) -> str:
    """``text``, cut and ended with "…" where it would be wider than ``width``."""
    if _text_width(text, size) <= width:
        return text
    room = width - _text_width("…", size)
    kept = []
    for char in text:
        room -= size * _char_width(char)
        if room < 0:
            break
        kept.append(char)
    return "".join(kept).rstrip() + "…"


def _svg(
    chart_id: str,
    title: str,
    desc: str,
    size: tuple[float, float],
    body: Iterable[Markup],
    *,
    interactive: bool = False,
    style: str | None = None,
) -> Markup:
    """The root element: a titled, described image (or group, where it holds links) sized by its viewBox."""
    width, height = size
    labels = {"aria-labelledby": f"{chart_id}-title", "aria-describedby": f"{chart_id}-desc"}
    return _el(
        "svg",
        {
            "xmlns": "http://www.w3.org/2000/svg",
            "id": chart_id,
            "class": "tf-chart",
            "role": "group" if interactive else "img",
            **(labels if interactive else {"aria-labelledby": f"{chart_id}-title {chart_id}-desc"}),
            "viewBox": f"0 0 {_num(width)} {_num(height)}",
            "preserveAspectRatio": "xMinYMin meet",
            "font-family": FONT_FAMILY,
            "style": style,
        },
        _el("title", {"id": f"{chart_id}-title"}, title),
        _el("desc", {"id": f"{chart_id}-desc"}, desc),
        *body,
    )


def _cells(values: Sequence[str | Markup], numeric: Collection[int]) -> Markup:
    cells = []
    for index, value in enumerate(values):
        css = "num" if index in numeric else None
        if index == 0:
            cells.append(_el("th", {"scope": "row", "class": css}, value))
        else:
            cells.append(_el("td", {"class": css}, value))
    return _el("tr", None, *cells)


def data_table(
    caption: str,
    headings: Sequence[str],
    rows: Sequence[Sequence[str | Markup]],
    *,
    numeric: Collection[int] = (),
    footer: Sequence[str | Markup] | None = None,
    table_id: str | None = None,
) -> Markup:
    """An accessible table: a caption, ``<th scope="col">`` headings, each row's first cell a
    ``<th scope="row">``, columns listed in ``numeric`` right-aligned (``class="num"``), an optional footer row.
    ``str`` cells are escaped; pass ``Markup`` for a cell that is already HTML (a link)."""
    head = _el(
        "tr",
        None,
        *(_el("th", {"scope": "col", "class": "num" if i in numeric else None}, h) for i, h in enumerate(headings)),
    )
    parts = [
        _el("caption", None, caption),
        _el("thead", None, head),
        _el("tbody", None, *(_cells(row, numeric) for row in rows)) if rows else Markup(""),
    ]
    if footer is not None:
        parts.append(_el("tfoot", None, _cells(footer, numeric)))
    return _el("table", {"class": "chart-table", "id": table_id}, *parts)


def _empty(chart_id: str, title: str) -> Chart:
    desc = "No data to show."
    svg = _svg(chart_id, title, desc, (WIDTH, 40), [_text(8, 25, "No data", size=13, fill=MUTED)])
    table = _el("p", {"class": "chart-empty"}, f"{title}: no data.")
    return Chart(svg=svg, table=table, title=title, desc=desc)


def _nice_ticks(top_value: int, target: int = 5) -> list[int]:
    """Round axis ticks from 0 up to at least ``top_value`` (steps of 1, 2 or 5 × 10ⁿ minor units)."""
    if top_value <= 0:
        return [0]
    raw = -(-top_value // target)
    magnitude = 10 ** (len(str(raw)) - 1)
    step = next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= raw)
    count = -(-top_value // step)
    return [i * step for i in range(count + 1)]


# --- 1. maturity ladder -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Series:
    name: str
    colour: str
    pattern: str | None  # None: solid
    value: Callable[[MaturityBucket], int]


_LADDER_SERIES: tuple[_Series, ...] = (
    _Series("Outstanding", BRAND, None, lambda b: b.outstanding_minor),
    _Series("Overdue", OVERDUE, "hatch", lambda b: b.overdue_minor),
    _Series("Paid", PAID, "dots", lambda b: b.paid_minor),
)


def _pattern(chart_id: str, series: _Series) -> Markup:
    if series.pattern is None:
        return Markup("")
    base = _el("rect", {"width": 6, "height": 6, "fill": series.colour})
    if series.pattern == "hatch":
        mark = _el("rect", {"width": 2, "height": 6, "fill": BACKGROUND})
        transform: str | None = "rotate(45)"
    else:
        mark = _el("circle", {"cx": 3, "cy": 3, "r": 1.3, "fill": BACKGROUND})
        transform = None
    attrs: dict[str, Attr] = {
        "id": f"{chart_id}-{series.pattern}",
        "patternUnits": "userSpaceOnUse",
        "width": 6,
        "height": 6,
        "patternTransform": transform,
    }
    return _el("pattern", attrs, base, mark)


def _paint(chart_id: str, series: _Series) -> str:
    return series.colour if series.pattern is None else f"url(#{chart_id}-{series.pattern})"


def maturity_ladder(buckets: Sequence[MaturityBucket], currency: str, *, chart_id: str, title: str) -> Chart:
    """What a core enterprise owes by maturity: one vertical bar per bucket, stacked where overdue or paid
    amounts are given, each topped with its total. Buckets are drawn in the order given, the first
    ``MAX_BUCKETS`` of them; a note sums up the rest (the table lists each)."""
    chart_id = _check_id(chart_id)
    if not buckets:
        return _empty(chart_id, title)
    series = [s for s in _LADDER_SERIES if s is _LADDER_SERIES[0] or any(s.value(b) for b in buckets)]
    stacked = len(series) > 1
    total = sum(b.total_minor for b in buckets)
    shown, rest = buckets[:MAX_BUCKETS], buckets[MAX_BUCKETS:]
    note = ""
    if rest:
        later = format_money(sum(b.total_minor for b in rest), currency)
        note = f"and {_plural(len(rest), 'later bucket')} ({rest[0].label} to {rest[-1].label}) with {later}"

    # Words: the desc and the table.
    if len(buckets) == 1:
        words = [f"One maturity bucket, {buckets[0].label}: {format_money(total, currency)}."]
    else:
        words = [
            f"{len(buckets)} maturity buckets from {buckets[0].label} to {buckets[-1].label}, "
            f"{format_money(total, currency)} in all."
        ]
        largest = max(buckets, key=lambda b: b.total_minor)
        if largest.total_minor:
            words.append(
                f"The largest is {largest.label} with {format_money(largest.total_minor, currency)} "
                f"({_percent(largest.total_minor, total)})."
            )
    if stacked:
        parts = [f"{s.name.lower()} {format_money(sum(s.value(b) for b in buckets), currency)}" for s in series]
        words.append(f"Of the total: {', '.join(parts)}.")
    if note:
        words.append(f"The chart shows the first {len(shown)} buckets; {note}, listed in the table.")
    desc = " ".join(words)

    headings = ["Maturity", *(s.name for s in series), *(["Total"] if stacked else [])]

    def amounts(values: Sequence[int], row_total: int) -> list[str]:
        cells = [format_money(v, currency) for v in values]
        return [*cells, format_money(row_total, currency)] if stacked else cells

    table = data_table(
        title,
        headings,
        [[b.label, *amounts([s.value(b) for s in series], b.total_minor)] for b in buckets],
        numeric=range(1, len(headings)),
        footer=["Total", *amounts([sum(s.value(b) for b in buckets) for s in series], total)],
        table_id=f"{chart_id}-table",
    )
    svg = _svg(chart_id, title, desc, *_ladder_drawing(shown, series, currency, chart_id, note))
    return Chart(svg=svg, table=table, title=title, desc=desc)


def _ladder_drawing(
    shown: Sequence[MaturityBucket], series: Sequence[_Series], currency: str, chart_id: str, note: str
) -> tuple[tuple[float, float], list[Markup]]:
    """The ladder's size and body. Labels turn when they do not fit under (or over) their bar: x labels
    slant at 45° where bars are wide enough, else stand upright; bar labels stand upright, or go (the
    tooltip and the table keep them) where bars are thinner than a line of text."""
    stacked = len(series) > 1
    ticks = _nice_ticks(max(b.total_minor for b in shown))
    scale_top = ticks[-1] or 1
    tick_labels = [format_compact(t, currency) for t in ticks]
    value_labels = [format_compact(b.total_minor, currency) for b in shown]
    x_labels = [_fit(b.label, 110, 11) for b in shown]
    x_widest = max(_text_width(label, 11) for label in x_labels)

    left = max(_text_width(t, 11) for t in tick_labels) + 14
    band = (WIDTH - left - 8) / len(shown)
    slant = 0
    if any(_text_width(label, 11) > band - 4 for label in x_labels):
        slant = -45 if band >= 16 else -90
    if slant == -45:  # a label slanting left from the first bar must not leave the chart
        left = max(left, max(_text_width(label, 11) for label in x_labels[:2]) * 0.71 - band / 2 + 4)
        band = (WIDTH - left - 8) / len(shown)
    value_size = 11 if band >= 16 else 10
    upright_values = any(_text_width(label, value_size) > band - 2 for label in value_labels)
    show_values = band >= value_size + 1
    header = 26.0
    top = header + (max(_text_width(v, value_size) for v in value_labels) + 8 if upright_values else 18)
    bottom = {0: 24.0, -45: x_widest * 0.71 + 20, -90: x_widest + 16}[slant] + (20 if note else 0)
    plot_h = min(240.0, max(160.0, 400 - top - bottom))
    base = top + plot_h
    bar_w = min(56.0, band * 0.7)

    body: list[Markup] = []
    if stacked:
        body.append(_el("defs", None, *(_pattern(chart_id, s) for s in series)))
    # Header row: the unit, then the legend (colour, pattern and name).
    body.append(_text(4, 16, f"Amounts in {currency}", size=11, fill=MUTED))
    if stacked:
        x = 4 + _text_width(f"Amounts in {currency}", 11) + 20
        for s in series:
            swatch: dict[str, Attr] = {
                "x": x,
                "y": 6.0,
                "width": 12,
                "height": 12,
                "fill": _paint(chart_id, s),
                "stroke": s.colour,
            }
            body.append(_el("rect", swatch))
            body.append(_text(x + 17, 16, s.name, size=11))
            x += 17 + _text_width(s.name, 11) + 16
    # Grid and y axis.
    for tick, label in zip(ticks, tick_labels, strict=True):
        y = base - tick / scale_top * plot_h
        line: dict[str, Attr] = {"x1": left, "x2": WIDTH - 8.0, "y1": y, "y2": y, "stroke": AXIS if tick == 0 else GRID}
        body.append(_el("line", line))
        body.append(_text(left - 6, y + 4, label, size=11, fill=MUTED, anchor="end"))
    # Bars, each with its tooltip, value and label.
    for index, bucket in enumerate(shown):
        centre = left + band * (index + 0.5)
        y = base
        parts: list[Markup] = []
        split = "; ".join(f"{s.name.lower()} {format_money(s.value(bucket), currency)}" for s in series)
        tip = f"{bucket.label}: {format_money(bucket.total_minor, currency)}" + (f" ({split})" if stacked else "")
        parts.append(_el("title", None, tip))
        for s in series:
            amount = s.value(bucket)
            if not amount:
                continue
            h = max(1.5, amount / scale_top * plot_h)
            y -= h
            rect: dict[str, Attr] = {
                "x": centre - bar_w / 2,
                "y": y,
                "width": bar_w,
                "height": max(0.5, h - 1 if stacked else h),
                "fill": _paint(chart_id, s),
                "stroke": s.colour,
            }
            parts.append(_el("rect", rect))
        if show_values and upright_values:
            parts.append(_text(centre + 4, y - 5, value_labels[index], size=value_size, anchor="start", rotate=-90))
        elif show_values:
            parts.append(_text(centre, y - 5, value_labels[index], size=value_size, anchor="middle"))
        if slant:
            parts.append(_text(centre + 4, base + 10, x_labels[index], size=11, anchor="end", rotate=slant))
        else:
            parts.append(_text(centre, base + 16, x_labels[index], size=11, anchor="middle"))
        body.append(_el("g", {"class": "tf-bar"}, *parts))
    height = base + bottom
    if note:
        body.append(_text(4, height - 8, note[0].upper() + note[1:] + " (see the table).", size=12, fill=MUTED))
    return (WIDTH, height), body


# --- 2. how far vouchers travelled --------------------------------------------------------------------------


def tier_travel(tiers: Sequence[TierLevel], currency: str, *, chart_id: str, title: str) -> Chart:
    """How far vouchers travelled: one horizontal bar per tier, each under a line that says the tier, the exact
    amount held there, the number of holders and the share of the total. Past ``MAX_TIER_ROWS`` rows a note
    sums up the deeper tiers (the table lists each)."""
    chart_id = _check_id(chart_id)
    if not tiers:
        return _empty(chart_id, title)
    levels = sorted(tiers, key=lambda t: t.tier)
    seen = [t.tier for t in levels]
    if len(set(seen)) != len(seen):
        raise ValueError("each tier may appear once")
    total = sum(t.amount_minor for t in levels)

    def line(level: TierLevel) -> str:
        return (
            f"{format_money(level.amount_minor, currency)} held by {_plural(level.holders, 'holder')} "
            f"({_percent(level.amount_minor, total)})"
        )

    deepest = levels[-1].tier
    words = [
        f"Vouchers reached tier {deepest}." if len(levels) > 1 else f"All of it is held at tier {deepest}.",
        f"{format_money(total, currency)} is held across {_plural(len(levels), 'tier')}.",
    ]
    largest = max(levels, key=lambda t: t.amount_minor)
    if len(levels) > 1 and largest.amount_minor:
        words.append(f"The most is at tier {largest.tier}: {line(largest)}.")
    shown, rest = levels[:MAX_TIER_ROWS], levels[MAX_TIER_ROWS:]
    note = ""
    if rest:
        held = format_money(sum(t.amount_minor for t in rest), currency)
        note = f"and {_plural(len(rest), 'deeper tier')} (tier {rest[0].tier} to {rest[-1].tier}) with {held}"
        words.append(f"The chart shows the first {len(shown)} tiers; {note}, listed in the table.")
    desc = " ".join(words)

    rows = [
        [f"Tier {t.tier}", format_money(t.amount_minor, currency), f"{t.holders:,}", _percent(t.amount_minor, total)]
        for t in levels
    ]
    table = data_table(
        title,
        ["Tier", "Amount held", "Holders", "Share"],
        rows,
        numeric=(1, 2, 3),
        footer=["Total", format_money(total, currency), "", "100%" if total else "0%"],
        table_id=f"{chart_id}-table",
    )

    margin, pitch = 8.0, 38.0
    span = WIDTH - 2 * margin
    top_amount = max(t.amount_minor for t in shown) or 1
    body: list[Markup] = []
    for index, level in enumerate(shown):
        y = 6 + index * pitch
        name = f"Tier {level.tier}"
        detail = " " + line(level)
        if _text_width(name + detail, 12) > span:  # very long numbers: drop the share, then cut
            detail = _fit(
                f" {format_money(level.amount_minor, currency)}, {_plural(level.holders, 'holder')}",
                span - _text_width(name, 12),
                12,
            )
        label = _el(
            "text",
            {"x": margin, "y": y + 13, "font-size": 12, "fill": INK},
            _el("tspan", {"font-weight": "600"}, name),
            detail,
        )
        width = level.amount_minor / top_amount * span
        bar = (
            _el("rect", {"x": margin, "y": y + 18, "width": max(2.0, width), "height": 12.0, "fill": BRAND})
            if level.amount_minor
            else Markup("")
        )
        track = _el("line", {"x1": margin, "x2": margin + span, "y1": y + 30.5, "y2": y + 30.5, "stroke": GRID})
        body.append(_el("g", {"class": "tf-bar"}, label, track, bar))
    height = 6 + len(shown) * pitch + (22 if note else 4)
    if note:
        body.append(_text(margin, height - 10, note[0].upper() + note[1:] + " (see the table).", size=12, fill=MUTED))
    svg = _svg(chart_id, title, desc, (WIDTH, height), body)
    return Chart(svg=svg, table=table, title=title, desc=desc)


# --- 2b. amounts by category ----------------------------------------------------------------------------------


def category_bars(
    categories: Sequence[CategoryAmount], currency: str, *, chart_id: str, title: str, counted: str = "subject"
) -> Chart:
    """Amounts by category, largest first: one horizontal bar per category under a line that says its name, the
    exact amount, how many ``counted`` things it holds and its share of the total. Past ``MAX_CATEGORY_ROWS`` rows
    a note sums up the smaller categories (the table lists each)."""
    chart_id = _check_id(chart_id)
    if not categories:
        return _empty(chart_id, title)
    ordered = sorted(categories, key=lambda c: (-c.amount_minor, c.name))
    total = sum(c.amount_minor for c in ordered)

    def line(item: CategoryAmount) -> str:
        return (
            f"{format_money(item.amount_minor, currency)}, {_plural(item.count, counted)} "
            f"({_percent(item.amount_minor, total)})"
        )

    words = [f"{format_money(total, currency)} in {_plural(len(ordered), 'category', 'categories')}."]
    if len(ordered) > 1 and ordered[0].amount_minor:
        words.append(f"The most is under {ordered[0].name}: {line(ordered[0])}.")
    shown, rest = ordered[:MAX_CATEGORY_ROWS], ordered[MAX_CATEGORY_ROWS:]
    note = ""
    if rest:
        held = format_money(sum(c.amount_minor for c in rest), currency)
        note = f"and {_plural(len(rest), 'smaller category', 'smaller categories')} with {held}"
        words.append(f"The chart shows the largest {len(shown)}; {note}, listed in the table.")
    desc = " ".join(words)

    rows = [
        [c.name, format_money(c.amount_minor, currency), f"{c.count:,}", _percent(c.amount_minor, total)]
        for c in ordered
    ]
    table = data_table(
        title,
        ["Category", "Amount", counted.capitalize() + "s", "Share"],
        rows,
        numeric=(1, 2, 3),
        footer=["Total", format_money(total, currency), "", "100%" if total else "0%"],
        table_id=f"{chart_id}-table",
    )

    margin, pitch = 8.0, 38.0
    span = WIDTH - 2 * margin
    top_amount = max(c.amount_minor for c in shown) or 1
    body: list[Markup] = []
    for index, item in enumerate(shown):
        y = 6 + index * pitch
        detail = " " + line(item)
        name = _fit(item.name, span * 0.6, 12)
        if _text_width(name + detail, 12) > span:
            detail = _fit(detail, span - _text_width(name, 12), 12)
        label = _el(
            "text",
            {"x": margin, "y": y + 13, "font-size": 12, "fill": INK},
            _el("tspan", {"font-weight": "600"}, name),
            detail,
        )
        width = item.amount_minor / top_amount * span
        bar = (
            _el("rect", {"x": margin, "y": y + 18, "width": max(2.0, width), "height": 12.0, "fill": BRAND})
            if item.amount_minor
            else Markup("")
        )
        track = _el("line", {"x1": margin, "x2": margin + span, "y1": y + 30.5, "y2": y + 30.5, "stroke": GRID})
        tip = _el("title", None, f"{item.name}: {line(item)}")
        body.append(_el("g", {"class": "tf-bar"}, tip, label, track, bar))
    height = 6 + len(shown) * pitch + (22 if note else 4)
    if note:
        body.append(_text(margin, height - 10, note[0].upper() + note[1:] + " (see the table).", size=12, fill=MUTED))
    svg = _svg(chart_id, title, desc, (WIDTH, height), body)
    return Chart(svg=svg, table=table, title=title, desc=desc)


# --- 3. a bank's portfolio: a heat map with numbers in every cell -------------------------------------------


def portfolio(
    rows: Sequence[PortfolioRow],
    currency: str,
    *,
    chart_id: str,
    title: str,
    buckets: Sequence[str] | None = None,
) -> Chart:
    """A bank's portfolio as a grid: one row per obligor (largest first), one column per maturity bucket (in
    ``buckets`` order, else as first seen), each cell shaded by size *and* showing the amount, with row and
    column totals and a legend that names each shade's range. Past ``MAX_OBLIGORS`` rows the smallest
    obligors fold into one row; past ``MAX_PORTFOLIO_BUCKETS`` columns the last fold into "Later (N)"."""
    chart_id = _check_id(chart_id)
    if not rows:
        return _empty(chart_id, title)
    order = list(dict.fromkeys([*(buckets or ()), *(r.bucket for r in rows)]))
    cells: dict[tuple[str, str], int] = {}
    for r in rows:
        cells[r.obligor, r.bucket] = cells.get((r.obligor, r.bucket), 0) + r.amount_minor
    obligor_totals: dict[str, int] = {}
    for (obligor, _), amount in cells.items():
        obligor_totals[obligor] = obligor_totals.get(obligor, 0) + amount
    obligors = sorted(obligor_totals, key=lambda o: (-obligor_totals[o], o))
    bucket_totals = {b: sum(cells.get((o, b), 0) for o in obligors) for b in order}
    total = sum(obligor_totals.values())

    top_obligor = obligors[0]
    top_bucket = max(order, key=lambda b: bucket_totals[b])
    words = [
        f"Portfolio of {format_money(total, currency)}: {_plural(len(obligors), 'obligor')} "
        f"across {_plural(len(order), 'maturity bucket')}."
    ]
    if total:
        words.append(
            f"Largest obligor: {top_obligor}, {format_money(obligor_totals[top_obligor], currency)} "
            f"({_percent(obligor_totals[top_obligor], total)}). Largest bucket: {top_bucket}, "
            f"{format_money(bucket_totals[top_bucket], currency)} ({_percent(bucket_totals[top_bucket], total)})."
        )

    table = data_table(
        title,
        ["Obligor", *order, "Total"],
        [
            [
                o,
                *(format_money(cells.get((o, b), 0), currency) for b in order),
                format_money(obligor_totals[o], currency),
            ]
            for o in obligors
        ],
        numeric=range(1, len(order) + 2),
        footer=["Total", *(format_money(bucket_totals[b], currency) for b in order), format_money(total, currency)],
        table_id=f"{chart_id}-table",
    )

    names, columns, grid = _fold_grid(cells, obligors, order)
    if len(names) < len(obligors) or len(columns) < len(order):
        words.append("The chart groups the smallest obligors and the latest buckets; the table lists each.")
    desc = " ".join(words)
    svg = _svg(chart_id, title, desc, *_heat_map(names, columns, grid, currency))
    return Chart(svg=svg, table=table, title=title, desc=desc)


def _fold_grid(
    cells: Mapping[tuple[str, str], int], obligors: Sequence[str], order: Sequence[str]
) -> tuple[list[str], list[str], list[list[int]]]:
    """Row names, column names and amounts of the grid to draw: past ``MAX_OBLIGORS`` the smallest obligors
    share the last row, past ``MAX_PORTFOLIO_BUCKETS`` the latest buckets share the last column."""
    names = list(obligors)
    if len(names) > MAX_OBLIGORS:
        names = [*names[: MAX_OBLIGORS - 1], f"Other obligors ({len(obligors) - MAX_OBLIGORS + 1})"]
    columns = list(order)
    if len(columns) > MAX_PORTFOLIO_BUCKETS:
        columns = [*columns[: MAX_PORTFOLIO_BUCKETS - 1], f"Later ({len(order) - MAX_PORTFOLIO_BUCKETS + 1})"]
    row_of = {obligor: min(i, len(names) - 1) for i, obligor in enumerate(obligors)}
    column_of = {bucket: min(j, len(columns) - 1) for j, bucket in enumerate(order)}
    grid = [[0] * len(columns) for _ in names]
    for (obligor, bucket), amount in cells.items():
        grid[row_of[obligor]][column_of[bucket]] += amount
    return names, columns, grid


def _heat_map(
    names: Sequence[str], columns: Sequence[str], grid: Sequence[Sequence[int]], currency: str
) -> tuple[tuple[float, float], list[Markup]]:
    """The grid's size and body: a header row, a row per obligor, a totals row, and the legend of shades."""
    largest = max(max(row) for row in grid) or 1

    def level(amount: int) -> int:  # 0 for nothing, else 1..len(HEAT_LEVELS) by share of the largest cell
        return 0 if amount == 0 else -(-amount * len(HEAT_LEVELS) // largest)

    row_totals = [sum(row) for row in grid]
    column_totals = [sum(row[j] for row in grid) for j in range(len(columns))]
    total = sum(row_totals)
    widest = max(
        [_text_width(format_compact(a, currency), 12) for row in (*grid, column_totals) for a in row]
        + [_text_width(b, 11) for b in columns]
    )
    name_w = min(200.0, max(100.0, max(_text_width(n, 12) for n in names) + 12))
    cell_w = min(110.0, max(64.0, widest + 12))
    total_w = max(80.0, _text_width(format_compact(total, currency), 12) + 16)
    margin, header, cell_h = 8.0, 44.0, 28.0
    grid_right = margin + name_w + len(columns) * cell_w

    body: list[Markup] = [_text(margin, 16, f"Amounts in {currency}", size=11, fill=MUTED)]
    for j, bucket in enumerate(columns):
        x = margin + name_w + j * cell_w + cell_w / 2
        heading = _text(x, header - 8, _fit(bucket, cell_w - 6, 11), size=11, weight="600", anchor="middle")
        body.append(_el("g", None, _el("title", None, bucket), heading))
    body.append(_text(grid_right + total_w - 6, header - 8, "Total", size=11, weight="600", anchor="end"))

    def draw_row(y: float, name: str, amounts: Sequence[int], row_total: int, *, bold: bool = False) -> Markup:
        weight = "600" if bold else None
        parts = [
            _el("title", None, f"{name}: {format_money(row_total, currency)}"),
            _text(margin, y + 18, _fit(name, name_w - 10, 12), weight=weight),
        ]
        for j, amount in enumerate(amounts):
            x = margin + name_w + j * cell_w
            shade = 0 if bold else level(amount)  # totals are not shaded: they are not cells of the grid
            fill, ink = (BACKGROUND, INK if amount else MUTED) if shade == 0 else HEAT_LEVELS[shade - 1]
            box: dict[str, Attr] = {"x": x + 1, "y": y + 1, "width": cell_w - 2, "height": cell_h - 2, "fill": fill}
            box["stroke"] = GRID if shade == 0 else fill
            label = format_compact(amount, currency) if amount else "—"
            parts.append(
                _el(
                    "g",
                    None,
                    _el("title", None, f"{name}, {columns[j]}: {format_money(amount, currency)}"),
                    _el("rect", box),
                    _text(x + cell_w / 2, y + 18, label, fill=ink, anchor="middle", weight=weight),
                )
            )
        total_label = format_compact(row_total, currency)
        parts.append(_text(grid_right + total_w - 6, y + 18, total_label, weight="600", anchor="end"))
        return _el("g", {"class": "tf-row"}, *parts)

    y = header
    for name, amounts, row_total in zip(names, grid, row_totals, strict=True):
        body.append(draw_row(y, name, amounts, row_total))
        y += cell_h
    body.append(_el("line", {"x1": margin, "x2": grid_right + total_w, "y1": y + 2, "y2": y + 2, "stroke": AXIS}))
    body.append(draw_row(y + 4, "Total", column_totals, total, bold=True))
    y += 4 + cell_h + 14

    # Legend: each shade with the range of amounts it stands for.
    x = margin
    body.append(_text(x, y + 12, "Shading by amount:", size=11, fill=MUTED))
    x += _text_width("Shading by amount:", 11) + 10
    for k, (fill, _) in enumerate(HEAT_LEVELS, start=1):
        label = f"up to {format_compact(largest * k // len(HEAT_LEVELS), currency)}"
        body.append(_el("rect", {"x": x, "y": y + 2, "width": 14, "height": 14, "fill": fill, "stroke": AXIS}))
        body.append(_text(x + 18, y + 13, label, size=11))
        x += 18 + _text_width(label, 11) + 12
    width = max(float(WIDTH), grid_right + total_w + margin, x + margin)
    return (width, y + 24), body


# --- 4. provenance graph ------------------------------------------------------------------------------------


def default_layer_label(layer: int) -> str:
    """Column heading of a provenance graph: ``Issuer`` for layer 0, else ``Tier N``."""
    return "Issuer" if layer == 0 else f"Tier {layer}"


@dataclass(frozen=True, slots=True)
class _Column:
    """One layer as drawn: its nodes top to bottom, and how many more an "and N more" box stands for."""

    layer: int
    members: tuple[GraphNode, ...]
    shown: tuple[GraphNode, ...]
    hidden: int


@dataclass(frozen=True, slots=True)
class _Box:
    """A drawn box: a node, or the "and N more" box of a column (``node`` None)."""

    key: str
    x: float
    y: float
    node: GraphNode | None = None
    more: int = 0


def provenance_graph(
    nodes: Sequence[GraphNode],
    edges: Sequence[GraphEdge],
    *,
    chart_id: str,
    title: str,
    layer_label: Callable[[int], str] = default_layer_label,
) -> Chart:
    """Where a voucher's units went, as a layered graph read left to right: one column per layer (tier), the
    nodes of a layer stacked, arrows with their labels between them. Nodes with ``href`` are links (in tab
    order, column by column); the ``current`` node has a thick border and the word "Current" above it.

    At most ``MAX_LAYERS`` columns (those up to the current node) and ``MAX_NODES`` boxes are drawn; a column
    with more nodes than fit ends in an "and N more" box. The table lists every node with where it came from.
    """
    chart_id = _check_id(chart_id)
    if not nodes:
        return _empty(chart_id, title)
    by_id: dict[str, GraphNode] = {}
    for node in nodes:
        if node.id in by_id:
            raise ValueError(f"node id {node.id!r} appears twice")
        by_id[node.id] = node
    parents: dict[str, list[GraphEdge]] = {n.id: [] for n in nodes}
    for edge in edges:
        for end in (edge.source, edge.target):
            if end not in by_id:
                raise ValueError(f"edge refers to an unknown node {end!r}")
        parents[edge.target].append(edge)
    sources = {n.id: [by_id[e.source].label for e in parents[n.id]] for n in nodes}
    layers = sorted({n.layer for n in nodes})
    current = next((n for n in nodes if n.current), None)

    def received(node: GraphNode) -> str:
        return "; ".join(by_id[e.source].label + (f" ({e.label})" if e.label else "") for e in parents[node.id])

    def name_cell(node: GraphNode) -> str | Markup:
        text = node.label + (" (current)" if node.current else "")
        return _el("a", {"href": node.href}, text) if node.href else text

    table = data_table(
        title,
        ["Holding", "Tier", "Details", "Received from"],
        [[name_cell(n), layer_label(n.layer), n.sublabel, received(n)] for n in sorted(nodes, key=lambda n: n.layer)],
        table_id=f"{chart_id}-table",
    )

    columns = _arrange(_window(layers, current), nodes, parents, current)
    span = layer_label(layers[0]) if len(layers) == 1 else f"{layer_label(layers[0])} to {layer_label(layers[-1])}"
    words = [
        f"{_plural(len(nodes), 'holding')} in {_plural(len(layers), 'column')} ({span}), "
        f"joined by {_plural(len(edges), 'arrow')} that point from a holding to those its units went to."
    ]
    if current is not None:
        words.append(f"Current: {', '.join(p for p in (current.label, current.sublabel) if p)}.")
    note = ""
    if len(columns) < len(layers):
        note = f"and {_plural(len(layers) - len(columns), 'more column')} not drawn (see the table)"
        words.append(f"The drawing shows {len(columns)} of the {len(layers)} columns.")
    hidden = len(nodes) - sum(len(c.shown) for c in columns)
    if hidden:
        words.append(f"{_plural(hidden, 'holding')} not drawn; the table lists every holding.")
    desc = " ".join(words)

    size, body = _graph_drawing(chart_id, columns, edges, sources, layer_label, note)
    interactive = any(n.href for c in columns for n in c.shown)
    if size[0] <= WIDE:
        svg = _svg(chart_id, title, desc, size, body, interactive=interactive)
    else:  # at its natural size in a region that scrolls sideways, rather than shrunk past reading
        style = f"min-width: {_num(size[0])}px; max-height: none"
        svg = _svg(chart_id, title, desc, size, body, interactive=interactive, style=style)
        region = {"class": "chart-scroll", "role": "region", "tabindex": "0", "style": "overflow-x: auto"}
        svg = _el("div", {**region, "aria-label": f"{title} (scrolls sideways)"}, svg)
    return Chart(svg=svg, table=table, title=title, desc=desc)


def _window(layers: Sequence[int], current: GraphNode | None) -> list[int]:
    """The layers to draw: all, or ``MAX_LAYERS`` of them, the first ones or those that end at the current
    node's layer."""
    if len(layers) <= MAX_LAYERS:
        return list(layers)
    start = 0
    if current is not None:
        start = max(0, min(layers.index(current.layer) - MAX_LAYERS + 1, len(layers) - MAX_LAYERS))
    return list(layers[start : start + MAX_LAYERS])


def _arrange(
    layers: Sequence[int],
    nodes: Sequence[GraphNode],
    parents: Mapping[str, Sequence[GraphEdge]],
    current: GraphNode | None,
) -> list[_Column]:
    """Each layer's nodes ordered by where their parents are drawn (fewer crossings; ties keep the order
    given), and cut to a number per column that keeps the whole under ``MAX_NODES`` boxes (the current node
    always stays)."""
    members = {layer: [n for n in nodes if n.layer == layer] for layer in layers}
    cap = MAX_PER_LAYER
    while cap > 2 and sum(min(len(m), cap) for m in members.values()) > MAX_NODES:
        cap -= 1
    height: dict[str, float] = {}  # node id -> height of its box, centred on the column's middle
    columns: list[_Column] = []
    for layer in layers:

        def barycentre(node: GraphNode) -> float:
            seen = [height[e.source] for e in parents[node.id] if e.source in height]
            return sum(seen) / len(seen) if seen else float("inf")

        ordered = sorted(members[layer], key=barycentre)
        shown = ordered
        if len(ordered) > cap:
            shown = ordered[: cap - 1]
            if current is not None and current in ordered and current not in shown:
                shown = [*shown[:-1], current]
        boxes = len(shown) + (len(shown) < len(ordered))
        for position, node in enumerate(shown):
            height[node.id] = position - (boxes - 1) / 2
        for node in ordered:
            height.setdefault(node.id, (boxes - 1) / 2)  # not shown: where its "and N more" box is
        columns.append(_Column(layer, tuple(ordered), tuple(shown), len(ordered) - len(shown)))
    return columns


def _graph_drawing(
    chart_id: str,
    columns: Sequence[_Column],
    edges: Sequence[GraphEdge],
    sources: Mapping[str, Sequence[str]],
    layer_label: Callable[[int], str],
    note: str,
) -> tuple[tuple[float, float], list[Markup]]:
    """The graph's size and body: boxes as wide as the longest label, gaps as wide as the longest arrow label,
    columns centred on each other."""
    drawn = [n for c in columns for n in c.shown]
    node_w = max(max(_text_width(n.label, 12) * 1.05, _text_width(n.sublabel, 11)) for n in drawn) + 16
    node_w = min(220.0, max(120.0, node_w))
    gap = min(150.0, max(56.0, max((_text_width(e.label, 10) for e in edges), default=0) + 24))
    node_h, pitch, margin, top = 44.0, 64.0, 8.0, 40.0
    most = max(len(c.shown) + bool(c.hidden) for c in columns)
    width = max(float(WIDTH), 2 * margin + len(columns) * node_w + (len(columns) - 1) * gap)
    height = top + most * pitch + (20 if note else 0)

    boxes: dict[str, _Box] = {}  # node id -> the box that shows it (a hidden node: its column's "more" box)
    drawn_boxes: list[_Box] = []
    for index, column in enumerate(columns):
        x = margin + index * (node_w + gap)
        y = top + (most - len(column.shown) - bool(column.hidden)) * pitch / 2
        for node in column.shown:
            boxes[node.id] = _Box(node.id, x, y, node=node)
            drawn_boxes.append(boxes[node.id])
            y += pitch
        if column.hidden:
            more = _Box(f"more-{column.layer}", x, y, more=column.hidden)
            drawn_boxes.append(more)
            for node in column.members:
                boxes.setdefault(node.id, more)

    arrow_id = f"{chart_id}-arrow"
    marker: dict[str, Attr] = {
        "id": arrow_id,
        "viewBox": "0 0 10 10",
        "refX": 9,
        "refY": 5,
        "markerWidth": 7,
        "markerHeight": 7,
    }
    body = [
        _el(
            "defs",
            None,
            _el("marker", {**marker, "orient": "auto"}, _el("path", {"d": "M0,0 L10,5 L0,10 z", "fill": AXIS})),
        )
    ]
    if any(n.href for n in drawn):  # focus shows on the box (an outline on an SVG link is not drawn everywhere)
        body.append(_el("style", None, f"#{chart_id} a:focus-visible .tf-box {{ stroke: {INK}; stroke-width: 4px; }}"))
    for index, column in enumerate(columns):
        body.append(
            _text(margin + index * (node_w + gap), 14, layer_label(column.layer), size=11, weight="600", fill=MUTED)
        )

    # Arrows under the boxes, hidden from assistive technology (each node's name says where it came from).
    arrows: list[Markup] = []
    seen: set[tuple[str, str]] = set()
    for edge in edges:
        source, target = boxes.get(edge.source), boxes.get(edge.target)
        if source is None or target is None or source.key == target.key or (source.key, target.key) in seen:
            continue
        seen.add((source.key, target.key))
        x1, y1 = source.x + node_w, source.y + node_h / 2
        x2, y2 = target.x - 1, target.y + node_h / 2
        bend = max(30.0, abs(x2 - x1) / 2)
        path = "M{},{} C{},{} {},{} {},{}".format(*map(_num, (x1, y1, x1 + bend, y1, x2 - bend, y2, x2, y2)))
        line: dict[str, Attr] = {
            "d": path,
            "fill": "none",
            "stroke": AXIS,
            "stroke-width": 1.5,
            "marker-end": f"url(#{arrow_id})",
        }
        arrows.append(_el("path", line))
        if edge.label and source.node and target.node:  # by the arrowhead, where arrows to different boxes part
            halo: dict[str, Attr] = {"stroke": BACKGROUND, "stroke-width": 3, "paint-order": "stroke"}
            label: dict[str, Attr] = {
                "x": x2 - 10,
                "y": y2 - 5,
                "font-size": 10,
                "fill": MUTED,
                "text-anchor": "end",
                **halo,
            }
            arrows.append(_el("text", label, edge.label))
    body.append(_el("g", {"class": "tf-edges", "aria-hidden": "true"}, *arrows))

    body.extend(_node(box, node_w, node_h, sources.get(box.key, ())) for box in drawn_boxes)
    if note:
        body.append(_text(margin, height - 6, note[0].upper() + note[1:] + ".", size=12, fill=MUTED))
    return (width, height), body


def _node(box: _Box, width: float, height: float, sources: Sequence[str]) -> Markup:
    """One box: the "and N more" placeholder, or a node (a link where it has ``href``) whose accessible name
    says who holds it, its details, whether it is the current one and where it came from."""
    frame: dict[str, Attr] = {"x": box.x, "y": box.y, "width": width, "height": height, "rx": 4}
    if box.node is None:
        dashed = _el("rect", {**frame, "fill": BACKGROUND, "stroke": AXIS, "stroke-dasharray": "4 3"})
        more = _text(box.x + width / 2, box.y + height / 2 + 4, f"and {box.more:,} more", fill=MUTED, anchor="middle")
        return _el("g", {"class": "tf-more"}, dashed, more)
    node = box.node
    fill, stroke, border = (CURRENT_FILL, BRAND, 3) if node.current else (BACKGROUND, MUTED, 1)
    label: dict[str, Attr] = {"x": box.x + 8, "y": box.y + 18, "font-size": 12, "font-weight": "600"}
    label |= {"fill": BRAND, "text-decoration": "underline"} if node.href else {"fill": INK}
    parts = [
        _el("rect", {**frame, "class": "tf-box", "fill": fill, "stroke": stroke, "stroke-width": border}),
        _el("text", label, _fit(node.label, width - 16, 12 * 1.05)),
    ]
    if node.sublabel:
        parts.append(_text(box.x + 8, box.y + 35, _fit(node.sublabel, width - 16, 11), size=11, fill=MUTED))
    if node.current:
        parts.append(_text(box.x, box.y - 5, "Current", size=10, weight="600", fill=BRAND))
    name = ", ".join(p for p in (node.label, node.sublabel, "current" if node.current else "") if p)
    if sources:
        name += ", from " + ", ".join(sources)
    marks: dict[str, Attr] = {"class": "tf-node", "aria-current": "true" if node.current else None}
    if node.href:
        return _el("a", {"href": node.href, **marks, "aria-label": name}, _el("title", None, name), *parts)
    return _el("g", marks, _el("title", None, name), *parts)
