"""Replaying the journal into an empty database rebuilds the same projections, and a doctored journal is
caught at the first entry that does not re-execute as recorded."""

from __future__ import annotations

from datetime import UTC, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import select, update

from tests.conftest import Chain, FakeClock
from tests.services.conftest import Replayer, check_holdings, effects
from tierflow.bootstrap import open_platform
from tierflow.client import PartyKey
from tierflow.config import Settings
from tierflow.ledger.canonical import canonical_json
from tierflow.ledger.envelope import parse_leaf
from tierflow.store import schema as t
from tierflow.store.engine import make_engine
from tierflow.store.snapshot import journal_leaves, rebuild, snapshot


def run_realistic_flow(chain: Chain, clock: FakeClock) -> None:
    """Issue, transfers (accepted, rejected, expired), financing (funded, declined, cancelled, left open),
    freezes (part and whole, released), an offer left open at maturity, then two settlements."""
    op = chain.p.operator
    issued = chain.issue("1000000.00", days=90)
    voucher = effects(issued, "voucher_id")
    h1 = effects(issued, "holding_id")

    o1 = chain.offer(chain.tier1, h1, chain.tier2, "300000.00")
    h1 = effects(o1, "change_holding_id")
    t2 = effects(chain.do(chain.tier2, "transfer.accept", offer_id=o1["offer_id"]), "holding_id")

    o2 = chain.offer(chain.tier1, h1, chain.tier3, "100000.00")
    h1 = effects(o2, "change_holding_id")
    chain.do(chain.tier3, "transfer.reject", offer_id=o2["offer_id"], reason="wrong invoice")

    o3 = chain.offer(chain.tier2, t2, chain.tier3, "100000.00")
    t2 = effects(o3, "change_holding_id")
    t3 = effects(chain.do(chain.tier3, "transfer.accept", offer_id=o3["offer_id"]), "holding_id")

    o4 = chain.offer(chain.tier1, h1, chain.tier3, "50000.00")
    h1 = effects(o4, "change_holding_id")
    clock.advance(hours=73)
    chain.do(op, "transfer.expire", offer_id=o4["offer_id"])

    def finance(who: PartyKey, holding: str, amount: str, fee: str = "10.00") -> dict[str, object]:
        return chain.do(
            who, "financing.request", holding_id=holding, financier=chain.bank.party_id, amount=amount,
            currency="CNY", annual_rate="0.0365", fee=fee,
        )

    f1 = finance(chain.tier1, h1, "200000.00")
    clock.advance(days=1)
    chain.disburse(f1["financing_id"])
    f2 = finance(chain.tier2, t2, "50000.00")
    declined = chain.do(chain.bank, "financing.decline", financing_id=f2["financing_id"], reason="limit")
    t2 = effects(declined, "holding_id")
    f3 = finance(chain.tier3, t3, "10000.00")
    t3 = effects(chain.do(chain.tier3, "financing.cancel", financing_id=f3["financing_id"]), "holding_id")

    frozen = chain.do(op, "holding.freeze", holding_id=t3, start_unit=100, end_unit=199, reason="disputed")
    chain.do(op, "freeze.release", freeze_id=frozen["freeze_id"])
    t3_pieces = [str(x) for x in frozen["created"]]  # type: ignore[attr-defined]
    whole = chain.do(op, "holding.freeze", holding_id=t3_pieces[0], start_unit=1,
                     end_unit=99, reason="whole holding")
    assert whole["created"] == []
    chain.do(op, "freeze.release", freeze_id=whole["freeze_id"])
    still = chain.do(op, "holding.freeze", holding_id=t3_pieces[-1], start_unit=500_000,
                     end_unit=500_099, reason="open at maturity")

    # Left open until maturity: settlement unwinds them.
    chain.offer(chain.tier2, t2, chain.tier3, "1000.00")
    finance(chain.tier3, str(frozen["frozen_holding_id"]), "0.50", fee="0.00")

    clock.set(clock.now.replace(hour=10) + timedelta(days=90))
    first = chain.do(chain.core, "voucher.settle", voucher_id=voucher, amount="400000.00", currency="CNY")
    assert first["voucher_status"] == "overdue"
    assert len(first["expired_offers"]) == 1 and len(first["cancelled_financings"]) == 1  # type: ignore[arg-type]
    chain.do(op, "freeze.release", freeze_id=still["freeze_id"])
    clock.advance(days=2)
    second = chain.do(chain.core, "voucher.settle", voucher_id=voucher, amount=str(first["overdue"]),
                      currency="CNY")
    # The units frozen at the first settlement came back overdue and were not in its "overdue" figure.
    assert second["overdue"] == "1.00" and second["voucher_status"] == "overdue"
    third = chain.do(chain.core, "voucher.settle", voucher_id=voucher, amount="1.00", currency="CNY")
    assert third["overdue"] == "0.00" and third["voucher_status"] == "settled"


def test_replaying_the_journal_rebuilds_the_same_projections(
    chain: Chain, clock: FakeClock, replays_identically: Replayer
) -> None:
    run_realistic_flow(chain, clock)
    check_holdings(chain.p.engine)
    with chain.p.engine.connect() as conn:
        kinds = {r.kind for r in conn.execute(select(t.events.c.kind))}
    assert kinds == {
        "party.register", "voucher.issue", "voucher.settle", "transfer.offer", "transfer.accept",
        "transfer.reject", "transfer.expire", "financing.request", "financing.review", "financing.approve",
        "financing.sign", "financing.register", "financing.fund", "financing.decline",
        "financing.cancel", "holding.freeze", "freeze.release",
    }
    replays_identically(chain.p.engine)


