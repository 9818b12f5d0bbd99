"""Scope 1, 2 and 3 emissions from activity records, each result with its audit trail.

Design: :func:`compute` turns :class:`ActivityRecord` s into :class:`EmissionLine` s, one per record and basis,
and collects them in an :class:`Inventory`. Each line names the record, the factor (id, value, unit), the
activity quantity as given and as converted into the factor's unit, any conversion factor used, and the rule
that chose the factor. Units are checked by :mod:`tierflow.green.units`; arithmetic is Decimal throughout and
results keep full precision: :func:`round_half_up` is for presentation only.

Factor choice is either pinned (``factor_choice``: record id -> factor id; the factor's activity must equal the
record's ``kind``) or, for records not pinned, made by :meth:`FactorLibrary.by` with the given ``policy``
(``None`` refuses unpinned records). IPCC-style GLOBAL defaults are used only when no regional factor applies.

Scope 2 is reported on both bases of the GHG Protocol Scope 2 Guidance (2015):

- *location-based*: the whole quantity at the grid-average factor;
- *market-based*: quantities covered by :class:`ContractualInstrument` s (green electricity certificates, 绿证,
  PPAs, supplier-specific rates) at the instrument's own factor; the uncovered remainder at the residual-mix
  factor pinned for the record's region in ``residual_factors``. Where no residual mix is given (none is
  published for mainland China) the remainder uses the location-based grid factor, as the guidance's hierarchy
  allows, and the line's ``selection`` says so.

Scope 3 records carry their GHG Protocol category (1-15), and totals are kept per category.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from decimal import ROUND_HALF_UP, Decimal
from typing import Literal

from tierflow.green.factors import EmissionFactor, FactorLibrary, SelectionPolicy
from tierflow.green.units import UnitMismatch, convert, parse_unit, same_dimension, to_decimal

__all__ = [
    "SCOPE3_CATEGORIES",
    "ActivityMismatch",
    "ActivityRecord",
    "Basis",
    "ContractualInstrument",
    "EmissionLine",
    "Inventory",
    "compute",
    "round_half_up",
]

SCOPE3_CATEGORIES: Mapping[int, str] = {
    1: "Purchased goods and services",
    2: "Capital goods",
    3: "Fuel- and energy-related activities (not included in Scope 1 or Scope 2)",
    4: "Upstream transportation and distribution",
    5: "Waste generated in operations",
    6: "Business travel",
    7: "Employee commuting",
    8: "Upstream leased assets",
    9: "Downstream transportation and distribution",
    10: "Processing of sold products",
    11: "Use of sold products",
    12: "End-of-life treatment of sold products",
    13: "Downstream leased assets",
    14: "Franchises",
    15: "Investments",
}

Basis = Literal["direct", "location", "market", "scope3"]
EMISSIONS_UNIT = "tCO2e"


class ActivityMismatch(ValueError):
    """A pinned factor is for a different activity than the record."""


def round_half_up(value: Decimal, places: int) -> Decimal:
    """Round for presentation, half away from zero (``ROUND_HALF_UP``), to ``places`` decimals."""
    return value.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)


@dataclass(frozen=True, slots=True)
class ContractualInstrument:
    """A market-based Scope 2 instrument covering ``quantity`` (in ``unit``) of a record's electricity."""

    id: str
    kind: Literal["certificate", "ppa", "supplier-specific"]
    quantity: Decimal
    unit: str
    factor_id: str
    reference: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "quantity", to_decimal(self.quantity))
        if self.quantity < 0:
            raise ValueError(f"instrument {self.id}: negative quantity")
        parse_unit(self.unit)


