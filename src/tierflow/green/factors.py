"""A versioned emission-factor library.

Design: factors ship as JSON under ``green/data/factors``; every file names the library ``version`` it belongs to
and :meth:`FactorLibrary.load` reads all files of one version through :mod:`importlib.resources`. A factor is
immutable and self-describing: id, value (Decimal, parsed from a string), unit, year, region, gases covered,
source citation, publication year and notes. Conversion data (net calorific values) sit in the same library with
``kind="conversion"`` so they are pinned and audited the same way.

Lookup is by id (the way results are pinned) or by :meth:`FactorLibrary.by`, whose rules are explicit:

- a factor *applies* to a year if its ``valid_from``/``valid_to`` range contains it; a factor without a range
  applies only to its own ``year`` (grid factors describe one data year);
- the region must match exactly; GLOBAL defaults (IPCC) are considered only with ``include_global=True`` and only
  when no regional factor applies;
- ``policy="exact"`` never returns a factor for another year; ``policy="latest-available"`` returns the latest
  factor whose year is at or before the requested one, and the :class:`Selection` says so;
- two factors applying equally is an :class:`AmbiguousFactor` error: pin one by id.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from importlib import resources
from typing import Any, Literal

from tierflow.green.units import parse_unit

__all__ = [
    "DEFAULT_VERSION",
    "AmbiguousFactor",
    "EmissionFactor",
    "FactorLibrary",
    "FactorNotFound",
    "Selection",
    "SelectionPolicy",
]

DEFAULT_VERSION = "tierflow-factors-2026.1"
SelectionPolicy = Literal["exact", "latest-available"]
GLOBAL = "GLOBAL"


class FactorNotFound(LookupError):
    """No factor with that id, or none that applies under the requested rule."""


class AmbiguousFactor(LookupError):
    """More than one factor applies; the caller must pin one by id."""


@dataclass(frozen=True, slots=True)
class EmissionFactor:
    """One factor: ``value`` in ``unit`` (e.g. ``0.6101 tCO2/MWh``) with its provenance."""

    id: str
    activity: str
    value: Decimal
    unit: str
    year: int
    region: str
    source: str
    published: int
    kind: Literal["emission", "conversion"] = "emission"
    gases: tuple[str, ...] = ()
    valid_from: int | None = None
    valid_to: int | None = None
    used_for: str = ""
    note: str = ""

    def __post_init__(self) -> None:
        if not isinstance(self.value, Decimal):
            raise TypeError(f"factor {self.id}: value must be a Decimal, got {type(self.value).__name__}")
        parse_unit(self.unit)

    @property
    def numerator_unit(self) -> str:
        """The unit above the line (``tCO2`` for ``tCO2/MWh``)."""
        return self.unit.split("/", 1)[0].strip()

    @property
    def denominator_unit(self) -> str:
        """The activity unit the factor applies per (``MWh`` for ``tCO2/MWh``)."""
        if "/" not in self.unit:
            raise ValueError(f"factor {self.id}: unit {self.unit!r} has no denominator")
        return self.unit.split("/", 1)[1].strip()

    def applies_to(self, year: int) -> bool:
        """Whether the factor applies to ``year`` (see the module rules)."""
        if self.valid_from is None and self.valid_to is None:
            return year == self.year
        lower = self.valid_from if self.valid_from is not None else self.year
        return lower <= year and (self.valid_to is None or year <= self.valid_to)

    def latest_year_at_or_before(self, year: int) -> int | None:
        """The latest year ``<= year`` this factor covers, or None."""
        if self.applies_to(year):
            return year
        if self.valid_from is None and self.valid_to is None:
            return self.year if self.year <= year else None
        if self.valid_to is not None and self.valid_to < year:
            return self.valid_to
        return None

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> EmissionFactor:
        """Build from a JSON object; ``value`` must be a string (or int) so no float is ever parsed."""
        value = raw["value"]
        if isinstance(value, float) or not isinstance(value, str | int):
            raise ValueError(f"factor {raw.get('id')}: value must be a decimal string, got {value!r}")
        try:
            dec = Decimal(value)
        except InvalidOperation as exc:
            raise ValueError(f"factor {raw.get('id')}: bad value {value!r}") from exc
        return cls(
            id=str(raw["id"]),
            activity=str(raw["activity"]),
            value=dec,
            unit=str(raw["unit"]),
            year=int(raw["year"]),
            region=str(raw["region"]),
            source=str(raw["source"]),
            published=int(raw["published"]),
            kind=raw.get("kind", "emission"),
            gases=tuple(raw.get("gases", ())),
            valid_from=raw.get("valid_from"),
            valid_to=raw.get("valid_to"),
            used_for=str(raw.get("used_for", "")),
            note=str(raw.get("note", "")),
        )

    def to_json(self) -> dict[str, Any]:
        """JSON form, value as a string."""
        return {
            "id": self.id,
            "kind": self.kind,
            "activity": self.activity,
            "value": str(self.value),
            "unit": self.unit,
            "year": self.year,
            "valid_from": self.valid_from,
            "valid_to": self.valid_to,
            "region": self.region,
            "gases": list(self.gases),
            "source": self.source,
            "published": self.published,
            "used_for": self.used_for,
            "note": self.note,
        }


@dataclass(frozen=True, slots=True)
class Selection:
    """A factor chosen by rule, with the rule that chose it."""

    factor: EmissionFactor
    rule: str


@dataclass(frozen=True)
class FactorLibrary:
    """An immutable set of factors of one version, indexed by id."""

    version: str
    factors: Mapping[str, EmissionFactor] = field(default_factory=dict)

    @classmethod
    def from_factors(cls, version: str, factors: Iterable[EmissionFactor]) -> FactorLibrary:
        """A library from explicit factors (duplicate ids are an error)."""
        index: dict[str, EmissionFactor] = {}
        for f in factors:
            if f.id in index:
                raise ValueError(f"duplicate factor id {f.id!r} in library {version}")
            index[f.id] = f
        return cls(version=version, factors=index)

    @classmethod
    def available_versions(cls) -> tuple[str, ...]:
        """Library versions shipped with the package."""
        return tuple(sorted({doc["version"] for _, doc in _packaged_documents()}))

    @classmethod
    def load(cls, version: str = DEFAULT_VERSION) -> FactorLibrary:
        """Load the packaged library ``version``; an unknown version raises :class:`FactorNotFound`."""
        factors: list[EmissionFactor] = []
        found = False
        for name, doc in _packaged_documents():
            if doc.get("library") != "tierflow-factors":
                raise ValueError(f"{name}: not a tierflow-factors document")
            if doc["version"] != version:
                continue
            found = True
            factors.extend(EmissionFactor.from_json(raw) for raw in doc["factors"])
        if not found:
            raise FactorNotFound(f"no packaged factor library {version!r}; have {cls.available_versions()}")
        return cls.from_factors(version, factors)

    def __len__(self) -> int:
        return len(self.factors)

    def get(self, factor_id: str) -> EmissionFactor:
        """The factor with this id."""
        try:
            return self.factors[factor_id]
        except KeyError:
            raise FactorNotFound(f"no factor {factor_id!r} in library {self.version}") from None

    def digest(self) -> str:
        """SHA-256 over the canonical JSON of all factors: identifies the exact data a result used."""
        canonical = json.dumps(
            [self.factors[k].to_json() for k in sorted(self.factors)], sort_keys=True, ensure_ascii=False
        )
        return hashlib.sha256(canonical.encode("utf-8")).hexdigest()

    def by(
        self,
        activity: str,
        region: str,
        year: int,
        *,
        policy: SelectionPolicy = "exact",
        include_global: bool = False,
        kind: Literal["emission", "conversion"] = "emission",
    ) -> Selection:
        """Select one factor for ``activity`` in ``region`` for ``year`` under the module's explicit rules."""
        regions = [region] + ([GLOBAL] if include_global and region != GLOBAL else [])
        for reg in regions:
            candidates = [
                f for f in self.factors.values() if f.activity == activity and f.region == reg and f.kind == kind
            ]
            exact = [f for f in candidates if f.applies_to(year)]
            if exact:
                return Selection(_single(exact, activity, reg, year), f"{policy}: applies to {year} in {reg}")
            if policy == "latest-available":
                dated = [(y, f) for f in candidates if (y := f.latest_year_at_or_before(year)) is not None]
                if dated:
                    best = max(y for y, _ in dated)
                    chosen = _single([f for y, f in dated if y == best], activity, reg, best)
                    return Selection(chosen, f"latest-available: asked {year}, latest in {reg} is {best}")
        raise FactorNotFound(
            f"no {kind} factor for {activity!r} in {region!r} for {year} under policy {policy!r}"
            f" (library {self.version})"
        )


def _single(found: list[EmissionFactor], activity: str, region: str, year: int) -> EmissionFactor:
    if len(found) > 1:
        ids = ", ".join(sorted(f.id for f in found))
        raise AmbiguousFactor(f"{len(found)} factors for {activity!r} in {region!r} for {year}: {ids}; pin one by id")
    return found[0]


def _packaged_documents() -> list[tuple[str, dict[str, Any]]]:
    root = resources.files("tierflow.green").joinpath("data", "factors")
    docs: list[tuple[str, dict[str, Any]]] = []
    for entry in sorted(root.iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".json"):
            docs.append((entry.name, json.loads(entry.read_text(encoding="utf-8"))))
    return docs
