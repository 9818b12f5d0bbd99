"""A supply chain with real trade documents, for the tests of trade checks and the financing workflow.

Core Co buys from Tier-1, Tier-1 from Tier-2, Tier-2 from Tier-3; each sale has a registered contract and a VAT
e-invoice whose seller and buyer USCCs are the trading parties'. ``Other Co`` is a supplier outside the chain.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from tests.conftest import Chain
from tierflow.client import PartyKey
from tierflow.domain.documents import uscc_check_char
from tierflow.services.financing_case import Acting
from tierflow.services.payment_data import Account


def uscc(base17: str) -> str:
    return base17 + uscc_check_char(base17)


USCCS = {
    "Core Co": uscc("91110000100000000"),
    "Tier-1 Ltd": uscc("91440300MA5F000AA"),
    "Tier-2 Ltd": uscc("91310000MA1K00000"),
    "Tier-3 Ltd": uscc("91320500MA1X00001"),
    "Other Co": uscc("91330100MA2Y00002"),
}

BANK_ACCOUNT = Account("11014850000001", "First Bank Ltd", "102100099996", "First Bank")


def supplier_account(name: str, n: int) -> Account:
    return Account(f"6222{n:010d}", name, "103100000026", "Agricultural Bank of China")


def yuan(minor: int) -> str:
    return f"{minor // 100}.{minor % 100:02d}"


@dataclass
class TradeWorld:
    chain: Chain
    names: dict[str, str] = field(default_factory=dict)  # party id -> name
    invoice_serial: int = 0
    other: PartyKey | None = None

    def __post_init__(self) -> None:
        c = self.chain
        self.other = c.register("Other Co", "supplier")
        for name, key in (
            ("Core Co", c.core),
            ("Tier-1 Ltd", c.tier1),
            ("Tier-2 Ltd", c.tier2),
            ("Tier-3 Ltd", c.tier3),
            ("First Bank", c.bank),
            ("Other Co", self.other),
        ):
            self.names[key.party_id] = name

    @property
    def today(self) -> date:
        return self.chain.clock.now.date()

    def invoice_number(self) -> str:
        self.invoice_serial += 1
        return f"{self.today.year % 100:02d}44200000{self.invoice_serial:010d}"

    def contract(self, seller: PartyKey, buyer: PartyKey, number: str, *, terms_days: int = 120) -> str:
        self.chain.do(seller, "document.register", type="contract", fields={
            "number": number, "seller": seller.party_id, "buyer": buyer.party_id,
            "signed_on": (self.today - timedelta(days=30)).isoformat(),
            "effective_from": (self.today - timedelta(days=30)).isoformat(),
            "effective_until": (self.today + timedelta(days=365)).isoformat(),
            "amount": "5000000.00", "currency": "CNY", "payment_terms_days": terms_days,
        })
        return number

    def invoice(self, seller: PartyKey, buyer: PartyKey, total_minor: int, *, issued_on: date | None = None,
                seller_name: str | None = None) -> str:
        number = self.invoice_number()
        amount = total_minor * 100 // 113
        s_name, b_name = self.names[seller.party_id], self.names[buyer.party_id]
        self.chain.do(seller, "document.register", type="vat_invoice", seller_party=seller.party_id,
                      buyer_party=buyer.party_id, fields={
                          "number": number, "issued_on": (issued_on or self.today - timedelta(days=3)).isoformat(),
                          "seller_name": seller_name or s_name, "seller_uscc": USCCS[s_name],
                          "buyer_name": b_name, "buyer_uscc": USCCS[b_name],
                          "amount": yuan(amount), "tax": yuan(total_minor - amount), "total": yuan(total_minor),
                      })
        return number

    def issue(self, to: PartyKey, amount_minor: int, *, invoices: list[str], contract: str,
              days: int = 90) -> dict[str, Any]:
        c = self.chain
        maturity = (c.clock.now + timedelta(days=days)).date().isoformat()
        return c.do(c.core, "voucher.issue", first_holder=to.party_id, amount=yuan(amount_minor), currency="CNY",
                    maturity=maturity, contract_ref=contract, invoice_refs=invoices)

    def pay(self, sender: PartyKey, holding_id: object, recipient: PartyKey, amount_minor: int, *,
            invoices: list[str], contract: str) -> dict[str, Any]:
        """Offer and accept a transfer; returns the offer's effects plus the accepted holding id."""
        c = self.chain
        offered = c.do(sender, "transfer.offer", holding_id=holding_id, recipient=recipient.party_id,
                       amount=yuan(amount_minor), currency="CNY", trade_ref=contract, invoice_refs=invoices)
        accepted = c.do(recipient, "transfer.accept", offer_id=offered["offer_id"])
        return {**offered, "holding_id": accepted["holding_id"]}

    def finance(self, who: PartyKey, holding_id: object, amount_minor: int, **extra: Any) -> dict[str, Any]:
        c = self.chain
        return c.do(who, "financing.request", holding_id=holding_id, financier=c.bank.party_id,
                    amount=yuan(amount_minor), currency="CNY", annual_rate="0.0365", **extra)

    def acting(self, key: PartyKey, user: str | None = None) -> Acting:
        return Acting(key.party_id, user, lambda kind, body: self.chain.do(key, kind, **body))

    def clean_chain(self) -> dict[str, Any]:
        """Core Co → Tier-1 (1,000,000.00) → Tier-2 (400,000.00) → Tier-3 (150,000.00), every hop documented."""
        c = self.chain
        k1 = self.contract(c.tier1, c.core, "PO-CORE-T1")
        i1 = self.invoice(c.tier1, c.core, 1_000_000_00)
        issued = self.issue(c.tier1, 1_000_000_00, invoices=[i1], contract=k1)
        k2 = self.contract(c.tier2, c.tier1, "PO-T1-T2")
        i2 = self.invoice(c.tier2, c.tier1, 400_000_00)
        to2 = self.pay(c.tier1, issued["holding_id"], c.tier2, 400_000_00, invoices=[i2], contract=k2)
        k3 = self.contract(c.tier3, c.tier2, "PO-T2-T3")
        i3 = self.invoice(c.tier3, c.tier2, 150_000_00)
        to3 = self.pay(c.tier2, to2["holding_id"], c.tier3, 150_000_00, invoices=[i3], contract=k3)
        return {"issued": issued, "to_tier2": to2, "to_tier3": to3, "invoices": [i1, i2, i3]}
