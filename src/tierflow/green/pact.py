"""The PACT (WBCSD) product footprint data model, Technical Specifications v3.0, and a v2 adapter.

Design overview: pydantic v2 models whose Python names are snake_case and whose JSON names (aliases) are the
spec's camelCase. ``ProductFootprint.model_validate(json_dict)`` reads a document; ``to_json()`` writes one.

- Decimals are JSON *strings* matching ``^-?\\d+(\\.\\d+)?$`` (spec "Decimal"), held as ``Decimal``: a JSON
  number, an exponent or a sign on zero-free forms like ``+1`` is refused, so no value ever passes through
  binary floating point. Signed variants (``PositiveNonZeroDecimal`` ...) check their sign.
- Identifiers: ``id`` and ``precedingPfIds`` are UUIDs; company, product and classification ids are URNs
  (RFC 8141: ``urn:<nid>:<nss>``).
- Date-times must carry an offset (RFC 3339); they are normalised to UTC and written with ``Z``.
- Cross-field rules of the spec: one geography granularity at most, reference period start before end,
  validity start before end, no packaging emissions when packaging is excluded, DQRs in [1, 5], primary data
  share in [0, 100].
- ``validity()`` is the effective validity period: the declared one, or three years from
  ``referencePeriodEnd`` when none is declared (spec section "Validity period").

``from_v2`` / ``to_v2`` convert from and to the v2.x data model (renamed fields, changed enumerations). What
v2 cannot say (``productMassPerDeclaredUnit`` for non-mass units) must be supplied; what v3 cannot say is
listed in ``docs/PACT.md``.

Pure: no I/O; imports nothing of the project.
"""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    model_validator,
)
from pydantic.alias_generators import to_camel

SPEC_VERSION = "3.0.0"
DECIMAL_PATTERN = re.compile(r"^-?\d+(\.\d+)?$")
URN_PATTERN = re.compile(r"^urn:[a-z0-9][a-z0-9-]{0,31}:\S+$", re.IGNORECASE)
SPEC_VERSION_PATTERN = r"^3\.\d+\.\d+$"


# --- scalar types --------------------------------------------------------------------------------------------


def _decimal(value: Any) -> Decimal:
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError("a decimal must be finite")
        return value
    if not isinstance(value, str):
        raise ValueError("a decimal must be a JSON string such as \"1.25\", not a number")
    if not DECIMAL_PATTERN.fullmatch(value):
        raise ValueError(f"{value!r} is not a decimal string (digits, an optional '-' and fraction)")
    try:
        return Decimal(value)
    except InvalidOperation as error:  # pragma: no cover - the pattern admits only valid literals
        raise ValueError(str(error)) from error


def _format_decimal(value: Decimal) -> str:
    text = format(value, "f")
    return "0" if text in ("-0", "") else text


def _sign(check: str) -> Any:
    def validate(value: Decimal) -> Decimal:
        ok = {"positive": value > 0, "non_negative": value >= 0, "non_positive": value <= 0}[check]
        if not ok:
            raise ValueError(f"must be {check.replace('_', '-')}, got {_format_decimal(value)}")
        return value

    return AfterValidator(validate)


_DecimalSerializer = PlainSerializer(_format_decimal, return_type=str, when_used="always")
PactDecimal = Annotated[Decimal, BeforeValidator(_decimal), _DecimalSerializer]
PositiveNonZeroDecimal = Annotated[Decimal, BeforeValidator(_decimal), _sign("positive"), _DecimalSerializer]
PositiveOrZeroDecimal = Annotated[Decimal, BeforeValidator(_decimal), _sign("non_negative"), _DecimalSerializer]
NegativeOrZeroDecimal = Annotated[Decimal, BeforeValidator(_decimal), _sign("non_positive"), _DecimalSerializer]


def _urn(value: str) -> str:
    if not URN_PATTERN.fullmatch(value):
        raise ValueError(f"{value!r} is not a URN (urn:<namespace>:<id>)")
    return value


def _utc(value: datetime) -> datetime:
    return value.astimezone(UTC)


def _write_utc(value: datetime) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


