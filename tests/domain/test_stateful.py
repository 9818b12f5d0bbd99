"""Random lives of several vouchers, checked against the ownership invariants after every step.

Core Co issues vouchers to Tier-1 suppliers; holders offer slices down the chain, recipients
accept or reject, suppliers sell slices to banks (or the bank declines), the operator freezes
and unfreezes disputed slices, and at maturity Core Co pays all, part or nothing, possibly in
several instalments. After every step, for every voucher:

- the current (non-superseded) holdings partition ``[1, N]``;
- every holding's parent chain ends at the voucher's root holding, and each parent's range
  contains its child's range;
- tiers never decrease along a chain, and go up by exactly one on (and only on) a transfer;
- units once SETTLED stay SETTLED; the voucher is SETTLED exactly when all its units are.
"""

from __future__ import annotations

import itertools
from datetime import date, timedelta

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from tierflow.domain import (
    AlreadyMatured,
    Holding,
    HoldingStatus,
    Money,
    Outcome,
    Policy,
    Role,
    SelfTransfer,
    SplitLimitExceeded,
    TierLimitExceeded,
    UnitRange,
    Voucher,
    VoucherStatus,
    accept_offer,
    encumber,
    freeze,
    fund,
    is_partition,
    issue,
    offer_transfer,
    release_encumbrance,
    return_offer,
    settle,
    unfreeze,
)

from .cast import BANK, CORE, TIER1, TIER2, TIER3, party

SUPPLIERS = (TIER1, TIER2, TIER3, party("tier4-ltd", Role.SUPPLIER))
BANKS = (BANK, party("harbour-bank", Role.FINANCIER))
POLICY = Policy(tier_limit=4, split_limit=12)
START = date(2025, 1, 10)


