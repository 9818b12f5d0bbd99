"""ESG inputs as JSON: the file a reporting team fills in for ``tierflow esg report`` and ``POST /v1/green/esg``.

Numbers are JSON strings read as ``Decimal`` (a JSON number with a fraction is refused: binary floats would
change the figures); counts are integers. Activity records pin their emission factor by id (``factor_id``), so a
report never depends on which factors a later library version prefers. Example (the 2021 figures of the report
the platform was modelled on)::

    {"year": 2021, "factor_library": "tierflow-factors-2026.1", "employees": 910,
     "revenue_rmb_million": "1198",
     "activities": [{"id": "elec-2021", "kind": "electricity.grid", "scope": 2, "quantity": "479",
                     "unit": "MWh", "region": "CN", "factor_id": "cn.grid.national.2015.mee-2021-guide"}]}
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from tierflow.green.accounting import ActivityRecord, ContractualInstrument
from tierflow.green.esg import EsgInputs, PlatformImpactInputs
from tierflow.green.factors import DEFAULT_VERSION, FactorLibrary


class EsgInputError(ValueError):
    """The inputs file is malformed; the message names the field."""


_DECIMALS = (
    "floor_area_m2",
    "revenue_rmb_million",
    "water_m3",
    "wastewater_t",
    "hazardous_waste_t",
    "non_hazardous_waste_t",
    "packaging_t",
    "training_hours",
)
_COUNTS = ("workforce", "workforce_start", "leavers_by", "trained_by")
_INTS = ("employees_start", "leavers", "trained")
_KNOWN = {
    "year",
    "factor_library",
    "employees",
    "activities",
    "residual_factors",
    "training_hours_by",
    "narratives",
    "platform",
    *_DECIMALS,
    *_COUNTS,
    *_INTS,
}


def _decimal(value: object, where: str) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise EsgInputError(f"{where} must be a decimal string such as \"479.5\"; got {value!r}")
    try:
        parsed = Decimal(value)
    except InvalidOperation:
        raise EsgInputError(f"{where} is not a number: {value!r}") from None
    if not parsed.is_finite():
        raise EsgInputError(f"{where} must be finite")
    return parsed


def _int(value: object, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise EsgInputError(f"{where} must be a non-negative integer; got {value!r}")
    return value


def _counts(value: object, where: str) -> dict[str, dict[str, int]]:
    if not isinstance(value, Mapping):
        raise EsgInputError(f"{where} maps a dimension to counts per category")
    out: dict[str, dict[str, int]] = {}
    for dim, cats in value.items():
        if not isinstance(cats, Mapping):
            raise EsgInputError(f"{where}.{dim} maps categories to counts")
        out[str(dim)] = {str(k): _int(v, f"{where}.{dim}.{k}") for k, v in cats.items()}
    return out


def _activity(raw: object, n: int) -> tuple[ActivityRecord, str | None]:
    where = f"activities[{n}]"
    if not isinstance(raw, Mapping):
        raise EsgInputError(f"{where} must be an object")
    try:
        instruments = tuple(
            ContractualInstrument(
                id=str(i["id"]),
                kind=i["kind"],
                quantity=_decimal(i["quantity"], f"{where}.instruments.quantity"),
                unit=str(i["unit"]),
                factor_id=str(i["factor_id"]),
                reference=str(i.get("reference", "")),
            )
            for i in raw.get("instruments", [])
        )
        record = ActivityRecord(
            id=str(raw["id"]),
            kind=str(raw["kind"]),
            scope=raw["scope"],
            quantity=_decimal(raw["quantity"], f"{where}.quantity"),
            unit=str(raw["unit"]),
            year=_int(raw.get("year", 0), f"{where}.year") or 0,
            region=str(raw["region"]),
            category=raw.get("category"),
            facility=str(raw.get("facility", "")),
            evidence=str(raw.get("evidence", "")),
            conversion_id=raw.get("conversion_id"),
            instruments=instruments,
        )
    except KeyError as missing:
        raise EsgInputError(f"{where} lacks {missing}") from None
    except (TypeError, ValueError) as exc:
        if isinstance(exc, EsgInputError):
            raise
        raise EsgInputError(f"{where}: {exc}") from None
    factor = raw.get("factor_id")
    return record, None if factor is None else str(factor)


def parse_inputs(data: Mapping[str, Any]) -> EsgInputs:
    """``EsgInputs`` from the JSON form; unknown keys are refused (a misspelt field would silently vanish)."""
    if not isinstance(data, Mapping):
        raise EsgInputError("the inputs must be a JSON object")
    unknown = sorted(set(data) - _KNOWN)
    if unknown:
        raise EsgInputError(f"unknown fields: {', '.join(unknown)}")
    year = _int(data.get("year"), "year")
    try:
        library = FactorLibrary.load(str(data.get("factor_library", DEFAULT_VERSION)))
    except Exception as exc:  # an unknown library version
        raise EsgInputError(f"factor_library: {exc}") from None
    records, choice = [], {}
    for n, raw in enumerate(data.get("activities", [])):
        record, factor = _activity(raw, n)
        if record.year == 0:
            record = ActivityRecord(**{**_fields(record), "year": year})
        records.append(record)
        if factor is not None:
            choice[record.id] = factor
    extras: dict[str, Any] = {}
    for name in _DECIMALS:
        if data.get(name) is not None:
            extras[name] = _decimal(data[name], name)
    for name in _INTS:
        if data.get(name) is not None:
            extras[name] = _int(data[name], name)
    for name in _COUNTS:
        if data.get(name) is not None:
            extras[name] = _counts(data[name], name)
    if data.get("training_hours_by") is not None:
        by = data["training_hours_by"]
        if not isinstance(by, Mapping):
            raise EsgInputError("training_hours_by maps a dimension to hours per category")
        extras["training_hours_by"] = {
            str(d): {str(k): _decimal(v, f"training_hours_by.{d}.{k}") for k, v in cats.items()}
            for d, cats in by.items()
        }
    if data.get("narratives") is not None:
        extras["narratives"] = {str(k): str(v) for k, v in dict(data["narratives"]).items()}
    if data.get("residual_factors") is not None:
        extras["residual_factors"] = {str(k): str(v) for k, v in dict(data["residual_factors"]).items()}
    if data.get("platform") is not None:
        p = data["platform"]
        try:
            extras["platform"] = PlatformImpactInputs(
                documents_online=_int(p["documents_online"], "platform.documents_online"),
                pages_per_document=_decimal(p["pages_per_document"], "platform.pages_per_document"),
                paper_kg_per_page=_decimal(p["paper_kg_per_page"], "platform.paper_kg_per_page"),
                paper_factor_id=str(p["paper_factor_id"]),
                trips_avoided=_int(p.get("trips_avoided", 0), "platform.trips_avoided"),
                km_per_trip=_decimal(p.get("km_per_trip", "0"), "platform.km_per_trip"),
                travel_factor_id=p.get("travel_factor_id"),
            )
        except KeyError as missing:
            raise EsgInputError(f"platform lacks {missing}") from None
    try:
        return EsgInputs(
            year=year,
            library=library,
            records=records,
            employees=_int(data.get("employees"), "employees"),
            factor_choice=choice,
            **extras,
        )
    except (TypeError, ValueError) as exc:
        if isinstance(exc, EsgInputError):
            raise
        raise EsgInputError(str(exc)) from None


def _fields(record: ActivityRecord) -> dict[str, Any]:
    return {name: getattr(record, name) for name in record.__dataclass_fields__}
