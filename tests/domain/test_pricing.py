"""Discount pricing worked examples."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from tierflow.domain import (
    AlreadyMatured,
    DayCount,
    InvalidAmount,
    InvalidDate,
    Money,
    NetProceedsNotPositive,
    days_between,
    discount_minor,
    quote,
)


def test_days_between_counts_first_not_last() -> None:
    assert days_between(date(2025, 1, 10), date(2025, 4, 10)) == 90
    assert days_between(date(2025, 1, 10), date(2025, 1, 10)) == 0
    with pytest.raises(InvalidDate):
        days_between(date(2025, 1, 11), date(2025, 1, 10))


def test_city_bank_discounts_one_million_yuan_for_90_days() -> None:
    """CNY 1,000,000.00 at 3.65% for 90 days ACT/360: discount 9,125.00."""
    q = quote(
        Money.parse("1000000.00", "CNY"),
        annual_rate=Decimal("0.0365"),
        value_date=date(2025, 1, 10),
        maturity=date(2025, 4, 10),
    )
    assert q.days == 90
    assert q.discount == Money.parse("9125.00", "CNY")
    assert q.fee == Money(0, "CNY")
    assert q.net == Money.parse("990875.00", "CNY")
    assert q.amount + Money(0, "CNY") == q.discount + q.fee + q.net


def test_act_365f() -> None:
    # 1,000,000.00 × 3.65% × 90 / 365 = 9,000.00 exactly
    assert discount_minor(100_000_000, Decimal("0.0365"), 90, DayCount.ACT_365F) == 900_000
    q = quote(
        Money.parse("500000.00", "CNY"),
        annual_rate=Decimal("0.042"),
        value_date=date(2025, 1, 1),
        maturity=date(2025, 7, 1),
        basis=DayCount.ACT_365F,
        fee_minor=10_000,
    )
    # 50,000,000 × 0.042 × 181 / 365 = 1,041,369.863… → 1,041,370 fen
    assert q.days == 181
    assert q.discount.minor == 1_041_370
    assert q.net.minor == 50_000_000 - 1_041_370 - 10_000


def test_half_up_on_half_a_fen() -> None:
    # 100 × 0.018 × 1 / 360 = 0.005 fen → 0 ; 1000 × 0.018 × 10 / 360 = 0.5 fen → 1 (half up)
    assert discount_minor(100, Decimal("0.018"), 1, DayCount.ACT_360) == 0
    assert discount_minor(1_000, Decimal("0.018"), 10, DayCount.ACT_360) == 1
    # 2.5 fen → 3, 2.4999… → 2
    assert discount_minor(5_000, Decimal("0.018"), 10, DayCount.ACT_360) == 3
    assert discount_minor(4_999, Decimal("0.018"), 10, DayCount.ACT_360) == 2


def test_large_amounts_stay_exact() -> None:
    amount = 10**28 + 1
    assert discount_minor(amount, Decimal("0.05"), 72, DayCount.ACT_360) == amount // 100
    assert discount_minor(amount, Decimal(0), 72, DayCount.ACT_360) == 0


@pytest.mark.parametrize("rate", [Decimal("-0.01"), Decimal(1), Decimal("1.5"), Decimal("NaN")])
def test_rate_must_be_below_one(rate: Decimal) -> None:
    with pytest.raises(InvalidAmount):
        quote(Money(100_000, "CNY"), annual_rate=rate, value_date=date(2025, 1, 1), maturity=date(2025, 2, 1))


def test_float_rate_refused() -> None:
    with pytest.raises(InvalidAmount):
        discount_minor(100, 0.05, 10, DayCount.ACT_360)  # type: ignore[arg-type]


def test_quote_refusals() -> None:
    amount = Money.parse("100.00", "CNY")
    with pytest.raises(AlreadyMatured):
        quote(amount, annual_rate=Decimal("0.03"), value_date=date(2025, 2, 1), maturity=date(2025, 2, 1))
    with pytest.raises(NetProceedsNotPositive):
        quote(
            amount,
            annual_rate=Decimal("0.03"),
            value_date=date(2025, 1, 1),
            maturity=date(2025, 2, 1),
            fee_minor=10_000,
        )
    with pytest.raises(InvalidAmount):
        quote(
            Money(0, "CNY"),
            annual_rate=Decimal("0.03"),
            value_date=date(2025, 1, 1),
            maturity=date(2025, 2, 1),
        )
    with pytest.raises(InvalidAmount):
        quote(
            amount,
            annual_rate=Decimal("0.03"),
            value_date=date(2025, 1, 1),
            maturity=date(2025, 2, 1),
            fee_minor=-1,
        )
