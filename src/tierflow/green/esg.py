"""HKEX ESG Reporting Guide KPIs computed from activity, HR and facility data.

Design: :func:`build_table` takes one :class:`EsgInputs` and returns an :class:`EsgTable` of :class:`EsgRow` s,
each with the HKEX KPI code and title, the item, the presented value (rounded ``ROUND_HALF_UP`` to the row's
reporting precision), the exact value, the unit, the method (formula in words) and audit references (activity
record ids, factor ids). Emissions come from :func:`tierflow.green.accounting.compute`; by default every record's
factor must be pinned by id (``policy=None``), so a published figure can never silently change with the library.

Conventions, stated once:

- intensities divide the *exact* totals (not the rounded ones) by the denominator: year-end headcount
  (employees), floor area (m2) or revenue (RMB million);
- "Total GHG emissions" is Scope 1 + location-based Scope 2, as HKEX A1.2 asks; the market-based Scope 2 figure
  and any Scope 3 categories are shown beside it, not added to it;
- energy (A2.1) counts Scope 1 and 2 records whose quantity is an energy or has a pinned conversion to energy,
  reported in MWh (= kWh in '000s, the HKEX unit);
- turnover rate (B1.2) follows the formula stated in the Linklogis ESG Report 2021 (section 8.1.3 and the note to
  table 10.4): leavers / ((headcount at start of year + headcount at end of year) / 2) x 100%. The report writes
  it as "流失人數/(年初總人數+年末總人數)/2"; read literally that would halve the rate, while the report's own
  figures (108 leavers, 910 at year end, 14.59%) only fit the average-headcount reading, which is also the
  common definition, so that reading is used;
- training (B3.1, B3.2): percentage trained = employees trained in a category / year-end headcount of that
  category; average hours = training hours of a category / year-end headcount of that category.

Platform impact (rows ``P.1``-``P.4``, not an HKEX KPI and outside the inventory) is described in
:class:`PlatformImpactInputs`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from tierflow.green.accounting import SCOPE3_CATEGORIES, ActivityRecord, Inventory, compute, round_half_up
from tierflow.green.factors import EmissionFactor, FactorLibrary, SelectionPolicy
from tierflow.green.units import convert, same_dimension, to_decimal

__all__ = ["HKEX_KPIS", "EsgInputs", "EsgRow", "EsgTable", "PlatformImpactInputs", "Precision", "build_table"]

HKEX_KPIS: Mapping[str, str] = {
    "A1.1": "The types of emissions and respective emissions data.",
    "A1.2": "Direct (Scope 1) and energy indirect (Scope 2) greenhouse gas emissions (in tonnes) and, where "
    "appropriate, intensity (e.g. per unit of production volume, per facility).",
    "A1.3": "Total hazardous waste produced (in tonnes) and, where appropriate, intensity (e.g. per unit of "
    "production volume, per facility).",
    "A1.4": "Total non-hazardous waste produced (in tonnes) and, where appropriate, intensity (e.g. per unit of "
    "production volume, per facility).",
    "A1.5": "Description of emission target(s) set and steps taken to achieve them.",
    "A1.6": "Description of how hazardous and non-hazardous wastes are handled, and a description of reduction "
    "target(s) set and steps taken to achieve them.",
    "A2.1": "Direct and/or indirect energy consumption by type (e.g. electricity, gas or oil) in total (kWh in "
    "'000s) and intensity (e.g. per unit of production volume, per facility).",
    "A2.2": "Water consumption in total and intensity (e.g. per unit of production volume, per facility).",
    "A2.3": "Description of energy use efficiency target(s) set and steps taken to achieve them.",
    "A2.4": "Description of whether there is any issue in sourcing water that is fit for purpose, water "
    "efficiency target(s) set and steps taken to achieve them.",
    "A2.5": "Total packaging material used for finished products (in tonnes) and, if applicable, with reference "
    "to per unit produced.",
    "B1.1": "Total workforce by gender, employment type (for example, full- or part-time), age group and "
    "geographical region.",
    "B1.2": "Employee turnover rate by gender, age group and geographical region.",
    "B3.1": "The percentage of employees trained by gender and employee category (e.g. senior management, "
    "middle management).",
    "B3.2": "The average number of training hours completed per employee by gender and employee category.",
    "P": "Platform impact: resources and emissions avoided by online processing (estimate, outside the inventory).",
}
NARRATIVE_KPIS = ("A1.5", "A1.6", "A2.3", "A2.4")

Counts = Mapping[str, Mapping[str, int]]


@dataclass(frozen=True, slots=True)
class Precision:
    """Reporting precision (decimal places) per kind of figure; defaults follow the seed report's table 10.4."""

    ghg_total: int = 0
    intensity: int = 2
    area_intensity: int = 3
    energy: int = 0
    water: int = 0
    waste: int = 2
    percent: int = 2
    training_hours: int = 0
    hours_per_employee: int = 1
    headcount: int = 0
    avoided: int = 0


