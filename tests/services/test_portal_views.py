"""The portal's read views, on a small supply chain with exact figures (SQLite always, PostgreSQL when set).

The world: Core Co issues voucher A (1,000.00, due in 30 days) and B (500.00, due in 90 days) to Tier-1; Other Co
issues C (300.00, due in 60 days) to Tier-1. On A, Tier-1 passes 400.00 to Tier-2, who passes 150.00 to Tier-3
(tier 3; Second Bank declines to finance it), and First Bank buys 200.00 of Tier-1's rest. On B, Tier-1 offers
100.00 to Tier-2 (left pending) and asks First Bank to finance 50.00 (left waiting). On C, Second Bank buys
100.00. At A's maturity Core Co pays 800.00: 80% of every holding is paid, the rest (200.00) is overdue.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from tests.conftest import Chain
from tierflow.client import PartyKey
from tierflow.domain.errors import NotAuthorised
from tierflow.domain.model import Party
from tierflow.ledger.checkpoint import Checkpoint, open_checkpoint
from tierflow.ledger.cosignature import cosign
from tierflow.ledger.note import parse_verifier_key
from tierflow.services.errors import InvalidCommand, NotFound
from tierflow.services.queries import format_amount, summary
from tierflow.store import schema as t


@dataclass
class World:
    chain: Chain
    other: PartyKey  # a second core enterprise
    bank2: PartyKey
    a: str
    b: str
    c: str
    fin_a: str
    fin_b: str
    fin_c: str
    declined: str

    def party(self, key: PartyKey) -> Party:
        with self.chain.p.uow() as uow:
            found = uow.repo.get_party(key.party_id)
        assert found is not None
        return found

    @property
    def operator(self) -> Party:
        return self.party(self.chain.p.operator)


def _s(value: object) -> str:
    assert isinstance(value, str)
    return value


def _finance(chain: Chain, who: PartyKey, holding_id: str, bank: PartyKey, amount: str) -> str:
    asked = chain.do(
        who,
        "financing.request",
        holding_id=holding_id,
        financier=bank.party_id,
        amount=amount,
        currency="CNY",
        annual_rate="0.0365",
        fee="1.00",
    )
    return _s(asked["financing_id"])


@pytest.fixture
def world(chain: Chain) -> World:
    other = chain.register("Other Co", "core_enterprise")
    bank2 = chain.register("Second Bank", "financial_institution")
    # Voucher A: three tiers deep, part financed, then partly paid at maturity.
    a = chain.issue("1000.00", days=30)
    to_t2 = chain.offer(chain.tier1, a["holding_id"], chain.tier2, "400.00")
    t2 = chain.do(chain.tier2, "transfer.accept", offer_id=to_t2["offer_id"])
    to_t3 = chain.offer(chain.tier2, t2["holding_id"], chain.tier3, "150.00")
    t3 = chain.do(chain.tier3, "transfer.accept", offer_id=to_t3["offer_id"])
    declined = _finance(chain, chain.tier3, _s(t3["holding_id"]), bank2, "150.00")
    chain.do(bank2, "financing.decline", financing_id=declined, reason="too far down the chain")
    fin_a = _finance(chain, chain.tier1, _s(to_t2["change_holding_id"]), chain.bank, "200.00")
    chain.disburse(fin_a)
    # Voucher B: an offer left pending, a financing left waiting for the bank.
    b = chain.issue("500.00", days=90)
    to_t2_b = chain.offer(chain.tier1, b["holding_id"], chain.tier2, "100.00")
    fin_b = _finance(chain, chain.tier1, _s(to_t2_b["change_holding_id"]), chain.bank, "50.00")
    # Voucher C, of another obligor, financed by another bank.
    maturity_c = (chain.clock.now + timedelta(days=60)).date().isoformat()
    c = chain.do(
        other,
        "voucher.issue",
        first_holder=chain.tier1.party_id,
        amount="300.00",
        currency="CNY",
        maturity=maturity_c,
        contract_ref="PO-OTHER-7",
        invoice_refs=["INV-9"],
    )
    fin_c = _finance(chain, chain.tier1, _s(c["holding_id"]), bank2, "100.00")
    chain.disburse(fin_c, bank=bank2)
    # A's maturity: 800.00 of 1,000.00 paid.
    chain.clock.advance(days=30)
    chain.do(chain.core, "voucher.settle", voucher_id=a["voucher_id"], amount="800.00", currency="CNY")
    voucher_ids = _s(a["voucher_id"]), _s(b["voucher_id"]), _s(c["voucher_id"])
    return World(chain, other, bank2, *voucher_ids, fin_a, fin_b, fin_c, declined)


# --- a core enterprise's payables ----------------------------------------------------------------------


def test_maturity_ladder_buckets_by_month_and_adds_up_to_the_faces(world: World) -> None:
    q, core = world.chain.p.queries, world.party(world.chain.core)
    ladder = q.maturity_ladder(core, core.id)
    assert ladder == [
        {
            "month": "2026-02",
            "currency": "CNY",
            "outstanding_minor": 0,
            "overdue_minor": 20000,
            "paid_minor": 80000,
            "face_minor": 100000,
            "vouchers": 1,
        },
        {
            "month": "2026-04",
            "currency": "CNY",
            "outstanding_minor": 50000,
            "overdue_minor": 0,
            "paid_minor": 0,
            "face_minor": 50000,
            "vouchers": 1,
        },
    ]
    for row in ladder:
        assert row["outstanding_minor"] + row["overdue_minor"] + row["paid_minor"] == row["face_minor"]
    assert q.maturity_ladder(world.operator, core.id) == ladder
    other = world.party(world.other)
    assert q.maturity_ladder(other, other.id) == [
        {
            "month": "2026-03",
            "currency": "CNY",
            "outstanding_minor": 30000,
            "overdue_minor": 0,
            "paid_minor": 0,
            "face_minor": 30000,
            "vouchers": 1,
        }
    ]


def test_only_the_obligor_and_the_operator_see_its_payables(world: World) -> None:
    q = world.chain.p.queries
    core_id = world.chain.core.party_id
    for who in (world.party(world.chain.tier1), world.party(world.other), world.party(world.chain.bank)):
        with pytest.raises(NotFound):
            q.maturity_ladder(who, core_id)
        with pytest.raises(NotFound):
            q.tier_travel(who, core_id)
        with pytest.raises(NotFound):
            q.voucher_reach(who, core_id, limit=10, after=None)
    with pytest.raises(NotFound):
        q.maturity_ladder(world.operator, "pty_nobody")


def test_tier_travel_shows_what_is_unpaid_at_each_tier(world: World) -> None:
    q, core = world.chain.p.queries, world.party(world.chain.core)
    travel = q.tier_travel(core, core.id)
    assert travel == [
        # Tier 1: Tier-1 (8,000 overdue on A, 35,000 live and 5,000 encumbered on B) and the bank (4,000 on A).
        {"tier": 1, "currency": "CNY", "amount_minor": 52000, "holders": 2},
        # Tier 2: Tier-2's overdue 5,000 on A and the 10,000 offered to it on B.
        {"tier": 2, "currency": "CNY", "amount_minor": 15000, "holders": 1},
        {"tier": 3, "currency": "CNY", "amount_minor": 3000, "holders": 1},
    ]
    # Conservation: what is held unpaid is the faces less what was paid.
    assert sum(r["amount_minor"] for r in travel) == 100000 + 50000 - 80000


def test_voucher_reach_pages_by_maturity_with_depth_and_holders(world: World) -> None:
    q, core = world.chain.p.queries, world.party(world.chain.core)
    first = q.voucher_reach(core, core.id, limit=1, after=None)
    assert first.has_more and len(first.items) == 1
    a = first.items[0]
    assert a["id"] == world.a and a["maturity"] == "2026-02-04" and a["status"] == "overdue"
    assert (a["face_minor"], a["outstanding_minor"], a["overdue_minor"], a["paid_minor"]) == (100000, 0, 20000, 80000)
    assert a["deepest_tier"] == 3 and a["holders_ever"] == 4  # Tier-1, Tier-2, Tier-3 and the bank
    assert a["holdings_ever"] == 17
    assert a["contract_ref"] == "PO-2026-001" and a["invoice_refs"] == ["INV-0001"]
    assert a["first_holder_name"] == "Tier-1 Ltd" and a["currency"] == "CNY"
    second = q.voucher_reach(core, core.id, limit=1, after=a["cursor"])
    assert not second.has_more and [v["id"] for v in second.items] == [world.b]
    b = second.items[0]
    assert (b["face_minor"], b["outstanding_minor"], b["deepest_tier"], b["holders_ever"]) == (50000, 50000, 2, 2)
    whole = q.voucher_reach(core, core.id, limit=10, after=None)
    assert [v["id"] for v in whole.items] == [world.a, world.b] and not whole.has_more
    assert sum(v["outstanding_minor"] + v["overdue_minor"] + v["paid_minor"] for v in whole.items) == 150000
    with pytest.raises(InvalidCommand):
        q.voucher_reach(core, core.id, limit=1, after="not-a-cursor")


def test_voucher_tiers_add_up_to_the_face_and_list_every_holding(world: World) -> None:
    q, core = world.chain.p.queries, world.party(world.chain.core)
    tiers = q.voucher_tiers(core, world.a)
    assert tiers["face_minor"] == 100000 and tiers["currency"] == "CNY" and tiers["obligor_name"] == "Core Co"
    assert tiers["tiers"] == [
        {
            "tier": 1,
            "currency": "CNY",
            "amount_minor": 60000,
            "settled_minor": 48000,
            "unpaid_minor": 12000,
            "holders": 2,
        },
        {
            "tier": 2,
            "currency": "CNY",
            "amount_minor": 25000,
            "settled_minor": 20000,
            "unpaid_minor": 5000,
            "holders": 1,
        },
        {
            "tier": 3,
            "currency": "CNY",
            "amount_minor": 15000,
            "settled_minor": 12000,
            "unpaid_minor": 3000,
            "holders": 1,
        },
    ]
    assert sum(r["amount_minor"] for r in tiers["tiers"]) == tiers["face_minor"]
    nodes = tiers["nodes"]
    assert len(nodes) == 17 and not tiers["truncated"]
    assert (
        nodes[0]["parent_id"] is None and nodes[0]["amount_minor"] == 100000 and nodes[0]["holder_name"] == "Tier-1 Ltd"
    )
    seen: set[str] = set()
    for node in nodes:  # parents before children
        assert node["parent_id"] is None or node["parent_id"] in seen
        seen.add(node["id"])
    current = [n for n in nodes if n["status"] != "superseded"]
    assert sum(n["amount_minor"] for n in current) == 100000
    assert {n["holder_name"] for n in nodes} == {"Tier-1 Ltd", "Tier-2 Ltd", "Tier-3 Ltd", "First Bank"}
    capped = q.voucher_tiers(world.operator, world.a, limit=5)
    assert capped["truncated"] and [n["id"] for n in capped["nodes"]] == [n["id"] for n in nodes[:5]]
    # A holder sees its own holdings, not the whole tree; another obligor sees nothing of it.
    for who in (world.party(world.chain.tier1), world.party(world.other), world.party(world.chain.bank)):
        with pytest.raises(NotFound):
            q.voucher_tiers(who, world.a)


# --- wallets, offers, a bank's queue and portfolio -------------------------------------------------------


def test_wallet_pages_by_maturity_with_totals_per_status(world: World) -> None:
    q, tier1 = world.chain.p.queries, world.party(world.chain.tier1)
    first = q.wallet(tier1, limit=4, after=None)
    assert first["has_more"] and len(first["items"]) == 4 and first["next_after"] == first["items"][-1]["cursor"]
    rest = q.wallet(tier1, limit=4, after=first["next_after"])
    assert not rest["has_more"] and rest["next_after"] is None and len(rest["items"]) == 1
    items = first["items"] + rest["items"]
    assert len({h["id"] for h in items}) == 5  # C's financed 100.00 went to Second Bank
    assert [h["voucher_id"] for h in items] == [world.a, world.a, world.c, world.b, world.b]
    assert [h["maturity"] for h in items] == sorted(h["maturity"] for h in items)
    assert {h["obligor_name"] for h in items} == {"Core Co", "Other Co"}
    assert all(h["holder"] == tier1.id and h["currency"] == "CNY" for h in items)
    assert sum(h["amount_minor"] for h in items) == 32000 + 8000 + 20000 + 5000 + 35000
    assert first["totals"] == [
        {"status": "encumbered", "currency": "CNY", "amount_minor": 5000, "count": 1},
        {"status": "live", "currency": "CNY", "amount_minor": 55000, "count": 2},
        {"status": "overdue", "currency": "CNY", "amount_minor": 8000, "count": 1},
        {"status": "settled", "currency": "CNY", "amount_minor": 32000, "count": 1},
    ]
    live = q.wallet(tier1, status="live", limit=10, after=None)
    assert [h["status"] for h in live["items"]] == ["live", "live"] and live["totals"] == first["totals"]
    assert sum(h["amount_minor"] for h in live["items"]) == 55000
    # The bank's wallet is its own; the operator's is everyone's, and adds up to every face.
    bank = q.wallet(world.party(world.chain.bank), limit=10, after=None)
    assert {h["holder"] for h in bank["items"]} == {world.chain.bank.party_id}
    everyone = q.wallet(world.operator, limit=100, after=None)
    assert sum(r["amount_minor"] for r in everyone["totals"]) == 100000 + 50000 + 30000
    assert sum(h["amount_minor"] for h in everyone["items"]) == 180000


def test_offers_carry_the_parties_names(world: World) -> None:
    q, tier2 = world.chain.p.queries, world.party(world.chain.tier2)
    incoming = q.offers(tier2, direction="incoming", status=None, limit=10, after=None).items
    assert len(incoming) == 2
    assert {(o["sender_name"], o["recipient_name"], o["obligor_name"]) for o in incoming} == {
        ("Tier-1 Ltd", "Tier-2 Ltd", "Core Co")
    }
    assert sorted((o["status"], o["amount_minor"]) for o in incoming) == [("accepted", 40000), ("pending", 10000)]
    assert all(o["amount"]["currency"] == "CNY" and o["currency"] == "CNY" for o in incoming)
    outgoing = q.offers(tier2, direction="outgoing", status=None, limit=10, after=None).items
    assert [(o["recipient_name"], o["amount_minor"], o["maturity"]) for o in outgoing] == [
        ("Tier-3 Ltd", 15000, "2026-02-04")
    ]
    assert (
        q.offers(world.party(world.chain.tier3), direction="incoming", status="pending", limit=10, after=None).items
        == []
    )


def test_financing_queue_has_the_facts_to_decide_and_only_the_banks_own(world: World) -> None:
    q = world.chain.p.queries
    bank, bank2 = world.party(world.chain.bank), world.party(world.bank2)
    queue = q.financing_queue(bank, limit=10, after=None)
    assert [f["id"] for f in queue.items] == [world.fin_b] and not queue.has_more
    f = queue.items[0]
    assert f["applicant_name"] == "Tier-1 Ltd" and f["financier_name"] == "First Bank"
    assert f["obligor"] == world.chain.core.party_id and f["obligor_name"] == "Core Co"
    assert f["obligor_overdue"] is True  # Core Co's voucher A is partly unpaid
    assert (f["amount_minor"], f["currency"], f["days"], f["maturity"]) == (5000, "CNY", 90, "2026-04-05")
    assert f["discount_minor"] + f["fee_minor"] + f["net_minor"] == f["amount_minor"] and f["fee_minor"] == 100
    assert f["annual_rate"] == "0.0365" and f["basis"] == "ACT/360"
    assert (f["tier"], f["chain_length"], f["holding_status"]) == (1, 1, "encumbered")
    assert f["contract_ref"] == "PO-2026-001" and f["invoice_refs"] == ["INV-0001"]
    every = q.financing_queue(bank, status=None, limit=1, after=None)
    assert every.has_more and len(every.items) == 1
    more = q.financing_queue(bank, status=None, limit=1, after=every.items[0]["cursor"])
    assert {every.items[0]["id"], more.items[0]["id"]} == {world.fin_a, world.fin_b} and not more.has_more
    funded = q.financing_queue(bank2, status="funded", limit=10, after=None).items
    assert [(x["id"], x["obligor_name"], x["obligor_overdue"]) for x in funded] == [(world.fin_c, "Other Co", False)]
    assert q.financing_queue(bank2, limit=10, after=None).items == []
    # Tier-3's request, three hops from Core Co, declined by Second Bank.
    declined = q.financing_queue(bank2, status="declined", limit=10, after=None).items
    assert [(x["id"], x["applicant_name"], x["chain_length"], x["obligor_overdue"]) for x in declined] == [
        (world.declined, "Tier-3 Ltd", 3, True)
    ]
    assert declined[0]["amount_minor"] == 15000 and declined[0]["holding_status"] == "superseded"
    assert q.financing_queue(world.party(world.chain.tier1), limit=10, after=None).items == []
    assert [x["id"] for x in q.financing_queue(world.operator, limit=10, after=None).items] == [world.fin_b]


def test_portfolio_groups_a_banks_units_by_obligor_and_month(world: World) -> None:
    q = world.chain.p.queries
    bank, bank2 = world.party(world.chain.bank), world.party(world.bank2)
    mine = q.portfolio(bank, bank.id)
    assert mine["financier_name"] == "First Bank"
    assert mine["rows"] == [
        {
            "obligor": world.chain.core.party_id,
            "obligor_name": "Core Co",
            "currency": "CNY",
            "month": "2026-02",
            "amount_minor": 4000,
            "overdue_minor": 4000,
            "count": 1,
        },
    ]  # the 16,000 paid is no longer held; B's 50.00 is not funded yet
    assert mine["obligors"] == [
        {
            "obligor": world.chain.core.party_id,
            "obligor_name": "Core Co",
            "currency": "CNY",
            "amount_minor": 4000,
            "overdue_minor": 4000,
            "count": 1,
        }
    ]
    assert mine["totals"] == [{"currency": "CNY", "amount_minor": 4000, "overdue_minor": 4000, "count": 1}]
    theirs = q.portfolio(bank2, bank2.id)
    assert [(r["obligor_name"], r["month"], r["amount_minor"]) for r in theirs["rows"]] == [
        ("Other Co", "2026-03", 10000)
    ]
    assert q.portfolio(world.operator, bank.id) == mine
    for who in (bank2, world.party(world.chain.tier1), world.party(world.chain.core)):
        with pytest.raises(NotFound):
            q.portfolio(who, bank.id)


# --- history and the journal -----------------------------------------------------------------------------


def test_history_lists_what_concerned_the_party_newest_first_with_summaries(world: World) -> None:
    q, tier3 = world.chain.p.queries, world.party(world.chain.tier3)
    pages = [q.party_history(tier3, limit=2, before=None)]
    while pages[-1].has_more:
        pages.append(q.party_history(tier3, limit=2, before=pages[-1].items[-1]["cursor"]))
    assert [len(page.items) for page in pages] == [2, 2, 2]
    events = [e for page in pages for e in page.items]
    assert [e["seq"] for e in events] == sorted((e["seq"] for e in events), reverse=True)
    assert [e["kind"] for e in events] == [
        "voucher.settle",
        "financing.decline",
        "financing.request",
        "transfer.accept",
        "transfer.offer",
        "party.register",
    ]
    assert [e["summary"] for e in events] == [
        f"Paid CNY 800.00 on voucher {world.a}; CNY 200.00 overdue",
        "Second Bank declined to finance CNY 150.00 for Tier-3 Ltd",
        "Asked Second Bank to finance CNY 150.00 at 0.0365 a year",
        "Tier-3 Ltd accepted CNY 150.00 from Tier-2 Ltd",
        f"Offered CNY 150.00 to Tier-3 Ltd (trade C-{world.chain.tier3.party_id[-4:]})",
        "Registered Tier-3 Ltd (supplier)",
    ]
    assert [e["actor_name"] for e in events] == [
        "Core Co",
        "Second Bank",
        "Tier-3 Ltd",
        "Tier-3 Ltd",
        "Tier-2 Ltd",
        "Platform operator",
    ]
    assert events[1]["details"]["reason"] == "too far down the chain"
    assert all(e["leaf_index"] is None for e in events)  # not integrated yet
    world.chain.p.journal.integrate_all()
    assert all(isinstance(e["leaf_index"], int) for e in q.party_history(tier3, limit=10, before=None).items)
    # The bank's history: the funding of A, the request on B; never Second Bank's deal.
    bank_events = q.party_history(world.party(world.chain.bank), limit=50, before=None).items
    summaries = [e["summary"] for e in bank_events]
    assert "First Bank funded CNY 200.00 for Tier-1 Ltd" in summaries
    assert "Asked First Bank to finance CNY 50.00 at 0.0365 a year" in summaries
    assert not any("Second Bank" in s for s in summaries)
    everything = q.party_history(world.operator, limit=500, before=None)
    with world.chain.p.engine.connect() as conn:
        total = int(conn.execute(select(func.count()).select_from(t.events)).scalar_one())
    assert len(everything.items) == total and not everything.has_more
    with pytest.raises(InvalidCommand):
        q.party_history(tier3, limit=2, before="x")


def test_journal_overview_is_for_the_operator_with_counts_and_checkpoints(world: World) -> None:
    p = world.chain.p
    q = p.queries
    with p.engine.connect() as conn:
        total = int(conn.execute(select(func.count()).select_from(t.events)).scalar_one())
    before = q.journal_overview(world.operator, limit=3, before=None)
    assert before["counts"] == {"events": total, "integrated": 0, "pending": total, "checkpoints": 0}
    assert before["checkpoints"] == [] and before["has_more"] and len(before["events"]) == 3
    assert before["events"][0]["kind"] == "voucher.settle" and before["events"][0]["actor_name"] == "Core Co"
    older = q.journal_overview(world.operator, limit=3, before=before["next_before"])
    assert older["events"][0]["seq"] < before["events"][-1]["seq"]
    p.journal.integrate_all()
    after = q.journal_overview(world.operator, limit=500, before=None)
    assert after["counts"] == {"events": total, "integrated": total, "pending": 0, "checkpoints": 1}
    assert not after["has_more"] and after["next_before"] is None
    assert sorted(e["leaf_index"] for e in after["events"]) == list(range(total))
    # The bank witnesses the checkpoint: one cosignature.
    signed = open_checkpoint(p.journal.latest_checkpoint(), parse_verifier_key(p.journal.verifier_key()))
    size = signed.checkpoint.size
    bank_key = world.chain.bank
    line = cosign(
        Checkpoint(signed.checkpoint.origin, size, signed.checkpoint.root),
        bank_key.party_id,
        bank_key.signing_key,
        int(world.chain.clock.now.timestamp()),
    )
    p.journal.add_cosignature(world.party(bank_key), size, line)
    [checkpoint] = q.journal_overview(world.operator, limit=1, before=None)["checkpoints"]
    assert checkpoint["size"] == total and checkpoint["cosignatures"] == 1 and checkpoint["signed_at"].endswith("Z")
    assert checkpoint["root"] and isinstance(checkpoint["root"], str)
    for who in (world.chain.core, world.chain.tier1, world.chain.bank):
        with pytest.raises(NotAuthorised):
            q.journal_overview(world.party(who), limit=10, before=None)


def test_amounts_are_formatted_exactly() -> None:
    assert format_amount(123456789, "CNY") == "CNY 1,234,567.89"
    assert format_amount(5, "CNY") == "CNY 0.05"
    assert format_amount(1250000, "JPY") == "JPY 1,250,000"
    assert (
        summary("transfer.offer", {"amount_minor": 100, "currency": "USD", "counterparty": "pty_x", "trade_ref": "T1"})
        == "Offered USD 1.00 to pty_x (trade T1)"
    )
    assert summary("some.new_kind", {}) == "some.new_kind"
