"""Random sequences of commands through the service layer (SQLite), checked against the database.

After every step: each voucher's current holdings partition ``[1, N]``, every current holding's provenance
runs up to the voucher's root, and settled units stay settled. A refused command raises ``DomainError`` and
changes nothing (projections and journal). At the end, replaying the journal into an empty database rebuilds
the same projections.
"""

from __future__ import annotations

import shutil
import tempfile
from datetime import timedelta
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule
from sqlalchemy import event, select

from tests.conftest import Chain, FakeClock
from tests.services.conftest import assert_replays_identically, check_holdings, settled_units
from tierflow.bootstrap import open_platform
from tierflow.client import PartyKey
from tierflow.config import Settings
from tierflow.domain.errors import DomainError
from tierflow.domain.money import Money
from tierflow.store import schema as t
from tierflow.store.engine import make_engine
from tierflow.store.snapshot import event_count, snapshot


def _no_fsync(dbapi_connection: Any, _record: Any) -> None:
    dbapi_connection.execute("PRAGMA synchronous=OFF")


def cny(minor: int) -> str:
    return Money(minor, "CNY").to_str()


class ServiceMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.dir = Path(tempfile.mkdtemp(prefix="tierflow-stateful-"))
        self.clock = FakeClock()
        url = f"sqlite:///{self.dir / 'db.sqlite'}"
        engine = make_engine(url)
        event.listen(engine, "connect", _no_fsync)  # a throwaway database: durability is not under test
        settings = Settings(database_url=url, data_dir=self.dir / "var", trade_checks="record")
        self.platform = open_platform(settings, clock=self.clock, engine=engine)
        self.chain = Chain(self.platform, self.clock)
        c = self.chain
        self.suppliers = [c.tier1, c.tier2, c.tier3]
        self.everyone = [c.core, *self.suppliers, c.bank, self.platform.operator]
        self.by_id = {k.party_id: k for k in self.everyone}
        self.settled: set[tuple[str, int, int]] = set()
        self.refused = 0
        self.accepted = 0

    # --- helpers -----------------------------------------------------------------------------------

    def rows(self, stmt: Any) -> list[Any]:
        with self.platform.engine.connect() as conn:
            return list(conn.execute(stmt))

    def attempt(self, who: PartyKey, kind: str, **body: object) -> dict[str, object] | None:
        """Submits a command; a refusal must be a DomainError that leaves everything as it was."""
        before, events = snapshot(self.platform.engine), event_count(self.platform.engine)
        try:
            result = self.chain.do(who, kind, **body)
        except DomainError:
            assert snapshot(self.platform.engine) == before
            assert event_count(self.platform.engine) == events
            self.refused += 1
            return None
        assert event_count(self.platform.engine) == events + 1
        self.accepted += 1
        return result

    def listed(self, table: Any, *where: Any, event: str = "created_event") -> list[Any]:
        """Rows in a reproducible order (ids have random parts; the journal's order does not)."""
        stmt = (
            select(table)
            .join(t.events, t.events.c.id == table.c[event])
            .where(*where)
            .order_by(t.events.c.seq, table.c.id)
        )
        return self.rows(stmt)

    def holdings(self, *statuses: str) -> list[Any]:
        return self.listed(t.holdings, t.holdings.c.status.in_(statuses))

    def actor(self, data: st.DataObject, rightful: str) -> PartyKey:
        """Usually the rightful party; sometimes anyone (which should then be refused unless rightful)."""
        if self.rarely(data, "wrong actor?"):
            return data.draw(st.sampled_from(self.everyone), label="actor")
        return self.by_id[rightful]

    def has(self, table: Any, *where: Any) -> bool:
        with self.platform.engine.connect() as conn:
            return conn.execute(select(table.c.id).where(*where).limit(1)).first() is not None

    def has_live(self) -> bool:
        return self.has(t.holdings, t.holdings.c.status == "live")

    def has_pending(self) -> bool:
        return self.has(t.offers, t.offers.c.status == "pending")

    def has_requested(self) -> bool:
        return self.has(t.financings, t.financings.c.status == "requested")

    def has_frozen(self) -> bool:
        return self.has(t.freezes, t.freezes.c.status == "active")

    def has_open(self) -> bool:
        return self.has(t.vouchers, t.vouchers.c.status != "settled")

    # --- rules -------------------------------------------------------------------------------------

    @initialize(faces=st.lists(st.integers(1, 200_000), min_size=1, max_size=3))
    def some_vouchers(self, faces: list[int]) -> None:
        for i, face in enumerate(faces):
            self.chain.issue(cny(face), days=30 + 30 * i, to=self.suppliers[i])

    @staticmethod
    def rarely(data: st.DataObject, label: str) -> bool:
        return data.draw(st.integers(0, 7), label=label) == 0

    @rule(data=st.data(), face=st.integers(1, 200_000))
    def issue(self, data: st.DataObject, face: int) -> None:
        odd = self.rarely(data, "odd issue?")
        days = data.draw(st.integers(-2, 400) if odd else st.integers(20, 120), label="days")
        holders = [*self.suppliers, self.chain.bank] if odd else self.suppliers
        holder = data.draw(st.sampled_from(holders), label="first holder")
        self.attempt(
            self.chain.core, "voucher.issue", first_holder=holder.party_id, amount=cny(face), currency="CNY",
            maturity=(self.clock.now + timedelta(days=days)).date().isoformat(), contract_ref="PO-1",
            invoice_refs=["INV-1"],
        )

    @precondition(lambda self: self.has_live())
    @rule(data=st.data())
    def offer(self, data: st.DataObject) -> None:
        odd = self.rarely(data, "odd offer?")
        live = self.holdings("live", "encumbered", "offered") if odd else self.holdings("live")
        if not live:
            return
        h = data.draw(st.sampled_from(live), label="holding")
        count = h.end_unit - h.start_unit + 1
        units = data.draw(st.integers(0, count + 1) if odd else st.integers(1, count), label="units")
        recipients = [*self.suppliers, self.chain.bank] if odd else [
            k for k in self.suppliers if k.party_id != h.holder_id
        ]
        if not recipients:
            return
        recipient = data.draw(st.sampled_from(recipients), label="recipient")
        self.attempt(
            self.actor(data, h.holder_id), "transfer.offer", holding_id=h.id, recipient=recipient.party_id,
            amount=cny(units), currency="CNY", trade_ref="T", invoice_refs=["I"],
        )

    def _offer(self, data: st.DataObject) -> Any | None:
        o = t.offers.c
        pending = self.listed(t.offers, o.status == "pending")
        return data.draw(st.sampled_from(pending), label="offer") if pending else None

    @precondition(lambda self: self.has_pending())
    @rule(data=st.data())
    def accept(self, data: st.DataObject) -> None:
        offer = self._offer(data)
        if offer is not None:
            self.attempt(self.actor(data, offer.recipient_id), "transfer.accept", offer_id=offer.id)

    @precondition(lambda self: self.has_pending())
    @rule(data=st.data())
    def reject(self, data: st.DataObject) -> None:
        offer = self._offer(data)
        if offer is not None:
            self.attempt(self.actor(data, offer.recipient_id), "transfer.reject", offer_id=offer.id)

    @precondition(lambda self: self.has_pending())
    @rule(data=st.data())
    def expire(self, data: st.DataObject) -> None:
        offer = self._offer(data)
        if offer is not None:
            self.attempt(self.platform.operator, "transfer.expire", offer_id=offer.id)

    @precondition(lambda self: self.has_live())
    @rule(data=st.data(), rate=st.sampled_from(["0", "0.0365", "0.12", "5"]))
    def request_financing(self, data: st.DataObject, rate: str) -> None:
        odd = self.rarely(data, "odd request?")
        live = self.holdings("live", "encumbered") if odd else self.holdings("live")
        if not live:
            return
        h = data.draw(st.sampled_from(live), label="holding")
        count = h.end_unit - h.start_unit + 1
        units = data.draw(st.integers(1, count + 1) if odd else st.integers(1, count), label="units")
        financiers = [self.chain.bank, self.chain.tier2] if odd else [self.chain.bank]
        financier = data.draw(st.sampled_from(financiers), label="financier")
        self.attempt(
            self.actor(data, h.holder_id), "financing.request", holding_id=h.id, financier=financier.party_id,
            amount=cny(units), currency="CNY", annual_rate=rate,
        )

    def _financing(self, data: st.DataObject) -> Any | None:
        f = t.financings.c
        requested = self.listed(t.financings, f.status == "requested")
        return data.draw(st.sampled_from(requested), label="financing") if requested else None

    @precondition(lambda self: self.has_requested())
    @rule(data=st.data())
    def fund(self, data: st.DataObject) -> None:
        financing = self._financing(data)
        if financing is None:
            return
        who = self.actor(data, financing.financier_id)
        if who.party_id == financing.financier_id:
            self.prepare_disbursement(financing)
        self.attempt(who, "financing.fund", financing_id=financing.id, payment_message_id="M-" + financing.id[-8:],
                     payment_sha256="c" * 64, bank_reference="B-1")

    def prepare_disbursement(self, financing: Any) -> None:
        """Review, approval, both signatures and registration: the case's steps before the money goes out."""
        with self.platform.engine.connect() as conn:
            stage = conn.execute(select(t.financing_cases.c.stage).where(
                t.financing_cases.c.financing_id == financing.id)).scalar_one()
        if stage != "verified":
            return
        bank, applicant = self.by_id[financing.financier_id], self.by_id[financing.applicant_id]
        number = "FC-" + financing.id[-8:]
        self.chain.do(bank, "financing.review", financing_id=financing.id, user="maker", recommendation="approve")
        self.chain.do(bank, "financing.approve", financing_id=financing.id, user="checker")
        self.chain.do(applicant, "financing.sign", financing_id=financing.id, contract_number=number,
                      contract_sha256="a" * 64)
        self.chain.do(bank, "financing.sign", financing_id=financing.id, contract_number=number,
                      contract_sha256="b" * 64)
        self.chain.do(bank, "financing.register", financing_id=financing.id, registry_number="0" * 20)

    @precondition(lambda self: self.has_requested())
    @rule(data=st.data())
    def decline(self, data: st.DataObject) -> None:
        financing = self._financing(data)
        if financing is not None:
            self.attempt(self.actor(data, financing.financier_id), "financing.decline", financing_id=financing.id)

    @precondition(lambda self: self.has_requested())
    @rule(data=st.data())
    def cancel(self, data: st.DataObject) -> None:
        financing = self._financing(data)
        if financing is not None:
            self.attempt(self.actor(data, financing.applicant_id), "financing.cancel", financing_id=financing.id)

    @precondition(lambda self: self.has_open())
    @rule(data=st.data())
    def freeze(self, data: st.DataObject) -> None:
        if not self.rarely(data, "freeze at all?") and not self.rarely(data, "freeze now?"):
            return
        candidates = self.holdings("live", "overdue", "offered")
        if not candidates:
            return
        h = data.draw(st.sampled_from(candidates), label="holding")
        start = data.draw(st.integers(h.start_unit, h.end_unit + 1), label="start")
        end = data.draw(st.integers(max(start, h.start_unit), h.end_unit + 1), label="end")
        who = self.actor(data, self.platform.operator.party_id)
        self.attempt(who, "holding.freeze", holding_id=h.id, start_unit=start, end_unit=end, reason="dispute")

    @precondition(lambda self: self.has_frozen())
    @rule(data=st.data())
    def release(self, data: st.DataObject) -> None:
        f = t.freezes.c
        active = self.listed(t.freezes, f.status == "active")
        if active:
            freeze = data.draw(st.sampled_from(active), label="freeze")
            self.attempt(self.platform.operator, "freeze.release", freeze_id=freeze.id)

    @precondition(lambda self: self.has_open())
    @rule(data=st.data())
    def settle(self, data: st.DataObject) -> None:
        v = t.vouchers.c
        open_ = self.listed(t.vouchers, v.status != "settled", event="issued_event")
        if not open_:
            return
        voucher = data.draw(st.sampled_from(open_), label="voucher")
        if self.clock.now.date() < voucher.maturity and not self.rarely(data, "settle early?"):
            self.clock.set(self.clock.now + timedelta(days=(voucher.maturity - self.clock.now.date()).days + 1))
        h = t.holdings.c
        due = sum(
            r.end_unit - r.start_unit + 1
            for r in self.rows(
                select(t.holdings).where(h.voucher_id == voucher.id, h.status.in_(("live", "overdue", "offered",
                                                                                    "encumbered")))
            )
        )
        paid = data.draw(st.integers(0, due + 1), label="paid")
        self.attempt(self.chain.core, "voucher.settle", voucher_id=voucher.id, amount=cny(paid), currency="CNY")

    # --- invariants --------------------------------------------------------------------------------

    @invariant()
    def holdings_partition_and_trace_back(self) -> None:
        check_holdings(self.platform.engine)

    @invariant()
    def settled_units_stay_settled(self) -> None:
        now = settled_units(self.platform.engine)
        assert self.settled <= now
        self.settled = now

    def teardown(self) -> None:
        try:
            assert_replays_identically(self.platform.engine, f"sqlite:///{self.dir / 'rebuilt.sqlite'}")
        finally:
            self.platform.close()
            shutil.rmtree(self.dir, ignore_errors=True)


ServiceMachine.TestCase.settings = settings(
    max_examples=15,
    stateful_step_count=20,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
TestServiceMachine = ServiceMachine.TestCase
