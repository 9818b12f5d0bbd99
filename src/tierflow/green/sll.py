"""Sustainability-linked loan terms: KPIs, sustainability performance targets and the margin ratchet.

Design overview
---------------

The terms follow the five core components of the Sustainability-Linked Loan Principles (LMA/APLMA/LSTA):

1. *Selection of KPIs*: a ``Kpi`` names a material, measurable metric with its unit, a baseline value and year,
   and pins the emission-factor ids used for the baseline (``factor_pins``) so later years are comparable.
2. *Calibration of SPTs*: each KPI has a target value and year; ``assess`` tests the observation against it.
3. *Loan characteristics*: ``Ratchet`` states the margin step explicitly in basis points (``met_bp``, usually
   negative) and an optional penalty step (``missed_bp`` ≥ 0) — the SLLP allow both; ``apply_ratchet`` adds the
   steps to the annual discount rate, bounded below by the floor and never negative.
4. *Reporting*: a ``KpiObservation`` carries the reported value, the value recomputed with the baseline factors,
   and the evidence (document hashes).
5. *Verification*: only an observation certified by an accepted verifier is credited.

Only real performance is credited: the test uses the value recomputed with the pinned baseline factors, so a drop
that comes only from a new grid-factor year is not credited (``factor_effect`` shows the part due to factors).
All arithmetic is exact ``Decimal``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from tierflow.domain.errors import DomainError, ErrorKind
from tierflow.green.labels import Evidence

BP = Decimal("0.0001")


class InvalidSllTerms(DomainError):
    code = "invalid_sll_terms"
    kind = ErrorKind.INVALID


class InvalidKpiObservation(DomainError):
    code = "invalid_kpi_observation"
    kind = ErrorKind.INVALID


def _dec(value: Decimal, name: str) -> None:
    if not isinstance(value, Decimal) or not value.is_finite():
        raise InvalidSllTerms(f"{name} must be a finite Decimal; got {value!r}")


@dataclass(frozen=True, slots=True)
class Kpi:
    """A KPI with its baseline and target; ``lower_is_better`` for intensities (the usual case)."""

    id: str
    name: str
    metric: str
    baseline_value: Decimal
    baseline_year: int
    target_value: Decimal
    target_year: int
    factor_pins: tuple[str, ...]
    lower_is_better: bool = True

    def __post_init__(self) -> None:
        _dec(self.baseline_value, "baseline_value")
        _dec(self.target_value, "target_value")
        if self.target_year <= self.baseline_year:
            raise InvalidSllTerms("target year must follow the baseline year", kpi_id=self.id)
        ambitious = (
            self.target_value < self.baseline_value
            if self.lower_is_better
            else (self.target_value > self.baseline_value)
        )
        if not ambitious:
            raise InvalidSllTerms("target must improve on the baseline", kpi_id=self.id)


@dataclass(frozen=True, slots=True)
class Ratchet:
    """Margin steps in basis points: ``met_bp`` when a target is met (≤ 0), ``missed_bp`` when missed (≥ 0).

    ``unverified_as_missed`` makes an observation that is not certified count as missed (the penalty applies);
    otherwise it is simply not credited.
    """

    met_bp: int
    missed_bp: int = 0
    unverified_as_missed: bool = False

    def __post_init__(self) -> None:
        if self.met_bp > 0 or self.missed_bp < 0:
            raise InvalidSllTerms("met_bp must be ≤ 0 and missed_bp ≥ 0")


@dataclass(frozen=True, slots=True)
class SllTerms:
    kpis: tuple[Kpi, ...]
    ratchet: Ratchet
    floor_rate: Decimal = Decimal(0)
    verifiers: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        _dec(self.floor_rate, "floor_rate")
        if self.floor_rate < 0:
            raise InvalidSllTerms("floor rate must not be negative")
        ids = [k.id for k in self.kpis]
        if not ids or len(set(ids)) != len(ids):
            raise InvalidSllTerms("terms need KPIs with distinct ids")

    def kpi(self, kpi_id: str) -> Kpi:
        for k in self.kpis:
            if k.id == kpi_id:
                return k
        raise InvalidKpiObservation(f"no KPI {kpi_id!r} in the terms", kpi_id=kpi_id)

    def adjusted_rate(self, annual_rate: Decimal, assessments: Iterable[KpiAssessment]) -> Decimal:
        return apply_ratchet(annual_rate, assessments, floor=self.floor_rate)


@dataclass(frozen=True, slots=True)
class KpiObservation:
    """A reported KPI value and the same value recomputed with the baseline's pinned factors."""

    kpi_id: str
    year: int
    value: Decimal
    recomputed_with_baseline_factors: Decimal
    factor_ids: tuple[str, ...]
    certifier: str | None = None
    certified_at: datetime | None = None
    evidence: tuple[Evidence, ...] = ()

    @property
    def certified(self) -> bool:
        return bool(self.certifier) and self.certified_at is not None


