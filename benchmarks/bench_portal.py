"""Server time of each main portal page with 10,000+ holdings in the database.

The data is made through the real services (signed commands, group-committed in batches), shaped like a busy
platform: 3 core enterprises, 200 suppliers, 3 banks; 300 vouchers issued to 20 tier-1 suppliers, then rounds
of splits and transfers one tier down (a quarter of them to one "main" supplier, whose wallet becomes large),
financing requests (some funded, some left in the bank's queue) — until the holdings table has ``--holdings``
rows. Then each page is requested ``--repeat`` times in-process (Starlette's TestClient: no network, so the
time is the server's: routing, session check, queries, template) after a warm-up, signed in as the person who
would look at it.

    python benchmarks/bench_portal.py                     # SQLite, 10,000 holdings
    python benchmarks/bench_portal.py --db postgres --json
"""

from __future__ import annotations

import argparse
import random
import re
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from _common import bench_database, latency_summary, machine, progress, report
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from tierflow.bootstrap import Platform, open_platform
from tierflow.client import PartyKey
from tierflow.config import Settings
from tierflow.domain.model import Party, Role
from tierflow.domain.money import Money
from tierflow.portal import create_app
from tierflow.services.accounts import PortalRole
from tierflow.services.ledger import Submission
from tierflow.store import schema as t

PASSWORD = "benchmark-password"
TARGET_MS = 200.0


class Builder:
    def __init__(self, platform: Platform, seed: int) -> None:
        self.p = platform
        self.rng = random.Random(seed)
        self.keys: dict[str, PartyKey] = {}

    def submit(self, commands: list[Any]) -> list[Any]:
        out: list[Any] = []
        for start in range(0, len(commands), 256):
            out += self.p.ledger.submit_batch([Submission(c) for c in commands[start : start + 256]])
        return out

    def register(self, name: str, role: str) -> PartyKey:
        key = PartyKey.from_seed(self.rng.randbytes(32))
        self.p.ledger.submit(key.registration(name=name, role=role, operator_id=self.p.operator.party_id))
        self.keys[key.party_id] = key
        return key

    def live(self, holder: str | None = None, limit: int = 100_000) -> list[Any]:
        h = t.holdings.c
        stmt = select(h.id, h.holder_id, h.start_unit, h.end_unit).where(h.status == "live")
        stmt = stmt.where(h.holder_id == holder) if holder else stmt.where(h.tier < 11)
        with self.p.engine.connect() as conn:
            return list(conn.execute(stmt.limit(limit)))

    def holdings_count(self) -> int:
        with self.p.engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(t.holdings)).scalar_one())


