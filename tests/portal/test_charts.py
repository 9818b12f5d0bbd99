"""Charts: well-formed, titled and described SVG, escaped text, exact money, WCAG AA colours, and the same
numbers as an accessible table.

Every SVG is parsed with ``xml.etree.ElementTree``: if it parses, it is well-formed, and the parsed text is what
a browser shows (so escaping is checked by reading the names back, not by searching the markup).
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator

import pytest
from hypothesis import given
from hypothesis import strategies as st
from markupsafe import Markup

from tierflow.domain.money import CURRENCIES, Money
from tierflow.portal import charts
from tierflow.portal.charts import (
    Chart,
    GraphEdge,
    GraphNode,
    MaturityBucket,
    PortfolioRow,
    TierLevel,
    data_table,
    format_compact,
    format_money,
    maturity_ladder,
    portfolio,
    provenance_graph,
    tier_travel,
)

SVG = "{http://www.w3.org/2000/svg}"
NASTY = 'A<b>&"c"'
HUGE = 10**15


def parse(markup: Markup) -> ET.Element:
    """The markup as an element tree, namespaces dropped from the tag names."""
    root = ET.fromstring(str(markup))
    for element in root.iter():
        element.tag = element.tag.removeprefix(SVG)
    return root


def svg_of(chart: Chart) -> ET.Element:
    root = parse(chart.svg)
    return root if root.tag == "svg" else next(root.iter("svg"))


def texts(root: ET.Element) -> list[str]:
    return ["".join(element.itertext()) for element in root.iter("text")]


def all_text(root: ET.Element) -> str:
    return " ".join(root.itertext())


def cells(table: Markup) -> list[list[str]]:
    """The table's rows (head, body, foot) as lists of cell texts."""
    return [["".join(cell.itertext()) for cell in row] for row in parse(table).iter("tr")]


# --- sample charts ------------------------------------------------------------------------------------------


def ladder() -> Chart:
    buckets = [
        MaturityBucket("2026-10", 120_000_00, overdue_minor=5_000_00),
        MaturityBucket("2026-11", 1_234_567_89, paid_minor=300_000_00),
        MaturityBucket(NASTY, 35_000_00),
    ]
    return maturity_ladder(buckets, "CNY", chart_id="ladder", title="Payables by month")


def travel() -> Chart:
    tiers = [TierLevel(2, 250_000_00, 3), TierLevel(1, 600_000_00, 1), TierLevel(3, 1, 12)]
    return tier_travel(tiers, "CNY", chart_id="travel", title="How far vouchers travelled")


def book() -> Chart:
    rows = [
        PortfolioRow("Core Co", "2026-10", 100_000_00),
        PortfolioRow(NASTY, "2026-11", 250_000_00),
        PortfolioRow(NASTY, "2026-10", 50_000_00),
        PortfolioRow("Core Co", "2026-12", 1),
    ]
    return portfolio(rows, "CNY", chart_id="book", title="Portfolio")


def graph_nodes() -> list[GraphNode]:
    return [
        GraphNode("root", "Core Co", "Obligor · CNY 1,000.00", 0),
        GraphNode("h1", "Tier-1 Ltd", "Tier 1 · CNY 1,000.00", 1, href="/portal/audit/holdings/h1"),
        GraphNode("h2", NASTY, "Tier 2 · CNY 300.00", 2, href="/portal/audit/holdings/h2", current=True),
        GraphNode("h3", "Tier-1 Ltd", "Tier 1 · CNY 700.00", 2),
    ]


def graph_edges() -> list[GraphEdge]:
    return [
        GraphEdge("root", "h1", "CNY 1,000.00"),
        GraphEdge("h1", "h2", "CNY 300.00"),
        GraphEdge("h1", "h3", "CNY 700.00"),
    ]


def graph() -> Chart:
    return provenance_graph(graph_nodes(), graph_edges(), chart_id="graph", title="Where the units went")


def big_graph(layers: int, per_layer: int) -> tuple[list[GraphNode], list[GraphEdge]]:
    nodes = [GraphNode("n0", "Core Co", "Obligor", 0)]
    edges: list[GraphEdge] = []
    previous = "n0"
    for layer in range(1, layers):
        for i in range(per_layer):
            node_id = f"n{layer}-{i}"
            nodes.append(GraphNode(node_id, f"Supplier {layer}-{i}", f"Tier {layer}", layer, href=f"/h/{node_id}"))
            edges.append(GraphEdge(previous, node_id, "CNY 1.00"))
        previous = f"n{layer}-0"
    return nodes, edges