@dataclass(frozen=True, slots=True)
class PlatformImpactInputs:
    """Parameters of the avoided-impact estimate for processing documents and meetings online.

    Method (all parameters are inputs and appear in the report):

    - paper avoided (t) = documents processed online x pages per document x paper mass per page (kg) / 1000;
    - emissions avoided by paper (tCO2e) = paper avoided x ``paper_factor_id`` (a factor per mass of paper);
    - travel avoided (passenger-km) = trips avoided x round-trip distance per trip (km), one passenger per trip;
    - emissions avoided by travel (tCO2e) = travel avoided x ``travel_factor_id`` (a factor per passenger-km).

    These are counterfactual estimates (what paper-based, in-person processing would have used), reported apart
    from Scope 1-3 and never netted against them.
    """

    documents_online: int
    pages_per_document: Decimal
    paper_kg_per_page: Decimal
    paper_factor_id: str
    trips_avoided: int = 0
    km_per_trip: Decimal = Decimal(0)
    travel_factor_id: str | None = None


@dataclass(frozen=True)
class EsgInputs:
    """Everything one reporting year's KPIs are computed from.

    Breakdowns (``workforce``, ``leavers_by``...) map a dimension ("gender", "age group", "region",
    "employment type", "employee category") to counts per category; each dimension of ``workforce`` must add
    up to ``employees`` and each dimension of ``workforce_start`` to ``employees_start``.
    """

    year: int
    library: FactorLibrary
    records: Sequence[ActivityRecord]
    employees: int
    factor_choice: Mapping[str, str] = field(default_factory=dict)
    policy: SelectionPolicy | None = None
    residual_factors: Mapping[str, str] = field(default_factory=dict)
    floor_area_m2: Decimal | None = None
    revenue_rmb_million: Decimal | None = None
    water_m3: Decimal | None = None
    wastewater_t: Decimal | None = None
    hazardous_waste_t: Decimal | None = None
    non_hazardous_waste_t: Decimal | None = None
    packaging_t: Decimal | None = None
    workforce: Counts = field(default_factory=dict)
    employees_start: int | None = None
    workforce_start: Counts = field(default_factory=dict)
    leavers: int | None = None
    leavers_by: Counts = field(default_factory=dict)
    trained: int | None = None
    trained_by: Counts = field(default_factory=dict)
    training_hours: Decimal | None = None
    training_hours_by: Mapping[str, Mapping[str, Decimal]] = field(default_factory=dict)
    narratives: Mapping[str, str] = field(default_factory=dict)
    platform: PlatformImpactInputs | None = None
    precision: Precision = field(default_factory=Precision)


