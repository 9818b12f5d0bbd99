"""A realistic demo supply chain, built through the same service layer as every other client.

A few core enterprises, hundreds of suppliers arranged in tiers 1..11 (each supplier sells to a few
customers one tier below it), a few banks. Time is simulated: the first vouchers are issued about four
months ago and settled at maturity (one obligor pays only part, so some units go overdue); a second wave
issued recently is still circulating, so the platform opens with live holdings, offers and financing
requests. Random choices come from a seeded generator: the same seed builds the same chain.

Every hop rests on registered trade documents (a sales contract and a VAT e-invoice between the trading
parties, also issued in the simulated tax authority's register), so the trade checks pass as they would for a
real chain. Most financing requests go the whole way through the institution's workflow: review by one
person, approval by another, the contract PDF signed by both (PAdES), registration with the simulated
financing registry, and disbursement by a pain.001 through the simulated bank.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from tierflow.bootstrap import Platform
from tierflow.client import PartyKey
from tierflow.domain.documents import uscc_check_char
from tierflow.domain.errors import DomainError
from tierflow.domain.model import Party, Role
from tierflow.domain.money import Money
from tierflow.ledger.checkpoint import Checkpoint
from tierflow.ledger.cosignature import cosign
from tierflow.services.external import ExternalServiceError
from tierflow.services.financing_case import Acting
from tierflow.services.payment_data import Account

SUPPLIER_NAMES = (
    "Precision",
    "Huaxin",
    "Evergreen",
    "Pearl River",
    "Jade",
    "Zhongtian",
    "Sunrise",
    "Golden",
    "Yangtze",
    "Harbor",
    "Summit",
    "Lotus",
    "Dragon Gate",
    "Silk Road",
    "Bluesky",
    "Kunlun",
)
GOODS = (
    "Components",
    "Castings",
    "Plastics",
    "Electronics",
    "Logistics",
    "Packaging",
    "Textiles",
    "Metals",
    "Chemicals",
    "Machinery",
    "Cables",
    "Glass",
)
CORES = ("Northwind Motors", "Eastern Grid Equipment", "Pacific Appliances", "Great Wall Construction")
BANKS = ("First Commercial Bank", "Harbour Factoring", "Merchants Trade Finance", "Coastal Credit Bank")


class SimulatedClock:
    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, delta: timedelta) -> None:
        self.now += delta


# GB 32100 characters allowed in an organisation code (no I, O, S, V, Z).
_ORG_CHARS = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_REGIONS = ("440300", "310000", "110000", "320500", "330100", "440100", "370200", "420100")


@dataclass(eq=False)
class Member:
    name: str
    role: str
    key: PartyKey
    tier: int = 0
    suppliers: list[Member] = field(default_factory=list)
    uscc: str = ""
    account: Account | None = None

    @property
    def id(self) -> str:
        return self.key.party_id


@dataclass
class DemoSummary:
    parties: dict[str, int] = field(default_factory=dict)
    vouchers: int = 0
    face_issued: int = 0
    transfers_offered: int = 0
    transfers_accepted: int = 0
    transfers_rejected: int = 0
    financings_funded: int = 0
    financings_declined: int = 0
    financings_in_review: int = 0
    documents: int = 0
    green_labels: int = 0
    financed_net: int = 0
    settlements: int = 0
    paid: int = 0
    overdue: int = 0
    deepest_tier: int = 0
    refused: dict[str, int] = field(default_factory=dict)
    journal_size: int = 0
    cosignatures: int = 0

    def as_json(self) -> dict[str, Any]:
        def cny(minor: int) -> str:
            return Money(minor, "CNY").to_str()

        return {
            "parties": self.parties,
            "vouchers": self.vouchers,
            "face_issued": cny(self.face_issued),
            "transfers": {
                "offered": self.transfers_offered,
                "accepted": self.transfers_accepted,
                "rejected": self.transfers_rejected,
            },
            "trade_documents": self.documents,
            "green_labels": self.green_labels,
            "financings": {
                "funded": self.financings_funded,
                "declined": self.financings_declined,
                "in_review": self.financings_in_review,
                "net_proceeds": cny(self.financed_net),
            },
            "settlements": {"count": self.settlements, "paid": cny(self.paid), "overdue": cny(self.overdue)},
            "deepest_tier": self.deepest_tier,
            "refused_by_rules": self.refused,
            "journal_size": self.journal_size,
            "checkpoint_cosignatures": self.cosignatures,
        }


class DemoBuilder:
    def __init__(self, platform: Platform, clock: SimulatedClock, *, seed: int = 7) -> None:
        self.p = platform
        self.clock = clock
        self.rng = random.Random(seed)
        self.summary = DemoSummary()
        self.members: list[Member] = []
        self.holders: set[Member] = set()  # suppliers that may hold something live
        self.invoices = 0
        self.contracts = 0

    # --- parties ----------------------------------------------------------------------------------------

    def register(self, name: str, role: str, tier: int = 0) -> Member:
        key = PartyKey.from_seed(self.rng.randbytes(32))
        self.p.ledger.submit(
            key.registration(name=name, role=role, operator_id=self.p.operator.party_id, now=self.clock)
        )
        base = "91" + self.rng.choice(_REGIONS) + "".join(self.rng.choice(_ORG_CHARS) for _ in range(9))
        bank_code = f"{self.rng.choice((102, 103, 104, 105, 308))}{self.rng.randrange(10**9):09d}"
        member = Member(name, role, key, tier, uscc=base + uscc_check_char(base))
        member.account = Account(f"6222{self.rng.randrange(10**12):012d}", name[:140], bank_code, "")
        self.members.append(member)
        self.summary.parties[role] = self.summary.parties.get(role, 0) + 1
        return member

    def build_parties(self, cores: int, suppliers: int, banks: int, tiers: int) -> None:
        self.cores = [
            self.register(CORES[i % len(CORES)] + ("" if i < len(CORES) else f" {i}"), "core_enterprise")
            for i in range(cores)
        ]
        self.banks = [
            self.register(BANKS[i % len(BANKS)] + ("" if i < len(BANKS) else f" {i}"), "financial_institution")
            for i in range(banks)
        ]
        per_tier = self._tier_sizes(suppliers, tiers)
        self.tiers: list[list[Member]] = []
        n = 0
        for tier, count in enumerate(per_tier, start=1):
            layer = []
            for _ in range(count):
                n += 1
                name = f"{self.rng.choice(SUPPLIER_NAMES)} {self.rng.choice(GOODS)} Co. {n:03d}"
                layer.append(self.register(name, "supplier", tier))
            self.tiers.append(layer)
        for upper, lower in zip(self.tiers, self.tiers[1:], strict=False):
            for customer in upper:
                customer.suppliers = self.rng.sample(lower, k=min(len(lower), 3))

    @staticmethod
    def _tier_sizes(total: int, tiers: int) -> list[int]:
        weights = [max(1.0, 1.6 ** min(t, 5)) for t in range(tiers)]  # wider in the middle tiers
        scale = total / sum(weights)
        sizes = [max(2, int(w * scale)) for w in weights]
        sizes[-1] += total - sum(sizes)
        return [max(2, s) for s in sizes]

    # --- operations -------------------------------------------------------------------------------------

    def _do(self, who: Member, kind: str, body: dict[str, Any]) -> dict[str, Any] | None:
        try:
            return dict(self.p.ledger.submit(who.key.command(kind, body, now=self.clock)).effects)
        except DomainError as error:
            self.summary.refused[error.code] = self.summary.refused.get(error.code, 0) + 1
            return None

    def trade(self, seller: Member, buyer: Member, total_minor: int, contract_number: str) -> str | None:
        """Register the sale behind a hop: its contract and VAT e-invoice (the invoice also issued in the simulated
        tax authority's register); returns the invoice number."""
        today = self.clock.now.date()
        contract = self._do(
            seller,
            "document.register",
            {
                "type": "contract",
                "fields": {
                    "number": contract_number,
                    "seller": seller.id,
                    "buyer": buyer.id,
                    "signed_on": (today - timedelta(days=40)).isoformat(),
                    "effective_from": (today - timedelta(days=40)).isoformat(),
                    "effective_until": (today + timedelta(days=400)).isoformat(),
                    "amount": Money(total_minor, "CNY").to_str(),
                    "currency": "CNY",
                    "payment_terms_days": 180,
                },
            },
        )
        self.invoices += 1
        number = f"{today.year % 100:02d}{self.rng.choice(_REGIONS)[:4]}{self.invoices:014d}"
        issued_on = today - timedelta(days=self.rng.randint(1, 20))
        amount = total_minor * 100 // 113  # 13 % VAT
        try:
            self.p.outside.tax.issue(number, issued_on, total_minor, seller.uscc, buyer.uscc)
        except ExternalServiceError:
            return None
        invoice = self._do(
            seller,
            "document.register",
            {
                "type": "vat_invoice",
                "seller_party": seller.id,
                "buyer_party": buyer.id,
                "fields": {
                    "number": number,
                    "issued_on": issued_on.isoformat(),
                    "seller_name": seller.name,
                    "seller_uscc": seller.uscc,
                    "buyer_name": buyer.name,
                    "buyer_uscc": buyer.uscc,
                    "amount": Money(amount, "CNY").to_str(),
                    "tax": Money(total_minor - amount, "CNY").to_str(),
                    "total": Money(total_minor, "CNY").to_str(),
                },
            },
        )
        if contract is None or invoice is None:
            return None
        self.summary.documents += 2
        return number

    def issue_wave(self, vouchers: int, tenor_days: tuple[int, int]) -> list[tuple[Member, str, int]]:
        issued = []
        for _ in range(vouchers):
            core = self.rng.choice(self.cores)
            holder = self.rng.choice(self.tiers[0])
            face = self.rng.randrange(50_000, 5_000_000) * 100  # CNY 50k .. 5m, in fen
            maturity = (self.clock.now + timedelta(days=self.rng.randint(*tenor_days))).date()
            self.contracts += 1
            contract = f"PO-{core.name.split()[0].upper()}-{self.contracts:05d}"
            invoice = self.trade(holder, core, face, contract)
            if invoice is None:
                continue
            effects = self._do(
                core,
                "voucher.issue",
                {
                    "first_holder": holder.id,
                    "amount": Money(face, "CNY").to_str(),
                    "currency": "CNY",
                    "maturity": maturity.isoformat(),
                    "contract_ref": contract,
                    "invoice_refs": [invoice],
                },
            )
            if effects:
                self.summary.vouchers += 1
                self.summary.face_issued += face
                issued.append((holder, str(effects["holding_id"]), face))
                self.holders.add(holder)
        return issued

    def circulate(
        self, steps: int, progress: Callable[[int], None], *, leave_open: bool = False, pace_minutes: int = 90
    ) -> None:
        """Random splits, transfers and financings over the current live holdings."""
        for step in range(steps):
            self.clock.advance(timedelta(minutes=self.rng.randint(1, pace_minutes)))
            holdings = self._live_supplier_holdings()
            if holdings:
                holder, holding = self.rng.choice(holdings)
                if holder.suppliers and self.rng.random() < 0.8:
                    self._transfer(holder, holding, leave_open and step > steps * 0.9)
                else:
                    self._finance(holder, holding, leave_open and step > steps * 0.9)
            progress(1)

    def _live_supplier_holdings(self) -> list[tuple[Member, dict[str, Any]]]:
        """The live holdings of a supplier picked at random among those that hold something."""
        while self.holders:
            holder = self.rng.choice(sorted(self.holders, key=lambda m: m.id))
            viewer = Party(holder.id, holder.name, Role.SUPPLIER, holder.key.public_key)
            page = self.p.queries.holdings(viewer, voucher_id=None, status="live", limit=50, after=None)
            if page.items:
                return [(holder, h) for h in page.items]
            self.holders.discard(holder)
        return []

    def _transfer(self, holder: Member, holding: dict[str, Any], leave_open: bool) -> None:
        supplier = self.rng.choice(holder.suppliers)
        units = holding["units"]["end"] - holding["units"]["start"] + 1
        amount = units if units < 100 or self.rng.random() < 0.2 else self.rng.randrange(1, units)
        self.contracts += 1
        contract = f"SC-{holder.id[-4:]}-{supplier.id[-4:]}-{self.contracts:05d}"
        invoice = self.trade(supplier, holder, amount, contract)
        if invoice is None:
            return
        effects = self._do(
            holder,
            "transfer.offer",
            {
                "holding_id": holding["id"],
                "recipient": supplier.id,
                "amount": Money(amount, "CNY").to_str(),
                "currency": "CNY",
                "trade_ref": contract,
                "invoice_refs": [invoice],
            },
        )
        if not effects:
            return
        self.summary.transfers_offered += 1
        if leave_open:
            return
        if self.rng.random() < 0.92:
            if self._do(supplier, "transfer.accept", {"offer_id": effects["offer_id"]}):
                self.summary.transfers_accepted += 1
                self.holders.add(supplier)
                self.summary.deepest_tier = max(self.summary.deepest_tier, holding["tier"] + 1)
        elif self._do(supplier, "transfer.reject", {"offer_id": effects["offer_id"], "reason": "price terms"}):
            self.summary.transfers_rejected += 1

    def _finance(self, holder: Member, holding: dict[str, Any], leave_open: bool) -> None:
        bank = self.rng.choice(self.banks)
        units = holding["units"]["end"] - holding["units"]["start"] + 1
        amount = units if units < 100 else self.rng.randrange(units // 2, units + 1)
        rate = f"0.0{self.rng.randint(28, 55)}"
        effects = self._do(
            holder,
            "financing.request",
            {
                "holding_id": holding["id"],
                "financier": bank.id,
                "amount": Money(amount, "CNY").to_str(),
                "currency": "CNY",
                "annual_rate": rate,
                "fee": Money(amount // 2000, "CNY").to_str(),  # 0.05 % arrangement fee
            },
        )
        if not effects or effects.get("stage") != "verified":
            return
        financing_id = str(effects["financing_id"])
        if leave_open:
            if self.rng.random() < 0.5:  # some already reviewed by the maker, waiting for the checker
                self._do(
                    bank,
                    "financing.review",
                    {
                        "financing_id": financing_id,
                        "user": "bank.officer",
                        "recommendation": "approve",
                        "note": "documents in order",
                    },
                )
            self.summary.financings_in_review += 1
            return
        if self.rng.random() >= 0.85:
            declined = self._do(
                bank, "financing.decline", {"financing_id": financing_id, "reason": "limits", "user": "bank.checker"}
            )
            if declined:
                self.summary.financings_declined += 1
            return
        funded = self._disburse(holder, bank, financing_id)
        if funded:
            self.summary.financings_funded += 1
            self.summary.financed_net += Money.parse(funded["quote"]["net"], "CNY").minor

    def _acting(self, member: Member, user: str | None = None) -> Acting:
        def submit(kind: str, body: dict[str, Any]) -> dict[str, Any]:
            return dict(self.p.ledger.submit(member.key.command(kind, body, now=self.clock)).effects)

        return Acting(member.id, user, submit)

    def _disburse(self, holder: Member, bank: Member, financing_id: str) -> dict[str, Any] | None:
        """The institution's whole workflow: maker, checker, contract signed by both, registry, pain.001."""
        steps = (
            ("financing.review", {"user": "bank.officer", "recommendation": "approve", "note": "documents in order"}),
            ("financing.approve", {"user": "bank.checker"}),
        )
        for kind, body in steps:
            if self._do(bank, kind, {"financing_id": financing_id, **body}) is None:
                return None
        cases = self.p.cases
        try:
            cases.sign(self._acting(holder), financing_id)
            cases.sign(self._acting(bank, "bank.checker"), financing_id)
            cases.register(self._acting(bank, "bank.officer"), financing_id)
            assert bank.account is not None and holder.account is not None
            return dict(
                cases.disburse(
                    self._acting(bank, "bank.officer"), financing_id, debtor=bank.account, creditor=holder.account
                )
            )
        except DomainError as error:
            self.summary.refused[error.code] = self.summary.refused.get(error.code, 0) + 1
            return None

    def settle_all(self, partial_obligor: Member | None) -> None:
        page = self.p.queries.vouchers(_operator(self.p), limit=500, after=None)
        for voucher in page.items:
            if voucher["status"] != "active" or voucher["maturity"] > self.clock.now.date().isoformat():
                continue
            obligor = next(m for m in self.cores if m.id == voucher["obligor"])
            face = Money.parse(voucher["face"]["amount"], "CNY").minor
            paid = face if obligor is not partial_obligor else face * 7 // 10
            effects = self._do(
                obligor,
                "voucher.settle",
                {"voucher_id": voucher["id"], "amount": Money(paid, "CNY").to_str(), "currency": "CNY"},
            )
            if effects:
                self.summary.settlements += 1
                self.summary.paid += paid
                self.summary.overdue += Money.parse(effects["overdue"], "CNY").minor

    def green(self) -> None:
        """A green certifier labels about a third of the vouchers under the 2025 Green Finance Support Project
        Catalogue (with a hashed assurance statement as evidence), so banks see green totals."""
        from tierflow.green.taxonomy import Taxonomy

        certifier = self.register("China Green Assurance", "certifier")
        self.certifier = certifier
        leaves = [leaf for leaf in Taxonomy.load("cn-gfspc", "2025").leaves() if not leaf.provisional] or list(
            Taxonomy.load("cn-gfspc", "2025").leaves()
        )
        page = self.p.queries.vouchers(_operator(self.p), limit=500, after=None)
        for voucher in page.items:
            if self.rng.random() >= 0.35:
                continue
            item = self.rng.choice(leaves)
            statement = f"assurance statement {voucher['id']} {item.code}".encode()
            labelled = self._do(
                certifier,
                "green.label",
                {
                    "subject_kind": "asset",
                    "subject_id": voucher["id"],
                    "taxonomy": "cn-gfspc",
                    "version": "2025",
                    "code": item.code,
                    "criterion_id": item.criteria[0].id,
                    "evidence": [
                        {
                            "description": "third-party assurance statement",
                            "sha256": hashlib.sha256(statement).hexdigest(),
                        }
                    ],
                    "valid_from": self.clock.now.date().isoformat(),
                },
            )
            if labelled:
                self.summary.green_labels += 1

    def witness(self) -> None:
        """Every bank cosigns the latest checkpoint, as a witness would."""
        self.p.journal.integrate_all()
        record = self.p.journal.publish_checkpoint()
        if record is None:
            return
        checkpoint = Checkpoint(self.p.journal.origin, record.size, record.root)
        for bank in self.banks:
            line = cosign(checkpoint, bank.id, bank.key.signing_key, int(self.clock.now.timestamp()))
            self.p.journal.add_cosignature(_party(self.p, bank.id), record.size, line)
            self.summary.cosignatures += 1
        self.summary.journal_size = record.size


def _operator(platform: Platform) -> Any:
    return _party(platform, platform.operator.party_id)


def _party(platform: Platform, party_id: str) -> Any:
    with platform.uow() as uow:
        return uow.repo.get_party(party_id)


def demo_start(now: datetime | None = None) -> datetime:
    today = (now or datetime.now(UTC)).replace(hour=9, minute=0, second=0, microsecond=0)
    return today - timedelta(days=130)


def run_demo(
    platform: Platform,
    clock: SimulatedClock,
    *,
    cores: int = 3,
    suppliers: int = 300,
    banks: int = 3,
    tiers: int = 11,
    vouchers: int = 24,
    steps: int = 1500,
    seed: int = 7,
    progress: Callable[[int], None] = lambda _: None,
) -> tuple[DemoSummary, list[Member]]:
    builder = DemoBuilder(platform, clock, seed=seed)
    builder.build_parties(cores, suppliers, banks, tiers)
    progress(0)
    # Wave 1: issued ~4 months ago, matures within ~3 months, settled at maturity.
    builder.issue_wave(vouchers, (60, 100))
    builder.circulate(steps * 2 // 3, progress)
    clock.now = max(clock.now, demo_start() + timedelta(days=101))
    builder.settle_all(partial_obligor=builder.cores[-1] if len(builder.cores) > 1 else None)
    # Wave 2: issued in the last days, still circulating; the last steps leave offers and requests open.
    clock.now = max(clock.now, datetime.now(UTC) - timedelta(days=10))
    builder.issue_wave(max(2, vouchers // 2), (90, 180))
    builder.circulate(steps - steps * 2 // 3, progress, leave_open=True, pace_minutes=20)
    builder.green()
    builder.witness()
    return builder.summary, builder.members


# --- portal sign-ins ------------------------------------------------------------------------------------

ROLE_LABELS = {
    "core_enterprise": "Core enterprise (payables clerk)",
    "supplier": "Supplier (accountant)",
    "financial_institution": "Financial institution (credit officer)",
    "operator": "Platform operator",
    "auditor": "Auditor (read-only)",
    "certifier": "Green certifier (verification agency)",
}


def create_demo_logins(platform: Platform, members: list[Member]) -> list[dict[str, Any]]:
    """Portal users for a demo: one person per role, the platform keeping every demo party's key (custody).

    The tier-1 supplier is the one holding the most live units and the tier-2 supplier one of its own
    suppliers, so a newcomer can split, transfer and accept right away. Passwords are fixed and shown on the
    landing page: they protect nothing but demo data.
    """
    from tierflow.services.accounts import PortalRole

    for member in members:
        platform.accounts.keep_signing_key(member.id, member.key.signing_key)
    platform.accounts.keep_signing_key(platform.operator.party_id, platform.operator.signing_key)
    cores = [m for m in members if m.role == "core_enterprise"]
    banks = [m for m in members if m.role == "financial_institution"]
    tier1 = [m for m in members if m.role == "supplier" and m.tier == 1]
    if not (cores and banks and tier1):
        return []

    def live_units(member: Member) -> int:
        viewer = Party(member.id, member.name, Role.SUPPLIER, member.key.public_key)
        page = platform.queries.holdings(viewer, voucher_id=None, status="live", limit=200, after=None)
        return sum(h["units"]["end"] - h["units"]["start"] + 1 for h in page.items)

    first = max(tier1, key=live_units)
    second = first.suppliers[0] if first.suppliers else tier1[-1]
    people = [
        ("core.clerk", "Li Wei", cores[0].id, cores[0].name, "core_enterprise", PortalRole.MEMBER),
        ("supplier1", "Chen Jing", first.id, first.name, "supplier", PortalRole.MEMBER),
        ("supplier2", "Wang Fang", second.id, second.name, "supplier", PortalRole.MEMBER),
        ("bank.officer", "Zhang Min", banks[0].id, banks[0].name, "financial_institution", PortalRole.MEMBER),
        ("bank.checker", "Liu Yang", banks[0].id, banks[0].name, "financial_institution", PortalRole.MEMBER),
        ("operator", "Platform Ops", platform.operator.party_id, "Platform operator", "operator", PortalRole.MEMBER),
        ("auditor", "Audit Team", platform.operator.party_id, "Platform operator", "auditor", PortalRole.AUDITOR),
    ]
    certifiers = [m for m in members if m.role == "certifier"]
    if certifiers:
        people.append(("certifier", "Zhou Lan", certifiers[0].id, certifiers[0].name, "certifier", PortalRole.MEMBER))
    logins = []
    for username, display, party_id, party_name, label, role in people:
        password = f"{username.split('.')[0]}-demo-2026"
        platform.accounts.create_user(
            username=username, password=password, party_id=party_id, display_name=display, role=role
        )
        logins.append(
            {
                "username": username,
                "password": password,
                "display_name": display,
                "party_id": party_id,
                "party_name": party_name,
                "role": label,
                "role_label": ROLE_LABELS[label],
            }
        )
    return logins
