"""Asset package review of 100,000 assets (hops with their documents), from the database — ``review_package``.

What this measures: ``tierflow.services.asset_review.review_package`` over every voucher of a platform database,
through ``tierflow.store.asset_reads`` (one read-only snapshot): reading the vouchers, accepted transfers,
financings with cases, holdings, parties and their USCCs, the claimed contracts and VAT invoices and the invoice
uses in bulk per chunk, building the hops and running the default rules on each. Wall clock and process CPU time.

What it does not measure: how the data got there. The database is filled in bulk with SQLAlchemy Core straight
into the tables (parties, vouchers, holdings, offers, financings and their cases, documents, invoice uses and the
journal entries the review reads: an offer's date and a financing request's command). Going through the
commands would time signing, journaling and the checks at issue time instead of the review; the journal entries
written here are therefore not signed, and there is no Merkle tree. Setup time is reported separately.

The population (seeded ``random.Random``): 10 core enterprises, 3 banks, 200 / 600 / 1,200 suppliers in tiers
1-3, each with a valid USCC (check character from ``uscc_check_char``). Each voucher is issued by a core
enterprise to a tier-1 supplier; 90 % are passed on in part to tier 2, 60 % of those on to tier 3, and 30 % of
the last holders finance part of their holding with a bank (the financing claims its backing hop's documents).
Every issue and transfer has a contract of its own (in force, payment terms 180 days) and a VAT e-invoice of its
own (20 digits, seller the payee, buyer the payer, total 0-10 % above the hop, dated 1-5 days before it); the
invoice uses are recorded as the platform records them. Deliberately failing, about 0.5 % each:

- ``reused``: a further voucher of the same core enterprise to the same supplier claiming an earlier issue's
  invoice for its full total → ``invoice-usage``;
- ``foreign``: a transfer claiming a registered invoice between two other parties → ``invoice-parties``.

The script checks that exactly those hops fail, each with exactly its rule, and exits with status 1 otherwise.

    python benchmarks/bench_asset_review.py --json                       # 100,000 assets, SQLite
    python benchmarks/bench_asset_review.py --assets 10000 --profile
    python benchmarks/bench_asset_review.py --database-url postgresql+psycopg://postgres@127.0.0.1:5432/test
"""

from __future__ import annotations

import argparse
import cProfile
import hashlib
import json
import pstats
import random
import sys
import time
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from _common import bench_database, console, machine, progress, report
from sqlalchemy import Engine, insert

from tierflow.domain.documents import uscc_check_char
from tierflow.services.asset_review import review_package
from tierflow.store import schema as t
from tierflow.store.asset_reads import asset_reads
from tierflow.store.engine import make_engine

TARGET_S = 60.0
START = date(2026, 1, 12)
TODAY = START + timedelta(days=100)
TIERS = (200, 600, 1200)
DIVISIONS = ("110105", "310000", "320500", "330100", "440300", "510100")
EXPECTED = {"reused": "invoice-usage@1", "foreign": "invoice-parties@1"}
BAD_SHARE = 0.005


def yuan(minor: int) -> str:
    return f"{minor // 100}.{minor % 100:02d}"


@dataclass
class Party:
    id: str
    name: str
    role: str
    uscc: str


@dataclass
class Rows:
    """Rows per table, in insertion order (parents before children)."""

    tables: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    hops: dict[str, int] = field(default_factory=dict)
    bad: dict[str, str] = field(default_factory=dict)  # hop id -> defect
    serial: int = 0

    def add(self, table: str, **row: Any) -> None:
        self.tables.setdefault(table, []).append(row)

    def next_id(self, prefix: str) -> str:
        self.serial += 1
        return f"{prefix}_{self.serial:012d}"