class VoucherLives(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        counter = itertools.count(1)
        self.new_id = lambda: f"h{next(counter)}"
        self.today = START
        self.vouchers: dict[str, Voucher] = {}
        self.roots: dict[str, str] = {}
        self.holdings: dict[str, Holding] = {}
        self.transfer_parts: set[str] = set()
        self.ever_settled: set[str] = set()
        self.splits: dict[str, int] = {}

    # --- bookkeeping -----------------------------------------------------------------------

    def _with(self, *statuses: HoldingStatus) -> list[Holding]:
        return sorted((h for h in self.holdings.values() if h.status in statuses), key=lambda h: h.id)

    def _apply(self, out: Outcome) -> None:
        for h in out.superseded:
            assert h.status is HoldingStatus.SUPERSEDED
            assert self.holdings[h.id].status is not HoldingStatus.SUPERSEDED
            self.holdings[h.id] = h
        for h in (*out.created, *out.updated):
            if h in out.created:
                assert h.id not in self.holdings
            else:
                assert h.id in self.holdings
            self.holdings[h.id] = h
            if h.status is HoldingStatus.SETTLED:
                self.ever_settled.add(h.id)
        if out.voucher is not None:
            self.vouchers[out.voucher.id] = out.voucher

    def _update(self, h: Holding) -> None:
        assert self.holdings[h.id].units == h.units and self.holdings[h.id].holder == h.holder
        self.holdings[h.id] = h

    # --- rules ---------------------------------------------------------------------------------

    @precondition(lambda self: len(self.vouchers) < 4)
    @rule(face=st.integers(1, 5_000), tenor=st.integers(1, 60), holder=st.sampled_from(SUPPLIERS))
    def issue_voucher(self, face: int, tenor: int, holder: object) -> None:
        vid = f"v{len(self.vouchers) + 1}"
        r = issue(
            voucher_id=vid, obligor=CORE, first_holder=holder, face=Money(face, "CNY"),  # type: ignore[arg-type]
            issue_date=self.today, maturity=self.today + timedelta(days=tenor), contract_ref=f"PO-{vid}",
            invoice_refs=(f"INV-{vid}",), policy=POLICY, obligor_has_overdue=False, new_id=self.new_id,
        )  # fmt: skip
        self.vouchers[vid] = r.voucher
        self.roots[vid] = r.holding.id
        self.holdings[r.holding.id] = r.holding
        self.splits[vid] = 0

    @rule(days=st.integers(1, 20))
    def time_passes(self, days: int) -> None:
        self.today += timedelta(days=days)

    @precondition(lambda self: bool(self._with(HoldingStatus.LIVE)))
    @rule(data=st.data())
    def offer(self, data: st.DataObject) -> None:
        h = data.draw(st.sampled_from(self._with(HoldingStatus.LIVE)))
        recipient = data.draw(st.sampled_from(SUPPLIERS))
        units = data.draw(st.integers(1, h.units.count))
        v = self.vouchers[h.voucher_id]
        try:
            out = offer_transfer(
                v, h, actor=h.holder, recipient=recipient, units=units, today=self.today, policy=POLICY,
                new_id=self.new_id,
            )  # fmt: skip
        except SelfTransfer:
            assert recipient.id == h.holder
            return
        except AlreadyMatured:
            assert self.today >= v.maturity
            return
        except TierLimitExceeded:
            assert h.tier + 1 > POLICY.tier_limit
            return
        except SplitLimitExceeded:
            assert v.split_count == POLICY.split_limit and units < h.units.count
            return
        assert self.today < v.maturity and recipient.id != h.holder
        self.transfer_parts.add(out.created[0].id)
        if len(out.created) == 2:
            self.splits[v.id] += 1
        self._apply(out)

    @precondition(lambda self: bool(self._with(HoldingStatus.OFFERED)))
    @rule(data=st.data())
    def accept(self, data: st.DataObject) -> None:
        part = data.draw(st.sampled_from(self._with(HoldingStatus.OFFERED)))
        self._update(accept_offer(part, actor=part.holder))

    @precondition(lambda self: bool(self._with(HoldingStatus.OFFERED)))
    @rule(data=st.data())
    def reject_or_expire(self, data: st.DataObject) -> None:
        part = data.draw(st.sampled_from(self._with(HoldingStatus.OFFERED)))
        assert part.parent_id is not None
        self._apply(return_offer(part, self.holdings[part.parent_id], new_id=self.new_id))

    @precondition(lambda self: bool(self._with(HoldingStatus.LIVE)))
    @rule(data=st.data())
    def request_financing(self, data: st.DataObject) -> None:
        h = data.draw(st.sampled_from(self._with(HoldingStatus.LIVE)))
        units = data.draw(st.integers(1, h.units.count))
        v = self.vouchers[h.voucher_id]
        try:
            out = encumber(
                v, h, actor=h.holder, units=units, today=self.today, policy=POLICY, new_id=self.new_id
            )
        except (AlreadyMatured, SplitLimitExceeded):
            return
        if len(out.created) == 2:
            self.splits[v.id] += 1
        self._apply(out)

    @precondition(lambda self: bool(self._with(HoldingStatus.ENCUMBERED)))
    @rule(data=st.data())
    def bank_funds(self, data: st.DataObject) -> None:
        part = data.draw(st.sampled_from(self._with(HoldingStatus.ENCUMBERED)))
        financier = data.draw(st.sampled_from(BANKS))
        try:
            out = fund(part, financier=financier, new_id=self.new_id)
        except SelfTransfer:
            assert part.holder == financier.id
            return
        self._apply(out)

    @precondition(lambda self: bool(self._with(HoldingStatus.ENCUMBERED)))
    @rule(data=st.data())
    def bank_declines(self, data: st.DataObject) -> None:
        part = data.draw(st.sampled_from(self._with(HoldingStatus.ENCUMBERED)))
        self._update(release_encumbrance(part))

    @precondition(lambda self: bool(self._with(HoldingStatus.LIVE, HoldingStatus.OVERDUE)))
    @rule(data=st.data())
    def dispute(self, data: st.DataObject) -> None:
        h = data.draw(st.sampled_from(self._with(HoldingStatus.LIVE, HoldingStatus.OVERDUE)))
        start = data.draw(st.integers(h.units.start, h.units.end))
        end = data.draw(st.integers(start, h.units.end))
        out = freeze(self.vouchers[h.voucher_id], h, UnitRange(start, end), new_id=self.new_id)
        assert out.voucher == self.vouchers[h.voucher_id]
        self._apply(out)

    @precondition(lambda self: bool(self._with(HoldingStatus.FROZEN)))
    @rule(data=st.data())
    def resolve_dispute(self, data: st.DataObject) -> None:
        h = data.draw(st.sampled_from(self._with(HoldingStatus.FROZEN)))
        matured_unpaid = self.vouchers[h.voucher_id].status is not VoucherStatus.ACTIVE
        self._update(unfreeze(h, matured_unpaid=matured_unpaid))

    @precondition(
        lambda self: any(
            v.maturity <= self.today and v.status is not VoucherStatus.SETTLED for v in self.vouchers.values()
        )
    )
    @rule(data=st.data())
    def core_co_pays(self, data: st.DataObject) -> None:
        due_vouchers = sorted(
            vid
            for vid, v in self.vouchers.items()
            if v.maturity <= self.today and v.status is not VoucherStatus.SETTLED
        )
        v = self.vouchers[data.draw(st.sampled_from(due_vouchers))]
        current = [h for h in self.holdings.values() if h.voucher_id == v.id and h.is_current]
        payable = [h for h in current if h.status in (HoldingStatus.LIVE, HoldingStatus.OVERDUE)]
        others = [h for h in current if h not in payable]
        due = sum(h.units.count for h in payable)
        paid = data.draw(st.one_of(st.just(due), st.just(0), st.integers(0, due)))
        res = settle(v, payable, paid_minor=paid, today=self.today, new_id=self.new_id, others=others)
        assert sum(p.amount_minor for p in res.payments) == paid
        assert res.overdue_minor == due - paid
        self._apply(res.outcome)

    # --- invariants ------------------------------------------------------------------------------

    @invariant()
    def current_holdings_partition_each_voucher(self) -> None:
        for vid, v in self.vouchers.items():
            current = [h for h in self.holdings.values() if h.voucher_id == vid and h.is_current]
            assert is_partition([h.units for h in current], v.face_minor)
            all_settled = all(h.status is HoldingStatus.SETTLED for h in current)
            assert (v.status is VoucherStatus.SETTLED) == all_settled
            if v.status is VoucherStatus.OVERDUE:
                assert v.maturity <= self.today

    @invariant()
    def provenance_chains_end_at_the_root(self) -> None:
        for h in self.holdings.values():
            node = h
            while node.parent_id is not None:
                parent = self.holdings[node.parent_id]
                assert parent.voucher_id == node.voucher_id
                assert parent.status is HoldingStatus.SUPERSEDED
                assert parent.units.covers(node.units)
                expected_tier = parent.tier + 1 if node.id in self.transfer_parts else parent.tier
                assert node.tier == expected_tier
                node = parent
            assert node.id == self.roots[h.voucher_id]
            assert node.tier == 1

    @invariant()
    def settled_units_never_come_back(self) -> None:
        for hid in self.ever_settled:
            assert self.holdings[hid].status is HoldingStatus.SETTLED

    @invariant()
    def splits_are_counted_and_capped(self) -> None:
        for vid, v in self.vouchers.items():
            assert v.split_count == self.splits[vid] <= POLICY.split_limit


VoucherLives.TestCase.settings = settings(
    max_examples=50,
    stateful_step_count=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
TestVoucherLives = VoucherLives.TestCase


def test_the_machine_is_not_vacuous() -> None:
    """A scripted run through every rule, so the machine's rules are known to be reachable."""
    m = VoucherLives()
    m.issue_voucher(1000, 30, TIER1)
    root = m.holdings[m.roots["v1"]]
    out = offer_transfer(
        m.vouchers["v1"], root, actor=TIER1.id, recipient=TIER2, units=400, today=m.today, policy=POLICY,
        new_id=m.new_id,
    )  # fmt: skip
    m.transfer_parts.add(out.created[0].id)
    m.splits["v1"] += 1
    m._apply(out)
    m._update(accept_offer(out.created[0], actor=TIER2.id))
    m.today += timedelta(days=30)
    current = [h for h in m.holdings.values() if h.is_current]
    res = settle(m.vouchers["v1"], current, paid_minor=1000, today=m.today, new_id=m.new_id)
    m._apply(res.outcome)
    m.current_holdings_partition_each_voucher()
    m.provenance_chains_end_at_the_root()
    m.settled_units_never_come_back()
    assert m.vouchers["v1"].status is VoucherStatus.SETTLED
