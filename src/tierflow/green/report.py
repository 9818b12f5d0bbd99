"""Render an :class:`~tierflow.green.esg.EsgTable` as CSV, JSON or a self-contained HTML report.

Design: pure functions from a table to text. Decimals are written as strings (never floats). The HTML page has no
script and no external resources: styles inline, charts as inline SVG bar charts, every chart with ``<title>`` and
``<desc>`` (``role="img"``, ``aria-labelledby``) and the same figures in a data table beside it. Every piece of
text from the inputs is escaped. The page also lists each row's method, the factors used with their sources, the
factor-library version and digest, and the platform-impact method.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from decimal import Decimal
from html import escape
from typing import Any

from tierflow.green.esg import HKEX_KPIS, EsgRow, EsgTable, PlatformImpactInputs

__all__ = ["CSV_COLUMNS", "render_csv", "render_html", "render_json", "table_to_dict"]

CSV_COLUMNS = ("code", "item", "value", "unit", "exact", "method", "refs")


def _s(value: Decimal | None) -> str:
    return "" if value is None else str(value)


def render_csv(table: EsgTable) -> str:
    """One line per row: code, item, rounded value, unit, exact value, method, refs (``;``-separated)."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for row in table.rows:
        writer.writerow([row.code, row.item, _s(row.value), row.unit, _s(row.exact), row.method, ";".join(row.refs)])
    return buf.getvalue()


def table_to_dict(table: EsgTable) -> dict[str, Any]:
    """A JSON-ready mapping; every Decimal as a string."""
    return {
        "year": table.year,
        "factor_library": {"version": table.inventory.library_version, "digest": table.inventory.library_digest},
        "rows": [
            {
                "code": r.code,
                "kpi": r.kpi_name,
                "item": r.item,
                "value": None if r.value is None else str(r.value),
                "exact": None if r.exact is None else str(r.exact),
                "unit": r.unit,
                "method": r.method,
                "refs": list(r.refs),
            }
            for r in table.rows
        ],
        "emission_lines": [
            {
                "record_id": ln.record_id,
                "scope": ln.scope,
                "category": ln.category,
                "basis": ln.basis,
                "factor_id": ln.factor_id,
                "factor_value": str(ln.factor_value),
                "factor_unit": ln.factor_unit,
                "activity_quantity": str(ln.activity_quantity),
                "activity_unit": ln.activity_unit,
                "quantity_in_factor_unit": str(ln.quantity_in_factor_unit),
                "conversion_id": ln.conversion_id,
                "instrument_id": ln.instrument_id,
                "emissions_t": str(ln.emissions_t),
                "selection": ln.selection,
            }
            for ln in table.inventory.lines
        ],
        "factors": [f.to_json() for f in table.factors],
    }


def render_json(table: EsgTable) -> str:
    """The table, its emission lines and factors as JSON (Decimals as strings)."""
    return json.dumps(table_to_dict(table), ensure_ascii=False, indent=2)


def _bar_chart(chart_id: str, title: str, desc: str, items: Sequence[tuple[str, Decimal]], unit: str) -> str:
    width, bar_h, gap, label_w, value_w = 640, 22, 8, 260, 110
    height = len(items) * (bar_h + gap) + gap
    peak = max((v for _, v in items), default=Decimal(0))
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" aria-labelledby="{chart_id}-t {chart_id}-d" '
        f'width="{width}" height="{height}" viewBox="0 0 {width} {height}">',
        f'<title id="{chart_id}-t">{escape(title)}</title>',
        f'<desc id="{chart_id}-d">{escape(desc)}</desc>',
    ]
    span = width - label_w - value_w
    for n, (label, value) in enumerate(items):
        y = gap + n * (bar_h + gap)
        w = Decimal(0) if peak <= 0 else (value / peak * span).quantize(Decimal("0.1"))
        parts.append(f'<text x="{label_w - 6}" y="{y + 15}" text-anchor="end" font-size="12">{escape(label)}</text>')
        parts.append(f'<rect x="{label_w}" y="{y}" width="{w}" height="{bar_h}" fill="#2f6f4f"/>')
        parts.append(
            f'<text x="{label_w + w + 4}" y="{y + 15}" font-size="12">{escape(str(value))} {escape(unit)}</text>'
        )
    parts.append("</svg>")
    rows = "".join(
        f'<tr><th scope="row">{escape(label)}</th><td>{escape(str(value))}</td></tr>' for label, value in items
    )
    data_table = (
        f'<table><caption>{escape(title)} (data)</caption><thead><tr><th scope="col">Item</th>'
        f'<th scope="col">{escape(unit)}</th></tr></thead><tbody>{rows}</tbody></table>'
    )
    return f'<figure class="chart">{"".join(parts)}{data_table}</figure>'


def _chart_items(rows: Sequence[EsgRow], pick: Sequence[str]) -> list[tuple[str, Decimal]]:
    out = []
    for row in rows:
        if row.item in pick and row.value is not None:
            out.append((row.item, row.value))
    return out


