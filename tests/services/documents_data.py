"""Sample trade documents as wire ``fields`` (shared by the service and API tests)."""

from __future__ import annotations

from typing import Any

SELLER_USCC = "91440300MA5F000AAG"
BUYER_USCC = "91110000100000000R"
OTHER_USCC = "91310000MA1K000006"
INVOICE_NUMBER = "26442000000012345678"


def contract(seller: str, buyer: str, number: str = "SC-2026-001", **changes: Any) -> dict[str, Any]:
    return {
        "number": number,
        "seller": seller,
        "buyer": buyer,
        "signed_on": "2026-01-02",
        "effective_from": "2026-01-05",
        "effective_until": "2026-12-31",
        "amount": "1000000.00",
        "currency": "CNY",
        "payment_terms_days": 90,
        **changes,
    }


def invoice(number: str = INVOICE_NUMBER, **changes: Any) -> dict[str, Any]:
    return {
        "number": number,
        "issued_on": "2026-01-05",
        "seller_name": "Tier-1 Ltd",
        "seller_uscc": SELLER_USCC,
        "buyer_name": "Core Co",
        "buyer_uscc": BUYER_USCC,
        "amount": "1000.00",
        "tax": "130.00",
        "total": "1130.00",
        **changes,
    }


def delivery_note(seller: str, buyer: str, number: str = "DN-7", **changes: Any) -> dict[str, Any]:
    return {
        "number": number,
        "delivered_on": "2026-01-04",
        "seller": seller,
        "buyer": buyer,
        "contract_number": "SC-2026-001",
        "goods": "400 gearboxes",
        **changes,
    }
