from decimal import Decimal

import pytest

from tierflow.green.accounting import (
    SCOPE3_CATEGORIES,
    ActivityMismatch,
    ActivityRecord,
    ContractualInstrument,
    compute,
    round_half_up,
)
from tierflow.green.factors import EmissionFactor, FactorLibrary
from tierflow.green.units import UnitMismatch

SEED_FACTOR = "cn.grid.national.2015.mee-2021-guide"


@pytest.fixture(scope="module")
def lib() -> FactorLibrary:
    return FactorLibrary.load()


def electricity(qty: str = "479", **kw: object) -> ActivityRecord:
    return ActivityRecord("elec-2021", "electricity.grid", 2, Decimal(qty), "MWh", 2021, "CN", **kw)  # type: ignore[arg-type]


def test_pinned_scope2_with_audit_trail(lib: FactorLibrary) -> None:
    inv = compute([electricity(evidence="bills-2021")], lib, {"elec-2021": SEED_FACTOR})
    (loc,) = [ln for ln in inv.lines if ln.basis == "location"]
    assert loc.factor_id == SEED_FACTOR and loc.factor_value == Decimal("0.6101") and loc.factor_unit == "tCO2/MWh"
    assert loc.emissions_t == Decimal("292.2379")
    assert loc.selection == "pinned by id"
    assert inv.scope2_location == Decimal("292.2379") and inv.scope1 == 0
    assert round_half_up(inv.total(), 0) == Decimal("292")
    assert inv.library_version == lib.version and inv.library_digest == lib.digest()


def test_units_converted_not_assumed(lib: FactorLibrary) -> None:
    rec = ActivityRecord("e", "electricity.grid", 2, Decimal("479000"), "kWh", 2021, "CN")
    inv = compute([rec], lib, {"e": SEED_FACTOR})
    assert inv.scope2_location == Decimal("292.2379")
    bad = ActivityRecord("e", "electricity.grid", 2, Decimal("10"), "L", 2021, "CN")
    with pytest.raises(UnitMismatch) as err:
        compute([bad], lib, {"e": SEED_FACTOR})
    assert "'L'" in str(err.value) and "'MWh'" in str(err.value)


def test_fuel_by_mass_needs_pinned_conversion(lib: FactorLibrary) -> None:
    gas = ActivityRecord("g", "fuel.natural-gas", 1, Decimal("10"), "t", 2021, "CN")
    with pytest.raises(UnitMismatch):
        compute([gas], lib)
    gas = ActivityRecord(
        "g", "fuel.natural-gas", 1, Decimal("10"), "t", 2021, "CN", conversion_id="ipcc2006.ncv.natural-gas"
    )
    inv = compute([gas], lib)
    (line,) = inv.lines
    # 10 t = 0.01 Gg x 48.0 TJ/Gg = 0.48 TJ x 56,100 kgCO2/TJ = 26,928 kg
    assert line.quantity_in_factor_unit == Decimal("0.48") and line.emissions_t == Decimal("26.928")
    assert line.conversion_id == "ipcc2006.ncv.natural-gas" and "GLOBAL" in line.selection
    assert inv.scope1 == Decimal("26.928") and set(inv.factor_ids()) == {
        "ipcc2006.fuel.natural-gas.co2",
        "ipcc2006.ncv.natural-gas",
    }


def test_unpinned_refused_or_ambiguous(lib: FactorLibrary) -> None:
    with pytest.raises(LookupError):
        compute([electricity()], lib, policy=None)
    with pytest.raises(LookupError, match="pin one"):
        compute([electricity()], lib)


def test_pinned_factor_must_match_activity(lib: FactorLibrary) -> None:
    with pytest.raises(ActivityMismatch):
        compute([electricity()], lib, {"elec-2021": "ipcc2006.fuel.natural-gas.co2"})
    with pytest.raises(ValueError, match="unknown records"):
        compute([electricity()], lib, {"other": SEED_FACTOR})


def test_market_based_with_certificates_and_residual(lib: FactorLibrary) -> None:
    gec = ContractualInstrument("gec-1", "certificate", Decimal("100"), "MWh", "instrument.cn-gec.zero", "GEC batch")
    inv = compute([electricity(instruments=(gec,))], lib, {"elec-2021": SEED_FACTOR})
    market = [ln for ln in inv.lines if ln.basis == "market"]
    assert [ln.activity_quantity for ln in market] == [Decimal("100"), Decimal("379")]
    assert market[0].instrument_id == "gec-1" and market[0].emissions_t == 0
    assert "no residual mix" in market[1].selection and market[1].factor_id == SEED_FACTOR
    assert inv.scope2_market == Decimal("379") * Decimal("0.6101")
    assert inv.scope2_location == Decimal("292.2379")
    residual = EmissionFactor(
        "test.residual", "electricity.residual", Decimal("0.7"), "tCO2e/MWh", 2021, "CN", "test", 2021
    )
    lib2 = FactorLibrary.from_factors("t", [*lib.factors.values(), residual])
    inv2 = compute(
        [electricity(instruments=(gec,))], lib2, {"elec-2021": SEED_FACTOR}, residual_factors={"CN": "test.residual"}
    )
    assert inv2.scope2_market == Decimal("265.3")
    over = ContractualInstrument("gec-2", "certificate", Decimal("500"), "MWh", "instrument.cn-gec.zero")
    with pytest.raises(ValueError, match="more than the record"):
        compute([electricity(instruments=(over,))], lib, {"elec-2021": SEED_FACTOR})


def test_scope3_by_category() -> None:
    travel = EmissionFactor("test.air", "travel.air", Decimal("0.15"), "kgCO2e/pkm", 2021, "GLOBAL", "test", 2021)
    goods = EmissionFactor("test.goods", "goods.it", Decimal("0.3"), "tCO2e/RMB_million", 2021, "CN", "test", 2021)
    lib = FactorLibrary.from_factors("t", [travel, goods])
    recs = [
        ActivityRecord("t1", "travel.air", 3, Decimal("20000"), "pkm", 2021, "GLOBAL", category=6),
        ActivityRecord("t2", "travel.air", 3, Decimal("10000"), "pkm", 2021, "GLOBAL", category=6),
        ActivityRecord("p1", "goods.it", 3, Decimal("5"), "RMB_million", 2021, "CN", category=1),
    ]
    inv = compute(recs, lib, {"t1": "test.air", "t2": "test.air", "p1": "test.goods"})
    assert inv.scope3_by_category() == {1: Decimal("1.5"), 6: Decimal("4.5")}
    assert inv.total() == 0 and inv.total(include_scope3=True) == Decimal("6.0")
    assert SCOPE3_CATEGORIES[6] == "Business travel" and len(SCOPE3_CATEGORIES) == 15


def test_record_validation() -> None:
    with pytest.raises(ValueError, match="category"):
        ActivityRecord("x", "travel.air", 3, Decimal("1"), "pkm", 2021, "CN")
    with pytest.raises(ValueError, match="only Scope 3"):
        ActivityRecord("x", "electricity.grid", 2, Decimal("1"), "MWh", 2021, "CN", category=1)
    with pytest.raises(TypeError):
        ActivityRecord("x", "electricity.grid", 2, 1.5, "MWh", 2021, "CN")  # type: ignore[arg-type]


def test_round_half_up() -> None:
    assert round_half_up(Decimal("51.25"), 1) == Decimal("51.3")
    assert round_half_up(Decimal("0.0345"), 3) == Decimal("0.035")
    assert round_half_up(Decimal("292.2379"), 0) == Decimal("292")