def wide_graph() -> Chart:
    nodes, edges = big_graph(15, 6)  # 15 layers, 85 nodes
    return provenance_graph(nodes, edges, chart_id="big", title="Big")


def weeks() -> Chart:
    buckets = [MaturityBucket(f"Week {w} of 2026", w * 1_000_00, paid_minor=w % 3) for w in range(1, 61)]
    return maturity_ladder(buckets, "CNY", chart_id="weeks", title="Payables by week")


SAMPLES = {"ladder": ladder, "travel": travel, "book": book, "graph": graph, "wide": wide_graph, "weeks": weeks}


def every_chart() -> Iterator[Chart]:
    for make in SAMPLES.values():
        yield make()


# --- money --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("minor", "currency", "text"),
    [
        (123456789, "CNY", "CNY 1,234,567.89"),
        (0, "CNY", "CNY 0.00"),
        (5, "CNY", "CNY 0.05"),
        (-5, "CNY", "CNY -0.05"),
        (-123456789, "CNY", "CNY -1,234,567.89"),
        (100, "USD", "USD 1.00"),
        (1234567, "JPY", "JPY 1,234,567"),
        (-1, "JPY", "JPY -1"),
        (0, "KRW", "KRW 0"),
        (1234567, "KWD", "KWD 1,234.567"),
        (5, "BHD", "BHD 0.005"),
        (-1000, "KWD", "KWD -1.000"),
        (HUGE, "CNY", "CNY 10,000,000,000,000.00"),
        (-HUGE, "CNY", "CNY -10,000,000,000,000.00"),
        (HUGE, "JPY", "JPY 1,000,000,000,000,000"),
        (HUGE, "KWD", "KWD 1,000,000,000,000.000"),
        (123, "XYZ", "XYZ 1.23"),  # a currency it does not know: two decimals
    ],
)
def test_format_money_is_exact(minor: int, currency: str, text: str) -> None:
    assert format_money(minor, currency) == text


@given(st.integers(min_value=-(10**20), max_value=10**20), st.sampled_from(sorted(CURRENCIES)))
def test_format_money_agrees_with_the_domain(minor: int, currency: str) -> None:
    assert format_money(minor, currency).replace(",", "") == str(Money(minor, currency))


@pytest.mark.parametrize("bad", [1.5, True, "100", None])
def test_money_is_integer_minor_units_only(bad: object) -> None:
    with pytest.raises(TypeError):
        format_money(bad, "CNY")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        format_compact(bad, "CNY")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("minor", "currency", "text"),
    [
        (0, "CNY", "0"),
        (1250, "CNY", "12.5"),
        (99999, "CNY", "999.99"),
        (100000, "CNY", "1k"),
        (35_000_000, "CNY", "350k"),
        (120_000_000, "CNY", "1.2m"),
        (123_456_789, "CNY", "1.23m"),
        (99_995_000, "CNY", "1m"),  # 999,950.00 rounds up to 1,000k: said as 1m
        (-35_000_000, "CNY", "-350k"),
        (HUGE, "CNY", "10t"),
        (10**20, "CNY", "1,000,000t"),
        (999, "JPY", "999"),
        (1_500_000, "JPY", "1.5m"),
        (1500, "KWD", "1.5"),
        (5, "KWD", "0.005"),
    ],
)
def test_format_compact(minor: int, currency: str, text: str) -> None:
    assert format_compact(minor, currency) == text


# --- structure: titled, described, scalable, unique ids -----------------------------------------------------


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_each_chart_is_a_titled_described_svg_sized_by_its_viewbox(name: str) -> None:
    chart = SAMPLES[name]()
    svg = svg_of(chart)
    chart_id = svg.get("id")
    assert chart_id
    title, desc = svg[0], svg[1]
    assert (title.tag, title.get("id"), title.text) == ("title", f"{chart_id}-title", chart.title)
    assert (desc.tag, desc.get("id"), desc.text) == ("desc", f"{chart_id}-desc", chart.desc)
    assert chart.desc.strip()
    if svg.get("role") == "img":
        assert svg.get("aria-labelledby") == f"{chart_id}-title {chart_id}-desc"
    else:  # a graph with links: a group, so that the links inside are announced
        assert (svg.get("role"), svg.get("aria-labelledby"), svg.get("aria-describedby")) == (
            "group",
            f"{chart_id}-title",
            f"{chart_id}-desc",
        )
    assert re.fullmatch(r"0 0 [0-9.]+ [0-9.]+", svg.get("viewBox", ""))
    assert svg.get("width") is None and svg.get("height") is None
    assert svg.get("font-family") == "system-ui, sans-serif"
    ids = [e.get("id") for e in svg.iter() if e.get("id")]
    assert all(i.startswith(chart_id) for i in ids if i)
    for element in svg.iter():  # every url(#…) points at an element of this chart
        for value in element.attrib.values():
            for target in re.findall(r"url\(#([^)]+)\)", value):
                assert target in ids


