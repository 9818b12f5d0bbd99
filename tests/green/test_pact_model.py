"""The PACT v3 data model: decimals as strings, identifiers, date-times, cross-field rules, the v2 adapter.

The footprint documents here are our own fixtures (also used by the API tests)."""


from __future__ import annotations

import json
import uuid
from decimal import Decimal
from typing import Any

import pytest
from pydantic import ValidationError

from tierflow.green.pact import ProductFootprint, V2ConversionError, from_v2, parse_document, to_v2


def v3_footprint(*, id: str | None = None, product: str = "urn:gtin:4012345000016", country: str | None = "DE",
                 company: str = "urn:uuid:6f0e8a3c-3a0b-4c36-9bd9-3c1e8f0f5a01", status: str = "Active",
                 classification: str = "urn:pact:productclassification:un-cpc:35110",
                 validity: tuple[str, str] | None = ("2025-01-01T00:00:00Z", "2027-12-31T00:00:00Z"),
                 **pcf_overrides: Any) -> dict[str, Any]:
    pcf: dict[str, Any] = {
        "declaredUnitOfMeasurement": "kilogram",
        "declaredUnitAmount": "1",
        "productMassPerDeclaredUnit": "1",
        "referencePeriodStart": "2024-01-01T00:00:00Z",
        "referencePeriodEnd": "2025-01-01T00:00:00Z",
        "pcfExcludingBiogenicUptake": "2.56",
        "pcfIncludingBiogenicUptake": "2.31",
        "fossilCarbonContent": "0.1",
        "biogenicCarbonContent": "0.05",
        "fossilGhgEmissions": "2.4",
        "landUseChangeGhgEmissions": "0.16",
        "biogenicCO2Uptake": "-0.25",
        "packagingEmissionsIncluded": True,
        "packagingGhgEmissions": "0.02",
        "ipccCharacterizationFactors": ["AR6"],
        "crossSectoralStandards": ["ISO14067", "PACT-3.0"],
        "productOrSectorSpecificRules": [{"operator": "PEF", "ruleNames": ["PEFCR Paints 1.0"]}],
        "exemptedEmissionsPercent": "0.5",
        "exemptedEmissionsDescription": "Office consumables",
        "boundaryProcessesDescription": "Cradle to gate: resin synthesis, blending, filling",
        "secondaryEmissionFactorSources": [{"name": "ecoinvent", "version": "3.10"}],
        "primaryDataShare": "62.5",
        "dqi": {"technologicalDQR": "2.0", "geographicalDQR": "1.5", "temporalDQR": "1.0"},
        "verification": {"coverage": "product level", "providerName": "Audit Co",
                         "completedAt": "2025-03-01T00:00:00Z", "standardName": "ISO 14067"},
    }
    if country:
        pcf["geographyCountry"] = country
    pcf.update(pcf_overrides)
    doc: dict[str, Any] = {
        "id": id or str(uuid.uuid4()),
        "specVersion": "3.0.0",
        "created": "2025-02-01T08:00:00Z",
        "status": status,
        "companyName": "Tier-1 Ltd",
        "companyIds": [company],
        "productDescription": "Water-based coating, 1 kg (bulk)",
        "productIds": [product],
        "productClassifications": [classification],
        "productNameCompany": "AquaCoat 100",
        "comment": "Allocation by mass",
        "pcf": pcf,
    }
    if validity:
        doc["validityPeriodStart"], doc["validityPeriodEnd"] = validity
    return doc