Urn = Annotated[str, AfterValidator(_urn)]
NonEmptyString = Annotated[str, Field(min_length=1)]
UtcDateTime = Annotated[AwareDatetime, AfterValidator(_utc), PlainSerializer(_write_utc, return_type=str)]
PfId = Annotated[uuid.UUID, PlainSerializer(str, return_type=str)]

DeclaredUnit = Literal[
    "liter", "kilogram", "cubic meter", "kilowatt hour", "megajoule", "ton kilometer", "square meter", "piece",
    "hour", "megabit second",
]
RegionOrSubregion = Literal[
    "Africa", "Americas", "Asia", "Europe", "Oceania", "Australia and New Zealand", "Central Asia", "Eastern Asia",
    "Eastern Europe", "Latin America and the Caribbean", "Melanesia", "Micronesia", "Northern Africa",
    "Northern America", "Northern Europe", "Polynesia", "South-eastern Asia", "Southern Asia", "Southern Europe",
    "Sub-Saharan Africa", "Western Asia", "Western Europe",
]


class PactModel(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid", frozen=True)


# --- nested types --------------------------------------------------------------------------------------------


class ProductOrSectorSpecificRule(PactModel):
    operator: Literal["PEF", "EPD International", "Other"]
    rule_names: list[NonEmptyString] = Field(min_length=1)
    other_operator_name: NonEmptyString | None = None


class EmissionFactorSource(PactModel):
    name: NonEmptyString
    version: NonEmptyString


def _dqr(value: Decimal) -> Decimal:
    if not Decimal(1) <= value <= Decimal(5):
        raise ValueError("a data quality rating must be between 1 and 5")
    return value


Dqr = Annotated[Decimal, BeforeValidator(_decimal), AfterValidator(_dqr), _DecimalSerializer]


class DataQualityIndicators(PactModel):
    technological_dqr: Dqr = Field(alias="technologicalDQR")
    geographical_dqr: Dqr = Field(alias="geographicalDQR")
    temporal_dqr: Dqr = Field(alias="temporalDQR")


class Verification(PactModel):
    coverage: Literal["PCF calculation model", "PCF program", "product level"] | None = None
    provider_name: NonEmptyString | None = None
    completed_at: UtcDateTime | None = None
    standard_name: str | None = None
    comments: str | None = None


class DataModelExtension(PactModel):
    spec_version: str | None = None
    data_schema: NonEmptyString
    documentation: str | None = None
    data: dict[str, Any]


class CarbonFootprint(PactModel):
    """``CarbonFootprint``: emissions in kgCO2e per declared unit, with scope and method."""

    declared_unit_of_measurement: DeclaredUnit
    declared_unit_amount: PositiveNonZeroDecimal
    product_mass_per_declared_unit: PactDecimal
    reference_period_start: UtcDateTime
    reference_period_end: UtcDateTime
    geography_region_or_subregion: RegionOrSubregion | None = None
    geography_country: Annotated[str, Field(pattern=r"^[A-Z]{2}$")] | None = None
    geography_country_subdivision: Annotated[str, Field(pattern=r"^[A-Z]{2}-[A-Z0-9]{1,3}$")] | None = None
    boundary_processes_description: str | None = None
    pcf_excluding_biogenic_uptake: PactDecimal
    pcf_including_biogenic_uptake: PactDecimal
    fossil_carbon_content: PositiveOrZeroDecimal
    biogenic_carbon_content: PositiveOrZeroDecimal | None = None
    recycled_carbon_content: PositiveOrZeroDecimal | None = None
    fossil_ghg_emissions: PositiveOrZeroDecimal
    land_use_change_ghg_emissions: PositiveOrZeroDecimal | None = None
    land_carbon_leakage: PositiveOrZeroDecimal | None = None
    land_management_fossil_ghg_emissions: PositiveOrZeroDecimal | None = None
    land_management_biogenic_co2_emissions: PositiveOrZeroDecimal | None = Field(
        default=None, alias="landManagementBiogenicCO2Emissions")
    land_management_biogenic_co2_removals: NegativeOrZeroDecimal | None = Field(
        default=None, alias="landManagementBiogenicCO2Removals")
    biogenic_co2_uptake: NegativeOrZeroDecimal | None = Field(default=None, alias="biogenicCO2Uptake")
    biogenic_non_co2_emissions: PositiveOrZeroDecimal | None = Field(default=None, alias="biogenicNonCO2Emissions")
    land_area_occupation: PositiveOrZeroDecimal | None = None
    aircraft_ghg_emissions: PositiveOrZeroDecimal | None = None
    packaging_emissions_included: bool | None = None
    packaging_ghg_emissions: PositiveOrZeroDecimal | None = None
    packaging_biogenic_carbon_content: PositiveOrZeroDecimal | None = None
    outbound_logistics_ghg_emissions: PositiveOrZeroDecimal | None = None
    ccs_technological_co2_capture_included: bool | None = Field(
        default=None, alias="ccsTechnologicalCO2CaptureIncluded")
    ccs_technological_co2_capture: NegativeOrZeroDecimal | None = Field(
        default=None, alias="ccsTechnologicalCO2Capture")
    technological_co2_capture_origin: str | None = Field(default=None, alias="technologicalCO2CaptureOrigin")
    technological_co2_removals: NegativeOrZeroDecimal | None = Field(default=None, alias="technologicalCO2Removals")
    ccu_carbon_content: PositiveOrZeroDecimal | None = None
    ccu_calculation_approach: Literal["Cut-off", "Credit"] | None = None
    ccu_credit_certification: str | None = None
    ipcc_characterization_factors: list[Annotated[str, Field(pattern=r"^AR\d+$")]] = Field(min_length=1)
    cross_sectoral_standards: list[NonEmptyString] = Field(min_length=1)
    product_or_sector_specific_rules: list[ProductOrSectorSpecificRule] | None = None
    exempted_emissions_percent: PactDecimal
    exempted_emissions_description: str | None = None
    allocation_rules_description: str | None = None
    secondary_emission_factor_sources: list[EmissionFactorSource] | None = Field(default=None, min_length=1)
    primary_data_share: PactDecimal | None = None
    dqi: DataQualityIndicators | None = None
    verification: Verification | None = None

    @model_validator(mode="after")
    def _consistent(self) -> CarbonFootprint:
        if self.reference_period_start >= self.reference_period_end:
            raise ValueError("referencePeriodStart must be before referencePeriodEnd")
        geographies = [self.geography_region_or_subregion, self.geography_country, self.geography_country_subdivision]
        if sum(g is not None for g in geographies) > 1:
            raise ValueError("at most one of geographyRegionOrSubregion, geographyCountry and "
                             "geographyCountrySubdivision may be defined")
        if self.packaging_emissions_included is False and self.packaging_ghg_emissions is not None:
            raise ValueError("packagingGhgEmissions must be undefined when packagingEmissionsIncluded is false")
        if not Decimal(0) <= self.exempted_emissions_percent <= Decimal(100):
            raise ValueError("exemptedEmissionsPercent must be between 0 and 100")
        if self.primary_data_share is not None and not Decimal(0) <= self.primary_data_share <= Decimal(100):
            raise ValueError("primaryDataShare must be between 0 and 100")
        return self

    def geographies(self) -> tuple[str, ...]:
        """The geography values this footprint declares (for the ``geography`` filter)."""
        return tuple(g for g in (self.geography_region_or_subregion, self.geography_country,
                                 self.geography_country_subdivision) if g)


class ProductFootprint(PactModel):
    """``ProductFootprint``: the exchanged document."""

    id: PfId
    spec_version: Annotated[str, Field(pattern=SPEC_VERSION_PATTERN)] = SPEC_VERSION
    preceding_pf_ids: list[PfId] | None = Field(default=None, min_length=1)
    created: UtcDateTime
    status: Literal["Active", "Deprecated"] = "Active"
    validity_period_start: UtcDateTime | None = None
    validity_period_end: UtcDateTime | None = None
    company_name: NonEmptyString
    company_ids: list[Urn] = Field(min_length=1)
    product_description: str
    product_ids: list[Urn] = Field(min_length=1)
    product_classifications: list[Urn] | None = Field(default=None, min_length=1)
    product_name_company: NonEmptyString
    comment: str | None = None
    pcf: CarbonFootprint
    extensions: list[DataModelExtension] | None = Field(default=None, min_length=1)

    @model_validator(mode="after")
    def _validity(self) -> ProductFootprint:
        start, end = self.validity_period_start, self.validity_period_end
        if start is not None and end is not None and start >= end:
            raise ValueError("validityPeriodStart must be before validityPeriodEnd")
        if self.preceding_pf_ids and self.id in self.preceding_pf_ids:
            raise ValueError("a footprint cannot precede itself")
        return self

    def validity(self) -> tuple[datetime, datetime]:
        """The effective validity period: declared, or three years from ``referencePeriodEnd``."""
        ref_end = self.pcf.reference_period_end
        start = self.validity_period_start or ref_end
        end = self.validity_period_end or _add_years(ref_end, 3)
        return start, end

    def to_json(self) -> dict[str, Any]:
        """The JSON document (camelCase, decimals as strings, absent fields left out)."""
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)


