"""Asset package review: a bank re-checks the trade background of a package of vouchers at once."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, event, select

from tests.conftest import Chain
from tests.trade_world import TradeWorld
from tierflow.config import Settings
from tierflow.domain.verification import Outcome
from tierflow.services.asset_review import PackageReport, review_package
from tierflow.store import schema as t
from tierflow.store.asset_reads import asset_reads


@pytest.fixture
def settings(database_url: str, tmp_path: Path, request: pytest.FixtureRequest) -> Settings:
    return Settings(
        database_url=database_url,
        data_dir=tmp_path / "var",
        password_hash_memory_kib=1024,
        password_hash_time_cost=1,
        trade_checks=getattr(request, "param", "enforce"),
    )


@pytest.fixture
def world(chain: Chain) -> TradeWorld:
    return TradeWorld(chain)


def review(world: TradeWorld, voucher_ids: list[str] | None = None, **options: Any) -> PackageReport:
    with asset_reads(world.chain.p.engine) as reads:
        return review_package(reads, voucher_ids, today=world.today, **options)


def stored_outcomes(world: TradeWorld) -> dict[str, Outcome]:
    with world.chain.p.engine.connect() as conn:
        rows = conn.execute(select(t.verifications.c.subject_id, t.verifications.c.outcome)).all()
    return {subject: Outcome(outcome) for subject, outcome in rows}


@contextmanager
def statements(engine: Engine) -> Iterator[list[str]]:
    seen: list[str] = []

    def count(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        seen.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", count)


def test_a_clean_chain_reviews_as_it_was_checked(world: TradeWorld) -> None:
    done = world.clean_chain()
    financed = world.finance(world.chain.tier3, done["to_tier3"]["holding_id"], 150_000_00)
    assert financed["stage"] == "verified"

    calls: list[tuple[int, int]] = []
    report = review(world, progress=lambda n, total: calls.append((n, total)))

    assert report.failed == []
    assert dict(report.hops) == {"issue": 1, "transfer": 2, "financing": 1}
    assert report.vouchers == 1 and report.missing_vouchers == []
    assert report.outcomes == stored_outcomes(world)
    assert report.by_outcome[Outcome.FAIL.value] == 0
    assert calls == [(1, 1)]
    summary = report.as_json()
    assert summary["hops"] == 4 and summary["outcomes"]["fail"] == 0 and summary["failed"] == []


def test_unknown_vouchers_are_listed_not_reviewed(world: TradeWorld) -> None:
    done = world.clean_chain()
    report = review(world, [done["issued"]["voucher_id"], "vch-nowhere"])
    assert report.missing_vouchers == ["vch-nowhere"]
    assert report.vouchers == 1 and report.hop_count == 3


@pytest.mark.parametrize("settings", ["record"], indirect=True)
def test_a_transfer_claiming_another_partys_invoice_fails_the_review(world: TradeWorld) -> None:
    c = world.chain
    assert world.other is not None
    k1 = world.contract(c.tier1, c.core, "PO-1")
    i1 = world.invoice(c.tier1, c.core, 500_000_00)
    issued = world.issue(c.tier1, 500_000_00, invoices=[i1], contract=k1)
    k2 = world.contract(c.tier2, c.tier1, "PO-2")
    world.invoice(c.tier2, c.tier1, 50_000_00)  # Tier-2 has invoiced Tier-1 before: its USCC is on record
    # Registered, real, but a sale by Other Co to Core Co, not by Tier-2 to Tier-1. Recorded, not refused.
    foreign = world.invoice(world.other, c.core, 200_000_00)
    moved = world.pay(c.tier1, issued["holding_id"], c.tier2, 100_000_00, invoices=[foreign], contract=k2)

    report = review(world)

    assert [(f.kind, f.id) for f in report.failed] == [("transfer", moved["offer_id"])]
    failures = {f.version: f.reasons for f in report.failed[0].failures}
    assert list(failures) == ["invoice-parties@1"]
    assert any("Other Co" in reason for reason in failures["invoice-parties@1"])
    assert report.rule_fails == {"invoice-parties@1": 1}
    assert report.outcomes == stored_outcomes(world)


@pytest.mark.parametrize("settings", ["record"], indirect=True)
def test_only_the_hop_that_reused_an_invoice_fails(world: TradeWorld) -> None:
    """Each hop is judged against the other hops' use of its invoices, not its own: the first voucher on the
    invoice still passes, the second, which found the invoice spent, fails as it did when it was issued."""
    c = world.chain
    k1 = world.contract(c.tier1, c.core, "PO-1")
    i1 = world.invoice(c.tier1, c.core, 300_000_00)
    first = world.issue(c.tier1, 300_000_00, invoices=[i1], contract=k1)
    again = world.issue(c.tier1, 300_000_00, invoices=[i1], contract=k1)

    report = review(world)

    assert report.outcomes[first["voucher_id"]] is not Outcome.FAIL
    assert [(f.id, [x.version for x in f.failures]) for f in report.failed] == [
        (again["voucher_id"], ["invoice-usage@1"])
    ]
    assert report.outcomes == stored_outcomes(world)


def test_the_review_reads_in_bulk(world: TradeWorld) -> None:
    """A package of 200+ hops costs the same handful of statements as a package of one voucher."""
    c = world.chain
    k1 = world.contract(c.tier1, c.core, "PO-1")
    k2 = world.contract(c.tier2, c.tier1, "PO-2")
    vouchers: list[str] = []
    for _ in range(70):
        issued = world.issue(c.tier1, 10_000_00, invoices=[world.invoice(c.tier1, c.core, 10_000_00)], contract=k1)
        vouchers.append(issued["voucher_id"])
        moved = world.pay(c.tier1, issued["holding_id"], c.tier2, 4_000_00,
                          invoices=[world.invoice(c.tier2, c.tier1, 4_000_00)], contract=k2)
        assert world.finance(c.tier2, moved["holding_id"], 4_000_00)["stage"] == "verified"

    engine = world.chain.p.engine
    with statements(engine) as small:
        one = review(world, vouchers[:1])
    with statements(engine) as large:
        everything = review(world)

    assert one.hop_count == 3 and everything.hop_count == 210
    assert everything.failed == [] and everything.outcomes == stored_outcomes(world)
    assert len(large) <= 20, large
    # The only extra statement is the listing of all vouchers (the small package named its voucher).
    assert len(large) == len(small) + 1, (small, large)

    # In chunks of 10 vouchers: at most 6 statements per further chunk, still nothing per hop.
    with statements(engine) as chunked:
        in_chunks = review(world, chunk=10)
    assert in_chunks.outcomes == everything.outcomes
    assert len(chunked) <= len(large) + 6 * 6, chunked
