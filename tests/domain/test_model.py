"""Records change status only along their transition tables."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

import pytest

from tierflow.domain import (
    FINANCING_TRANSITIONS,
    HOLDING_TRANSITIONS,
    OFFER_TRANSITIONS,
    VOUCHER_TRANSITIONS,
    DayCount,
    Financing,
    FinancingStatus,
    Holding,
    HoldingStatus,
    InvalidAmount,
    InvalidDate,
    InvalidRange,
    InvalidTransition,
    Offer,
    OfferStatus,
    Role,
    UnitRange,
    Voucher,
    VoucherStatus,
)


def holding(status: HoldingStatus) -> Holding:
    return Holding("h1", "v1", UnitRange(1, 100), "tier1-ltd", 1, None, status)


def voucher(status: VoucherStatus = VoucherStatus.ACTIVE) -> Voucher:
    return Voucher(
        "v1", "core-co", "tier1-ltd", "CNY", 100_000_000, date(2025, 1, 10), date(2025, 4, 10),
        "PO-1", ("INV-1",), 0, status,
    )  # fmt: skip


def offer(status: OfferStatus) -> Offer:
    return Offer(
        "o1", "v1", "h2", "h1", "tier1-ltd", "tier2-ltd", 100, "TR-1", ("INV-9",),
        datetime(2025, 1, 13, tzinfo=UTC), status,
    )  # fmt: skip


def financing(status: FinancingStatus) -> Financing:
    return Financing(
        "f1", "v1", "h2", "tier1-ltd", "city-bank", 100_000_000, "CNY", Decimal("0.0365"),
        DayCount.ACT_360, date(2025, 1, 10), date(2025, 4, 10), 912_500, 0, 99_087_500, status,
    )  # fmt: skip


def pairs(enum: type[StrEnum], table: Any, legal: bool) -> list[tuple[Any, Any]]:
    return [(a, b) for a in enum for b in enum if (b in table[a]) is legal]


def test_tables_are_total() -> None:
    assert set(HOLDING_TRANSITIONS) == set(HoldingStatus)
    assert set(VOUCHER_TRANSITIONS) == set(VoucherStatus)
    assert set(OFFER_TRANSITIONS) == set(OfferStatus)
    assert set(FINANCING_TRANSITIONS) == set(FinancingStatus)


def test_holding_table_is_the_documented_one() -> None:
    s = HoldingStatus
    assert {
        s.LIVE: {s.SUPERSEDED, s.FROZEN},
        s.OFFERED: {s.LIVE, s.SUPERSEDED},
        s.ENCUMBERED: {s.LIVE, s.SUPERSEDED},
        s.FROZEN: {s.LIVE, s.OVERDUE, s.SUPERSEDED},
        s.OVERDUE: {s.SUPERSEDED, s.FROZEN},
        s.SETTLED: set(),
        s.SUPERSEDED: set(),
    } == HOLDING_TRANSITIONS
    assert [str(x) for x in s] == [
        "live", "offered", "encumbered", "frozen", "overdue", "settled", "superseded",
    ]  # fmt: skip


@pytest.mark.parametrize(("old", "new"), pairs(HoldingStatus, HOLDING_TRANSITIONS, legal=False))
def test_illegal_holding_transitions(old: HoldingStatus, new: HoldingStatus) -> None:
    with pytest.raises(InvalidTransition):
        holding(old).with_status(new)


@pytest.mark.parametrize(("old", "new"), pairs(HoldingStatus, HOLDING_TRANSITIONS, legal=True))
def test_legal_holding_transitions(old: HoldingStatus, new: HoldingStatus) -> None:
    h = holding(old)
    moved = h.with_status(new)
    assert moved.status is new and h.status is old
    assert moved.units == h.units and moved.holder == h.holder


@pytest.mark.parametrize(("old", "new"), pairs(VoucherStatus, VOUCHER_TRANSITIONS, legal=False))
def test_illegal_voucher_transitions(old: VoucherStatus, new: VoucherStatus) -> None:
    with pytest.raises(InvalidTransition):
        voucher(old).with_status(new)


@pytest.mark.parametrize(("old", "new"), pairs(OfferStatus, OFFER_TRANSITIONS, legal=False))
def test_illegal_offer_transitions(old: OfferStatus, new: OfferStatus) -> None:
    with pytest.raises(InvalidTransition):
        offer(old).with_status(new)


@pytest.mark.parametrize(("old", "new"), pairs(OfferStatus, OFFER_TRANSITIONS, legal=True))
def test_legal_offer_transitions(old: OfferStatus, new: OfferStatus) -> None:
    assert offer(old).with_status(new).status is new


@pytest.mark.parametrize(("old", "new"), pairs(FinancingStatus, FINANCING_TRANSITIONS, legal=False))
def test_illegal_financing_transitions(old: FinancingStatus, new: FinancingStatus) -> None:
    with pytest.raises(InvalidTransition):
        financing(old).with_status(new)


@pytest.mark.parametrize(("old", "new"), pairs(FinancingStatus, FINANCING_TRANSITIONS, legal=True))
def test_legal_financing_transitions(old: FinancingStatus, new: FinancingStatus) -> None:
    assert financing(old).with_status(new).status is new


def test_voucher_views() -> None:
    v = voucher()
    assert v.units == UnitRange(1, 100_000_000)
    assert v.face.to_str() == "1000000.00"
    assert holding(HoldingStatus.LIVE).amount_minor == 100
    assert Role.FINANCIER.value == "financial_institution"


def test_records_validate_themselves() -> None:
    with pytest.raises(InvalidRange):
        Holding("h", "v", UnitRange(1, 2), "a", 0, None, HoldingStatus.LIVE)
    with pytest.raises(InvalidDate):
        Offer(
            "o1", "v1", "h2", "h1", "a", "b", 1, "t", (), datetime(2025, 1, 13), OfferStatus.PENDING,
        )  # fmt: skip
    with pytest.raises(InvalidAmount):
        Financing(
            "f1", "v1", "h2", "a", "b", 100, "CNY", Decimal("0.01"), DayCount.ACT_360,
            date(2025, 1, 1), date(2025, 2, 1), 1, 0, 98, FinancingStatus.REQUESTED,
        )  # fmt: skip
    with pytest.raises(InvalidAmount):
        Voucher(
            "v1", "c", "s", "CNY", 0, date(2025, 1, 1), date(2025, 2, 1), "PO", (), 0,
            VoucherStatus.ACTIVE,
        )  # fmt: skip
