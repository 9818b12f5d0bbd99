"""Double spending under real concurrency: OS processes, each with its own platform on the same database,
all try at once to offer the same holding to different suppliers. Exactly one may win."""

from __future__ import annotations

import multiprocessing as mp
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import insert
from sqlalchemy.exc import IntegrityError

from tests.conftest import Chain
from tests.services.conftest import check_holdings
from tierflow.bootstrap import open_platform
from tierflow.client import PartyKey
from tierflow.config import Settings
from tierflow.domain.errors import DomainError
from tierflow.store import schema as t

pytestmark = pytest.mark.slow

WORKERS = 8


class RealClock:
    """The wall clock, shaped like the tests' FakeClock (the children sign with the real time)."""

    @property
    def now(self) -> datetime:
        return datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now


def _spend(url: str, data_dir: str, seed: bytes, holding_id: str, recipient: str, barrier: Any, out: Any) -> None:
    try:
        platform = open_platform(Settings(database_url=url, data_dir=Path(data_dir)), migrate=False)
        key = PartyKey.from_seed(seed)
        signed = key.command("transfer.offer", {
            "holding_id": holding_id, "recipient": recipient, "amount": "1.00", "currency": "CNY",
            "trade_ref": "T-" + recipient[-4:], "invoice_refs": ["I"]})
        barrier.wait(timeout=60)
        try:
            result = platform.ledger.submit(signed)
            out.put(("ok", str(result.effects["offer_id"])))
        except DomainError as error:
            out.put(("refused", error.code))
        finally:
            platform.close()
    except BaseException as error:  # reported to the parent, never lost
        out.put(("crash", repr(error)))


def test_only_one_of_many_processes_spends_a_holding(settings: Settings) -> None:
    platform = open_platform(settings, clock=RealClock())
    try:
        chain = Chain(platform, RealClock())  # type: ignore[arg-type]
        issued = chain.issue("1000.00")
        recipients = [chain.register(f"Supplier {i}", "supplier") for i in range(WORKERS)]
        ctx = mp.get_context("spawn")
        barrier = ctx.Barrier(WORKERS)
        out = ctx.Queue()
        workers = [
            ctx.Process(
                target=_spend,
                args=(settings.database_url, str(settings.data_dir), bytes(chain.tier1.signing_key),
                      str(issued["holding_id"]), r.party_id, barrier, out),
            )
            for r in recipients
        ]
        for w in workers:
            w.start()
        results = [out.get(timeout=120) for _ in workers]
        for w in workers:
            w.join(timeout=60)
        crashes = [r for r in results if r[0] == "crash"]
        assert not crashes, crashes
        winners = [r for r in results if r[0] == "ok"]
        assert len(winners) == 1, results
        losers = {code for kind, code in results if kind == "refused"}
        assert losers <= {"holding_not_available", "concurrent_update"}, results
        check_holdings(platform.engine)
        with platform.engine.connect() as conn:
            offers = conn.execute(t.offers.select()).all()
        assert len(offers) == 1 and offers[0].id == winners[0][1]
    finally:
        platform.close()


def test_postgres_refuses_an_overlapping_live_holding(chain: Chain, database_url: str) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("the exclusion constraint exists on PostgreSQL only")
    issued = chain.issue("1000.00")
    row = {
        "id": "hld_intruder", "voucher_id": issued["voucher_id"], "start_unit": 500, "end_unit": 600,
        "holder_id": chain.tier2.party_id, "tier": 2, "parent_id": issued["holding_id"], "status": "live",
        "created_event": "evt_intruder", "closed_event": None,
    }
    with pytest.raises(IntegrityError, match="ex_holdings_no_overlap"), chain.p.engine.begin() as conn:
        conn.execute(insert(t.holdings).values(**row))
    # A superseded row may overlap: only current holdings must be disjoint.
    with chain.p.engine.begin() as conn:
        conn.execute(insert(t.holdings).values(**{**row, "status": "superseded"}))
    check_holdings(chain.p.engine)