def test_charts_on_one_page_have_unique_ids() -> None:
    page = "<div>" + "".join(str(c.svg) + str(c.table) for c in every_chart()) + "</div>"
    ids = [e.get("id") for e in ET.fromstring(page).iter() if e.get("id")]
    assert len(ids) == len(set(ids))


def test_a_chart_id_is_made_safe_for_ids_and_urls() -> None:
    chart = maturity_ladder([MaturityBucket("2026-10", 1)], "CNY", chart_id='9 x"><', title="t")
    assert svg_of(chart).get("id") == "chart-9-x---"
    with pytest.raises(ValueError):
        maturity_ladder([], "CNY", chart_id="", title="t")


def test_no_number_is_written_in_scientific_notation() -> None:
    for chart in every_chart():
        assert not re.search(r"\d[eE][+-]?\d", str(chart.svg))


# --- escaping -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["ladder", "book", "graph"])
def test_names_are_escaped_and_read_back_exactly(name: str) -> None:
    chart = SAMPLES[name]()
    for markup in (chart.svg, chart.table):
        assert NASTY not in str(markup)
        assert "&lt;b&gt;&amp;&#34;c&#34;" in str(markup)
    assert NASTY in all_text(svg_of(chart))
    assert NASTY in all_text(parse(chart.table))


def test_a_title_with_markup_is_escaped_everywhere() -> None:
    chart = tier_travel([TierLevel(1, 100, 1)], "CNY", chart_id="t", title=NASTY)
    assert svg_of(chart)[0].text == NASTY
    assert parse(chart.table).find("caption") is not None
    assert parse(chart.table).findtext("caption") == NASTY
    assert NASTY not in str(chart.svg) + str(chart.table)


def test_the_desc_reads_the_data_in_words() -> None:
    assert ladder().desc == (
        f"3 maturity buckets from 2026-10 to {NASTY}, CNY 1,694,567.89 in all. "
        "The largest is 2026-11 with CNY 1,534,567.89 (90.6%). "
        "Of the total: outstanding CNY 1,389,567.89, overdue CNY 5,000.00, paid CNY 300,000.00."
    )
    assert travel().desc == (
        "Vouchers reached tier 3. CNY 850,000.01 is held across 3 tiers. "
        "The most is at tier 1: CNY 600,000.00 held by 1 holder (70.6%)."
    )
    assert book().desc == (
        "Portfolio of CNY 400,000.01: 2 obligors across 3 maturity buckets. "
        f"Largest obligor: {NASTY}, CNY 300,000.00 (75%). Largest bucket: 2026-11, CNY 250,000.00 (62.5%)."
    )
    assert graph().desc == (
        "4 holdings in 3 columns (Issuer to Tier 2), joined by 3 arrows that point from a holding to those its "
        f"units went to. Current: {NASTY}, Tier 2 · CNY 300.00."
    )


# --- the data table -----------------------------------------------------------------------------------------


def test_data_table_has_a_caption_scoped_headers_and_numeric_columns() -> None:
    table = parse(
        data_table(
            "Owed",
            ["Maturity", "Amount"],
            [["2026-10", "CNY 1.00"], [Markup('<a href="/x">link</a>'), "<script>"]],
            numeric=(1,),
            footer=["Total", "CNY 2.00"],
        )
    )
    assert table.findtext("caption") == "Owed"
    assert [(th.get("scope"), th.text) for th in table.iter("th")][:2] == [("col", "Maturity"), ("col", "Amount")]
    body = table.find("tbody")
    assert body is not None
    rows = body.findall("tr")
    assert [(r[0].tag, r[0].get("scope")) for r in rows] == [("th", "row"), ("th", "row")]
    assert rows[0][1].get("class") == "num" and rows[0][1].text == "CNY 1.00"
    assert rows[1][0].find("a") is not None  # Markup is kept
    assert rows[1][1].text == "<script>"  # text is escaped
    foot = table.find("tfoot")
    assert foot is not None
    assert [c.text for c in foot.iter() if c.tag in ("th", "td")] == ["Total", "CNY 2.00"]