def v2_footprint() -> dict[str, Any]:
    return {
        "id": "91715e5e-fd0b-4d1c-8fab-76290c46e6ed",
        "specVersion": "2.2.0",
        "version": 3,
        "created": "2024-06-01T00:00:00Z",
        "status": "Active",
        "statusComment": "Recalculated with supplier data",
        "companyName": "Tier-2 Ltd",
        "companyIds": ["urn:uuid:51131FB5-42A2-4267-A402-0ECFEFAD1619"],
        "productDescription": "Polyol blend",
        "productIds": ["urn:gtin:4712345060507"],
        "productCategoryCpc": "3342",
        "productNameCompany": "Polyol P-20",
        "comment": "",
        "pcf": {
            "declaredUnit": "liter",
            "unitaryProductAmount": "12.5",
            "pCfExcludingBiogenic": "2.0",
            "pCfIncludingBiogenic": "1.0",
            "fossilGhgEmissions": "0.5",
            "fossilCarbonContent": "1.0",
            "biogenicCarbonContent": "0.0",
            "dLucGhgEmissions": "0.4",
            "landManagementGhgEmissions": "0.3",
            "otherBiogenicGhgEmissions": "0.2",
            "iLucGhgEmissions": "0.1",
            "biogenicCarbonWithdrawal": "-1.0",
            "aircraftGhgEmissions": "0",
            "characterizationFactors": "AR6",
            "ipccCharacterizationFactorsSources": ["AR6"],
            "crossSectoralStandardsUsed": ["GHG Protocol Product standard", "ISO Standard 14067"],
            "productOrSectorSpecificRules": [{"operator": "Other", "ruleNames": ["The rule"],
                                              "otherOperatorName": "Sector body"}],
            "biogenicAccountingMethodology": "PEF",
            "boundaryProcessesDescription": "End-of-life included",
            "referencePeriodStart": "2023-01-01T00:00:00Z",
            "referencePeriodEnd": "2024-01-01T00:00:00Z",
            "geographyCountry": "FR",
            "exemptedEmissionsPercent": "0",
            "exemptedEmissionsDescription": "",
            "packagingEmissionsIncluded": False,
            "primaryDataShare": "56.12",
            "dqi": {"coveragePercent": "78", "technologicalDQR": "1.6", "temporalDQR": "2.6",
                    "geographicalDQR": "1.8", "completenessDQR": "1.7", "reliabilityDQR": "2.1"},
            "assurance": {"assurance": True, "coverage": "product level", "level": "limited",
                          "boundary": "Cradle-to-Gate", "providerName": "My Auditor",
                          "completedAt": "2024-07-01T00:00:00Z", "standardName": "ISO 14044"},
        },
    }


def test_a_v3_document_round_trips_exactly() -> None:
    doc = v3_footprint()
    footprint = ProductFootprint.model_validate(doc)
    assert footprint.pcf.pcf_excluding_biogenic_uptake == Decimal("2.56")
    assert footprint.to_json() == doc
    assert ProductFootprint.model_validate_json(json.dumps(footprint.to_json())) == footprint


@pytest.mark.parametrize("bad", [2.56, 2, "2.5e1", "1,5", " 1", "+1", ".5", "1.", "NaN", "Infinity", ""])
def test_decimals_are_strings_in_the_spec_pattern(bad: Any) -> None:
    with pytest.raises(ValidationError, match="pcfExcludingBiogenicUptake"):
        ProductFootprint.model_validate(v3_footprint(pcfExcludingBiogenicUptake=bad))


def test_decimal_precision_is_kept() -> None:
    doc = v3_footprint(pcfExcludingBiogenicUptake="0.10000000000000000000000001")
    assert ProductFootprint.model_validate(doc).to_json()["pcf"]["pcfExcludingBiogenicUptake"] == (
        "0.10000000000000000000000001")


@pytest.mark.parametrize(("field", "value"), [
    ("declaredUnitAmount", "0"), ("fossilGhgEmissions", "-0.1"), ("biogenicCO2Uptake", "0.1"),
    ("fossilCarbonContent", "-1"),
])
def test_signed_decimals_check_their_sign(field: str, value: str) -> None:
    with pytest.raises(ValidationError, match=field):
        ProductFootprint.model_validate(v3_footprint(**{field: value}))


