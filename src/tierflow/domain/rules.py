"""Issuance policy.

``Policy`` gathers the platform's limits as plain data so that a deployment can tune them;
``check_issue`` applies them to a proposed voucher and either refuses (raising the error
for the first rule broken, in a fixed order: amount, size, dates, obligor standing) or returns
human-readable warnings for soft limits.
"""

from __future__ import annotations

import calendar
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from types import MappingProxyType

from tierflow.domain.errors import (
    FaceTooLarge,
    InvalidAmount,
    MaturityInPast,
    ObligorOverdue,
    TenorTooLong,
    UnknownCurrency,
)
from tierflow.domain.money import Money

DEFAULT_MAX_FACE_MINOR: Mapping[str, int] = MappingProxyType(
    {
        "CNY": 1_000_000_000_00,  # 1 billion yuan
        "USD": 150_000_000_00,
        "EUR": 130_000_000_00,
        "GBP": 110_000_000_00,
        "HKD": 1_100_000_000_00,
        "SGD": 190_000_000_00,
        "CHF": 120_000_000_00,
        "JPY": 20_000_000_000,
        "KRW": 190_000_000_000,
    }
)


TRADE_CHECK_MODES = ("enforce", "record")


def _default_max_face() -> Mapping[str, int]:
    return DEFAULT_MAX_FACE_MINOR


@dataclass(frozen=True, slots=True)
class Policy:
    """Platform limits."""

    tier_limit: int = 11
    split_limit: int = 500
    max_tenor_days: int = 365
    warn_tenor_months: int = 6
    max_face_minor: Mapping[str, int] = field(default_factory=_default_max_face)
    offer_ttl_hours: int = 72
    # "enforce": a failing trade-background verdict refuses an issue or transfer and rejects a financing request;
    # "record": the verdict is stored and shown, nothing is refused (for a platform migrating its history).
    trade_checks: str = "enforce"

    def __post_init__(self) -> None:
        if self.trade_checks not in TRADE_CHECK_MODES:
            raise ValueError(f"trade_checks must be one of {', '.join(TRADE_CHECK_MODES)}; got {self.trade_checks!r}")

    @property
    def enforces_trade_checks(self) -> bool:
        return self.trade_checks == "enforce"


def add_months(d: date, n: int) -> date:
    """``d`` moved by ``n`` calendar months, clamped to the end of the month."""
    month_index = d.year * 12 + (d.month - 1) + n
    year, month = divmod(month_index, 12)
    month += 1
    day = min(d.day, calendar.monthrange(year, month)[1])
    return date(year, month, day)


def check_issue(
    policy: Policy,
    *,
    face: Money,
    issue_date: date,
    maturity: date,
    obligor_has_overdue: bool,
) -> list[str]:
    """Refuse an issuance that breaks a hard limit; return warnings for soft ones."""
    if not face.is_positive:
        raise InvalidAmount(f"face must be positive; got {face}", face=face.to_str())
    limit = policy.max_face_minor.get(face.currency)
    if limit is None:
        raise UnknownCurrency(f"no face limit configured for {face.currency}", currency=face.currency)
    if face.minor > limit:
        raise FaceTooLarge(
            f"face {face} exceeds the limit {Money(limit, face.currency)}",
            face=face.to_str(),
            limit=Money(limit, face.currency).to_str(),
        )
    if maturity <= issue_date:
        raise MaturityInPast(
            f"maturity {maturity.isoformat()} is not after issue date {issue_date.isoformat()}",
            maturity=maturity.isoformat(),
            issue_date=issue_date.isoformat(),
        )
    tenor = (maturity - issue_date).days
    if tenor > policy.max_tenor_days:
        raise TenorTooLong(
            f"tenor {tenor} days exceeds {policy.max_tenor_days} days",
            tenor_days=tenor,
            max_tenor_days=policy.max_tenor_days,
        )
    if obligor_has_overdue:
        raise ObligorOverdue("the obligor has overdue vouchers and may not issue new ones")
    warnings: list[str] = []
    if maturity > add_months(issue_date, policy.warn_tenor_months):
        warnings.append(f"tenor {tenor} days exceeds {policy.warn_tenor_months} months")
    return warnings