def test_replay_after_integration_ignores_tree_state(chain: Chain, replays_identically: Replayer) -> None:
    chain.issue("1000.00")
    chain.p.journal.integrate_all()
    replays_identically(chain.p.engine)


def _doctor(leaves: list[bytes], index: int, **changes: object) -> list[bytes]:
    entry = parse_leaf(leaves[index])
    obj = {"v": entry.v, "id": entry.id, "kind": entry.kind, "at": entry.at, "command": entry.command,
           "signature": entry.signature, "effects": entry.effects}
    obj.update(changes)
    return [*leaves[:index], canonical_json(obj), *leaves[index + 1:]]


@pytest.fixture
def sqlite_only(database_url: str) -> None:
    if not database_url.startswith("sqlite"):
        pytest.skip("engine-independent check; runs on SQLite only")


@pytest.mark.usefixtures("sqlite_only")
def test_recorded_effects_that_differ_are_reported_at_the_first_divergent_entry(
    chain: Chain, tmp_path: Path
) -> None:
    issued = chain.issue("1000.00")
    chain.offer(chain.tier1, issued["holding_id"], chain.tier2, "10.00")
    leaves = journal_leaves(chain.p.engine)
    index = len(leaves) - 1
    entry = parse_leaf(leaves[index])
    doctored = _doctor(leaves, index, effects={**entry.effects, "change_holding_id": "hld_someone_else"})
    engine = make_engine(f"sqlite:///{tmp_path / 'r.db'}")
    report = rebuild(engine, doctored)
    assert not report.ok and report.divergence is not None
    assert report.replayed == index
    assert report.divergence.index == index and report.divergence.event_id == entry.id
    assert "effects differ" in report.divergence.reason
    assert "hld_someone_else" in report.describe()
    # Everything before the divergent entry was committed; the divergent one was not.
    with engine.connect() as conn:
        assert len(conn.execute(select(t.events.c.id)).all()) == index
    engine.dispose()


@pytest.mark.usefixtures("sqlite_only")
def test_a_forged_entry_is_refused_on_replay(chain: Chain, tmp_path: Path) -> None:
    issued = chain.issue("1000.00")
    chain.offer(chain.tier1, issued["holding_id"], chain.tier2, "10.00")
    leaves = journal_leaves(chain.p.engine)
    index = len(leaves) - 1
    entry = parse_leaf(leaves[index])
    body = {**entry.command["body"], "amount": "20.00"}  # the signature no longer matches
    doctored = _doctor(leaves, index, command={**entry.command, "body": body})
    engine = make_engine(f"sqlite:///{tmp_path / 'r.db'}")
    report = rebuild(engine, doctored)
    assert report.divergence is not None and report.divergence.index == index
    assert "bad_signature" in report.divergence.reason
    engine.dispose()


@pytest.mark.usefixtures("sqlite_only")
def test_a_journal_without_genesis_is_refused(chain: Chain, tmp_path: Path) -> None:
    chain.issue("1000.00")
    leaves = journal_leaves(chain.p.engine)
    engine = make_engine(f"sqlite:///{tmp_path / 'r.db'}")
    report = rebuild(engine, leaves[1:])
    assert report.divergence is not None and report.divergence.index == 0
    assert "genesis" in report.divergence.reason
    report = rebuild(engine, [b"not json"])
    assert report.divergence is not None and "malformed leaf" in report.divergence.reason
    engine.dispose()


@pytest.mark.usefixtures("sqlite_only")
def test_a_platform_clock_outside_utc_still_replays_identically(
    settings: Settings, tmp_path: Path, replays_identically: Replayer
) -> None:
    """The journal records UTC; a clock in UTC+8 late in the evening is already the next day in neither."""
    clock = FakeClock()
    clock.set(clock.now.astimezone(timezone(timedelta(hours=8))).replace(hour=23, minute=30))
    platform = open_platform(settings, clock=clock)
    try:
        chain = Chain(platform, clock)
        issued = chain.issue("1000.00", days=30)
        chain.offer(chain.tier1, issued["holding_id"], chain.tier2, "10.00")
        with platform.engine.connect() as conn:
            issue_dates = list(conn.execute(select(t.vouchers.c.issue_date)).scalars())
            expiries = list(conn.execute(select(t.offers.c.expires_at)).scalars())
        utc_now = clock.now.astimezone(UTC)
        assert issue_dates == [utc_now.date()]
        assert expiries[0].endswith("Z")
        replays_identically(platform.engine)
    finally:
        platform.close()


@pytest.mark.usefixtures("sqlite_only")
def test_snapshot_sees_every_projection_change_but_not_tokens(chain: Chain) -> None:
    before = snapshot(chain.p.engine)
    assert set(before) == {"parties", "vouchers", "holdings", "offers", "financings", "settlements",
                           "settlement_payments", "freezes", "documents", "party_usccs", "verifications",
                           "invoice_uses", "financing_cases", "case_steps", "repayments", "green_labels", "sll_terms",
                           "kpi_observations"}
    chain.p.access.issue_token(chain.tier1.party_id)
    assert snapshot(chain.p.engine) == before
    with chain.p.engine.begin() as conn:
        conn.execute(update(t.parties).where(t.parties.c.id == chain.tier1.party_id).values(name="Renamed"))
    assert snapshot(chain.p.engine) != before