def _add_years(moment: datetime, years: int) -> datetime:
    try:
        return moment.replace(year=moment.year + years)
    except ValueError:  # 29 February
        return moment.replace(year=moment.year + years, day=28)


def deprecated(footprint: ProductFootprint) -> ProductFootprint:
    return footprint.model_copy(update={"status": "Deprecated"})


# --- v2 adapter ----------------------------------------------------------------------------------------------


class V2ConversionError(ValueError):
    """A v2 document cannot be expressed in v3 (or back) without information it does not carry."""


V2_STANDARDS = {
    "GHG Protocol Product standard": "GHGP-Product",
    "ISO Standard 14067": "ISO14067",
    "ISO Standard 14044": "ISO14040-44",
}
V3_STANDARDS = {v3: v2 for v2, v3 in V2_STANDARDS.items()}
V2_UNITS = ("liter", "kilogram", "cubic meter", "kilowatt hour", "megajoule", "ton kilometer", "square meter")
MASSLESS_UNITS = ("kilowatt hour", "megajoule", "ton kilometer")
CPC_URN = "urn:pact:productclassification:un-cpc:"
V2_ASSURANCE_COVERAGE = {"PCF system": "PCF program", "product level": "product level"}
V3_ASSURANCE_COVERAGE = {"PCF program": "PCF system", "product level": "product level",
                         "PCF calculation model": "PCF system"}