def test_each_chart_has_the_exact_numbers_as_a_table() -> None:
    table = parse(ladder().table)
    assert table.findtext("caption") == "Payables by month"
    headings = [th.text for th in table.iter("th") if th.get("scope") == "col"]
    assert headings == ["Maturity", "Outstanding", "Overdue", "Paid", "Total"]
    rows = cells(ladder().table)[1:]
    assert rows[1] == ["2026-11", "CNY 1,234,567.89", "CNY 0.00", "CNY 300,000.00", "CNY 1,534,567.89"]
    assert rows[0] == ["2026-10", "CNY 120,000.00", "CNY 5,000.00", "CNY 0.00", "CNY 125,000.00"]
    assert rows[-1] == ["Total", "CNY 1,389,567.89", "CNY 5,000.00", "CNY 300,000.00", "CNY 1,694,567.89"]

    assert cells(travel().table)[1:] == [
        ["Tier 1", "CNY 600,000.00", "1", "70.6%"],
        ["Tier 2", "CNY 250,000.00", "3", "29.4%"],
        ["Tier 3", "CNY 0.01", "12", "<0.1%"],
        ["Total", "CNY 850,000.01", "", "100%"],
    ]

    rows = cells(book().table)
    assert rows[0] == ["Obligor", "2026-10", "2026-11", "2026-12", "Total"]
    assert rows[1] == [NASTY, "CNY 50,000.00", "CNY 250,000.00", "CNY 0.00", "CNY 300,000.00"]  # largest first
    assert rows[-1] == ["Total", "CNY 150,000.00", "CNY 250,000.00", "CNY 0.01", "CNY 400,000.01"]


def test_the_graph_table_lists_every_node_with_where_it_came_from_and_its_link() -> None:
    rows = cells(graph().table)[1:]
    assert rows[0] == ["Core Co", "Issuer", "Obligor · CNY 1,000.00", ""]
    assert rows[2] == [f"{NASTY} (current)", "Tier 2", "Tier 2 · CNY 300.00", "Tier-1 Ltd (CNY 300.00)"]
    link = parse(graph().table).find("tbody/tr[3]/th/a")
    assert link is not None and link.get("href") == "/portal/audit/holdings/h2"


# --- empty, single, huge ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "chart",
    [
        maturity_ladder([], "CNY", chart_id="e1", title="Nothing owed"),
        tier_travel([], "CNY", chart_id="e2", title="Nothing owed"),
        portfolio([], "CNY", chart_id="e3", title="Nothing owed"),
        provenance_graph([], [], chart_id="e4", title="Nothing owed"),
    ],
)
def test_empty_data_says_no_data_under_its_title(chart: Chart) -> None:
    svg = svg_of(chart)
    assert svg.get("role") == "img"
    assert svg.findtext("title") == "Nothing owed"
    assert "No data" in texts(svg)
    assert chart.desc == "No data to show."
    assert parse(chart.table).tag == "p"
    assert "no data" in all_text(parse(chart.table))


def test_a_single_item_is_drawn_and_described() -> None:
    one = maturity_ladder([MaturityBucket("2026-12", 500)], "CNY", chart_id="one", title="t")
    assert one.desc == "One maturity bucket, 2026-12: CNY 5.00."
    assert len(list(svg_of(one).iter("rect"))) == 1
    assert "5" in texts(svg_of(one))

    one = tier_travel([TierLevel(1, 500, 1)], "CNY", chart_id="one", title="t")
    assert one.desc.startswith("All of it is held at tier 1.")
    assert "Tier 1 CNY 5.00 held by 1 holder (100%)" in texts(svg_of(one))

    one = portfolio([PortfolioRow("Core Co", "2026-12", 500)], "CNY", chart_id="one", title="t")
    assert "Core Co" in texts(svg_of(one))

    one = provenance_graph([GraphNode("a", "Core Co")], [], chart_id="one", title="t")
    assert "Core Co" in texts(svg_of(one))


