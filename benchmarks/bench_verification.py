"""Trade-background verification of 100,000 hops with the rule engine — engine only, facts in memory.

What this measures: ``tierflow.domain.verification.verify`` with the default ``RuleSet`` over every hop of a
synthetic journal, in journal order, in one process, plus the invoice-usage ledger update after each accepted
hop (``allocate_invoice_usage`` → ``InvoiceUsage.with_use``, as the module's callers do). Gathering the facts
from the database (parties, documents, usage records) and storing the verdicts are NOT part of it: every fact
is built in memory before the clock starts. The issue's target ("auto-verification of 100,000 assets in
≤ 60 s on a 2-core machine") therefore is only met end to end if the fact gathering fits in what is left.

The population (seeded ``random.Random``): a few large obligors (not SMEs), suppliers in tiers 1-5 (mostly
SMEs), three banks. Each voucher is issued by an obligor to a tier-1 supplier; each holder passes parts of it
one tier down (0-2 transfers per holding, amounts split), and some holders finance a holding with a bank
(a financing backed by the hop that brought them the holding, claiming its invoices and contract). Every trade
hop has a VAT e-invoice of its own (seller = the hop's payee, buyer = its payer; USCCs valid, check characters
computed with ``uscc_check_char``; total ≥ the hop amount), a contract per trading pair (some with payment
terms short enough to warn), delivery notes on about 30 % of hops; a few related-party pairs. A share of
deliberately bad hops (``--bad-share``) is inserted right after a good hop of the same pair:

- ``reused``: claims the invoice of that earlier, accepted hop again for its full amount → ``invoice-usage``
- ``foreign``: claims an invoice between two other parties → ``invoice-parties``
- ``late``: claims an invoice dated after the hop → ``invoice-date``

The script checks that every bad hop failed, with its expected rule among the failures, and that no good hop
failed; it exits with status 1 (``"valid": false``) otherwise. ``--workers`` is not offered: invoices are
shared across vouchers by the ``reused`` hops and by financings, so splitting by voucher would need the
usage ledger partitioned by invoice first.

    python benchmarks/bench_verification.py --json                # 100,000 hops
    python benchmarks/bench_verification.py --hops 10000 --json
"""

from __future__ import annotations

import argparse
import gc
import random
import sys
import time
from collections import Counter
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from _common import latency_summary, machine, progress, report

from tierflow.domain.documents import USCC_ALPHABET, Contract, DeliveryNote, VatInvoice, uscc_check_char
from tierflow.domain.verification import (
    DEFAULT_RULESET,
    Documents,
    Facts,
    Hop,
    HopKind,
    InvoiceUsage,
    InvoiceUse,
    ObligorStatus,
    Outcome,
    PartyFacts,
    allocate_invoice_usage,
    verify,
)

TARGET_S = 60.0
TIER_SIZES = (40, 160, 400, 700, 900)  # suppliers in tiers 1..5
DIVISIONS = ("110105", "310000", "320500", "330100", "340100", "440300", "510100", "420100")
EXPECTED_RULE = {"reused": "invoice-usage", "foreign": "invoice-parties", "late": "invoice-date"}
START = date(2025, 1, 1)


@dataclass
class Population:
    hops: list[Hop]
    facts: list[Facts]
    bad: dict[str, str]  # hop id -> kind of defect
    parties: int
    invoices: int
    contracts: int
    delivery_notes: int
    related_pairs: int
    vouchers: int