# v2 pcf field → v3 pcf field, copied as is.
_SAME = (
    "referencePeriodStart", "referencePeriodEnd", "geographyCountrySubdivision", "geographyCountry",
    "geographyRegionOrSubregion", "boundaryProcessesDescription", "fossilGhgEmissions", "fossilCarbonContent",
    "biogenicCarbonContent", "aircraftGhgEmissions", "exemptedEmissionsPercent", "exemptedEmissionsDescription",
    "allocationRulesDescription", "primaryDataShare", "packagingEmissionsIncluded", "packagingGhgEmissions",
)
_RENAMED = {
    "declaredUnit": "declaredUnitOfMeasurement",
    "unitaryProductAmount": "declaredUnitAmount",
    "pCfExcludingBiogenic": "pcfExcludingBiogenicUptake",
    "pCfIncludingBiogenic": "pcfIncludingBiogenicUptake",
    "dLucGhgEmissions": "landUseChangeGhgEmissions",
    "iLucGhgEmissions": "landCarbonLeakage",
    "otherBiogenicGhgEmissions": "biogenicNonCO2Emissions",
    "biogenicCarbonWithdrawal": "biogenicCO2Uptake",
}


def from_v2(document: dict[str, Any], *, product_mass_per_declared_unit: Decimal | None = None) -> ProductFootprint:
    """Convert a v2.x ``ProductFootprint`` JSON document into a v3 one (validated).

    ``productMassPerDeclaredUnit`` (new in v3) is taken from the document if present, else from the argument;
    for ``kilogram`` it is the declared amount, for energy and transport units it is ``0`` (spec); for other
    units it must be given.
    """
    v2pcf: dict[str, Any] = dict(document.get("pcf") or {})
    pcf: dict[str, Any] = {k: v2pcf[k] for k in _SAME if v2pcf.get(k) is not None}
    for old, new in _RENAMED.items():
        if v2pcf.get(old) is not None:
            pcf[new] = v2pcf[old]
    unit = v2pcf.get("declaredUnit")
    if "pcfIncludingBiogenicUptake" not in pcf:
        pcf["pcfIncludingBiogenicUptake"] = _including_from_v2(v2pcf)
    mass = v2pcf.get("productMassPerDeclaredUnit")
    if mass is None:
        if product_mass_per_declared_unit is not None:
            mass = _format_decimal(product_mass_per_declared_unit)
        elif unit == "kilogram":
            mass = v2pcf.get("unitaryProductAmount")
        elif unit in MASSLESS_UNITS:
            mass = "0"
        else:
            raise V2ConversionError(
                f"productMassPerDeclaredUnit is required in v3 and cannot be derived for declared unit {unit!r}")
    pcf["productMassPerDeclaredUnit"] = mass
    sources = v2pcf.get("ipccCharacterizationFactorsSources") or (
        [v2pcf["characterizationFactors"]] if v2pcf.get("characterizationFactors") else [])
    pcf["ipccCharacterizationFactors"] = list(sources)
    pcf["crossSectoralStandards"] = [V2_STANDARDS.get(s, s) for s in v2pcf.get("crossSectoralStandardsUsed") or []]
    if v2pcf.get("productOrSectorSpecificRules"):
        pcf["productOrSectorSpecificRules"] = v2pcf["productOrSectorSpecificRules"]
    if v2pcf.get("secondaryEmissionFactorSources"):
        pcf["secondaryEmissionFactorSources"] = v2pcf["secondaryEmissionFactorSources"]
    dqi = v2pcf.get("dqi") or {}
    if all(dqi.get(k) is not None for k in ("technologicalDQR", "geographicalDQR", "temporalDQR")):
        pcf["dqi"] = {k: dqi[k] for k in ("technologicalDQR", "geographicalDQR", "temporalDQR")}
    assurance = v2pcf.get("assurance") or {}
    if assurance.get("assurance"):
        verification = {k: assurance[k] for k in ("providerName", "completedAt", "standardName", "comments")
                        if assurance.get(k) is not None}
        coverage = V2_ASSURANCE_COVERAGE.get(assurance.get("coverage", ""))
        if coverage:
            verification["coverage"] = coverage
        pcf["verification"] = verification

    notes = [document["comment"]] if document.get("comment") else []
    if document.get("statusComment"):
        notes.append(f"Status: {document['statusComment']}")
    if v2pcf.get("landManagementGhgEmissions") is not None:
        notes.append(f"v2 landManagementGhgEmissions: {v2pcf['landManagementGhgEmissions']} kgCO2e")
    v3: dict[str, Any] = {
        "id": document.get("id"),
        "specVersion": SPEC_VERSION,
        "created": document.get("created"),
        "status": document.get("status", "Active"),
        "companyName": document.get("companyName"),
        "companyIds": document.get("companyIds"),
        "productDescription": document.get("productDescription", ""),
        "productIds": document.get("productIds"),
        "productNameCompany": document.get("productNameCompany"),
        "pcf": pcf,
    }
    for key in ("precedingPfIds", "validityPeriodStart", "validityPeriodEnd"):
        if document.get(key):
            v3[key] = document[key]
    if document.get("productCategoryCpc"):
        v3["productClassifications"] = [CPC_URN + str(document["productCategoryCpc"])]
    if notes:
        v3["comment"] = "\n".join(notes)
    if document.get("extensions"):
        v3["extensions"] = document["extensions"]
    return ProductFootprint.model_validate(v3)