def test_zero_amounts_draw_no_bars_and_divide_by_nothing() -> None:
    for chart in (
        maturity_ladder([MaturityBucket("2026-12", 0)], "CNY", chart_id="z1", title="t"),
        tier_travel([TierLevel(1, 0, 0)], "CNY", chart_id="z2", title="t"),
        portfolio([PortfolioRow("Core Co", "2026-12", 0)], "CNY", chart_id="z3", title="t"),
    ):
        svg = svg_of(chart)
        assert not [r for g in svg.iter("g") if g.get("class") == "tf-bar" for r in g.iter("rect")]
        assert "CNY 0.00" in chart.desc


def viewbox(svg: ET.Element) -> tuple[float, float]:
    _, _, width, height = (float(v) for v in svg.get("viewBox", "").split())
    return width, height


def assert_inside(svg: ET.Element) -> None:
    """Every positioned shape and text starts inside the viewBox."""
    width, height = viewbox(svg)
    for element in svg.iter():
        for axis, limit in (("x", width), ("y", height)):
            value = element.get(axis)
            if value is not None and element.tag in ("rect", "text"):
                assert -0.5 <= float(value) <= limit + 0.5, (element.tag, element.attrib)


def test_huge_amounts_stay_exact_and_inside_the_chart() -> None:
    chart = maturity_ladder(
        [MaturityBucket("2026-11", HUGE, overdue_minor=HUGE), MaturityBucket("2026-12", 1)],
        "CNY",
        chart_id="huge",
        title="t",
    )
    assert "CNY 20,000,000,000,000.00" in chart.desc
    assert "20t" in texts(svg_of(chart))
    assert_inside(svg_of(chart))

    chart = tier_travel([TierLevel(t, HUGE, 10**9) for t in range(1, 4)], "CNY", chart_id="huge", title="t")
    lines = texts(svg_of(chart))
    assert "Tier 1 CNY 10,000,000,000,000.00 held by 1,000,000,000 holders (33.3%)" in lines
    assert_inside(svg_of(chart))

    chart = portfolio([PortfolioRow(f"Obligor {i}", "2026-12", HUGE) for i in range(3)], "CNY", chart_id="h", title="t")
    assert "CNY 30,000,000,000,000.00" in chart.desc
    assert_inside(svg_of(chart))


# --- each chart's own behaviour -----------------------------------------------------------------------------


def test_the_ladder_stacks_series_with_patterns_and_a_legend() -> None:
    svg = svg_of(ladder())
    patterns = {p.get("id") for p in svg.iter("pattern")}
    assert patterns == {"ladder-hatch", "ladder-dots"}
    assert {"Outstanding", "Overdue", "Paid", "Amounts in CNY"} <= set(texts(svg))
    bars = [g for g in svg.iter("g") if g.get("class") == "tf-bar"]
    assert len(bars) == 3
    assert bars[0].findtext("title") == (
        "2026-10: CNY 125,000.00 (outstanding CNY 120,000.00; overdue CNY 5,000.00; paid CNY 0.00)"
    )
    assert "125k" in texts(bars[0])  # the total on the bar
    one_series = svg_of(
        maturity_ladder([MaturityBucket("a", 1), MaturityBucket("b", 2)], "CNY", chart_id="s", title="t")
    )
    assert not list(one_series.iter("pattern"))
    assert "Outstanding" not in texts(one_series)


def test_the_ladder_turns_labels_when_bars_are_many_and_notes_what_it_leaves_out() -> None:
    chart = weeks()
    svg = svg_of(chart)
    bars = [g for g in svg.iter("g") if g.get("class") == "tf-bar"]
    assert len(bars) == charts.MAX_BUCKETS
    assert all("rotate(" in (t.get("transform") or "") for g in bars for t in g.iter("text"))
    note = "And 8 later buckets (Week 53 of 2026 to Week 60 of 2026) with CNY 452,000.08 (see the table)."
    assert note in texts(svg)
    assert len(list(parse(chart.table).iter("tr"))) == 1 + 60 + 1  # every bucket in the table
    assert_inside(svg)


def test_tier_travel_lists_tiers_in_order_with_amount_and_holders() -> None:
    lines = [t for t in texts(svg_of(travel())) if t.startswith("Tier")]
    assert lines == [
        "Tier 1 CNY 600,000.00 held by 1 holder (70.6%)",
        "Tier 2 CNY 250,000.00 held by 3 holders (29.4%)",
        "Tier 3 CNY 0.01 held by 12 holders (<0.1%)",
    ]
    with pytest.raises(ValueError):
        tier_travel([TierLevel(1, 1, 1), TierLevel(1, 2, 1)], "CNY", chart_id="x", title="t")