@dataclass(frozen=True, slots=True)
class ActivityRecord:
    """One piece of activity data.

    ``kind`` is the activity key the factor library uses (``electricity.grid``, ``fuel.natural-gas``...);
    ``category`` is the GHG Protocol Scope 3 category (1-15), required for Scope 3 and forbidden otherwise;
    ``conversion_id`` pins a conversion factor (e.g. an IPCC net calorific value) when the quantity's unit is not
    the factor's; ``evidence`` references the source document (invoice, meter reading).
    """

    id: str
    kind: str
    scope: Literal[1, 2, 3]
    quantity: Decimal
    unit: str
    year: int
    region: str
    category: int | None = None
    facility: str = ""
    evidence: str = ""
    conversion_id: str | None = None
    instruments: tuple[ContractualInstrument, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "quantity", to_decimal(self.quantity))
        if self.scope not in (1, 2, 3):
            raise ValueError(f"record {self.id}: scope must be 1, 2 or 3, got {self.scope!r}")
        if self.scope == 3:
            if self.category not in SCOPE3_CATEGORIES:
                raise ValueError(f"record {self.id}: Scope 3 needs a GHG Protocol category 1-15, got {self.category}")
        elif self.category is not None:
            raise ValueError(f"record {self.id}: only Scope 3 records carry a category")
        if self.quantity < 0:
            raise ValueError(f"record {self.id}: negative quantity {self.quantity}")
        if self.instruments and self.scope != 2:
            raise ValueError(f"record {self.id}: contractual instruments apply to Scope 2 only")
        parse_unit(self.unit)


@dataclass(frozen=True, slots=True)
class EmissionLine:
    """One record's emissions on one basis, with everything needed to recompute it."""

    record_id: str
    scope: int
    category: int | None
    basis: Basis
    factor_id: str
    factor_value: Decimal
    factor_unit: str
    activity_quantity: Decimal
    activity_unit: str
    quantity_in_factor_unit: Decimal
    emissions_t: Decimal
    selection: str
    conversion_id: str | None = None
    instrument_id: str | None = None


@dataclass(frozen=True)
class Inventory:
    """All emission lines of one computation, with the library they came from."""

    library_version: str
    library_digest: str
    lines: tuple[EmissionLine, ...]

    def _sum(self, lines: Iterable[EmissionLine]) -> Decimal:
        return sum((line.emissions_t for line in lines), Decimal(0))

    @property
    def scope1(self) -> Decimal:
        """Scope 1 (direct) emissions, tCO2e."""
        return self._sum(line for line in self.lines if line.basis == "direct")

    @property
    def scope2_location(self) -> Decimal:
        """Scope 2, location-based, tCO2e."""
        return self._sum(line for line in self.lines if line.basis == "location")

    @property
    def scope2_market(self) -> Decimal:
        """Scope 2, market-based, tCO2e."""
        return self._sum(line for line in self.lines if line.basis == "market")

    @property
    def scope3(self) -> Decimal:
        """Scope 3, all categories, tCO2e."""
        return self._sum(line for line in self.lines if line.basis == "scope3")

    def scope3_by_category(self) -> dict[int, Decimal]:
        """Scope 3 per GHG Protocol category (only categories with lines)."""
        out: dict[int, Decimal] = {}
        for line in self.lines:
            if line.basis == "scope3" and line.category is not None:
                out[line.category] = out.get(line.category, Decimal(0)) + line.emissions_t
        return dict(sorted(out.items()))

    def total(
        self, scope2_basis: Literal["location", "market"] = "location", *, include_scope3: bool = False
    ) -> Decimal:
        """Scope 1 + Scope 2 (on the given basis) [+ Scope 3], tCO2e."""
        s2 = self.scope2_location if scope2_basis == "location" else self.scope2_market
        return self.scope1 + s2 + (self.scope3 if include_scope3 else Decimal(0))

    def lines_for(self, record_id: str) -> tuple[EmissionLine, ...]:
        """The lines computed from one record."""
        return tuple(line for line in self.lines if line.record_id == record_id)

    def factor_ids(self) -> tuple[str, ...]:
        """Every factor and conversion id used, sorted."""
        ids = {line.factor_id for line in self.lines} | {
            line.conversion_id for line in self.lines if line.conversion_id
        }
        return tuple(sorted(ids))


def compute(
    records: Iterable[ActivityRecord],
    library: FactorLibrary,
    factor_choice: Mapping[str, str] | None = None,
    *,
    policy: SelectionPolicy | None = "exact",
    residual_factors: Mapping[str, str] | None = None,
) -> Inventory:
    """Compute the inventory of ``records`` with factors from ``library`` (see the module docstring for rules)."""
    pinned = dict(factor_choice or {})
    residual = dict(residual_factors or {})
    records = tuple(records)
    seen: set[str] = set()
    for r in records:
        if r.id in seen:
            raise ValueError(f"duplicate activity record id {r.id!r}")
        seen.add(r.id)
    unknown = set(pinned) - seen
    if unknown:
        raise ValueError(f"factor_choice names unknown records: {sorted(unknown)}")

    lines: list[EmissionLine] = []
    for record in records:
        factor, selection = _choose(record, library, pinned, policy)
        if record.scope == 1:
            lines.append(_line(record, record.quantity, factor, "direct", selection, library))
        elif record.scope == 3:
            lines.append(_line(record, record.quantity, factor, "scope3", selection, library))
        else:
            lines.append(_line(record, record.quantity, factor, "location", selection, library))
            lines.extend(_market_lines(record, factor, library, residual))
    return Inventory(library.version, library.digest(), tuple(lines))