def _including_from_v2(v2pcf: dict[str, Any]) -> str:
    excluding = v2pcf.get("pCfExcludingBiogenic")
    withdrawal = v2pcf.get("biogenicCarbonWithdrawal")
    if excluding is None or withdrawal is None:
        raise V2ConversionError("pcfIncludingBiogenicUptake is required in v3: the v2 document has neither "
                                "pCfIncludingBiogenic nor pCfExcludingBiogenic and biogenicCarbonWithdrawal")
    return _format_decimal(_decimal(excluding) + _decimal(withdrawal))


def to_v2(footprint: ProductFootprint, *, version: int = 1, spec_version: str = "2.3.0") -> dict[str, Any]:
    """The v2.x JSON document for a v3 footprint (fields v2 has no place for are dropped)."""
    doc = footprint.to_json()
    v3pcf: dict[str, Any] = doc["pcf"]
    if v3pcf["declaredUnitOfMeasurement"] not in V2_UNITS:
        raise V2ConversionError(f"v2 has no declared unit {v3pcf['declaredUnitOfMeasurement']!r}")
    pcf: dict[str, Any] = {k: v3pcf[k] for k in _SAME if k in v3pcf}
    for old, new in _RENAMED.items():
        if new in v3pcf:
            pcf[old] = v3pcf[new]
    factors = v3pcf["ipccCharacterizationFactors"]
    pcf["characterizationFactors"] = "AR6" if "AR6" in factors else "AR5"
    pcf["ipccCharacterizationFactorsSources"] = factors
    standards = [V3_STANDARDS[s] for s in v3pcf["crossSectoralStandards"] if s in V3_STANDARDS]
    if not standards:
        raise V2ConversionError("none of the cross-sectoral standards has a v2 equivalent")
    pcf["crossSectoralStandardsUsed"] = standards
    pcf["productOrSectorSpecificRules"] = v3pcf.get("productOrSectorSpecificRules", [])
    pcf.setdefault("boundaryProcessesDescription", "")
    pcf.setdefault("exemptedEmissionsDescription", "")
    pcf.setdefault("packagingEmissionsIncluded", False)
    pcf["productMassPerDeclaredUnit"] = v3pcf["productMassPerDeclaredUnit"]
    if "secondaryEmissionFactorSources" in v3pcf:
        pcf["secondaryEmissionFactorSources"] = v3pcf["secondaryEmissionFactorSources"]
    if "dqi" in v3pcf:
        pcf["dqi"] = v3pcf["dqi"]
    if "verification" in v3pcf:
        verification = v3pcf["verification"]
        assurance = {"assurance": True, **{k: v for k, v in verification.items() if k != "coverage"}}
        if verification.get("coverage") in V3_ASSURANCE_COVERAGE:
            assurance["coverage"] = V3_ASSURANCE_COVERAGE[verification["coverage"]]
        pcf["assurance"] = assurance
    cpc = [c[len(CPC_URN):] for c in doc.get("productClassifications", []) if c.lower().startswith(CPC_URN)]
    if not cpc:
        raise V2ConversionError("v2 requires productCategoryCpc: the footprint has no UN CPC classification")
    v2: dict[str, Any] = {
        "id": doc["id"],
        "specVersion": spec_version,
        "version": version,
        "created": doc["created"],
        "status": doc["status"],
        "companyName": doc["companyName"],
        "companyIds": doc["companyIds"],
        "productDescription": doc["productDescription"],
        "productIds": doc["productIds"],
        "productCategoryCpc": cpc[0],
        "productNameCompany": doc["productNameCompany"],
        "comment": doc.get("comment", ""),
        "pcf": pcf,
    }
    for key in ("precedingPfIds", "validityPeriodStart", "validityPeriodEnd", "extensions"):
        if key in doc:
            v2[key] = doc[key]
    return v2


def parse_document(document: dict[str, Any]) -> ProductFootprint:
    """A v3 document as is, a v2 one (``specVersion`` 2.x) through ``from_v2``."""
    if str(document.get("specVersion", "")).startswith("2."):
        return from_v2(document)
    return ProductFootprint.model_validate(document)


def now_utc() -> datetime:
    return datetime.now(UTC)