_SCOPE_ITEMS = (
    "Scope 1: direct emissions",
    "Scope 2: energy indirect emissions (location-based)",
    "Scope 2: energy indirect emissions (market-based)",
)


def render_html(table: EsgTable, title: str, platform: PlatformImpactInputs | None = None) -> str:
    """A self-contained, script-free HTML report with charts, the KPI table, methods and sources."""
    body: list[str] = [
        f"<h1>{escape(title)}</h1>",
        f"<p>Reporting year {table.year}. Factor library {escape(table.inventory.library_version)}"
        f" (digest <code>{escape(table.inventory.library_digest[:16])}</code>).</p>",
    ]
    a12 = table.by_code("A1.2")
    scope_items = _chart_items(a12, _SCOPE_ITEMS)
    scope_items += [(r.item, r.value) for r in a12 if r.item.startswith("Scope 3") and r.value is not None]
    if scope_items:
        body.append("<h2>Greenhouse gas emissions</h2>")
        body.append(
            _bar_chart(
                "chart-scopes",
                "GHG emissions by scope",
                "Bar chart of emissions by scope in tCO2e; the same figures are in the table beside it.",
                scope_items,
                "tCO2e",
            )
        )
    intensities = [
        (f"{r.item} ({r.unit})", r.value) for r in a12 if r.item.startswith("GHG intensity") and r.value is not None
    ]
    if intensities:
        body.append(
            _bar_chart(
                "chart-intensity",
                "GHG intensities",
                "Bar chart of GHG intensities, each in its own unit as labelled.",
                intensities,
                "value",
            )
        )
    energy = [(r.item, r.value) for r in table.by_code("A2.1") if r.item.startswith("Energy: ") and r.value is not None]
    if energy:
        body.append("<h2>Energy</h2>")
        body.append(
            _bar_chart(
                "chart-energy", "Energy consumption by type", "Bar chart of energy use by type in MWh.", energy, "MWh"
            )
        )
    body.append("<h2>KPI table</h2>")
    head = "".join(f'<th scope="col">{h}</th>' for h in ("KPI", "Item", "Value", "Unit", "Method", "References"))
    lines = []
    for r in table.rows:
        lines.append(
            f'<tr><td><abbr title="{escape(r.kpi_name)}">{escape(r.code)}</abbr></td><td>{escape(r.item)}</td>'
            f"<td>{escape(_s(r.value))}</td><td>{escape(r.unit)}</td><td>{escape(r.method)}</td>"
            f"<td>{escape(', '.join(r.refs))}</td></tr>"
        )
    body.append(f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(lines)}</tbody></table>")
    body.append("<h2>HKEX KPIs reported</h2><dl>")
    for code in sorted({r.code for r in table.rows}):
        key = "P" if code.startswith("P") else code
        body.append(f"<dt>{escape(code)}</dt><dd>{escape(HKEX_KPIS[key])}</dd>")
    body.append("</dl>")
    body.append("<h2>Emission factors used</h2><ul>")
    for f in table.factors:
        body.append(
            f"<li><code>{escape(f.id)}</code>: {escape(str(f.value))} {escape(f.unit)} ({escape(f.region)}, "
            f"{f.year}). Source: {escape(f.source)}. {escape(f.note)}</li>"
        )
    body.append("</ul>")
    if platform is not None:
        body.append(
            "<h2>Platform impact: method</h2><p>Estimates of what paper-based, in-person processing would "
            "have used, reported apart from Scopes 1-3 and never netted against them.</p><ul>"
            f"<li>Paper avoided (t) = documents processed online ({platform.documents_online}) &#215; pages "
            f"per document ({escape(str(platform.pages_per_document))}) &#215; paper per page "
            f"({escape(str(platform.paper_kg_per_page))} kg) / 1000.</li>"
            f"<li>Emissions avoided (paper) = paper avoided &#215; factor "
            f"<code>{escape(platform.paper_factor_id)}</code>.</li>"
            f"<li>Travel avoided (passenger-km) = trips avoided ({platform.trips_avoided}) &#215; round-trip "
            f"distance ({escape(str(platform.km_per_trip))} km), one passenger per trip.</li>"
            f"<li>Emissions avoided (travel) = travel avoided &#215; factor "
            f"<code>{escape(platform.travel_factor_id or 'none')}</code>.</li></ul>"
        )
    style = (
        "body{font-family:sans-serif;max-width:72rem;margin:2rem auto;padding:0 1rem;color:#111}"
        "table{border-collapse:collapse;margin:1rem 0}td,th{border:1px solid #999;padding:.25rem .5rem;"
        "text-align:left;vertical-align:top}figure.chart{display:flex;gap:1.5rem;flex-wrap:wrap;"
        "align-items:flex-start}"
    )
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{escape(title)}</title><style>{style}</style></head><body><main>"
        + "\n".join(body)
        + "</main></body></html>\n"
    )
