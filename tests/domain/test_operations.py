"""The moves of a voucher, told as Core Co, its suppliers and City Bank would tell them."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from tierflow.domain import (
    ALL_ERRORS,
    AlreadyMatured,
    CurrencyMismatch,
    DomainError,
    FaceTooLarge,
    Holding,
    HoldingNotAvailable,
    HoldingStatus,
    InsufficientUnits,
    InvalidAmount,
    InvalidDate,
    InvalidRange,
    InvalidTransition,
    MaturityInPast,
    Money,
    NetProceedsNotPositive,
    NotAuthorised,
    NotHolder,
    NotMatured,
    ObligorOverdue,
    Offer,
    OfferExpired,
    OfferStatus,
    Outcome,
    Overpayment,
    Payment,
    Policy,
    Role,
    SelfTransfer,
    SplitLimitExceeded,
    TenorTooLong,
    TierLimitExceeded,
    UnitRange,
    UnknownCurrency,
    Voucher,
    VoucherStatus,
    WrongRole,
    accept_offer,
    days_between,
    encumber,
    ensure_offer_open,
    freeze,
    fund,
    is_partition,
    issue,
    offer_expires_at,
    offer_transfer,
    quote,
    release_encumbrance,
    require_role,
    return_offer,
    settle,
    unfreeze,
)

from .cast import (
    BANK,
    CORE,
    ISSUE_DATE,
    MATURITY,
    OPERATOR,
    TIER1,
    TIER2,
    TIER3,
    id_factory,
    issue_cny,
    party,
)

TODAY = date(2025, 2, 1)
POLICY = Policy()
NewId = Callable[[], str]


def transfer(
    v: Voucher,
    h: Holding,
    to: str,
    units: int,
    new_id: NewId,
    *,
    today: date = TODAY,
    policy: Policy = POLICY,
) -> Outcome:
    """``h.holder`` offers the lowest ``units`` of ``h`` to the party ``to``."""
    recipient = {p.id: p for p in (TIER1, TIER2, TIER3, BANK, CORE)}[to]
    return offer_transfer(
        v, h, actor=h.holder, recipient=recipient, units=units, today=today, policy=policy, new_id=new_id
    )


# --- issue -----------------------------------------------------------------------------------


def test_core_co_issues_one_million_to_tier1() -> None:
    """Core Co issues 1,000,000.00 to Tier-1 Ltd, due in 90 days: one root holding [1, 100000000]."""
    r = issue_cny()
    assert r.voucher.face == Money.parse("1000000.00", "CNY")
    assert r.voucher.status is VoucherStatus.ACTIVE and r.voucher.split_count == 0
    assert r.voucher.invoice_refs == ("INV-1", "INV-2")
    assert r.holding == Holding(
        "h1", "v1", UnitRange(1, 100_000_000), "tier1-ltd", 1, None, HoldingStatus.LIVE
    )
    assert r.warnings == ()


def test_issue_passes_on_tenor_warnings() -> None:
    r = issue(
        voucher_id="v2", obligor=CORE, first_holder=TIER1, face=Money(100, "CNY"), issue_date=ISSUE_DATE,
        maturity=ISSUE_DATE + timedelta(days=200), contract_ref="PO", invoice_refs=["I"], policy=POLICY,
        obligor_has_overdue=False, new_id=id_factory(),
    )  # fmt: skip
    assert r.warnings == ("tenor 200 days exceeds 6 months",)
    assert r.voucher.invoice_refs == ("I",)


@pytest.mark.parametrize(
    ("obligor", "holder", "error"),
    [
        (CORE, CORE, SelfTransfer),
        (TIER2, TIER1, WrongRole),
        (CORE, BANK, WrongRole),
        (CORE, OPERATOR, WrongRole),
    ],
)
def test_issue_roles(obligor, holder, error) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(error):
        issue(
            voucher_id="v", obligor=obligor, first_holder=holder, face=Money(100, "CNY"),
            issue_date=ISSUE_DATE, maturity=MATURITY, contract_ref="PO", invoice_refs=(), policy=POLICY,
            obligor_has_overdue=False, new_id=id_factory(),
        )  # fmt: skip


# --- transfer --------------------------------------------------------------------------------


def test_tier1_passes_300000_to_tier2_who_accepts(new_id: NewId) -> None:
    r = issue_cny()
    out = transfer(r.voucher, r.holding, "tier2-ltd", 30_000_000, new_id)
    assert out.superseded == (r.holding.with_status(HoldingStatus.SUPERSEDED),)
    part, change = out.created
    assert part == Holding("x1", "v1", UnitRange(1, 30_000_000), "tier2-ltd", 2, "h1", HoldingStatus.OFFERED)
    assert change == Holding(
        "x2", "v1", UnitRange(30_000_001, 100_000_000), "tier1-ltd", 1, "h1", HoldingStatus.LIVE
    )
    assert out.voucher is not None and out.voucher.split_count == 1
    assert is_partition([part.units, change.units], r.voucher.face_minor)
    live = accept_offer(part, actor="tier2-ltd")
    assert live.status is HoldingStatus.LIVE and live.tier == 2


def test_whole_holding_transfer_leaves_no_change(new_id: NewId) -> None:
    r = issue_cny("100.00")
    out = transfer(r.voucher, r.holding, "tier2-ltd", 10_000, new_id)
    assert len(out.created) == 1 and out.voucher == r.voucher


def test_tier2_rejects_and_units_go_home(new_id: NewId) -> None:
    r = issue_cny()
    out = transfer(r.voucher, r.holding, "tier2-ltd", 100, new_id)
    part = out.created[0]
    back = return_offer(part, out.superseded[0], new_id=new_id)
    assert back.voucher is None
    assert back.superseded == (part.with_status(HoldingStatus.SUPERSEDED),)
    assert back.created == (Holding("x3", "v1", UnitRange(1, 100), "tier1-ltd", 1, "h1", HoldingStatus.LIVE),)


def test_offer_refusals(new_id: NewId) -> None:
    r = issue_cny("100.00")
    v, h = r.voucher, r.holding

    def go(**kw: object) -> None:
        args: dict[str, object] = dict(
            actor="tier1-ltd", recipient=TIER2, units=100, today=TODAY, policy=POLICY, new_id=new_id
        )
        args.update(kw)
        offer_transfer(v, h, **args)  # type: ignore[arg-type]

    with pytest.raises(NotHolder):
        go(actor="tier2-ltd")
    with pytest.raises(HoldingNotAvailable):
        offer_transfer(v, h.with_status(HoldingStatus.FROZEN), actor="tier1-ltd", recipient=TIER2, units=1,
                       today=TODAY, policy=POLICY, new_id=new_id)  # fmt: skip
    with pytest.raises(SelfTransfer):
        go(recipient=TIER1)
    with pytest.raises(WrongRole):
        go(recipient=BANK)
    with pytest.raises(AlreadyMatured):
        go(today=MATURITY)
    with pytest.raises(InvalidAmount):
        go(units=0)
    with pytest.raises(InvalidAmount):
        go(units=-5)
    with pytest.raises(InsufficientUnits):
        go(units=10_001)
    with pytest.raises(TierLimitExceeded):
        go(policy=Policy(tier_limit=1))
    with pytest.raises(SplitLimitExceeded):
        offer_transfer(replace(v, split_count=500), h, actor="tier1-ltd", recipient=TIER2, units=1,
                       today=TODAY, policy=POLICY, new_id=new_id)  # fmt: skip
    # a move that leaves no change is not a split
    offer_transfer(replace(v, split_count=500), h, actor="tier1-ltd", recipient=TIER2, units=10_000,
                   today=TODAY, policy=POLICY, new_id=new_id)  # fmt: skip
    other = issue_cny(voucher_id="v9").voucher
    with pytest.raises(HoldingNotAvailable):
        offer_transfer(other, h, actor="tier1-ltd", recipient=TIER2, units=1, today=TODAY, policy=POLICY,
                       new_id=new_id)  # fmt: skip


def test_tier_limit_reached_down_the_chain(new_id: NewId) -> None:
    policy = Policy(tier_limit=3)
    r = issue_cny("1.00")
    v, h = r.voucher, r.holding
    chain = [TIER2, TIER3]
    for p in chain:
        out = offer_transfer(
            v, h, actor=h.holder, recipient=p, units=1, today=TODAY, policy=policy, new_id=new_id
        )
        assert out.voucher is not None
        v, h = out.voucher, accept_offer(out.created[0], actor=p.id)
    assert h.tier == 3
    with pytest.raises(TierLimitExceeded):
        offer_transfer(
            v, h, actor=h.holder, recipient=TIER1, units=1, today=TODAY, policy=policy, new_id=new_id
        )


def test_accept_and_return_refusals(new_id: NewId) -> None:
    r = issue_cny()
    out = transfer(r.voucher, r.holding, "tier2-ltd", 100, new_id)
    part, change = out.created
    with pytest.raises(NotHolder):
        accept_offer(part, actor="tier1-ltd")
    with pytest.raises(HoldingNotAvailable):
        accept_offer(change, actor="tier1-ltd")
    with pytest.raises(HoldingNotAvailable):
        return_offer(change, r.holding, new_id=new_id)
    with pytest.raises(HoldingNotAvailable):
        return_offer(part, change, new_id=new_id)


def test_offers_expire_after_72_hours() -> None:
    now = datetime(2025, 2, 1, 9, 0, tzinfo=UTC)
    expires = offer_expires_at(POLICY, now)
    assert expires == datetime(2025, 2, 4, 9, 0, tzinfo=UTC)
    o = Offer("o1", "v1", "h2", "h1", "tier1-ltd", "tier2-ltd", 100, "TR-1", (), expires, OfferStatus.PENDING)
    ensure_offer_open(o, now=expires - timedelta(seconds=1))
    with pytest.raises(OfferExpired):
        ensure_offer_open(o, now=expires)
    with pytest.raises(HoldingNotAvailable):
        ensure_offer_open(o.with_status(OfferStatus.ACCEPTED), now=now)


# --- financing -------------------------------------------------------------------------------


def test_tier1_finances_200000_with_city_bank(new_id: NewId) -> None:
    r = issue_cny()
    out = encumber(r.voucher, r.holding, actor="tier1-ltd", units=20_000_000, today=TODAY, policy=POLICY,
                   new_id=new_id)  # fmt: skip
    part, change = out.created
    assert part == Holding(
        "x1", "v1", UnitRange(1, 20_000_000), "tier1-ltd", 1, "h1", HoldingStatus.ENCUMBERED
    )
    assert change.status is HoldingStatus.LIVE and change.units.start == 20_000_001
    assert out.voucher is not None and out.voucher.split_count == 1
    funded = fund(part, financier=BANK, new_id=new_id)
    assert funded.voucher is None
    assert funded.created == (Holding("x3", "v1", part.units, "city-bank", 1, "x1", HoldingStatus.LIVE),)
    assert funded.superseded == (part.with_status(HoldingStatus.SUPERSEDED),)
    # the bank may later pass the claim to a supplier
    assert release_encumbrance(part).status is HoldingStatus.LIVE


def test_financing_refusals(new_id: NewId) -> None:
    r = issue_cny()
    with pytest.raises(NotHolder):
        encumber(r.voucher, r.holding, actor="tier2-ltd", units=1, today=TODAY, policy=POLICY, new_id=new_id)
    with pytest.raises(AlreadyMatured):
        encumber(
            r.voucher, r.holding, actor="tier1-ltd", units=1, today=MATURITY, policy=POLICY, new_id=new_id
        )
    with pytest.raises(SplitLimitExceeded):
        encumber(r.voucher, r.holding, actor="tier1-ltd", units=1, today=TODAY, policy=Policy(split_limit=0),
                 new_id=new_id)  # fmt: skip
    out = encumber(
        r.voucher, r.holding, actor="tier1-ltd", units=5, today=TODAY, policy=POLICY, new_id=new_id
    )
    part, change = out.created
    with pytest.raises(HoldingNotAvailable):
        encumber(r.voucher, part, actor="tier1-ltd", units=1, today=TODAY, policy=POLICY, new_id=new_id)
    with pytest.raises(WrongRole):
        fund(part, financier=TIER2, new_id=new_id)
    with pytest.raises(SelfTransfer):
        fund(part, financier=party("tier1-ltd", Role.FINANCIER), new_id=new_id)
    with pytest.raises(HoldingNotAvailable):
        fund(change, financier=BANK, new_id=new_id)
    with pytest.raises(HoldingNotAvailable):
        release_encumbrance(change)


def test_only_operators_resolve_disputes() -> None:
    require_role(OPERATOR, Role.OPERATOR)
    with pytest.raises(NotAuthorised):
        require_role(TIER1, Role.OPERATOR)


# --- disputes --------------------------------------------------------------------------------


def test_freezing_a_slice_carves_three_pieces(new_id: NewId) -> None:
    r = issue_cny("1000.00")
    out = freeze(r.voucher, r.holding, UnitRange(10_001, 20_000), new_id=new_id)
    assert out.voucher == r.voucher  # not a split
    assert [(h.units, h.status) for h in out.created] == [
        (UnitRange(1, 10_000), HoldingStatus.LIVE),
        (UnitRange(10_001, 20_000), HoldingStatus.FROZEN),
        (UnitRange(20_001, 100_000), HoldingStatus.LIVE),
    ]
    assert all(h.parent_id == "h1" and h.holder == "tier1-ltd" and h.tier == 1 for h in out.created)
    frozen = out.created[1]
    assert unfreeze(frozen, matured_unpaid=False).status is HoldingStatus.LIVE
    assert unfreeze(frozen, matured_unpaid=True).status is HoldingStatus.OVERDUE


def test_freezing_a_whole_holding_changes_it_in_place(new_id: NewId) -> None:
    r = issue_cny("1000.00")
    out = freeze(r.voucher, r.holding, r.voucher.units, new_id=new_id)
    assert out.superseded == () and out.created == ()
    assert out.updated == (r.holding.with_status(HoldingStatus.FROZEN),)


def test_freeze_refusals(new_id: NewId) -> None:
    r = issue_cny("1000.00")
    with pytest.raises(InvalidRange):
        freeze(r.voucher, r.holding, UnitRange(1, 100_001), new_id=new_id)
    with pytest.raises(HoldingNotAvailable):
        freeze(r.voucher, r.holding.with_status(HoldingStatus.SUPERSEDED), UnitRange(1, 2), new_id=new_id)
    with pytest.raises(HoldingNotAvailable):
        unfreeze(r.holding, matured_unpaid=False)


# --- settlement ------------------------------------------------------------------------------


def test_core_co_pays_in_full_at_maturity(new_id: NewId) -> None:
    r = issue_cny("1000.00")
    out = transfer(r.voucher, r.holding, "tier2-ltd", 30_000, new_id)
    assert out.voucher is not None
    part, change = out.created
    part = accept_offer(part, actor="tier2-ltd")
    res = settle(out.voucher, [change, part], paid_minor=100_000, today=MATURITY, new_id=new_id)
    assert res.outcome.voucher is not None and res.outcome.voucher.status is VoucherStatus.SETTLED
    assert res.payments == (Payment(part.id, "tier2-ltd", 30_000), Payment(change.id, "tier1-ltd", 70_000))
    assert res.overdue_minor == 0
    assert all(h.status is HoldingStatus.SETTLED for h in res.outcome.created)
    assert [h.units for h in res.outcome.created] == [part.units, change.units]


def test_a_short_payment_is_shared_pari_passu(new_id: NewId) -> None:
    """Core Co pays only 0.05 of the 0.10 due; Tier-2 holds 0.03 and Tier-1 0.07."""
    r = issue_cny("0.10")
    out = transfer(r.voucher, r.holding, "tier2-ltd", 3, new_id)
    assert out.voucher is not None
    part = accept_offer(out.created[0], actor="tier2-ltd")
    change = out.created[1]
    res = settle(out.voucher, [change, part], paid_minor=5, today=MATURITY + timedelta(days=3), new_id=new_id)
    # exact shares 1.5 and 3.5: tie on the remainder goes to the lowest units (tier2's [1, 3])
    assert res.payments == (Payment(part.id, "tier2-ltd", 2), Payment(change.id, "tier1-ltd", 3))
    assert res.overdue_minor == 5
    v = res.outcome.voucher
    assert v is not None and v.status is VoucherStatus.OVERDUE
    got = sorted((h.units.start, h.units.end, h.status, h.holder) for h in res.outcome.created)
    assert got == [
        (1, 2, HoldingStatus.SETTLED, "tier2-ltd"),
        (3, 3, HoldingStatus.OVERDUE, "tier2-ltd"),
        (4, 6, HoldingStatus.SETTLED, "tier1-ltd"),
        (7, 10, HoldingStatus.OVERDUE, "tier1-ltd"),
    ]
    # a later payment clears the arrears
    overdue = [h for h in res.outcome.created if h.status is HoldingStatus.OVERDUE]
    settled = [h for h in res.outcome.created if h.status is HoldingStatus.SETTLED]
    again = settle(
        v, overdue, paid_minor=5, today=MATURITY + timedelta(days=30), new_id=new_id, others=settled
    )
    assert again.outcome.voucher is not None and again.outcome.voucher.status is VoucherStatus.SETTLED


def test_nothing_paid_marks_everything_overdue(new_id: NewId) -> None:
    r = issue_cny("1.00")
    res = settle(r.voucher, [r.holding], paid_minor=0, today=MATURITY, new_id=new_id)
    assert res.payments == () and res.overdue_minor == 100
    assert [(h.units, h.status) for h in res.outcome.created] == [(UnitRange(1, 100), HoldingStatus.OVERDUE)]
    overdue = res.outcome.created[0]
    v = res.outcome.voucher
    assert v is not None
    # paying nothing again leaves the overdue holding untouched
    res2 = settle(v, [overdue], paid_minor=0, today=MATURITY, new_id=new_id)
    assert res2.outcome.superseded == () and res2.outcome.created == ()


def test_frozen_units_keep_the_voucher_overdue(new_id: NewId) -> None:
    r = issue_cny("1.00")
    out = freeze(r.voucher, r.holding, UnitRange(91, 100), new_id=new_id)
    live, frozen = out.created
    res = settle(r.voucher, [live], paid_minor=90, today=MATURITY, new_id=new_id, others=[frozen])
    v = res.outcome.voucher
    assert v is not None and v.status is VoucherStatus.OVERDUE and res.overdue_minor == 0
    thawed = unfreeze(frozen, matured_unpaid=True)
    res2 = settle(v, [thawed], paid_minor=10, today=MATURITY, new_id=new_id, others=res.outcome.created)
    assert res2.outcome.voucher is not None and res2.outcome.voucher.status is VoucherStatus.SETTLED


def test_settlement_refusals(new_id: NewId) -> None:
    r = issue_cny("1.00")
    v, h = r.voucher, r.holding
    with pytest.raises(NotMatured):
        settle(v, [h], paid_minor=100, today=MATURITY - timedelta(days=1), new_id=new_id)
    with pytest.raises(Overpayment):
        settle(v, [h], paid_minor=101, today=MATURITY, new_id=new_id)
    with pytest.raises(InvalidAmount):
        settle(v, [h], paid_minor=-1, today=MATURITY, new_id=new_id)
    with pytest.raises(HoldingNotAvailable):
        settle(v, [h.with_status(HoldingStatus.FROZEN)], paid_minor=0, today=MATURITY, new_id=new_id)
    with pytest.raises(InvalidRange):
        settle(v, [h, h], paid_minor=0, today=MATURITY, new_id=new_id)
    with pytest.raises(InvalidRange):
        settle(
            v, [h], paid_minor=0, today=MATURITY, new_id=new_id, others=[h.with_status(HoldingStatus.FROZEN)]
        )
    with pytest.raises(HoldingNotAvailable):
        settle(v, [h], paid_minor=0, today=MATURITY, new_id=new_id,
               others=[h.with_status(HoldingStatus.SUPERSEDED)])  # fmt: skip


# --- every error code is reachable ----------------------------------------------------------


def _raises(fn: Callable[[], object]) -> type[DomainError]:
    try:
        fn()
    except DomainError as exc:
        return type(exc)
    raise AssertionError("no error raised")


def test_every_error_code_is_reached() -> None:
    nid = id_factory("z")
    r = issue_cny("1.00")
    v, h = r.voucher, r.holding
    part = transfer(v, h, "tier2-ltd", 1, nid).created[0]
    o = Offer(
        "o", "v1", "p", "h1", "a", "b", 1, "t", (), datetime(2025, 1, 1, tzinfo=UTC), OfferStatus.PENDING
    )

    def iss(**kw: object) -> object:
        args: dict[str, object] = dict(
            voucher_id="v", obligor=CORE, first_holder=TIER1, face=Money(100, "CNY"), issue_date=ISSUE_DATE,
            maturity=MATURITY, contract_ref="PO", invoice_refs=(), policy=POLICY, obligor_has_overdue=False,
            new_id=nid,
        )  # fmt: skip
        args.update(kw)
        return issue(**args)  # type: ignore[arg-type]

    cases: list[Callable[[], object]] = [
        lambda: Money.parse("1.001", "CNY"),
        lambda: Money.parse("1", "ABC"),
        lambda: Money(1, "CNY") + Money(1, "USD"),
        lambda: UnitRange(2, 1),
        lambda: days_between(MATURITY, ISSUE_DATE),
        lambda: iss(maturity=ISSUE_DATE + timedelta(days=400)),
        lambda: iss(maturity=ISSUE_DATE),
        lambda: iss(face=Money(10**12, "CNY")),
        lambda: transfer(v, h, "tier2-ltd", 1, nid, policy=Policy(tier_limit=1)),
        lambda: transfer(v, h, "tier2-ltd", 1, nid, policy=Policy(split_limit=0)),
        lambda: transfer(v, h, "tier2-ltd", 101, nid),
        lambda: accept_offer(part, actor="tier3-ltd"),
        lambda: require_role(TIER1, Role.OPERATOR),
        lambda: h.with_status(HoldingStatus.OFFERED),
        lambda: release_encumbrance(h),
        lambda: iss(obligor_has_overdue=True),
        lambda: settle(v, [h], paid_minor=0, today=ISSUE_DATE, new_id=nid),
        lambda: transfer(v, h, "tier2-ltd", 1, nid, today=MATURITY),
        lambda: ensure_offer_open(o, now=datetime(2025, 1, 2, tzinfo=UTC)),
        lambda: settle(v, [h], paid_minor=1000, today=MATURITY, new_id=nid),
        lambda: transfer(v, h, "tier1-ltd", 1, nid),
        lambda: transfer(v, h, "city-bank", 1, nid),
        lambda: quote(
            Money(1, "CNY"), annual_rate=Decimal("0.5"), value_date=ISSUE_DATE, maturity=MATURITY, fee_minor=1
        ),
    ]
    reached = {_raises(c) for c in cases}
    assert reached == set(ALL_ERRORS)
    # spot checks that the catalogue above means what it says
    assert {
        InvalidAmount,
        UnknownCurrency,
        CurrencyMismatch,
        InvalidDate,
        FaceTooLarge,
        TenorTooLong,
    } <= reached
    assert {MaturityInPast, ObligorOverdue, NetProceedsNotPositive, InvalidTransition} <= reached
