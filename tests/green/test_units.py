from decimal import Decimal

import pytest

from tierflow.green.units import UnitMismatch, convert, quantity, same_dimension, to_decimal


def test_conversions_are_exact_decimals() -> None:
    assert convert(Decimal("479"), "MWh", "kWh") == Decimal("479000")
    assert convert(Decimal("100"), "L", "m3") == Decimal("0.1")
    assert convert(Decimal("2500"), "kgCO2e", "tCO2e") == Decimal("2.5")
    assert isinstance(convert(Decimal("1"), "GJ", "MWh"), Decimal)
    assert convert(Decimal("3"), "RMB_million", "RMB") == Decimal("3000000")


def test_co2e_mass_is_not_mass() -> None:
    with pytest.raises(UnitMismatch) as err:
        convert(Decimal("1"), "t", "tCO2e")
    assert "'t'" in str(err.value) and "'tCO2e'" in str(err.value)
    assert same_dimension("tCO2", "kgCO2e")


def test_no_conversion_path_names_both_units() -> None:
    with pytest.raises(UnitMismatch) as err:
        convert(Decimal("5"), "L", "MWh")
    assert err.value.from_unit == "L" and err.value.to_unit == "MWh"


def test_unknown_unit_is_a_mismatch() -> None:
    with pytest.raises(UnitMismatch):
        quantity(Decimal("1"), "furlongs_of_co2")


def test_floats_refused() -> None:
    with pytest.raises(TypeError):
        to_decimal(0.1)  # type: ignore[arg-type]
    assert to_decimal("0.6101") == Decimal("0.6101")
    assert quantity("1", "pkm").to("passenger * km").magnitude == Decimal(1)