class Builder:
    def __init__(self, assets: int, seed: int) -> None:
        self.rng = random.Random(seed)
        self.assets = assets
        self.rows = Rows()
        self.count = 0
        self.invoice_serial = 0
        self.parties: list[Party] = []
        self.cores = [self._party(f"Core {i:02d} Co", "core_enterprise") for i in range(10)]
        self.banks = [self._party(f"Bank {i} Ltd", "financial_institution") for i in range(3)]
        self.tiers = [[self._party(f"T{n + 1}-{i:04d} Ltd", "supplier") for i in range(size)]
                      for n, size in enumerate(TIERS)]
        self.issued: dict[tuple[str, str], list[tuple[str, int, int, date]]] = {}  # pair -> (invoice, total, used)
        self.spare: list[tuple[str, int, date]] = []

    def _party(self, name: str, role: str) -> Party:
        n = len(self.parties)
        base = "91" + DIVISIONS[n % len(DIVISIONS)] + f"{n:09d}"
        party = Party(f"pty_{n:08d}", name, role, base + uscc_check_char(base))
        self.parties.append(party)
        self.rows.add("parties", id=party.id, name=name, role=role, public_key=hashlib.sha256(name.encode()).digest(),
                      token_hash=None, registered_event=f"evt_party_{n:08d}")
        # The binding the first registered invoice records (every party here trades under its own USCC).
        self.rows.add("party_usccs", party_id=party.id, uscc=party.uscc, created_event=f"evt_party_{n:08d}")
        return party

    # documents ------------------------------------------------------------------------------------

    def _document(self, doc_type: str, number: str, seller: Party, buyer: Party, fields: dict[str, Any],
                  invoice: bool) -> None:
        text = json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        self.rows.add("documents", id=self.rows.next_id("doc"), type=doc_type, number=number,
                      registered_by=seller.id, seller_id=seller.id, buyer_id=buyer.id,
                      seller_uscc=seller.uscc if invoice else None, buyer_uscc=buyer.uscc if invoice else None,
                      fields=text, content_hash=hashlib.sha256(text.encode()).hexdigest(), source="json",
                      created_event="evt_documents")

    def contract(self, seller: Party, buyer: Party, on: date, amount: int) -> str:
        number = self.rows.next_id("PO")
        self._document("contract", number, seller, buyer, {
            "number": number, "seller": seller.id, "buyer": buyer.id,
            "signed_on": (on - timedelta(days=40)).isoformat(),
            "effective_from": (on - timedelta(days=30)).isoformat(),
            "effective_until": (on + timedelta(days=365)).isoformat(),
            "amount": yuan(amount * 2), "currency": "CNY", "payment_terms_days": 180,
        }, invoice=False)
        return number

    def invoice(self, seller: Party, buyer: Party, on: date, total: int) -> str:
        self.invoice_serial += 1
        number = f"{on.year % 100:02d}44{self.invoice_serial:016d}"
        amount = total * 100 // 113
        self._document("vat_invoice", number, seller, buyer, {
            "number": number, "issued_on": on.isoformat(), "seller_name": seller.name, "seller_uscc": seller.uscc,
            "buyer_name": buyer.name, "buyer_uscc": buyer.uscc, "amount": yuan(amount), "tax": yuan(total - amount),
            "total": yuan(total), "currency": "CNY",
        }, invoice=True)
        return number

    def use(self, number: str, use_id: str, kind: str, amount: int) -> None:
        if amount > 0:
            self.rows.add("invoice_uses", invoice_number=number, use_id=use_id, kind=kind, amount_minor=amount,
                          currency="CNY", created_event="evt_uses", released_event=None)

    def event(self, kind: str, actor: str, on: date, body: dict[str, Any]) -> str:
        event_id = self.rows.next_id("evt")
        leaf = json.dumps({"command": {"kind": kind, "actor": actor, "body": body}, "id": event_id},
                          sort_keys=True, separators=(",", ":")).encode()
        self.rows.add("events", id=event_id, kind=kind, actor_id=actor, at=f"{on.isoformat()}T10:00:00Z",
                      command_digest=hashlib.sha256(event_id.encode()).hexdigest(), leaf=leaf, leaf_index=None)
        return event_id

    # hops -----------------------------------------------------------------------------------------

    def hop(self, hop_id: str, kind: str) -> bool:
        """Counts a hop; False once the package is full."""
        if self.count >= self.assets:
            return False
        self.count += 1
        self.rows.hops[kind] = self.rows.hops.get(kind, 0) + 1
        return True

    def holding(self, voucher: str, start: int, end: int, holder: Party, tier: int, parent: str | None,
                status: str) -> str:
        holding_id = self.rows.next_id("hld")
        self.rows.add("holdings", id=holding_id, voucher_id=voucher, start_unit=start, end_unit=end,
                      holder_id=holder.id, tier=tier, parent_id=parent, status=status, created_event="evt_h",
                      closed_event=None)
        return holding_id

    def voucher(self) -> None:
        rng = self.rng
        core, first = rng.choice(self.cores), rng.choice(self.tiers[0])
        issued_on = START + timedelta(days=rng.randrange(0, 60))
        maturity = issued_on + timedelta(days=rng.randrange(150, 180))
        pair = (core.id, first.id)
        earlier = self.issued.get(pair)
        if earlier and rng.random() < BAD_SHARE * 4:  # pairs repeat about once in 4 vouchers at these sizes
            number, total, used, on = earlier[0]
            issued_on = max(issued_on, on + timedelta(days=3))  # a later sale's voucher, on the old invoice
            maturity = issued_on + timedelta(days=rng.randrange(150, 180))
            contract = self.contract(first, core, issued_on, total)
            voucher_id = self.rows.next_id("vch")
            if not self.hop(voucher_id, "issue"):
                return
            self._voucher_row(voucher_id, core, first, total, issued_on, maturity, contract, [number])
            self.holding(voucher_id, 1, total, first, 1, None, "live")
            self.use(number, voucher_id, "issue", min(total - used, total))
            earlier[0] = (number, total, total, on)
            self.rows.bad[voucher_id] = "reused"
            return
        face = rng.randrange(100_000, 5_000_000) * 100
        voucher_id = self.rows.next_id("vch")
        if not self.hop(voucher_id, "issue"):
            return
        contract = self.contract(first, core, issued_on, face)
        total = face + face * rng.randrange(0, 11) // 100
        invoice_on = issued_on - timedelta(days=rng.randrange(1, 6))
        number = self.invoice(first, core, invoice_on, total)
        self.issued.setdefault(pair, []).append((number, total, face, invoice_on))
        self._voucher_row(voucher_id, core, first, face, issued_on, maturity, contract, [number])
        self.use(number, voucher_id, "issue", face)
        # Down the tiers: who holds which holding of how many units, since when, and the trade that brought it.
        holder, units, tier, day = first, face, 1, issued_on
        holding = self.holding(voucher_id, 1, face, first, 1, None, "live")
        backing: tuple[str, str] = (number, contract)
        for next_tier, chance in ((2, 0.9), (3, 0.6)):
            if rng.random() >= chance:
                break
            to = rng.choice(self.tiers[next_tier - 1])
            part = units * rng.randrange(30, 71) // 100
            day = day + timedelta(days=rng.randrange(1, 6))
            offer_id = self.rows.next_id("ofr")
            if not self.hop(offer_id, "transfer"):
                return
            foreign = next_tier == 2 and rng.random() < BAD_SHARE
            k = self.contract(to, holder, day, part)
            if foreign:
                other_core, other_first = rng.choice(self.cores), rng.choice(self.tiers[0])
                invoice_number = self.invoice(other_first, other_core, day - timedelta(days=2), part * 2)
                self.rows.bad[offer_id] = "foreign"
            else:
                invoice_number = self.invoice(to, holder, day - timedelta(days=rng.randrange(1, 6)),
                                              part + part * rng.randrange(0, 11) // 100)
            self._supersede(holding)
            start = self._start(holding)
            offered = self.holding(voucher_id, start, start + part - 1, to, next_tier, holding, "live")
            self.holding(voucher_id, start + part, start + units - 1, holder, tier, holding, "live")
            created = self.event("transfer.offer", holder.id, day, {"holding_id": holding, "recipient": to.id})
            self.rows.add("offers", id=offer_id, voucher_id=voucher_id, holding_id=offered, source_holding_id=holding,
                          sender_id=holder.id, recipient_id=to.id, units=part, trade_ref=k,
                          invoice_refs=json.dumps([invoice_number]), expires_at=f"{day.isoformat()}T12:00:00Z",
                          status="accepted", created_event=created, resolved_event="evt_accept")
            self.use(invoice_number, offer_id, "transfer", part)
            holder, holding, units, tier, backing = to, offered, part, next_tier, (invoice_number, k)
            if foreign:
                return
        if rng.random() < 0.3:
            financing_id = self.rows.next_id("fin")
            if not self.hop(financing_id, "financing"):
                return
            bank = rng.choice(self.banks)
            amount = units * rng.randrange(50, 101) // 100
            value_date = day + timedelta(days=rng.randrange(1, 10))
            self._supersede(holding)
            start = self._start(holding)
            encumbered = self.holding(voucher_id, start, start + amount - 1, holder, tier, holding, "encumbered")
            if amount < units:
                self.holding(voucher_id, start + amount, start + units - 1, holder, tier, holding, "live")
            created = self.event("financing.request", holder.id, value_date,
                                 {"holding_id": holding, "financier": bank.id, "amount": yuan(amount)})
            days = (maturity - value_date).days
            discount = amount * 365 * days // 100_000 // 360 * 10
            self.rows.add("financings", id=financing_id, voucher_id=voucher_id, holding_id=encumbered,
                          funded_holding_id=None, applicant_id=holder.id, financier_id=bank.id, amount_minor=amount,
                          currency="CNY", annual_rate="0.0365", basis="act/360", value_date=value_date,
                          maturity=maturity, days=days, discount_minor=discount, fee_minor=0,
                          net_minor=amount - discount, status="requested", created_event=created, resolved_event=None)
            self.rows.add("financing_cases", financing_id=financing_id, stage="verified", recourse=1,
                          verification_id=None, maker=None, recommendation=None, checker=None, contract_number=None,
                          contract_sha256=None, registry_number=None, payment_message_id=None, payment_sha256=None,
                          bank_reference=None, repaid_minor=0, updated_event=created)
            self.use(backing[0], financing_id, "financing", amount)

    def _voucher_row(self, voucher_id: str, core: Party, first: Party, face: int, issued_on: date, maturity: date,
                     contract: str, invoices: list[str]) -> None:
        self.rows.add("vouchers", id=voucher_id, obligor_id=core.id, first_holder_id=first.id, currency="CNY",
                      face_minor=face, issue_date=issued_on, maturity=maturity, contract_ref=contract,
                      invoice_refs=json.dumps(invoices), split_count=0, status="active", issued_event="evt_issue")

    def _holding_row(self, holding_id: str) -> dict[str, Any]:
        # The holding just added last with this id is near the end of the list.
        for row in reversed(self.rows.tables["holdings"]):
            if row["id"] == holding_id:
                return row
        raise KeyError(holding_id)

    def _supersede(self, holding_id: str) -> None:
        self._holding_row(holding_id)["status"] = "superseded"

    def _start(self, holding_id: str) -> int:
        return int(self._holding_row(holding_id)["start_unit"])

    def build(self) -> Rows:
        while self.count < self.assets:
            self.voucher()
        return self.rows


ORDER = ("parties", "party_usccs", "vouchers", "holdings", "events", "offers", "financings", "financing_cases",
         "documents", "invoice_uses")


def load(engine: Engine, rows: Rows) -> None:
    t.metadata.create_all(engine)
    with engine.begin() as conn:
        for name in ORDER:
            data = rows.tables.get(name, [])
            table = t.metadata.tables[name]
            for start in range(0, len(data), 20_000):
                conn.execute(insert(table), data[start : start + 20_000])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--assets", type=int, default=100_000, help="hops to review (default 100,000)")
    parser.add_argument("--database-url", help="review on this database (a PostgreSQL URL gets a schema of its own)")
    parser.add_argument("--chunk", type=int, default=2000, help="vouchers per chunk (default 2,000)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--profile", action="store_true", help="cProfile the review; top 30 functions on stderr")
    parser.add_argument("--json", action="store_true", help="print the summary as JSON on stdout")
    args = parser.parse_args()

    kind = "postgres" if args.database_url and args.database_url.startswith("postgres") else "sqlite"
    options: dict[str, Any] = {"pg_url": args.database_url} if kind == "postgres" else {}
    with bench_database(kind, **options) as db:
        started = time.perf_counter()
        rows = Builder(args.assets, args.seed).build()
        built = time.perf_counter() - started
        engine = make_engine(db.url)
        started = time.perf_counter()
        load(engine, rows)
        loaded = time.perf_counter() - started
        console.print(f"built {args.assets:,} assets in {built:.1f} s, loaded in {loaded:.1f} s ({kind})")

        profiler = cProfile.Profile() if args.profile else None
        with progress() as bar, asset_reads(engine) as reads:
            task = bar.add_task("reviewing vouchers", total=len(rows.tables["vouchers"]))
            wall, cpu = time.perf_counter(), time.process_time()
            if profiler is not None:
                profiler.enable()
            result = review_package(reads, today=TODAY, chunk=args.chunk,
                                    progress=lambda done, total: bar.update(task, completed=done, total=total))
            if profiler is not None:
                profiler.disable()
            wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        engine.dispose()

    if profiler is not None:
        pstats.Stats(profiler, stream=sys.stderr).sort_stats("cumulative").print_stats(30)

    found = {f.id: [x.version for x in f.failures] for f in result.failed}
    expected = {hop_id: [EXPECTED[defect]] for hop_id, defect in rows.bad.items()}
    valid = found == expected and result.hop_count == args.assets and not result.unreadable_documents
    docs = rows.tables["documents"]
    summary = {
        "benchmark": "asset_review",
        "database": kind,
        "machine": machine(),
        "assets": args.assets,
        "hops": result.hop_count,
        "hops_by_kind": dict(sorted(result.hops.items())),
        "vouchers": result.vouchers,
        "documents": {"contracts": sum(d["type"] == "contract" for d in docs),
                      "vat_invoices": sum(d["type"] == "vat_invoice" for d in docs)},
        "parties": len(rows.tables["parties"]),
        "setup_s": {"build": round(built, 2), "load": round(loaded, 2)},
        "review_s": round(wall, 2),
        "review_cpu_s": round(cpu, 2),
        "hops_per_s": round(result.hop_count / wall),
        "chunk": args.chunk,
        "outcomes": result.as_json()["outcomes"],
        "rule_fails": dict(sorted(result.rule_fails.items())),
        "rule_warns": dict(sorted(result.rule_warns.items())),
        "deliberate_failures": {d: sum(v == d for v in rows.bad.values()) for d in EXPECTED},
        "found_exactly_the_deliberate_failures": found == expected,
        "target_s": TARGET_S,
        "valid": valid,
    }
    if not valid:
        missed = sorted(set(expected) - set(found))[:5]
        extra = [(k, found[k]) for k in sorted(set(found) - set(expected))[:5]]
        console.print(f"[red]mismatch[/]: missed {missed}, unexpected {extra}")
    report("Asset package review", [
        ("assets (hops)", f"{result.hop_count:,}"),
        ("vouchers", f"{result.vouchers:,}"),
        ("setup: build / load", f"{built:.1f} s / {loaded:.1f} s"),
        ("review wall / CPU", f"{wall:.2f} s / {cpu:.2f} s"),
        ("hops/s", f"{result.hop_count / wall:,.0f}"),
        ("pass / warn / fail", " / ".join(str(result.by_outcome.get(o, 0)) for o in ("pass", "warn", "fail"))),
        ("valid", valid),
    ], summary, args.json)
    return 0 if valid else 1


if __name__ == "__main__":
    sys.exit(main())
