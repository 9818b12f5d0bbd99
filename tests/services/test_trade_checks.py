"""Trade-background checks on the ledger, as worked examples in the business's words (checks enforced)."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from tests.conftest import Chain, make_settings
from tests.services.conftest import Replayer
from tests.trade_world import TradeWorld
from tierflow.config import Settings
from tierflow.domain.errors import DomainError
from tierflow.store import schema as t
from tierflow.store.snapshot import snapshot


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return make_settings(database_url, tmp_path, trade_checks="enforce")


@pytest.fixture
def world(chain: Chain) -> TradeWorld:
    return TradeWorld(chain)


def refused(world: TradeWorld, code: str, attempt: Callable[[], object]) -> DomainError:
    before = snapshot(world.chain.p.engine)
    with pytest.raises(DomainError) as caught:
        attempt()
    assert caught.value.code == code, caught.value
    assert snapshot(world.chain.p.engine) == before, "a refused command left state behind"
    return caught.value


def verdicts(world: TradeWorld) -> dict[str, Any]:
    with world.chain.p.engine.connect() as conn:
        rows = conn.execute(select(t.verifications)).all()
    return {r.subject_id: r for r in rows}


def test_a_clean_three_tier_chain_passes_every_hop(world: TradeWorld) -> None:
    done = world.clean_chain()
    for hop in (done["issued"], done["to_tier2"], done["to_tier3"]):
        check = hop["trade_check"]
        assert check["outcome"] in ("pass", "warn") and check["failed_rules"] == []
        assert {d["type"] for d in check["documents"]} == {"contract", "vat_invoice"}
        assert all(len(d["content_hash"]) == 64 for d in check["documents"])
    stored = verdicts(world)
    assert len(stored) == 3
    results = json.loads(stored[done["to_tier3"]["offer_id"]].results)
    assert {r["rule"] for r in results} >= {"invoice-usage", "invoice-parties", "uscc-check-digit"}
    assert all(r["reasons"] for r in results)

    # Tier-3 finances what it received: collected and verified in one signed entry, backed by the Tier-2 sale.
    financed = world.finance(world.chain.tier3, done["to_tier3"]["holding_id"], 150_000_00)
    assert financed["stage"] == "verified", financed["trade_check"]
    assert financed["stage"] == "verified"
    assert financed["trade_check"]["failed_rules"] == []


def test_the_invoice_usage_is_recorded_and_released_with_the_offer(world: TradeWorld) -> None:
    c = world.chain
    k1 = world.contract(c.tier1, c.core, "PO-1")
    i1 = world.invoice(c.tier1, c.core, 500_000_00)
    issued = world.issue(c.tier1, 500_000_00, invoices=[i1], contract=k1)
    k2 = world.contract(c.tier2, c.tier1, "PO-2")
    i2 = world.invoice(c.tier2, c.tier1, 100_000_00)
    offered = c.do(c.tier1, "transfer.offer", holding_id=issued["holding_id"], recipient=c.tier2.party_id,
                   amount="100000.00", currency="CNY", trade_ref=k2, invoice_refs=[i2])
    # While the offer is open the invoice is spoken for: a second offer on it fails the invoice-usage rule.
    error = refused(world, "trade_check_failed", lambda: c.do(
        c.tier1, "transfer.offer", holding_id=offered["change_holding_id"], recipient=c.tier2.party_id,
        amount="1.00", currency="CNY", trade_ref=k2, invoice_refs=[i2]))
    assert [r["rule"] for r in error.fields["results"]] == ["invoice-usage@1"]
    c.do(c.tier2, "transfer.reject", offer_id=offered["offer_id"], reason="wrong goods")
    # Rejected, the offer no longer uses the invoice.
    again = c.do(c.tier1, "transfer.offer", holding_id=offered["change_holding_id"], recipient=c.tier2.party_id,
                 amount="100000.00", currency="CNY", trade_ref=k2, invoice_refs=[i2])
    assert again["trade_check"]["outcome"] != "fail"


def test_a_transfer_backed_by_an_invoice_between_other_parties_fails(world: TradeWorld) -> None:
    c = world.chain
    assert world.other is not None
    k1 = world.contract(c.tier1, c.core, "PO-1")
    i1 = world.invoice(c.tier1, c.core, 500_000_00)
    issued = world.issue(c.tier1, 500_000_00, invoices=[i1], contract=k1)
    k2 = world.contract(c.tier2, c.tier1, "PO-2")
    # An invoice from Other Co to Core Co: real, registered, but not a sale by Tier-2 to Tier-1.
    foreign = world.invoice(world.other, c.core, 200_000_00)
    error = refused(world, "trade_check_failed", lambda: c.do(
        c.tier1, "transfer.offer", holding_id=issued["holding_id"], recipient=c.tier2.party_id,
        amount="100000.00", currency="CNY", trade_ref=k2, invoice_refs=[foreign]))
    failed = {r["rule"]: r["reasons"] for r in error.fields["results"]}
    assert "invoice-parties@1" in failed
    assert any("Other Co" in reason for reason in failed["invoice-parties@1"])


def test_an_invoice_already_backing_a_voucher_cannot_back_another(world: TradeWorld) -> None:
    c = world.chain
    k1 = world.contract(c.tier1, c.core, "PO-1")
    i1 = world.invoice(c.tier1, c.core, 300_000_00)
    world.issue(c.tier1, 300_000_00, invoices=[i1], contract=k1)
    error = refused(world, "trade_check_failed", lambda: world.issue(c.tier1, 300_000_00, invoices=[i1], contract=k1))
    assert [r["rule"] for r in error.fields["results"]] == ["invoice-usage@1"]


def test_a_second_financing_of_an_already_used_invoice_is_rejected(world: TradeWorld) -> None:
    """Tier-1 claims two invoices for its first voucher and only one is needed for it; it then gets a second
    voucher on the spare invoice and finances both vouchers claiming that same spare invoice. The second
    financing would make the invoice back twice its amount: rejected, naming invoice-usage."""
    c = world.chain
    k1 = world.contract(c.tier1, c.core, "PO-1")
    first_invoice = world.invoice(c.tier1, c.core, 400_000_00)
    spare = world.invoice(c.tier1, c.core, 400_000_00)
    v1 = world.issue(c.tier1, 400_000_00, invoices=[first_invoice, spare], contract=k1)
    v2 = world.issue(c.tier1, 400_000_00, invoices=[spare], contract=k1)
    f1 = world.finance(c.tier1, v1["holding_id"], 400_000_00, invoice_refs=[spare])
    assert f1["stage"] == "verified"
    f2 = world.finance(c.tier1, v2["holding_id"], 400_000_00, invoice_refs=[spare])
    assert f2["stage"] == "rejected"
    assert f2["trade_check"]["failed_rules"] == ["invoice-usage@1"]
    assert "encumbered_holding_id" not in f2
    stored = verdicts(world)[f2["financing_id"]]
    reasons = next(r["reasons"] for r in json.loads(stored.results) if r["rule"] == "invoice-usage")
    assert any(f1["financing_id"] in reason for reason in reasons), reasons
    # Nothing was encumbered: the holding is still Tier-1's, live.
    with c.p.engine.connect() as conn:
        status = conn.execute(select(t.holdings.c.status).where(t.holdings.c.id == v2["holding_id"])).scalar_one()
        financing = conn.execute(select(t.financings).where(t.financings.c.id == f2["financing_id"])).one()
    assert status == "live" and financing.status == "declined"


def test_a_financing_of_units_with_no_documented_trade_is_refused(world: TradeWorld) -> None:
    c = world.chain
    k1 = world.contract(c.tier1, c.core, "PO-1")
    i1 = world.invoice(c.tier1, c.core, 100_000_00)
    issued = world.issue(c.tier1, 100_000_00, invoices=[i1], contract=k1)
    # Claiming an invoice that did not back the voucher fails the financing-backing rule.
    other = world.invoice(c.tier1, c.core, 100_000_00)
    rejected = world.finance(c.tier1, issued["holding_id"], 100_000_00, invoice_refs=[other])
    assert rejected["stage"] == "rejected"
    assert "financing-backing@1" in rejected["trade_check"]["failed_rules"]


def test_an_invoice_dated_after_the_hop_fails(world: TradeWorld) -> None:
    c = world.chain
    k1 = world.contract(c.tier1, c.core, "PO-1")
    late = world.invoice(c.tier1, c.core, 100_000_00, issued_on=world.today.replace(day=world.today.day + 2))
    error = refused(world, "trade_check_failed", lambda: world.issue(c.tier1, 100_000_00, invoices=[late],
                                                                     contract=k1))
    assert "invoice-date@1" in [r["rule"] for r in error.fields["results"]]


def test_verdicts_replay_identically(world: TradeWorld, replays_identically: Replayer) -> None:
    done = world.clean_chain()
    world.finance(world.chain.tier3, done["to_tier3"]["holding_id"], 150_000_00)
    replays_identically(world.chain.p.engine)


@pytest.mark.slow
def test_two_concurrent_financings_of_one_invoice_cannot_both_pass(world: TradeWorld) -> None:
    """Two vouchers whose trade claims the same spare invoice, financed at the same moment from two threads: on
    PostgreSQL the claimed invoice's row lock serialises them, on SQLite the single writer does; one is verified,
    the other rejected by invoice-usage."""
    c = world.chain
    k1 = world.contract(c.tier1, c.core, "PO-1")
    first_invoice = world.invoice(c.tier1, c.core, 400_000_00)
    spare = world.invoice(c.tier1, c.core, 400_000_00)
    v1 = world.issue(c.tier1, 400_000_00, invoices=[first_invoice, spare], contract=k1)
    v2 = world.issue(c.tier1, 400_000_00, invoices=[spare], contract=k1)
    commands = [
        c.tier1.command("financing.request", {
            "holding_id": v["holding_id"], "financier": c.bank.party_id, "amount": "400000.00", "currency": "CNY",
            "annual_rate": "0.0365", "invoice_refs": [spare]}, now=c.clock)
        for v in (v1, v2)
    ]
    barrier = threading.Barrier(2)
    stages: list[str] = []

    def run(signed: object) -> None:
        barrier.wait()
        stages.append(str(c.p.ledger.submit(signed).effects["stage"]))  # type: ignore[arg-type]

    threads = [threading.Thread(target=run, args=(cmd,)) for cmd in commands]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(stages) == ["rejected", "verified"]