@dataclass(frozen=True, slots=True)
class EsgRow:
    """One figure (or, for descriptive KPIs, one statement) of the table."""

    code: str
    item: str
    value: Decimal | None
    exact: Decimal | None
    unit: str
    method: str
    refs: tuple[str, ...] = ()

    @property
    def kpi_name(self) -> str:
        """The HKEX title of this row's KPI."""
        return HKEX_KPIS[self.code.split(".")[0] if self.code.startswith("P") else self.code]


@dataclass(frozen=True)
class EsgTable:
    """The KPI rows of one year, with the inventory and the factors behind them."""

    year: int
    rows: tuple[EsgRow, ...]
    inventory: Inventory
    factors: tuple[EmissionFactor, ...]

    def get(self, code: str, item: str) -> EsgRow:
        """The row with this code and item."""
        for row in self.rows:
            if row.code == code and row.item == item:
                return row
        raise KeyError(f"no row {code} / {item!r}")

    def by_code(self, code: str) -> tuple[EsgRow, ...]:
        """All rows of one KPI code."""
        return tuple(row for row in self.rows if row.code == code)


def build_table(inputs: EsgInputs) -> EsgTable:
    """Compute the HKEX KPI table for ``inputs`` (conventions in the module docstring)."""
    if inputs.employees <= 0:
        raise ValueError("employees must be positive")
    inv = compute(
        inputs.records,
        inputs.library,
        inputs.factor_choice,
        policy=inputs.policy,
        residual_factors=inputs.residual_factors,
    )
    b = _Builder(inputs)
    b.emissions(inv)
    b.waste()
    b.energy()
    b.water()
    b.narratives()
    b.workforce()
    b.turnover()
    b.training()
    used = set(inv.factor_ids())
    if inputs.platform is not None:
        used |= b.platform(inputs.platform)
    factors = tuple(inputs.library.get(fid) for fid in sorted(used))
    return EsgTable(inputs.year, tuple(b.rows), inv, factors)


def _pct(numerator: Decimal, denominator: Decimal) -> Decimal:
    return numerator * 100 / denominator