def build(platform: Platform, target: int, seed: int) -> dict[str, Any]:
    b = Builder(platform, seed)
    cores = [b.register(f"Core Enterprise {i}", "core_enterprise") for i in range(3)]
    banks = [b.register(f"Bank {i}", "financial_institution") for i in range(3)]
    suppliers = [b.register(f"Supplier {i:03d}", "supplier") for i in range(200)]
    main = suppliers[0]
    maturity = (datetime.now(UTC) + timedelta(days=120)).date()
    b.submit(
        [
            cores[v % 3].command(
                "voucher.issue",
                {
                    "first_holder": suppliers[v % 20].party_id,
                    "amount": Money(b.rng.randrange(1_000_000, 50_000_000) * 100, "CNY").to_str(),
                    "currency": "CNY",
                    "maturity": (maturity + timedelta(days=v % 90)).isoformat(),
                    "contract_ref": f"PO-{v:05d}",
                    "invoice_refs": [f"{b.rng.randrange(10**19, 10**20)}"],
                },
            )
            for v in range(300)
        ]
    )
    with progress() as bar:
        task = bar.add_task("building holdings", total=target)
        while (count := b.holdings_count()) < target:
            bar.update(task, completed=count)
            live = b.live()
            batch = b.rng.sample(live, k=min(len(live), 1500, max(1, (target - count) // 3 + 1)))
            offers = []
            for row in batch:
                units = row.end_unit - row.start_unit + 1
                if units < 200:
                    continue
                recipient = main if b.rng.random() < 0.25 and row.holder_id != main.party_id else None
                while recipient is None or recipient.party_id == row.holder_id:
                    recipient = b.rng.choice(suppliers)
                offers.append(
                    b.keys[row.holder_id].command(
                        "transfer.offer",
                        {
                            "holding_id": row.id,
                            "recipient": recipient.party_id,
                            "amount": Money(units // 2, "CNY").to_str(),
                            "currency": "CNY",
                            "trade_ref": f"SC-{b.rng.randrange(10**6)}",
                            "invoice_refs": [f"{b.rng.randrange(10**19, 10**20)}"],
                        },
                    )
                )
            results = b.submit(offers)
            accepts = [
                b.keys[o.command["body"]["recipient"]].command("transfer.accept", {"offer_id": r.effects["offer_id"]})
                for o, r in zip(offers, results, strict=True)
                if not isinstance(r, Exception)
            ]
            b.submit(accepts)
        bar.update(task, completed=b.holdings_count())
    # Financing: the main supplier asks the first bank about 120 of its holdings; half are funded.
    requests = [
        main.command(
            "financing.request",
            {
                "holding_id": row.id,
                "financier": banks[0].party_id,
                "amount": Money(row.end_unit - row.start_unit + 1, "CNY").to_str(),
                "currency": "CNY",
                "annual_rate": "0.0365",
            },
        )
        for row in b.live(main.party_id, limit=120)
    ]
    # Half go through the institution's workflow to disbursement (the files' hashes are placeholders here: the
    # page reads are measured, not the signing).
    chosen = [r for r in b.submit(requests)[::2] if not isinstance(r, Exception)]
    ids = [str(r.effects["financing_id"]) for r in chosen]
    steps: list[tuple[PartyKey, str, dict[str, Any]]] = [
        (banks[0], "financing.review", {"user": "maker", "recommendation": "approve"}),
        (banks[0], "financing.approve", {"user": "checker"}),
        (main, "financing.sign", {"contract_sha256": "a" * 64}),
        (banks[0], "financing.sign", {"contract_sha256": "b" * 64}),
        (banks[0], "financing.register", {"registry_number": "0" * 20}),
        (banks[0], "financing.fund", {"payment_sha256": "c" * 64, "bank_reference": "B-1"}),
    ]
    for who, kind, extra in steps:
        body = dict(extra)
        if kind == "financing.sign":
            body["contract_number"] = "FC"
        if kind == "financing.fund":
            body["payment_message_id"] = "M"
        b.submit([who.command(kind, {"financing_id": fid, **body}) for fid in ids])
    platform.journal.integrate_all()
    platform.journal.publish_checkpoint()
    people = {"core": cores[0], "supplier": main, "bank": banks[0]}
    for name, key in people.items():
        platform.accounts.keep_signing_key(key.party_id, key.signing_key)
        platform.accounts.create_user(
            username=name, password=PASSWORD, party_id=key.party_id, display_name=name, role=PortalRole.MEMBER
        )
    platform.accounts.create_user(
        username="auditor", password=PASSWORD, party_id=platform.operator.party_id, display_name="auditor",
        role=PortalRole.AUDITOR,
    )
    return {"holdings": b.holdings_count(), "core": cores[0], "supplier": main, "bank": banks[0]}


def sign_in(app: Any, username: str) -> TestClient:
    client = TestClient(app)
    r = client.post("/portal/login", data={"username": username, "password": PASSWORD}, follow_redirects=False)
    assert r.status_code == 303, r.text
    return client


def pages(platform: Platform, built: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(label, user, path) of each main page, with real ids from the data."""
    op = platform.queries
    operator = Party(platform.operator.party_id, "operator", Role.OPERATOR, platform.operator.public_key)
    core = built["core"].party_id
    supplier_holding = op.holdings(
        Party(built["supplier"].party_id, "s", Role.SUPPLIER, built["supplier"].public_key),
        voucher_id=None, status="live", limit=1, after=None,
    ).items[0]
    queue = op.financings(operator, status="requested", limit=1, after=None).items[0]
    h = t.holdings.c
    with platform.engine.connect() as conn:
        # The worst cases: the voucher with the most holdings (its graph and tier table), the deepest holding.
        busiest = conn.execute(
            select(h.voucher_id).group_by(h.voucher_id).order_by(func.count().desc()).limit(1)
        ).scalar_one()
        core_busiest = conn.execute(
            select(h.voucher_id)
            .join(t.vouchers, t.vouchers.c.id == h.voucher_id)
            .where(t.vouchers.c.obligor_id == core)
            .group_by(h.voucher_id)
            .order_by(func.count().desc())
            .limit(1)
        ).scalar_one()
        wallet = conn.execute(
            select(func.count()).where(h.holder_id == built["supplier"].party_id, h.status != "superseded")
        ).scalar_one()
        deep = conn.execute(
            select(t.holdings.c.id).order_by(t.holdings.c.tier.desc()).limit(1)
        ).scalar_one()
        event = conn.execute(select(t.events.c.id).where(t.events.c.leaf_index == 5)).scalar_one()
    built["wallet_size"] = int(wallet)
    return [
        ("core: payables and charts", "core", "/portal/core"),
        ("core: voucher with its tiers", "core", f"/portal/core/vouchers/{core_busiest}"),
        ("core: issue form", "core", "/portal/core/issue"),
        ("supplier: wallet", "supplier", "/portal/supplier"),
        ("supplier: holding with forms", "supplier", f"/portal/supplier/holdings/{supplier_holding['id']}"),
        ("supplier: offers", "supplier", "/portal/supplier/offers"),
        ("supplier: financings", "supplier", "/portal/supplier/financings"),
        ("supplier: history", "supplier", "/portal/history"),
        ("bank: request queue", "bank", "/portal/bank"),
        ("bank: request with provenance", "bank", f"/portal/bank/financings/{queue['id']}"),
        ("bank: portfolio", "bank", "/portal/bank/portfolio"),
        ("auditor: journal", "auditor", "/portal/audit"),
        ("auditor: verify a receipt", "auditor", f"/portal/audit/verify?event={event}"),
        ("auditor: voucher provenance graph", "auditor", f"/portal/audit/vouchers/{busiest}"),
        ("auditor: holding chain", "auditor", f"/portal/audit/holdings/{deep}"),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--holdings", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    with bench_database(args.db) as db:
        settings = Settings(database_url=db.url, data_dir=db.workdir / "var", trade_checks="record")
        platform = open_platform(settings)
        started = time.perf_counter()
        built = build(platform, args.holdings, args.seed)
        build_s = time.perf_counter() - started
        app = create_app(platform, background=False)
        clients = {name: sign_in(app, name) for name in ("core", "supplier", "bank", "auditor")}
        results: dict[str, Any] = {}
        with progress() as bar:
            targets = pages(platform, built)
            task = bar.add_task("timing pages", total=len(targets))
            for label, user, path in targets:
                client = clients[user]
                for _ in range(3):
                    assert client.get(path).status_code == 200, (label, path)
                times = []
                for _ in range(args.repeat):
                    start = time.perf_counter()
                    response = client.get(path)
                    times.append(time.perf_counter() - start)
                    assert response.status_code == 200
                results[label] = {"path": re.sub(r"(vch|hld|fin|evt)_\w+", r"\1_…", path),
                                  "bytes": len(response.content), **latency_summary(times)}
                bar.advance(task)
        platform.close()
    worst = max(r["p90_ms"] for r in results.values())
    summary = {
        "benchmark": "portal pages",
        "database": args.db,
        "holdings": built["holdings"],
        "main_supplier_wallet": built["wallet_size"],
        "build_seconds": round(build_s, 1),
        "repeat": args.repeat,
        "target_ms": TARGET_MS,
        "worst_p90_ms": worst,
        "meets_target": worst <= TARGET_MS,
        "pages": results,
        "machine": machine(),
    }
    rows = [(f"{label} ({r['path']})", f"median {r['median_ms']:.1f} ms · p90 {r['p90_ms']:.1f} ms")
            for label, r in results.items()]
    rows.append(("holdings in the database", f"{built['holdings']:,}"))
    rows.append(("current holdings in the main supplier's wallet", f"{built['wallet_size']:,}"))
    rows.append(("worst p90 vs target", f"{worst:.1f} ms / {TARGET_MS:.0f} ms"))
    report("Portal pages, server time", rows, summary, args.json)


if __name__ == "__main__":
    main()
