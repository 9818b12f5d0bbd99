"""The cast of the domain tests: Core Co, its suppliers, City Bank and the platform operator."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from datetime import date

from tierflow.domain import IssueResult, Money, Party, Policy, Role, issue

ISSUE_DATE = date(2025, 1, 10)
MATURITY = date(2025, 4, 10)  # 90 days later


def party(pid: str, role: Role) -> Party:
    return Party(id=pid, name=pid.replace("-", " ").title(), role=role, public_key=b"\x00" * 32)


CORE = party("core-co", Role.CORE_ENTERPRISE)
TIER1 = party("tier1-ltd", Role.SUPPLIER)
TIER2 = party("tier2-ltd", Role.SUPPLIER)
TIER3 = party("tier3-ltd", Role.SUPPLIER)
BANK = party("city-bank", Role.FINANCIER)
OPERATOR = party("platform-ops", Role.OPERATOR)


def id_factory(prefix: str = "h") -> Callable[[], str]:
    counter = itertools.count(1)
    return lambda: f"{prefix}{next(counter)}"


def issue_cny(
    face: str = "1000000.00",
    *,
    policy: Policy | None = None,
    new_id: Callable[[], str] | None = None,
    voucher_id: str = "v1",
) -> IssueResult:
    """Core Co issues ``face`` CNY to Tier-1 Ltd, due in 90 days."""
    return issue(
        voucher_id=voucher_id,
        obligor=CORE,
        first_holder=TIER1,
        face=Money.parse(face, "CNY"),
        issue_date=ISSUE_DATE,
        maturity=MATURITY,
        contract_ref="PO-2025-001",
        invoice_refs=("INV-1", "INV-2"),
        policy=policy or Policy(),
        obligor_has_overdue=False,
        new_id=new_id or id_factory(),
    )