def test_tier_travel_notes_the_tiers_it_leaves_out() -> None:
    chart = tier_travel([TierLevel(t, 100, 1) for t in range(1, 16)], "CNY", chart_id="deep", title="t")
    assert "And 3 deeper tiers (tier 13 to 15) with CNY 3.00 (see the table)." in texts(svg_of(chart))
    assert "Vouchers reached tier 15." in chart.desc


def test_the_portfolio_grid_shows_every_amount_and_names_its_shades() -> None:
    svg = svg_of(book())
    lines = texts(svg)
    assert [t for t in lines if t.startswith("2026")] == ["2026-10", "2026-11", "2026-12"]
    assert {"50k", "250k", "100k", "0.01", "—", "400k"} <= set(lines)  # every cell shows its amount (or none)
    shades = [t for t in lines if t.startswith("up to")]
    assert shades == ["up to 50k", "up to 100k", "up to 150k", "up to 200k", "up to 250k"]
    cells = [g.findtext("title") for g in svg.iter("g") if g.findtext("title", "").startswith("Core Co, ")]
    assert cells == ["Core Co, 2026-10: CNY 100,000.00", "Core Co, 2026-11: CNY 0.00", "Core Co, 2026-12: CNY 0.01"]


def test_the_portfolio_follows_the_bucket_order_given_and_folds_what_does_not_fit() -> None:
    rows = [PortfolioRow(f"Obligor {i:02d}", "later", 100 + i) for i in range(20)]
    rows.append(PortfolioRow("Obligor 00", "sooner", 5))
    chart = portfolio(rows, "CNY", chart_id="many", title="t", buckets=["sooner", "later"])
    lines = texts(svg_of(chart))
    assert lines.index("sooner") < lines.index("later")
    assert "Other obligors (6)" in lines
    assert "Obligor 19" in lines and "Obligor 05" not in lines  # largest first; the smallest folded
    assert "the table lists each" in chart.desc
    assert len(list(parse(chart.table).iter("tr"))) == 1 + 20 + 1


def test_graph_nodes_with_href_are_links_with_full_names() -> None:
    svg = svg_of(graph())
    assert svg.get("role") == "group"
    links = list(svg.iter("a"))
    assert [a.get("href") for a in links] == ["/portal/audit/holdings/h1", "/portal/audit/holdings/h2"]
    assert links[1].get("aria-label") == f"{NASTY}, Tier 2 · CNY 300.00, current, from Tier-1 Ltd"
    assert links[1].get("aria-current") == "true"
    assert links[1].find("rect") is not None and NASTY in texts(links[1])
    plain = [g for g in svg.iter("g") if g.get("class") == "tf-node"]
    assert [g.findtext("title") for g in plain] == [
        "Core Co, Obligor · CNY 1,000.00",
        "Tier-1 Ltd, Tier 1 · CNY 700.00, from Tier-1 Ltd",
    ]
    assert "Current" in texts(svg)
    edges = next(g for g in svg.iter("g") if g.get("class") == "tf-edges")
    assert edges.get("aria-hidden") == "true"
    assert len(list(edges.iter("path"))) == 3
    assert all(p.get("marker-end") == "url(#graph-arrow)" for p in edges.iter("path"))
    assert {"CNY 1,000.00", "CNY 300.00", "CNY 700.00"} <= set(texts(edges))


def test_a_graph_without_links_is_an_image() -> None:
    nodes = [GraphNode("a", "Core Co"), GraphNode("b", "Tier-1 Ltd", layer=1)]
    svg = svg_of(provenance_graph(nodes, [GraphEdge("a", "b")], chart_id="plain", title="t"))
    assert svg.get("role") == "img"
    assert not list(svg.iter("a"))


