"""Issuance policy: Core Co may issue within the platform's limits."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from tierflow.domain import (
    FaceTooLarge,
    InvalidAmount,
    MaturityInPast,
    Money,
    ObligorOverdue,
    Policy,
    TenorTooLong,
    UnknownCurrency,
    add_months,
    check_issue,
)

D = date(2025, 1, 10)


def check(face: str = "1000000.00", days: int = 90, overdue: bool = False, cur: str = "CNY") -> list[str]:
    return check_issue(
        Policy(),
        face=Money.parse(face, cur),
        issue_date=D,
        maturity=D + timedelta(days=days),
        obligor_has_overdue=overdue,
    )


def test_defaults() -> None:
    p = Policy()
    assert (p.tier_limit, p.split_limit, p.max_tenor_days, p.warn_tenor_months, p.offer_ttl_hours) == (
        11, 500, 365, 6, 72,
    )  # fmt: skip
    assert p.max_face_minor["CNY"] == 100_000_000_000
    for code in ("USD", "EUR", "HKD", "GBP", "SGD", "CHF", "JPY", "KRW"):
        assert p.max_face_minor[code] > 0


def test_a_90_day_voucher_passes_without_warnings() -> None:
    assert check() == []


def test_a_long_tenor_warns() -> None:
    assert check(days=200) == ["tenor 200 days exceeds 6 months"]
    assert check(days=365) == ["tenor 365 days exceeds 6 months"]


def test_refusals() -> None:
    with pytest.raises(InvalidAmount):
        check("0")
    with pytest.raises(InvalidAmount):
        check("-1.00")
    with pytest.raises(FaceTooLarge):
        check("1000000000.01")
    assert check("1000000000.00") == []
    with pytest.raises(MaturityInPast):
        check(days=0)
    with pytest.raises(MaturityInPast):
        check(days=-1)
    with pytest.raises(TenorTooLong):
        check(days=366)
    with pytest.raises(ObligorOverdue):
        check(overdue=True)
    with pytest.raises(UnknownCurrency):
        check_issue(
            Policy(max_face_minor={"CNY": 10}),
            face=Money(5, "USD"),
            issue_date=D,
            maturity=D + timedelta(days=1),
            obligor_has_overdue=False,
        )


@pytest.mark.parametrize(
    ("start", "months", "expected"),
    [
        (date(2025, 1, 31), 1, date(2025, 2, 28)),
        (date(2024, 1, 31), 1, date(2024, 2, 29)),
        (date(2025, 8, 31), 6, date(2026, 2, 28)),
        (date(2025, 1, 10), 6, date(2025, 7, 10)),
        (date(2025, 11, 15), 2, date(2026, 1, 15)),
        (date(2025, 3, 31), -1, date(2025, 2, 28)),
        (date(2025, 1, 10), 0, date(2025, 1, 10)),
    ],
)
def test_add_months(start: date, months: int, expected: date) -> None:
    assert add_months(start, months) == expected
