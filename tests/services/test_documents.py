"""Registering trade documents: each type, the party checks, duplicates, validation, the journal and replay."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from sqlalchemy import func, select

from tests.conftest import Chain
from tests.services.conftest import Replayer
from tests.services.documents_data import BUYER_USCC, OTHER_USCC, SELLER_USCC, contract, delivery_note, invoice
from tierflow.client import PartyKey
from tierflow.domain.documents import Contract, InvalidDocument, InvalidUscc, VatInvoice, content_hash
from tierflow.domain.errors import NotAuthorised
from tierflow.ledger.envelope import parse_leaf
from tierflow.services.errors import DocumentExists, InvalidCommand, UnknownParty, UsccConflict
from tierflow.store import schema as t
from tierflow.store.snapshot import journal_leaves


def register(chain: Chain, who: PartyKey, doc_type: str, fields: dict[str, Any], **extra: Any) -> dict[str, object]:
    return chain.do(who, "document.register", type=doc_type, fields=fields, **extra)


def register_invoice(chain: Chain, who: PartyKey, **changes: Any) -> dict[str, object]:
    return register(
        chain,
        who,
        "vat_invoice",
        invoice(**changes),
        seller_party=chain.tier1.party_id,
        buyer_party=chain.core.party_id,
    )


def document_rows(chain: Chain) -> list[Any]:
    with chain.p.engine.connect() as conn:
        return list(conn.execute(select(t.documents).order_by(t.documents.c.id)))


def event_count(chain: Chain) -> int:
    with chain.p.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(t.events)).scalar_one())


def test_each_type_registers_with_its_hash(chain: Chain) -> None:
    seller, buyer = chain.tier1.party_id, chain.core.party_id
    c = register(chain, chain.tier1, "contract", contract(seller, buyer))
    i = register_invoice(chain, chain.core)
    d = register(chain, chain.core, "delivery_note", delivery_note(seller, buyer), source="csv")
    expected_contract = Contract(
        number="SC-2026-001",
        buyer=buyer,
        seller=seller,
        signed_on=date(2026, 1, 2),
        effective_from=date(2026, 1, 5),
        effective_until=date(2026, 12, 31),
        amount_minor=100_000_000,
        currency="CNY",
        payment_terms_days=90,
    )
    assert c["content_hash"] == content_hash(expected_contract)
    expected_invoice = VatInvoice(
        number=invoice()["number"],
        issued_on=date(2026, 1, 5),
        seller_name="Tier-1 Ltd",
        seller_uscc=SELLER_USCC,
        buyer_name="Core Co",
        buyer_uscc=BUYER_USCC,
        amount_minor=100_000,
        tax_minor=13_000,
        total_minor=113_000,
    )
    assert i["content_hash"] == content_hash(expected_invoice)
    assert {c["type"], i["type"], d["type"]} == {"contract", "vat_invoice", "delivery_note"}
    rows = {r.id: r for r in document_rows(chain)}
    assert set(rows) == {c["document_id"], i["document_id"], d["document_id"]}
    inv = rows[str(i["document_id"])]
    assert (inv.registered_by, inv.seller_id, inv.buyer_id) == (buyer, seller, buyer)
    assert (inv.seller_uscc, inv.buyer_uscc, inv.source) == (SELLER_USCC, BUYER_USCC, "json")
    assert rows[str(d["document_id"])].source == "csv"
    assert rows[str(c["document_id"])].seller_uscc is None
    # The id derives from the registering event's id.
    leaf = parse_leaf(journal_leaves(chain.p.engine)[-1])
    assert d["document_id"] == "doc_" + leaf.id.removeprefix("evt_")


def test_the_journal_leaf_carries_the_document_id_and_hash(chain: Chain) -> None:
    effects = register_invoice(chain, chain.tier1)
    leaf = parse_leaf(journal_leaves(chain.p.engine)[-1])
    assert leaf.kind == "document.register"
    assert leaf.effects["document_id"] == effects["document_id"]
    assert leaf.effects["content_hash"] == effects["content_hash"] == document_rows(chain)[0].content_hash
    assert leaf.command["body"]["fields"]["total"] == "1130.00"


def test_a_second_registration_of_the_same_number_is_a_conflict_naming_the_first(chain: Chain) -> None:
    first = register_invoice(chain, chain.tier1)
    before = event_count(chain)
    with pytest.raises(DocumentExists) as caught:
        register_invoice(chain, chain.core, issued_on="2026-01-06")  # by the other party, other content
    assert caught.value.fields["document_id"] == first["document_id"]
    assert caught.value.fields["registered_by"] == chain.tier1.party_id
    assert str(first["document_id"]) in caught.value.message
    assert len(document_rows(chain)) == 1 and event_count(chain) == before
    # The same number is free in another type.
    register(
        chain,
        chain.tier1,
        "delivery_note",
        delivery_note(chain.tier1.party_id, chain.core.party_id, number=invoice()["number"]),
    )


@pytest.mark.parametrize(
    ("changes", "error", "field"),
    [
        ({"seller_uscc": SELLER_USCC[:-1] + "0"}, InvalidUscc, "seller_uscc"),
        ({"buyer_uscc": "ABC"}, InvalidUscc, "buyer_uscc"),
        ({"number": "1234"}, InvalidDocument, "number"),
        ({"total": "1130.01"}, InvalidDocument, "total"),
        ({"tax": "1.001"}, InvalidDocument, "tax"),
        ({"amount": 1000}, InvalidDocument, "amount"),
        ({"issued_on": "5 Jan 2026"}, InvalidDocument, "issued_on"),
        ({"extra": "x"}, InvalidDocument, "extra"),
    ],
)
def test_invalid_invoices_are_refused_and_leave_nothing(
    chain: Chain, changes: dict[str, Any], error: type[Exception], field: str
) -> None:
    before = event_count(chain)
    with pytest.raises(error) as caught:
        register_invoice(chain, chain.tier1, **changes)
    assert caught.value.fields["field"] == field  # type: ignore[attr-defined]
    assert document_rows(chain) == [] and event_count(chain) == before


def test_a_missing_field_and_a_bad_type_are_named(chain: Chain) -> None:
    fields = contract(chain.tier1.party_id, chain.core.party_id)
    del fields["signed_on"]
    with pytest.raises(InvalidDocument, match="signed_on") as caught:
        register(chain, chain.tier1, "contract", fields)
    assert caught.value.fields["field"] == "signed_on"
    with pytest.raises(InvalidDocument, match="document type") as caught:
        register(chain, chain.tier1, "purchase_order", fields)
    with pytest.raises(InvalidCommand, match="source"):
        register(chain, chain.tier1, "contract", contract(chain.tier1.party_id, chain.core.party_id), source="pdf")
    assert document_rows(chain) == []


def test_only_the_seller_or_buyer_registers(chain: Chain) -> None:
    seller, buyer = chain.tier1.party_id, chain.core.party_id
    with pytest.raises(NotAuthorised):
        register(chain, chain.tier2, "contract", contract(seller, buyer))
    with pytest.raises(NotAuthorised):
        register(chain, chain.p.operator, "delivery_note", delivery_note(seller, buyer))
    with pytest.raises(NotAuthorised):
        register_invoice(chain, chain.bank)
    with pytest.raises(UnknownParty):
        register(chain, chain.tier1, "contract", contract(seller, "pty_00000000000000000000"))
    assert document_rows(chain) == []


def test_an_invoice_names_its_parties_and_keeps_each_uscc_with_one_party(chain: Chain) -> None:
    with pytest.raises(InvalidCommand, match="buyer_party"):
        register(chain, chain.tier1, "vat_invoice", invoice(), seller_party=chain.tier1.party_id)
    with pytest.raises(InvalidCommand, match="only for a vat_invoice"):
        register(
            chain,
            chain.tier1,
            "contract",
            contract(chain.tier1.party_id, chain.core.party_id),
            seller_party=chain.tier1.party_id,
        )
    with pytest.raises(UnknownParty):
        register(
            chain,
            chain.tier1,
            "vat_invoice",
            invoice(),
            seller_party=chain.tier1.party_id,
            buyer_party="pty_00000000000000000000",
        )
    register_invoice(chain, chain.tier1)
    # Tier-2 claims the seller's USCC as its own: refused.
    with pytest.raises(UsccConflict):
        register(
            chain,
            chain.tier2,
            "vat_invoice",
            invoice(number="26442000000000000002"),
            seller_party=chain.tier2.party_id,
            buyer_party=chain.core.party_id,
        )
    # The core enterprise appears under another USCC: refused.
    with pytest.raises(UsccConflict):
        register(
            chain,
            chain.tier1,
            "vat_invoice",
            invoice(number="26442000000000000003", buyer_uscc=OTHER_USCC),
            seller_party=chain.tier1.party_id,
            buyer_party=chain.core.party_id,
        )
    # Consistent pairings register.
    register(
        chain,
        chain.tier2,
        "vat_invoice",
        invoice(number="26442000000000000004", seller_uscc=OTHER_USCC, seller_name="Tier-2 Ltd"),
        seller_party=chain.tier2.party_id,
        buyer_party=chain.core.party_id,
    )
    assert len(document_rows(chain)) == 2


def test_replay_rebuilds_the_documents_table(chain: Chain, replays_identically: Replayer) -> None:
    seller, buyer = chain.tier1.party_id, chain.core.party_id
    register(chain, chain.tier1, "contract", contract(seller, buyer))
    register_invoice(chain, chain.core)
    register(chain, chain.core, "delivery_note", delivery_note(seller, buyer), source="xml")
    with pytest.raises(DocumentExists):
        register(chain, chain.tier1, "contract", contract(seller, buyer))
    assert len(document_rows(chain)) == 3
    replays_identically(chain.p.engine)


def test_history_says_which_document_was_registered(chain: Chain) -> None:
    from tierflow.domain.model import Party, Role

    register_invoice(chain, chain.core)
    core = Party(chain.core.party_id, "Core Co", Role.CORE_ENTERPRISE, chain.core.public_key)
    latest = chain.p.queries.party_history(core, limit=1, before=None).items[0]
    assert latest["kind"] == "document.register"
    assert latest["summary"] == f"Registered VAT invoice {invoice()['number']}"