def test_a_big_graph_is_capped_says_what_it_leaves_out_and_scrolls_sideways() -> None:
    nodes, _ = big_graph(15, 6)
    chart = wide_graph()
    wrapper = parse(chart.svg)
    assert (wrapper.tag, wrapper.get("role"), wrapper.get("tabindex")) == ("div", "region", "0")
    assert wrapper.get("aria-label") == "Big (scrolls sideways)"
    svg = svg_of(chart)
    boxes = [e for e in svg.iter() if e.get("class") in ("tf-node", "tf-more")]
    assert len(boxes) <= charts.MAX_NODES
    headings = [t.text for t in svg.iter("text") if t.get("y") == "14"]
    assert headings == ["Issuer", *(f"Tier {n}" for n in range(1, 12))]  # the first 12 (no node is current)
    assert any(t.startswith("and ") and t.endswith(" more") for t in texts(svg))
    assert "And 3 more columns not drawn (see the table)." in texts(svg)
    assert "The drawing shows 12 of the 15 columns." in chart.desc
    assert "not drawn; the table lists every holding." in chart.desc
    assert len(list(parse(chart.table).iter("tr"))) == 1 + len(nodes)
    assert_inside(svg)


def test_a_big_graph_keeps_the_current_node_in_view() -> None:
    nodes, edges = big_graph(15, 6)
    nodes = [GraphNode(n.id, n.label, n.sublabel, n.layer, n.href, current=n.id == "n14-5") for n in nodes]
    svg = svg_of(provenance_graph(nodes, edges, chart_id="big", title="Big"))
    current = [a for a in svg.iter("a") if a.get("aria-current") == "true"]
    assert [a.get("href") for a in current] == ["/h/n14-5"]
    assert "Tier 14" in texts(svg)


def test_graph_input_is_checked() -> None:
    with pytest.raises(ValueError, match="href"):
        GraphNode("a", "x", href="javascript:alert(1)")
    with pytest.raises(ValueError, match="href"):
        GraphNode("a", "x", href="//evil.example/")
    GraphNode("a", "x", href="https://example.com/a?b=c&d")
    with pytest.raises(ValueError, match="twice"):
        provenance_graph([GraphNode("a", "x"), GraphNode("a", "y")], [], chart_id="g", title="t")
    with pytest.raises(ValueError, match="unknown"):
        provenance_graph([GraphNode("a", "x")], [GraphEdge("a", "b")], chart_id="g", title="t")


def test_amounts_are_non_negative_integers() -> None:
    with pytest.raises(ValueError):
        MaturityBucket("x", -1)
    with pytest.raises(TypeError):
        MaturityBucket("x", 1.0)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        TierLevel(1, 1, -1)
    with pytest.raises(ValueError):
        PortfolioRow("o", "b", -5)


# --- colour contrast (WCAG 2.x) -----------------------------------------------------------------------------


def luminance(colour: str) -> float:
    channels = [int(colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    linear = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast(a: str, b: str) -> float:
    light, dark = sorted((luminance(a), luminance(b)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


def test_the_contrast_helper_matches_known_ratios() -> None:
    assert contrast("#000000", "#ffffff") == pytest.approx(21.0)
    assert contrast("#767676", "#ffffff") == pytest.approx(4.54, abs=0.01)


def test_palette_meets_wcag_aa() -> None:
    for text, backgrounds in charts.TEXT_COLOURS.items():
        for background in backgrounds:
            assert contrast(text, background) >= 4.5, (text, background)
    for mark in charts.MARK_COLOURS:
        assert contrast(mark, charts.BACKGROUND) >= 3.0, mark
    for fill, text in charts.HEAT_LEVELS:
        assert contrast(text, fill) >= 4.5, (fill, text)


def test_drawn_colours_are_from_the_checked_palette() -> None:
    """Every text colour drawn reaches 4.5:1 on white, except white text, which appears only on the dark
    heat-map shades; every filled bar reaches 3:1 (a patterned bar by its outline)."""
    heat_on_white_text = {fill for fill, text in charts.HEAT_LEVELS if text == charts.BACKGROUND}
    for chart in every_chart():
        svg = svg_of(chart)
        for group in svg.iter("g"):
            fills = [r.get("fill") for r in group.findall("rect")]
            for text in group.findall("text"):
                colour = text.get("fill", "")
                if colour == charts.BACKGROUND:
                    assert fills and fills[0] in heat_on_white_text
                else:
                    assert contrast(colour, charts.BACKGROUND) >= 4.5, colour
            if group.get("class") == "tf-bar":
                for rect in group.findall("rect"):
                    fill = rect.get("fill", "")
                    colour = rect.get("stroke", "") if fill.startswith("url(") else fill
                    assert contrast(colour, charts.BACKGROUND) >= 3.0, colour
