"""Worked example: a supplier's certified emission-intensity cut lowers its financing discount; a grid-factor-only
change does not."""

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from tierflow.domain.money import Money
from tierflow.domain.pricing import DayCount, discount_minor
from tierflow.green.labels import Evidence
from tierflow.green.sll import (
    InvalidKpiObservation,
    InvalidSllTerms,
    Kpi,
    KpiObservation,
    Outcome,
    Ratchet,
    SllTerms,
    apply_ratchet,
    assess,
)

GRID_2024 = "cn-grid-2024:0.5703"
KPI = Kpi(
    id="ghg-intensity",
    name="Scope 1+2 emission intensity",
    metric="scope1+2 emission intensity, tCO2e per RMB million revenue",
    baseline_value=Decimal("0.30"),
    baseline_year=2024,
    target_value=Decimal("0.27"),
    target_year=2025,
    factor_pins=(GRID_2024,),
)
TERMS = SllTerms(
    kpis=(KPI,), ratchet=Ratchet(met_bp=-10), floor_rate=Decimal("0.0300"), verifiers=frozenset({"verifier-1"})
)
RATE = Decimal("0.0365")
WHEN = datetime(2026, 3, 1, tzinfo=UTC)
EV = (Evidence("2025 verification statement", "b" * 64),)


def obs(value: str, recomputed: str, certifier: str | None = "verifier-1") -> KpiObservation:
    return KpiObservation(
        "ghg-intensity",
        2025,
        Decimal(value),
        Decimal(recomputed),
        (GRID_2024,),
        certifier,
        WHEN if certifier else None,
        EV,
    )


def test_case_a_certified_activity_cut_lowers_rate() -> None:
    a = assess(TERMS, obs("0.25", "0.26"))
    assert a.outcome is Outcome.MET and a.adjustment_bp == -10
    assert apply_ratchet(RATE, [a], floor=TERMS.floor_rate) == Decimal("0.0355")
    assert TERMS.adjusted_rate(RATE, [a]) == Decimal("0.0355")
    face = Money(1_000_000_00, "CNY").minor
    saved = discount_minor(face, RATE, 90, DayCount.ACT_360) - discount_minor(
        face, Decimal("0.0355"), 90, DayCount.ACT_360
    )
    assert saved == 250_00  # RMB 1m for 90 days: 10 bp = RMB 250


def test_case_b_grid_factor_only_drop_is_not_credited() -> None:
    b = assess(TERMS, obs("0.27", "0.30"))
    assert b.outcome is Outcome.MISSED and b.adjustment_bp == 0
    assert b.factor_effect == Decimal("-0.03")
    assert "changed emission factors" in b.reason
    assert TERMS.adjusted_rate(RATE, [b]) == RATE


def test_uncertified_is_not_credited() -> None:
    assert assess(TERMS, obs("0.25", "0.26", certifier=None)).outcome is Outcome.NOT_CERTIFIED
    c = assess(TERMS, obs("0.25", "0.26", certifier="someone-else"))
    assert c.outcome is Outcome.NOT_CERTIFIED and TERMS.adjusted_rate(RATE, [c]) == RATE


def test_penalty_floor_and_checks() -> None:
    terms = SllTerms(
        kpis=(KPI,), ratchet=Ratchet(met_bp=-500, missed_bp=5, unverified_as_missed=True), floor_rate=Decimal("0.0100")
    )
    assert terms.adjusted_rate(RATE, [assess(terms, obs("0.25", "0.26"))]) == Decimal("0.0100")
    assert terms.adjusted_rate(RATE, [assess(terms, obs("0.27", "0.30"))]) == Decimal("0.0370")
    assert terms.adjusted_rate(RATE, [assess(terms, obs("0.25", "0.26", None))]) == Decimal("0.0370")
    assert apply_ratchet(Decimal("0.0005"), [assess(terms, obs("0.25", "0.26"))]) == Decimal(0)
    with pytest.raises(InvalidKpiObservation):
        assess(TERMS, KpiObservation("ghg-intensity", 2025, Decimal("0.25"), Decimal("0.26"), ("cn-grid-2025:x",)))
    with pytest.raises(InvalidKpiObservation):
        a = assess(TERMS, obs("0.25", "0.26"))
        apply_ratchet(RATE, [a, a])
    with pytest.raises(InvalidSllTerms):
        Ratchet(met_bp=10)
    early = KpiObservation("ghg-intensity", 2024, Decimal("0.2"), Decimal("0.2"), (GRID_2024,), "verifier-1", WHEN)
    assert assess(TERMS, early).outcome is Outcome.NOT_DUE
