from decimal import Decimal

import pytest

from tierflow.green.factors import (
    DEFAULT_VERSION,
    AmbiguousFactor,
    EmissionFactor,
    FactorLibrary,
    FactorNotFound,
)

SEED_FACTOR = "cn.grid.national.2015.mee-2021-guide"


@pytest.fixture(scope="module")
def lib() -> FactorLibrary:
    return FactorLibrary.load(DEFAULT_VERSION)


def test_packaged_library_loads_with_provenance(lib: FactorLibrary) -> None:
    assert lib.version == "tierflow-factors-2026.1"
    assert DEFAULT_VERSION in FactorLibrary.available_versions()
    for f in lib.factors.values():
        assert isinstance(f.value, Decimal)
        assert f.source and f.region and f.unit and f.published >= 2006
    f = lib.get(SEED_FACTOR)
    assert (f.value, f.unit, f.year, f.region) == (Decimal("0.6101"), "tCO2/MWh", 2015, "CN")
    assert lib.get("cn.grid.national.mee-2023-notice").value == Decimal("0.5703")
    assert lib.get("ipcc2006.fuel.natural-gas.co2").value == Decimal("56100")
    assert len(lib.digest()) == 64


def test_unknown_version_and_id(lib: FactorLibrary) -> None:
    with pytest.raises(FactorNotFound):
        FactorLibrary.load("tierflow-factors-1999.1")
    with pytest.raises(FactorNotFound):
        lib.get("nope")


def test_exact_year_never_falls_back(lib: FactorLibrary) -> None:
    assert lib.by("electricity.grid", "CN", 2022).factor.value == Decimal("0.5703")
    with pytest.raises(FactorNotFound):
        lib.by("electricity.grid", "CN", 2023)


def test_latest_available_is_explicit(lib: FactorLibrary) -> None:
    sel = lib.by("electricity.grid", "CN", 2023, policy="latest-available")
    assert sel.factor.id == "cn.grid.national.mee-2023-notice"
    assert "asked 2023" in sel.rule and "2022" in sel.rule


def test_ambiguity_must_be_pinned(lib: FactorLibrary) -> None:
    with pytest.raises(AmbiguousFactor, match="pin one by id"):
        lib.by("electricity.grid", "CN", 2021)


def test_region_exact_and_global_only_on_request(lib: FactorLibrary) -> None:
    assert lib.by("electricity.grid", "CN-East", 2012).factor.value == Decimal("0.7035")
    with pytest.raises(FactorNotFound):
        lib.by("fuel.natural-gas", "CN", 2021)
    sel = lib.by("fuel.natural-gas", "CN", 2021, include_global=True)
    assert sel.factor.region == "GLOBAL"
    assert lib.by("fuel.natural-gas", "CN", 2021, include_global=True, kind="conversion").factor.unit == "TJ/Gg"


def test_float_values_refused() -> None:
    raw = {
        "id": "x",
        "activity": "a",
        "value": 0.5,
        "unit": "tCO2e/MWh",
        "year": 2020,
        "region": "CN",
        "source": "s",
        "published": 2020,
    }
    with pytest.raises(ValueError):
        EmissionFactor.from_json(raw)
    with pytest.raises(ValueError, match="duplicate"):
        f = EmissionFactor.from_json({**raw, "value": "0.5"})
        FactorLibrary.from_factors("t", [f, f])