class Generator:
    def __init__(self, seed: int, bad_share: float) -> None:
        self.rng = random.Random(seed)
        self.bad_share = bad_share
        self.usccs: set[str] = set()
        self.obligors = [self.party(f"obligor-{i}", f"Core Enterprise {i}", sme=False) for i in range(5)]
        self.banks = [self.party(f"bank-{i}", f"Bank {i}", sme=False) for i in range(3)]
        self.tiers: list[list[PartyFacts]] = []
        for tier, size in enumerate(TIER_SIZES, start=1):
            sme_share = 0.4 if tier == 1 else 0.85
            self.tiers.append(
                [
                    self.party(f"t{tier}-{i:04d}", f"Tier{tier} Supplier {i:04d}", sme=self.rng.random() < sme_share)
                    for i in range(size)
                ]
            )
        self.invoices: dict[str, VatInvoice] = {}
        self.contracts: dict[tuple[str, str], Contract] = {}
        self.notes: dict[str, DeliveryNote] = {}
        self.hops: list[Hop] = []
        self.obligor_of: dict[str, str] = {}  # voucher id -> obligor id
        self.bad: dict[str, str] = {}
        self.vouchers = 0

    def uscc(self) -> str:
        while True:
            first17 = "91" + self.rng.choice(DIVISIONS) + "".join(self.rng.choices(USCC_ALPHABET, k=9))
            code = first17 + uscc_check_char(first17)
            if code not in self.usccs:
                self.usccs.add(code)
                return code

    def party(self, pid: str, name: str, *, sme: bool) -> PartyFacts:
        return PartyFacts(pid, name, self.uscc(), is_sme=sme)

    def invoice(self, seller: PartyFacts, buyer: PartyFacts, on: date, amount: int) -> VatInvoice:
        total = amount + amount * self.rng.choice((0, 0, 0, 5, 10, 20)) // 100
        tax = total * 13 // 113
        number = f"{on.year % 100:02d}{self.rng.randrange(11, 66):02d}{len(self.invoices) + 1:016d}"
        inv = VatInvoice(number, on, seller.name, seller.uscc, buyer.name, buyer.uscc, total - tax, tax, total)
        self.invoices[number] = inv
        return inv

    def contract(self, seller: PartyFacts, buyer: PartyFacts) -> Contract:
        found = self.contracts.get((seller.id, buyer.id))
        if found is None:
            terms = self.rng.choices((180, 120, 90), weights=(80, 12, 8))[0]
            found = Contract(
                f"SC-{len(self.contracts) + 1:06d}", buyer.id, seller.id, date(2024, 6, 15), date(2024, 7, 1),
                date(2026, 12, 31), 500_000_000_00, "CNY", terms,
            )  # fmt: skip
            self.contracts[(seller.id, buyer.id)] = found
        return found

    def trade_hop(
        self, kind: HopKind, voucher: str, payer: PartyFacts, payee: PartyFacts, on: date, maturity: date, amount: int
    ) -> Hop:
        inv = self.invoice(payee, payer, on - timedelta(days=self.rng.randrange(0, 6)), amount)
        contract = self.contract(payee, payer)
        notes: tuple[str, ...] = ()
        if self.rng.random() < 0.3:
            number = f"DN-{len(self.notes) + 1:07d}"
            delivered = inv.issued_on - timedelta(days=self.rng.randrange(0, 4))
            self.notes[number] = DeliveryNote(number, delivered, payee.id, payer.id, contract.number, "steel parts")
            notes = (number,)
        hop = Hop(
            f"h{len(self.hops) + 1:07d}", kind, voucher, payer, payee, on, maturity, amount, "CNY", (inv.number,),
            contract.number, notes,
        )  # fmt: skip
        self.hops.append(hop)
        if self.rng.random() < self.bad_share:
            self.bad_hop(hop)
        return hop

    def bad_hop(self, good: Hop) -> None:
        defect = self.rng.choice(tuple(EXPECTED_RULE))
        on = good.hop_date + timedelta(days=1)
        payer, payee = good.from_party, good.to_party
        amount = good.amount_minor
        if defect == "reused":
            invoices = good.invoice_numbers
        elif defect == "foreign":
            tier = self.rng.choice(self.tiers)
            seller, buyer = self.rng.sample([p for p in tier if p.id not in (payer.id, payee.id)][:50], 2)
            invoices = (self.invoice(seller, buyer, on, amount).number,)
        else:
            invoices = (self.invoice(payee, payer, on + timedelta(days=self.rng.randrange(1, 11)), amount).number,)
        hop = Hop(
            f"h{len(self.hops) + 1:07d}", HopKind.TRANSFER, good.voucher_id, payer, payee, on, good.maturity, amount,
            "CNY", invoices, good.contract_number,
        )  # fmt: skip
        self.hops.append(hop)
        self.bad[hop.id] = defect

    def financing(self, backing: Hop) -> None:
        bank = self.rng.choice(self.banks)
        amount = max(1, backing.amount_minor * self.rng.randrange(50, 101) // 100)
        self.hops.append(
            Hop(
                f"h{len(self.hops) + 1:07d}", HopKind.FINANCING, backing.voucher_id, backing.to_party, bank,
                backing.hop_date + timedelta(days=self.rng.randrange(1, 11)), backing.maturity, amount, "CNY",
                backing.invoice_numbers, backing.contract_number, backing.delivery_note_numbers, backing=backing,
            )
        )  # fmt: skip

    def voucher(self) -> None:
        rng = self.rng
        self.vouchers += 1
        vid = f"v{self.vouchers:06d}"
        obligor = rng.choice(self.obligors)
        self.obligor_of[vid] = obligor.id
        on = START + timedelta(days=rng.randrange(0, 330))
        maturity = on + timedelta(days=rng.randrange(45, 181))
        amount = rng.randrange(100_000, 5_000_000) * 100
        frontier = [(self.trade_hop(HopKind.ISSUE, vid, obligor, rng.choice(self.tiers[0]), on, maturity, amount), 1)]
        while frontier:
            hop, tier = frontier.pop(0)
            if rng.random() < 0.06:
                self.financing(hop)
            if tier >= len(self.tiers):
                continue
            left = hop.amount_minor
            for _ in range(rng.choices((0, 1, 2), weights=(15, 45, 40))[0]):
                part = left * rng.randrange(20, 61) // 100
                if part < 100:
                    break
                left -= part
                payee = rng.choice(self.tiers[tier])
                day = hop.hop_date + timedelta(days=rng.randrange(1, 5))
                child = self.trade_hop(HopKind.TRANSFER, vid, hop.to_party, payee, day, maturity, part)
                frontier.append((child, tier + 1))

    def build(self, n: int) -> Population:
        with progress() as bar:
            task = bar.add_task("building hops and documents", total=n)
            while len(self.hops) < n:
                self.voucher()
                bar.update(task, completed=min(n, len(self.hops)))
        del self.hops[n:]  # a prefix of generation order: every backing and every "reused" original stays
        order = {h.id: i for i, h in enumerate(self.hops)}
        self.hops.sort(key=lambda h: (h.hop_date, order[h.id]))  # journal order: by date, then as generated
        bad = {hid: d for hid, d in self.bad.items() if hid in order}
        pairs = self.rng.sample(sorted(self.contracts), k=min(30, len(self.contracts)))
        related = frozenset(frozenset(p) for p in pairs)
        docs = Documents(self.invoices, {c.number: c for c in self.contracts.values()}, self.notes)
        status = {o.id: ObligorStatus(o.id, has_overdue_vouchers=False) for o in self.obligors}
        self.ledger: dict[str, InvoiceUsage] = {}
        facts = [Facts(h, docs, status[self.obligor_of[h.voucher_id]], related, self.ledger) for h in self.hops]
        return Population(
            self.hops, facts, bad, len(self.usccs), len(self.invoices), len(self.contracts), len(self.notes),
            len(related), self.vouchers,
        )  # fmt: skip


def run(pop: Population, ledger: dict[str, InvoiceUsage]) -> dict[str, Any]:
    outcomes: Counter[str] = Counter()
    fail_rules: Counter[str] = Counter()
    warn_rules: Counter[str] = Counter()
    kinds: Counter[str] = Counter()
    bad_ok: Counter[str] = Counter()
    bad_wrong: list[str] = []
    good_failed: list[str] = []
    times: list[float] = []
    verdicts = []
    clock = time.perf_counter
    gc.collect()
    with progress() as bar:
        task = bar.add_task("verifying hops", total=len(pop.facts))
        started = clock()
        for i, facts in enumerate(pop.facts):
            t0 = clock()
            verdict = verify(facts)
            if verdict.outcome is not Outcome.FAIL:  # accepted (a warning goes to review, not refusal)
                hop = facts.hop
                allocations, _ = allocate_invoice_usage(facts)
                for a in allocations:
                    record = ledger.get(a.invoice_number)
                    ledger[a.invoice_number] = (record or InvoiceUsage(a.invoice_number)).with_use(
                        InvoiceUse(hop.id, hop.kind, a.amount_minor)
                    )
            times.append(clock() - t0)
            verdicts.append(verdict)
            if i % 2000 == 1999:
                bar.advance(task, 2000)
        total_s = clock() - started
        bar.update(task, completed=len(pop.facts))
    for facts, verdict in zip(pop.facts, verdicts, strict=True):
        hop = facts.hop
        kinds[hop.kind.value] += 1
        outcomes[verdict.outcome.value] += 1
        for r in verdict.results:
            if r.outcome is Outcome.FAIL:
                fail_rules[r.rule] += 1
            elif r.outcome is Outcome.WARN:
                warn_rules[r.rule] += 1
        defect = pop.bad.get(hop.id)
        if defect is None:
            if verdict.outcome is Outcome.FAIL:
                good_failed.append(f"{hop.id}: {[r.rule for r in verdict.failures]}")
        elif EXPECTED_RULE[defect] in {r.rule for r in verdict.failures}:
            bad_ok[defect] += 1
        else:
            bad_wrong.append(f"{hop.id} ({defect}): {verdict.outcome.value} {[r.rule for r in verdict.failures]}")
    return {
        "total_s": total_s, "times": times, "outcomes": outcomes, "fail_rules": fail_rules, "warn_rules": warn_rules,
        "kinds": kinds, "bad_ok": bad_ok, "bad_wrong": bad_wrong, "good_failed": good_failed,
    }  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--hops", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--bad-share", type=float, default=0.02, help="chance of a bad hop after each trade hop")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    started = time.perf_counter()
    gen = Generator(args.seed, args.bad_share)
    pop = gen.build(args.hops)
    build_s = time.perf_counter() - started
    r = run(pop, gen.ledger)

    n = len(pop.hops)
    lat = latency_summary(r["times"])
    bad_total = len(pop.bad)
    valid = not r["bad_wrong"] and not r["good_failed"] and sum(r["bad_ok"].values()) == bad_total
    summary = {
        "benchmark": "trade-background verification (rule engine only, facts in memory; no database)",
        "hops": n,
        "hop_kinds": dict(r["kinds"]),
        "vouchers": pop.vouchers,
        "parties": pop.parties,
        "invoices": pop.invoices,
        "contracts": pop.contracts,
        "delivery_notes": pop.delivery_notes,
        "related_pairs": pop.related_pairs,
        "rules": list(DEFAULT_RULESET.versions),
        "seed": args.seed,
        "build_seconds": round(build_s, 2),
        "verify_seconds": round(r["total_s"], 3),
        "hops_per_second": round(n / r["total_s"], 1),
        "per_hop": lat,
        "target_seconds_per_100k": TARGET_S,
        "projected_seconds_per_100k": round(r["total_s"] * 100_000 / n, 2),
        "meets_target_engine_only": r["total_s"] * 100_000 / n <= TARGET_S,
        "outcomes": dict(r["outcomes"]),
        "failures_by_rule": dict(r["fail_rules"]),
        "warnings_by_rule": dict(r["warn_rules"]),
        "bad_hops": {"total": bad_total, "failed_as_expected": dict(r["bad_ok"]), "not_as_expected": r["bad_wrong"]},
        "good_hops_failed": r["good_failed"][:20],
        "good_hops_failed_count": len(r["good_failed"]),
        "invoices_in_usage_ledger": len(gen.ledger),
        "valid": valid,
        "machine": machine(),
    }
    o = r["outcomes"]
    rows = [
        ("scope", "rule engine only, facts in memory (no database)"),
        ("hops (issue / transfer / financing)",
         f"{n:,} ({r['kinds']['issue']:,} / {r['kinds']['transfer']:,} / {r['kinds']['financing']:,})"),
        ("documents (invoices / contracts / delivery notes)",
         f"{pop.invoices:,} / {pop.contracts:,} / {pop.delivery_notes:,}"),
        ("build time (not timed)", f"{build_s:.1f} s"),
        ("verify all hops + ledger updates", f"{r['total_s']:.2f} s"),
        ("hops/s", f"{n / r['total_s']:,.0f}"),
        ("per hop: median / p99 / max", f"{lat['median_ms']:.3f} / {lat['p99_ms']:.3f} / {lat['max_ms']:.2f} ms"),
        ("outcomes pass / warn / fail", f"{o['pass']:,} / {o['warn']:,} / {o['fail']:,}"),
        ("warnings by rule", ", ".join(f"{k} {v:,}" for k, v in r["warn_rules"].most_common())),
        ("failures by rule", ", ".join(f"{k} {v:,}" for k, v in r["fail_rules"].most_common())),
        ("bad hops failed with the expected rule",
         f"{sum(r['bad_ok'].values()):,} of {bad_total:,} ({', '.join(f'{k} {v}' for k, v in r['bad_ok'].items())})"),
        ("good hops that failed", f"{len(r['good_failed']):,}"),
        ("100k hops projected vs target", f"{r['total_s'] * 100_000 / n:.1f} s / {TARGET_S:.0f} s"),
    ]  # fmt: skip
    report("Trade-background verification (rule engine only)", rows, summary, args.json)
    if not valid:
        sys.exit(1)


if __name__ == "__main__":
    main()