class _Builder:
    def __init__(self, inputs: EsgInputs) -> None:
        self.i = inputs
        self.p = inputs.precision
        self.rows: list[EsgRow] = []
        self.headcount = Decimal(inputs.employees)

    def add(
        self, code: str, item: str, exact: Decimal, places: int, unit: str, method: str, refs: Sequence[str] = ()
    ) -> None:
        self.rows.append(EsgRow(code, item, round_half_up(exact, places), exact, unit, method, tuple(refs)))

    def per_employee(
        self, code: str, item: str, total: Decimal, places: int, unit: str, what: str, refs: Sequence[str] = ()
    ) -> None:
        self.add(
            code, item, total / self.headcount, places, unit, f"{what} / year-end headcount ({self.i.employees})", refs
        )

    # -- environment -------------------------------------------------------------------------------------------
    def emissions(self, inv: Inventory) -> None:
        p = self.p
        refs = [f"{line.record_id}:{line.factor_id}" for line in inv.lines]
        loc = [f"{ln.record_id}:{ln.factor_id}" for ln in inv.lines if ln.basis in ("direct", "location")]
        total = inv.total("location")
        self.add(
            "A1.2",
            "Total GHG emissions (Scope 1 + Scope 2 location-based)",
            total,
            p.ghg_total,
            "tCO2e",
            "sum of Scope 1 and location-based Scope 2 emission lines",
            loc,
        )
        self.add(
            "A1.2",
            "Scope 1: direct emissions",
            inv.scope1,
            p.ghg_total,
            "tCO2e",
            "sum over Scope 1 records of activity x pinned emission factor",
            [r for r in refs if r.split(":")[0] in {ln.record_id for ln in inv.lines if ln.scope == 1}],
        )
        self.add(
            "A1.2",
            "Scope 2: energy indirect emissions (location-based)",
            inv.scope2_location,
            p.ghg_total,
            "tCO2e",
            "sum over Scope 2 records of activity x grid-average factor",
            [f"{ln.record_id}:{ln.factor_id}" for ln in inv.lines if ln.basis == "location"],
        )
        self.add(
            "A1.2",
            "Scope 2: energy indirect emissions (market-based)",
            inv.scope2_market,
            p.ghg_total,
            "tCO2e",
            "instrument-covered electricity x instrument factor + remainder x residual mix "
            "(grid average where no residual mix is published)",
            [f"{ln.record_id}:{ln.factor_id}" for ln in inv.lines if ln.basis == "market"],
        )
        what = "total GHG emissions (Scope 1 + Scope 2 location-based)"
        self.per_employee("A1.2", "GHG intensity per employee", total, p.intensity, "tCO2e/employee", what, loc)
        if self.i.floor_area_m2 is not None:
            area = to_decimal(self.i.floor_area_m2)
            self.add(
                "A1.2",
                "GHG intensity per floor area",
                total / area,
                p.area_intensity,
                "tCO2e/m2",
                f"{what} / floor area ({area} m2)",
                loc,
            )
        if self.i.revenue_rmb_million is not None:
            rev = to_decimal(self.i.revenue_rmb_million)
            self.add(
                "A1.2",
                "GHG intensity per revenue",
                total / rev,
                p.intensity,
                "tCO2e/RMB_million",
                f"{what} / revenue ({rev} RMB million)",
                loc,
            )
        for cat, value in inv.scope3_by_category().items():
            self.add(
                "A1.2",
                f"Scope 3 (voluntary) category {cat}: {SCOPE3_CATEGORIES[cat]}",
                value,
                p.ghg_total,
                "tCO2e",
                "sum over the category's records of activity x emission factor",
                [f"{ln.record_id}:{ln.factor_id}" for ln in inv.lines if ln.category == cat],
            )

    def waste(self) -> None:
        p, i = self.p, self.i
        if i.wastewater_t is not None:
            ww = to_decimal(i.wastewater_t)
            self.add("A1.1", "Wastewater discharged", ww, p.water, "t", "as measured or billed")
            self.per_employee("A1.1", "Wastewater per employee", ww, p.intensity, "t/employee", "wastewater (t)")
        if i.hazardous_waste_t is not None:
            hw = to_decimal(i.hazardous_waste_t)
            self.add("A1.3", "Hazardous waste", hw, p.waste, "t", "as weighed or reported by the handler")
            self.per_employee(
                "A1.3", "Hazardous waste per employee", hw * 1000, p.intensity, "kg/employee", "hazardous waste (kg)"
            )
        if i.non_hazardous_waste_t is not None:
            nw = to_decimal(i.non_hazardous_waste_t)
            self.add("A1.4", "Non-hazardous waste", nw, p.waste, "t", "as weighed or reported by the handler")
            self.per_employee(
                "A1.4", "Non-hazardous waste per employee", nw, p.intensity, "t/employee", "non-hazardous waste (t)"
            )

    def energy(self) -> None:
        by_kind: dict[str, Decimal] = {}
        refs: dict[str, list[str]] = {}
        lib = self.i.library
        for r in self.i.records:
            if r.scope == 3:
                continue
            if same_dimension(r.unit, "MWh"):
                mwh = convert(r.quantity, r.unit, "MWh", f"record {r.id}")
            elif r.conversion_id is not None:
                conv = lib.get(r.conversion_id)
                if not same_dimension(conv.numerator_unit, "MWh"):
                    continue
                base = convert(r.quantity, r.unit, conv.denominator_unit, f"record {r.id}")
                mwh = convert(base * conv.value, conv.numerator_unit, "MWh", f"record {r.id}")
            else:
                continue
            by_kind[r.kind] = by_kind.get(r.kind, Decimal(0)) + mwh
            refs.setdefault(r.kind, []).append(r.id)
        total = sum(by_kind.values(), Decimal(0))
        all_refs = [x for ids in refs.values() for x in ids]
        self.add(
            "A2.1",
            "Total energy consumption",
            total,
            self.p.energy,
            "MWh",
            "sum of Scope 1 and 2 energy quantities converted to MWh (kWh in '000s)",
            all_refs,
        )
        for kind, mwh in sorted(by_kind.items()):
            self.add("A2.1", f"Energy: {kind}", mwh, self.p.energy, "MWh", "records of this kind, in MWh", refs[kind])
        self.per_employee(
            "A2.1", "Energy per employee", total, self.p.intensity, "MWh/employee", "total energy", all_refs
        )
        if self.i.floor_area_m2 is not None:
            area = to_decimal(self.i.floor_area_m2)
            self.add(
                "A2.1",
                "Energy per floor area",
                total / area,
                self.p.area_intensity,
                "MWh/m2",
                f"total energy / floor area ({area} m2)",
                all_refs,
            )

    def water(self) -> None:
        if self.i.water_m3 is None:
            return
        water = to_decimal(self.i.water_m3)
        self.add("A2.2", "Water consumption", water, self.p.water, "m3", "as metered or billed")
        self.per_employee("A2.2", "Water per employee", water, self.p.intensity, "m3/employee", "water (m3)")
        if self.i.packaging_t is not None:
            self.add(
                "A2.5",
                "Packaging material",
                to_decimal(self.i.packaging_t),
                self.p.waste,
                "t",
                "as purchased for finished products",
            )

    def narratives(self) -> None:
        for code in NARRATIVE_KPIS:
            text = self.i.narratives.get(code)
            if text:
                self.rows.append(EsgRow(code, "Description", None, None, "", text))

    # -- social ------------------------------------------------------------------------------------------------
    def workforce(self) -> None:
        i = self.i
        _check_sums("workforce", i.workforce, i.employees)
        self.add("B1.1", "Total workforce", self.headcount, 0, "persons", "year-end headcount")
        for dim, counts in i.workforce.items():
            for cat, n in counts.items():
                self.add("B1.1", f"By {dim}: {cat}", Decimal(n), 0, "persons", f"year-end headcount, {dim} = {cat}")

    def turnover(self) -> None:
        i = self.i
        if i.leavers is None:
            return
        if i.employees_start is None:
            raise ValueError("turnover needs employees_start (headcount at the start of the year)")
        _check_sums("workforce_start", i.workforce_start, i.employees_start)
        formula = "leavers / ((headcount at start of year + headcount at end of year) / 2) x 100%"
        avg = Decimal(i.employees_start + i.employees) / 2
        self.add(
            "B1.2",
            "Total turnover rate",
            _pct(Decimal(i.leavers), avg),
            self.p.percent,
            "%",
            f"{formula}: {i.leavers} / (({i.employees_start} + {i.employees}) / 2)",
        )
        for dim, counts in i.leavers_by.items():
            for cat, n in counts.items():
                try:
                    start, end = i.workforce_start[dim][cat], i.workforce[dim][cat]
                except KeyError:
                    raise ValueError(f"turnover by {dim} = {cat} needs start and end headcount") from None
                avg_cat = Decimal(start + end) / 2
                if avg_cat == 0:
                    raise ValueError(f"turnover by {dim} = {cat}: no employees at start or end of year")
                self.add(
                    "B1.2",
                    f"By {dim}: {cat}",
                    _pct(Decimal(n), avg_cat),
                    self.p.percent,
                    "%",
                    f"{formula}: {n} / (({start} + {end}) / 2)",
                )

    def training(self) -> None:
        i, p = self.i, self.p
        if i.trained is not None:
            self.add(
                "B3.1",
                "Employees trained",
                _pct(Decimal(i.trained), self.headcount),
                1,
                "%",
                f"employees trained ({i.trained}) / year-end headcount ({i.employees}) x 100%",
            )
        for dim, counts in i.trained_by.items():
            for cat, n in counts.items():
                hc = _headcount(i.workforce, dim, cat)
                self.add(
                    "B3.1",
                    f"By {dim}: {cat}",
                    _pct(Decimal(n), hc),
                    1,
                    "%",
                    f"employees trained ({n}) / year-end headcount ({hc}) x 100%",
                )
        if i.training_hours is not None:
            hours = to_decimal(i.training_hours)
            self.add("B3.2", "Total training hours", hours, p.training_hours, "hours", "sum of recorded hours")
            self.per_employee(
                "B3.2",
                "Average training hours per employee",
                hours,
                p.hours_per_employee,
                "hours/employee",
                "training hours",
            )
        for dim, by_cat in i.training_hours_by.items():
            for cat, h in by_cat.items():
                hc = _headcount(i.workforce, dim, cat)
                self.add(
                    "B3.2",
                    f"By {dim}: {cat}",
                    to_decimal(h) / hc,
                    p.hours_per_employee,
                    "hours/employee",
                    f"training hours ({h}) / year-end headcount ({hc})",
                )

    # -- platform impact ---------------------------------------------------------------------------------------
    def platform(self, pi: PlatformImpactInputs) -> set[str]:
        lib, p = self.i.library, self.p
        pages = Decimal(pi.documents_online) * to_decimal(pi.pages_per_document)
        paper_t = convert(pages * to_decimal(pi.paper_kg_per_page), "kg", "t")
        self.add(
            "P.1",
            "Paper avoided",
            paper_t,
            p.avoided,
            "t",
            f"documents processed online ({pi.documents_online}) x pages per document ({pi.pages_per_document})"
            f" x paper per page ({pi.paper_kg_per_page} kg) / 1000",
        )
        pf = lib.get(pi.paper_factor_id)
        paper_co2 = convert(
            pf.value * convert(paper_t, "t", pf.denominator_unit, f"factor {pf.id}"),
            pf.numerator_unit,
            "tCO2e",
            f"factor {pf.id}",
        )
        self.add(
            "P.2",
            "Emissions avoided: paper",
            paper_co2,
            p.avoided,
            "tCO2e",
            f"paper avoided x factor {pf.id} ({pf.value} {pf.unit})",
            [pf.id],
        )
        used = {pf.id}
        if pi.trips_avoided and pi.travel_factor_id is not None:
            pkm = Decimal(pi.trips_avoided) * to_decimal(pi.km_per_trip)
            self.add(
                "P.3",
                "Travel avoided",
                pkm,
                p.avoided,
                "pkm",
                f"trips avoided ({pi.trips_avoided}) x round-trip distance ({pi.km_per_trip} km), one passenger",
            )
            tf = lib.get(pi.travel_factor_id)
            travel_co2 = convert(
                tf.value * convert(pkm, "pkm", tf.denominator_unit, f"factor {tf.id}"),
                tf.numerator_unit,
                "tCO2e",
                f"factor {tf.id}",
            )
            self.add(
                "P.4",
                "Emissions avoided: travel",
                travel_co2,
                p.avoided,
                "tCO2e",
                f"travel avoided x factor {tf.id} ({tf.value} {tf.unit})",
                [tf.id],
            )
            used.add(tf.id)
        return used


def _check_sums(name: str, breakdown: Counts, total: int) -> None:
    for dim, counts in breakdown.items():
        s = sum(counts.values())
        if s != total:
            raise ValueError(f"{name} by {dim} adds up to {s}, not {total}")


def _headcount(workforce: Counts, dim: str, cat: str) -> Decimal:
    try:
        hc = workforce[dim][cat]
    except KeyError:
        raise ValueError(f"no year-end headcount for {dim} = {cat}") from None
    if hc <= 0:
        raise ValueError(f"year-end headcount for {dim} = {cat} is {hc}")
    return Decimal(hc)