def _choose(
    record: ActivityRecord, library: FactorLibrary, pinned: Mapping[str, str], policy: SelectionPolicy | None
) -> tuple[EmissionFactor, str]:
    if record.id in pinned:
        factor = library.get(pinned[record.id])
        if factor.activity != record.kind:
            raise ActivityMismatch(
                f"record {record.id} is {record.kind!r} but pinned factor {factor.id} is for {factor.activity!r}"
            )
        if factor.kind != "emission":
            raise ActivityMismatch(f"record {record.id}: pinned {factor.id} is a conversion, not an emission factor")
        return factor, "pinned by id"
    if policy is None:
        raise LookupError(f"record {record.id} has no pinned factor and rule-based selection is off")
    chosen = library.by(record.kind, record.region, record.year, policy=policy, include_global=True)
    return chosen.factor, chosen.rule


def _market_lines(
    record: ActivityRecord, location_factor: EmissionFactor, library: FactorLibrary, residual: Mapping[str, str]
) -> list[EmissionLine]:
    lines: list[EmissionLine] = []
    covered = Decimal(0)
    for inst in record.instruments:
        if not same_dimension(inst.unit, record.unit):
            raise UnitMismatch(inst.unit, record.unit, f"instrument {inst.id} on record {record.id}")
        covered += convert(inst.quantity, inst.unit, record.unit)
        factor = library.get(inst.factor_id)
        line = _line(
            record,
            convert(inst.quantity, inst.unit, record.unit),
            factor,
            "market",
            f"contractual instrument {inst.kind} {inst.id}",
            library,
        )
        lines.append(replace(line, instrument_id=inst.id))
    remainder = record.quantity - covered
    if remainder < 0:
        raise ValueError(f"record {record.id}: instruments cover {covered} {record.unit}, more than the record")
    if remainder > 0 or not record.instruments:
        if record.region in residual:
            factor = library.get(residual[record.region])
            rule = f"residual mix pinned for {record.region}"
        else:
            factor = location_factor
            rule = "no residual mix given: grid-average (location-based) factor used for uncovered electricity"
        lines.append(_line(record, remainder, factor, "market", rule, library))
    return lines


def _line(
    record: ActivityRecord,
    quantity: Decimal,
    factor: EmissionFactor,
    basis: Basis,
    selection: str,
    library: FactorLibrary,
) -> EmissionLine:
    target = factor.denominator_unit
    context = f"record {record.id}, factor {factor.id} ({factor.unit})"
    conversion_id: str | None = None
    if same_dimension(record.unit, target):
        in_factor_unit = convert(quantity, record.unit, target, context)
    elif record.conversion_id is not None:
        conv = library.get(record.conversion_id)
        if conv.kind != "conversion":
            raise ActivityMismatch(f"record {record.id}: {conv.id} is not a conversion factor")
        base = convert(quantity, record.unit, conv.denominator_unit, f"record {record.id}, conversion {conv.id}")
        in_factor_unit = convert(base * conv.value, conv.numerator_unit, target, context)
        conversion_id = conv.id
    else:
        raise UnitMismatch(record.unit, target, context)
    emissions_native = factor.value * in_factor_unit
    emissions_t = convert(emissions_native, factor.numerator_unit, EMISSIONS_UNIT, context)
    return EmissionLine(
        record_id=record.id,
        scope=record.scope,
        category=record.category,
        basis=basis,
        factor_id=factor.id,
        factor_value=factor.value,
        factor_unit=factor.unit,
        activity_quantity=quantity,
        activity_unit=record.unit,
        quantity_in_factor_unit=in_factor_unit,
        emissions_t=emissions_t,
        selection=selection,
        conversion_id=conversion_id,
    )