class Outcome(StrEnum):
    MET = "met"
    MISSED = "missed"
    NOT_CERTIFIED = "not_certified"
    NOT_DUE = "not_due"


@dataclass(frozen=True, slots=True)
class KpiAssessment:
    kpi_id: str
    year: int
    outcome: Outcome
    credited_value: Decimal
    reported_value: Decimal
    factor_effect: Decimal
    adjustment_bp: int
    reason: str


def assess(terms: SllTerms, observation: KpiObservation) -> KpiAssessment:
    """Test one observation against its KPI's target, on the value recomputed with the baseline factors."""
    kpi = terms.kpi(observation.kpi_id)
    _dec(observation.value, "value")
    _dec(observation.recomputed_with_baseline_factors, "recomputed_with_baseline_factors")
    if tuple(sorted(observation.factor_ids)) != tuple(sorted(kpi.factor_pins)):
        raise InvalidKpiObservation(
            "the recomputed value must use exactly the KPI's pinned baseline factors",
            kpi_id=kpi.id,
            pinned=list(kpi.factor_pins),
            used=list(observation.factor_ids),
        )
    credited = observation.recomputed_with_baseline_factors
    effect = observation.value - credited
    ratchet = terms.ratchet

    def result(outcome: Outcome, bp: int, reason: str) -> KpiAssessment:
        return KpiAssessment(kpi.id, observation.year, outcome, credited, observation.value, effect, bp, reason)

    if observation.year < kpi.target_year:
        return result(Outcome.NOT_DUE, 0, f"target year is {kpi.target_year}")
    accepted = not terms.verifiers or observation.certifier in terms.verifiers
    if not observation.certified or not accepted:
        bp = ratchet.missed_bp if ratchet.unverified_as_missed else 0
        return result(Outcome.NOT_CERTIFIED, bp, "observation is not certified by an accepted verifier")
    met = credited <= kpi.target_value if kpi.lower_is_better else credited >= kpi.target_value
    if met:
        return result(Outcome.MET, ratchet.met_bp, f"{credited} at baseline factors meets target {kpi.target_value}")
    reported_met = (
        observation.value <= kpi.target_value if kpi.lower_is_better else observation.value >= kpi.target_value
    )
    why = f"{credited} at baseline factors misses target {kpi.target_value}"
    if reported_met:
        why += f"; the reported {observation.value} meets it only through changed emission factors"
    return result(Outcome.MISSED, ratchet.missed_bp, why)


def apply_ratchet(
    annual_rate: Decimal, assessments: Iterable[KpiAssessment], *, floor: Decimal = Decimal(0)
) -> Decimal:
    """``annual_rate`` plus the assessments' steps, at least ``floor`` and never negative.

    At most one assessment per KPI and year is allowed.
    """
    _dec(annual_rate, "annual_rate")
    _dec(floor, "floor")
    seen: set[tuple[str, int]] = set()
    total_bp = 0
    for a in assessments:
        if (a.kpi_id, a.year) in seen:
            raise InvalidKpiObservation("duplicate assessment", kpi_id=a.kpi_id, year=a.year)
        seen.add((a.kpi_id, a.year))
        total_bp += a.adjustment_bp
    return max(annual_rate + Decimal(total_bp) * BP, floor, Decimal(0))
