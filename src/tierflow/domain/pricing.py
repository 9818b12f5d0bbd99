"""Discount pricing of early payment.

A financier buys a holding before maturity and pays its amount less simple discount
interest (amount × annual rate × days / basis) and any fee. Day counting follows the usual
money-market rule: the value date counts, the maturity does not. All arithmetic is done on
``Decimal`` in a private context wide enough to be exact, then rounded once, half-up, to the
minor unit; the results are integers.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal, localcontext
from enum import StrEnum

from tierflow.domain.errors import (
    AlreadyMatured,
    InvalidAmount,
    InvalidDate,
    NetProceedsNotPositive,
)
from tierflow.domain.money import Money


class DayCount(StrEnum):
    """Day-count basis: days in the denominator year."""

    ACT_360 = "ACT/360"
    ACT_365F = "ACT/365F"

    @property
    def year_days(self) -> int:
        return 360 if self is DayCount.ACT_360 else 365


def days_between(start: date, end: date) -> int:
    """Days from ``start`` (counted) to ``end`` (not counted)."""
    if end < start:
        raise InvalidDate(f"{end.isoformat()} is before {start.isoformat()}")
    return (end - start).days


def _check_rate(annual_rate: Decimal) -> None:
    if not isinstance(annual_rate, Decimal) or not annual_rate.is_finite():
        raise InvalidAmount(f"annual rate must be a finite Decimal; got {annual_rate!r}")
    if not (Decimal(0) <= annual_rate < Decimal(1)):
        raise InvalidAmount(f"annual rate must be at least 0 and below 1; got {annual_rate}")


def discount_minor(amount_minor: int, annual_rate: Decimal, days: int, basis: DayCount) -> int:
    """``amount × rate × days / year_days`` rounded half-up to the minor unit."""
    if isinstance(amount_minor, bool) or not isinstance(amount_minor, int) or amount_minor < 0:
        raise InvalidAmount(f"amount must be a non-negative integer; got {amount_minor!r}")
    if isinstance(days, bool) or not isinstance(days, int) or days < 0:
        raise InvalidDate(f"days must be a non-negative integer; got {days!r}")
    _check_rate(annual_rate)
    basis = DayCount(basis)
    with localcontext() as ctx:
        ctx.prec = 120
        exact = Decimal(amount_minor) * annual_rate * Decimal(days) / Decimal(basis.year_days)
        return int(exact.quantize(Decimal(1), rounding=ROUND_HALF_UP))


@dataclass(frozen=True, slots=True)
class Quote:
    """Early-payment quote: ``net = amount - discount - fee``."""

    amount: Money
    days: int
    discount: Money
    fee: Money
    net: Money


def quote(
    amount: Money,
    *,
    annual_rate: Decimal,
    value_date: date,
    maturity: date,
    basis: DayCount = DayCount.ACT_360,
    fee_minor: int = 0,
) -> Quote:
    """Price paying ``amount`` (due at ``maturity``) on ``value_date``."""
    if not amount.is_positive:
        raise InvalidAmount(f"amount must be positive; got {amount}")
    if isinstance(fee_minor, bool) or not isinstance(fee_minor, int) or fee_minor < 0:
        raise InvalidAmount(f"fee must be a non-negative integer; got {fee_minor!r}")
    _check_rate(annual_rate)
    if value_date >= maturity:
        raise AlreadyMatured(f"value date {value_date.isoformat()} is not before maturity {maturity.isoformat()}")
    days = days_between(value_date, maturity)
    discount = discount_minor(amount.minor, annual_rate, days, basis)
    net = amount.minor - discount - fee_minor
    if net <= 0:
        raise NetProceedsNotPositive(f"discount and fee leave no proceeds ({net} minor units)", net_minor=net)
    cur = amount.currency
    return Quote(amount, days, Money(discount, cur), Money(fee_minor, cur), Money(net, cur))