@pytest.mark.parametrize(("change", "message"), [
    ({"id": "not-a-uuid"}, "id"),
    ({"companyIds": ["acme"]}, "URN"),
    ({"productIds": []}, "productIds"),
    ({"productIds": ["gtin:123"]}, "URN"),
    ({"created": "2025-02-01T08:00:00"}, "timezone"),
    ({"status": "Retired"}, "status"),
    ({"specVersion": "2.2.0"}, "specVersion"),
    ({"unknownField": 1}, "unknownField"),
    ({"validityPeriodStart": "2028-01-01T00:00:00Z"}, "validityPeriodStart must be before"),
])
def test_identifiers_datetimes_and_enumerations_are_checked(change: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        ProductFootprint.model_validate({**v3_footprint(), **change})


@pytest.mark.parametrize(("overrides", "message"), [
    ({"geographyRegionOrSubregion": "Europe"}, "at most one"),
    ({"packagingEmissionsIncluded": False}, "packagingGhgEmissions"),
    ({"referencePeriodEnd": "2023-01-01T00:00:00Z"}, "referencePeriodStart"),
    ({"dqi": {"technologicalDQR": "6", "geographicalDQR": "1", "temporalDQR": "1"}}, "between 1 and 5"),
    ({"primaryDataShare": "101"}, "primaryDataShare"),
    ({"ipccCharacterizationFactors": ["AR six"]}, "ipccCharacterizationFactors"),
    ({"crossSectoralStandards": []}, "crossSectoralStandards"),
])
def test_cross_field_rules(overrides: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        ProductFootprint.model_validate(v3_footprint(**overrides))


def test_datetimes_are_normalised_to_utc() -> None:
    footprint = ProductFootprint.model_validate({**v3_footprint(), "created": "2025-02-01T10:00:00+02:00"})
    assert footprint.to_json()["created"] == "2025-02-01T08:00:00Z"


def test_validity_defaults_to_three_years_from_the_reference_period_end() -> None:
    footprint = ProductFootprint.model_validate(v3_footprint(validity=None))
    start, end = footprint.validity()
    assert (start.isoformat(), end.isoformat()) == ("2025-01-01T00:00:00+00:00", "2028-01-01T00:00:00+00:00")


def test_v2_documents_convert_to_v3() -> None:
    footprint = from_v2(v2_footprint(), product_mass_per_declared_unit=Decimal("11.2"))
    doc = footprint.to_json()
    pcf = doc["pcf"]
    assert doc["specVersion"] == "3.0.0"
    assert doc["productClassifications"] == ["urn:pact:productclassification:un-cpc:3342"]
    assert pcf["declaredUnitOfMeasurement"] == "liter" and pcf["declaredUnitAmount"] == "12.5"
    assert pcf["productMassPerDeclaredUnit"] == "11.2"
    assert (pcf["pcfExcludingBiogenicUptake"], pcf["pcfIncludingBiogenicUptake"]) == ("2.0", "1.0")
    assert pcf["landUseChangeGhgEmissions"] == "0.4" and pcf["landCarbonLeakage"] == "0.1"
    assert pcf["biogenicNonCO2Emissions"] == "0.2" and pcf["biogenicCO2Uptake"] == "-1.0"
    assert pcf["crossSectoralStandards"] == ["GHGP-Product", "ISO14067"]
    assert pcf["dqi"] == {"technologicalDQR": "1.6", "geographicalDQR": "1.8", "temporalDQR": "2.6"}
    assert pcf["verification"]["coverage"] == "product level"
    assert "landManagementGhgEmissions: 0.3" in doc["comment"]
    assert "Recalculated" in doc["comment"]


def test_v2_needs_a_product_mass_for_volume_units() -> None:
    with pytest.raises(V2ConversionError, match="productMassPerDeclaredUnit"):
        from_v2(v2_footprint())
    assert parse_document({**v2_footprint(), "pcf": {**v2_footprint()["pcf"], "declaredUnit": "megajoule"}}
                          ).pcf.product_mass_per_declared_unit == 0


def test_v3_to_v2_and_back_keeps_what_both_can_say() -> None:
    footprint = ProductFootprint.model_validate(v3_footprint())
    v2 = to_v2(footprint)
    assert v2["pcf"]["pCfExcludingBiogenic"] == "2.56" and v2["pcf"]["declaredUnit"] == "kilogram"
    assert v2["productCategoryCpc"] == "35110" and v2["pcf"]["crossSectoralStandardsUsed"] == ["ISO Standard 14067"]
    back = from_v2(v2).to_json()
    original = footprint.to_json()
    assert back["pcf"]["crossSectoralStandards"] == ["ISO14067"]  # PACT-3.0 has no v2 name
    for key in ("id", "created", "companyIds", "productIds", "productClassifications", "validityPeriodStart"):
        assert back[key] == original[key]
    for key in ("pcfExcludingBiogenicUptake", "pcfIncludingBiogenicUptake", "fossilGhgEmissions", "dqi",
                "biogenicCO2Uptake", "landUseChangeGhgEmissions", "geographyCountry", "primaryDataShare"):
        assert back["pcf"][key] == original["pcf"][key]


def test_v2_has_no_piece_unit() -> None:
    footprint = ProductFootprint.model_validate(v3_footprint(declaredUnitOfMeasurement="piece"))
    with pytest.raises(V2ConversionError, match="piece"):
        to_v2(footprint)


def test_ids_are_uuids() -> None:
    footprint = ProductFootprint.model_validate(v3_footprint())
    assert isinstance(footprint.id, uuid.UUID)
