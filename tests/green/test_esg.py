"""The seed's 2021 figures (Linklogis ESG Report 2021, table 10.4) reproduced from its inputs."""

import json
from decimal import Decimal

import pytest

from tierflow.green.accounting import ActivityRecord
from tierflow.green.esg import EsgInputs, PlatformImpactInputs, build_table
from tierflow.green.factors import FactorLibrary
from tierflow.green.report import render_csv, render_html, render_json

SEED_FACTOR = "cn.grid.national.2015.mee-2021-guide"  # 0.6101 tCO2/MWh


def seed_inputs(**kw: object) -> EsgInputs:
    lib = FactorLibrary.load("tierflow-factors-2026.1")
    elec = ActivityRecord(
        "elec-2021",
        "electricity.grid",
        2,
        Decimal("479"),
        "MWh",
        2021,
        "CN",
        evidence="purchased electricity, mainland China offices",
    )
    base: dict[str, object] = dict(
        year=2021,
        library=lib,
        records=[elec],
        employees=910,
        factor_choice={"elec-2021": SEED_FACTOR},
        revenue_rmb_million=Decimal("1198"),
        water_m3=Decimal("2164"),
        wastewater_t=Decimal("332"),
        hazardous_waste_t=Decimal("0.03"),
        non_hazardous_waste_t=Decimal("369"),
        workforce={
            "gender": {"male": 533, "female": 377},
            "employee category": {"senior management": 12, "middle management": 104, "general staff": 794},
        },
        trained=910,
        trained_by={"gender": {"male": 533, "female": 377}},
        training_hours=Decimal("8711"),
        training_hours_by={
            "gender": {"male": Decimal("5036"), "female": Decimal("3675")},
            "employee category": {
                "senior management": Decimal("615"),
                "middle management": Decimal("1071"),
                "general staff": Decimal("7025"),
            },
        },
    )
    base.update(kw)
    return EsgInputs(**base)  # type: ignore[arg-type]


def v(table: object, code: str, item: str) -> Decimal | None:
    return table.get(code, item).value  # type: ignore[attr-defined, no-any-return]


def test_seed_table_10_4_ghg_figures() -> None:
    t = build_table(seed_inputs())
    assert str(v(t, "A1.2", "Total GHG emissions (Scope 1 + Scope 2 location-based)")) == "292"
    assert v(t, "A1.2", "Scope 1: direct emissions") == Decimal("0")
    assert str(v(t, "A1.2", "Scope 2: energy indirect emissions (location-based)")) == "292"
    assert str(v(t, "A1.2", "GHG intensity per employee")) == "0.32"
    assert str(v(t, "A1.2", "GHG intensity per revenue")) == "0.24"
    row = t.get("A1.2", "Total GHG emissions (Scope 1 + Scope 2 location-based)")
    assert row.exact == Decimal("292.2379") and row.refs == (f"elec-2021:{SEED_FACTOR}",)
    assert [f.id for f in t.factors] == [SEED_FACTOR]


def test_seed_table_10_4_resource_and_training_figures() -> None:
    t = build_table(seed_inputs())
    assert str(v(t, "A2.1", "Total energy consumption")) == "479"
    assert str(v(t, "A2.1", "Energy per employee")) == "0.53"
    assert str(v(t, "A2.2", "Water per employee")) == "2.38"
    assert str(v(t, "A1.1", "Wastewater per employee")) == "0.36"
    assert str(v(t, "A1.4", "Non-hazardous waste per employee")) == "0.41"
    assert str(v(t, "A1.3", "Hazardous waste per employee")) == "0.03"  # kg/employee
    assert str(v(t, "B3.2", "Average training hours per employee")) == "9.6"
    assert str(v(t, "B3.2", "By gender: male")) == "9.4"
    assert str(v(t, "B3.2", "By gender: female")) == "9.7"
    assert str(v(t, "B3.2", "By employee category: senior management")) == "51.3"  # 51.25, half up
    assert str(v(t, "B3.2", "By employee category: middle management")) == "10.3"
    assert str(v(t, "B3.2", "By employee category: general staff")) == "8.8"
    assert str(v(t, "B3.1", "Employees trained")) == "100.0"


def test_turnover_uses_average_headcount() -> None:
    # The seed gives 108 leavers, 910 at year end and 14.59%; a start-of-year headcount of 570 fits its formula.
    t = build_table(
        seed_inputs(
            leavers=108,
            employees_start=570,
            workforce_start={"gender": {"male": 330, "female": 240}},
            leavers_by={"gender": {"male": 70, "female": 38}},
        )
    )
    assert str(v(t, "B1.2", "Total turnover rate")) == "14.59"
    assert v(t, "B1.2", "By gender: male") == Decimal("16.22")  # 70 / ((330 + 533) / 2)
    with pytest.raises(ValueError, match="employees_start"):
        build_table(seed_inputs(leavers=108))


def test_inputs_are_checked() -> None:
    with pytest.raises(ValueError, match="adds up"):
        build_table(seed_inputs(workforce={"gender": {"male": 1}}))
    with pytest.raises(LookupError):
        build_table(seed_inputs(factor_choice={}))  # nothing is inferred


def test_platform_impact_and_reports() -> None:
    pi = PlatformImpactInputs(
        documents_online=100000,
        pages_per_document=Decimal("20"),
        paper_kg_per_page=Decimal("0.005"),
        paper_factor_id="linklogis-2021.paper.implied",
    )
    t = build_table(seed_inputs(platform=pi, narratives={"A1.5": "No emission target <yet>."}))
    assert v(t, "P.1", "Paper avoided") == Decimal("10")
    assert v(t, "P.2", "Emissions avoided: paper") == Decimal("6")
    csv_text = render_csv(t)
    assert csv_text.splitlines()[0] == "code,item,value,unit,exact,method,refs"
    assert "292.2379" in csv_text
    doc = json.loads(render_json(t))
    assert doc["factor_library"]["version"] == "tierflow-factors-2026.1"
    line = doc["emission_lines"][0]
    assert line["factor_id"] == SEED_FACTOR and line["factor_value"] == "0.6101" and line["emissions_t"] == "292.2379"
    html = render_html(t, "ESG <2021>", platform=pi)
    assert "<script" not in html and "ESG &lt;2021&gt;" in html and "&lt;yet&gt;" in html
    assert html.count("<svg") >= 2 and "<title id=" in html and "<desc id=" in html
    assert "Paper avoided (t) = documents processed online" in html
