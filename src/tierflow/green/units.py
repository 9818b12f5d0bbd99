"""Checked quantities for carbon accounting.

Design: one module-level Pint registry (``ureg``) built with ``non_int_type=Decimal``, so every magnitude and
every conversion factor is a :class:`decimal.Decimal` and no float enters a result. The registry adds:

- ``kgCO2e`` as the base unit of a dimension of its own, ``[co2e]``, and ``tCO2e`` = 1000 kgCO2e. Keeping
  CO2-equivalent mass apart from ``[mass]`` means "1 t of paper" can never be added to "1 t of CO2e".
  ``kgCO2``/``tCO2`` are defined as equal to ``kgCO2e``/``tCO2e`` (CO2 has a GWP of 1); which gases a factor
  covers is recorded on the factor itself, not in its unit;
- ``m3``, ``tkm`` (tonne-kilometre), ``passenger`` and ``pkm`` (passenger-kilometre), ``employee``;
- ``RMB`` as a currency dimension ``[currency_cny]`` with ``RMB_million`` = 10^6 RMB, so revenue intensities
  (tCO2e per RMB million) are unit-checked like any other denominator. No exchange rates are defined: a
  different currency is a different dimension and mixing them raises.

Energy (``kWh``, ``MWh``, ``GJ``, ``TJ``), mass (``kg``, ``t``, ``Gg``), volume (``L``) and distance (``km``) come
from Pint's defaults. A conversion without a path raises :class:`UnitMismatch`, naming both units.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pint

__all__ = ["Quantity", "UnitMismatch", "convert", "parse_unit", "quantity", "same_dimension", "to_decimal", "ureg"]

ureg: Any = pint.UnitRegistry(non_int_type=Decimal)
for _definition in (
    "kgCO2e = [co2e]",
    "tCO2e = 1000 * kgCO2e",
    "kgCO2 = kgCO2e",
    "tCO2 = tCO2e",
    "m3 = meter ** 3",
    "tkm = tonne * kilometer",
    "passenger = [passenger]",
    "pkm = passenger * kilometer",
    "employee = [headcount]",
    "RMB = [currency_cny]",
    "RMB_million = 1000000 * RMB",
):
    ureg.define(_definition)

Quantity: Any = ureg.Quantity


class UnitMismatch(ValueError):
    """Two units have no conversion path between them (or a unit is unknown)."""

    def __init__(self, from_unit: str, to_unit: str, context: str = "") -> None:
        self.from_unit = from_unit
        self.to_unit = to_unit
        where = f" ({context})" if context else ""
        super().__init__(f"cannot convert {from_unit!r} to {to_unit!r}{where}: no conversion path between the units")


def to_decimal(value: Decimal | int | str) -> Decimal:
    """Return ``value`` as a Decimal; floats are refused (they would carry binary rounding into results)."""
    if isinstance(value, bool | float):
        raise TypeError(f"refusing {type(value).__name__} {value!r}: give a Decimal, int or decimal string")
    if isinstance(value, Decimal):
        return value
    return Decimal(value)


def parse_unit(unit: str) -> Any:
    """Parse a unit string; an unknown unit raises :class:`UnitMismatch`."""
    try:
        return ureg.parse_units(unit)
    except (pint.UndefinedUnitError, AttributeError, TypeError, ValueError) as exc:
        raise UnitMismatch(unit, unit, f"unknown unit: {exc}") from exc


def quantity(value: Decimal | int | str, unit: str) -> Any:
    """A Pint quantity with a Decimal magnitude."""
    return Quantity(to_decimal(value), parse_unit(unit))


def convert(value: Decimal | int | str, from_unit: str, to_unit: str, context: str = "") -> Decimal:
    """Convert ``value`` from ``from_unit`` to ``to_unit``, exactly (Decimal), or raise :class:`UnitMismatch`."""
    q = quantity(value, from_unit)
    target = parse_unit(to_unit)
    try:
        converted = q.to(target)
    except pint.DimensionalityError as exc:
        raise UnitMismatch(from_unit, to_unit, context) from exc
    magnitude = converted.magnitude
    if not isinstance(magnitude, Decimal):  # pragma: no cover - guarded by the registry's non_int_type
        raise TypeError(f"conversion produced {type(magnitude).__name__}, not Decimal")
    return magnitude


def same_dimension(unit_a: str, unit_b: str) -> bool:
    """Whether two units measure the same dimension."""
    return bool(parse_unit(unit_a).dimensionality == parse_unit(unit_b).dimensionality)
