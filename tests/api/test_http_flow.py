"""The whole flow over HTTP, then the receipts: checkpoint, proofs, cosignature — checked client-side."""

from __future__ import annotations

import base64
from datetime import timedelta

from nacl.signing import SigningKey

from tests.api.conftest import Actor, Api
from tierflow.ledger import merkle
from tierflow.ledger.checkpoint import Checkpoint, open_checkpoint
from tierflow.ledger.cosignature import cosign, cosigner_verifier_key, parse_cosigner_verifier_key
from tierflow.ledger.note import parse_verifier_key


def b64d(text: str) -> bytes:
    return base64.b64decode(text)


def test_issue_transfer_finance_settle_and_prove(api: Api, cast: dict[str, Actor]) -> None:
    core, t1, t2, bank = cast["core"], cast["t1"], cast["t2"], cast["bank"]
    maturity = (api.clock.now + timedelta(days=90)).date().isoformat()
    issued = api.post("/v1/vouchers", core, "voucher.issue", {
        "first_holder": t1.id, "amount": "1000000.00", "currency": "CNY", "maturity": maturity,
        "contract_ref": "PO-1", "invoice_refs": ["44031234567890123456"]}).json()
    voucher_id = issued["effects"]["voucher_id"]
    offer = api.post("/v1/transfers", t1, "transfer.offer", {
        "holding_id": issued["effects"]["holding_id"], "recipient": t2.id, "amount": "400000.00",
        "currency": "CNY", "trade_ref": "SC-9", "invoice_refs": ["44039999999999999999"]}).json()
    offer_id = offer["effects"]["offer_id"]
    incoming = api.get("/v1/transfers", t2, direction="incoming").json()
    assert [o["id"] for o in incoming["data"]] == [offer_id]
    api.post(f"/v1/transfers/{offer_id}/accept", t2, "transfer.accept", {"offer_id": offer_id})
    held = api.get("/v1/holdings", t2).json()["data"]
    assert len(held) == 1 and held[0]["tier"] == 2 and held[0]["amount"]["amount"] == "400000.00"

    fin = api.post("/v1/financings", t2, "financing.request", {
        "holding_id": held[0]["id"], "financier": bank.id, "amount": "100000.00", "currency": "CNY",
        "annual_rate": "0.0365", "fee": "50.00"}).json()
    assert fin["effects"]["quote"] == {"days": 90, "discount": "912.50", "fee": "50.00", "net": "99037.50",
                                       "currency": "CNY"}
    fid = fin["effects"]["financing_id"]
    assert api.get(f"/v1/financings/{fid}", bank).json()["status"] == "requested"
    steps = (
        ("review", "financing.review", bank, {"user": "li.maker", "recommendation": "approve"}),
        ("approve", "financing.approve", bank, {"user": "wang.checker"}),
        ("sign", "financing.sign", t2, {"contract_number": "FC-1", "contract_sha256": "a" * 64}),
        ("sign", "financing.sign", bank, {"contract_number": "FC-1", "contract_sha256": "b" * 64}),
        ("register", "financing.register", bank, {"registry_number": "00000001202611260001"}),
    )
    for action, kind, who, body in steps:
        api.post(f"/v1/financings/{fid}/{action}", who, kind, {"financing_id": fid, **body})
    funded = api.post(f"/v1/financings/{fid}/fund", bank, "financing.fund", {
        "financing_id": fid, "payment_message_id": "PAIN-1", "payment_sha256": "c" * 64,
        "bank_reference": "BK-1"}).json()
    bank_holding = api.get(f"/v1/holdings/{funded['effects']['holding_id']}", bank).json()
    assert bank_holding["tier"] == 2 and bank_holding["holder"] == bank.id

    # Provenance of one fen the bank now holds: root → Tier-1 → Tier-2 → bank.
    unit = bank_holding["units"]["start"]
    prov = api.get(f"/v1/vouchers/{voucher_id}/units/{unit}/provenance", bank).json()
    assert [h["holder"] for h in prov["hops"]] == [t1.id, t2.id, bank.id]
    assert [h["tier"] for h in prov["hops"]] == [1, 2, 2]
    assert prov["hops"][1]["trade_ref"] == "SC-9"

    api.clock.advance(days=90)
    settled = api.post("/v1/settlements", core, "voucher.settle",
                       {"voucher_id": voucher_id, "amount": "1000000.00", "currency": "CNY"}).json()
    assert settled["effects"]["voucher_status"] == "settled"
    payments = {p["holder"]: p["amount"] for p in settled["effects"]["payments"]}
    assert payments == {t1.id: "600000.00", t2.id: "300000.00", bank.id: "100000.00"}

    # The journal: integrate, then check the checkpoint and a receipt entirely client-side.
    api.platform.journal.integrate_all()
    note = api.get("/v1/journal/checkpoint").text
    vkey = api.get("/v1/journal/key").text.strip()
    signed = open_checkpoint(note, parse_verifier_key(vkey))
    size = signed.checkpoint.size
    entries = api.get("/v1/journal/entries", api.operator, start=0, end=size).json()
    assert len(entries) == size
    settle_event = settled["event_id"]
    entry = next(e for e in entries if e["event_id"] == settle_event)
    proof = api.get("/v1/journal/proofs/inclusion", index=entry["index"], tree_size=size).json()
    merkle.verify_inclusion(merkle.leaf_hash(b64d(entry["leaf"])), entry["index"], size,
                            [b64d(h) for h in proof["hashes"]], signed.checkpoint.root)

    # A supplier sees its own entries; others are redacted to their hash.
    seen = api.get("/v1/journal/entries", t2, start=0, end=size).json()
    assert any(e["leaf"] is None for e in seen) and any(e["leaf"] is not None for e in seen)

    # The bank witnesses the checkpoint; the checkpoint now shows its cosignature.
    line = cosign(Checkpoint(signed.checkpoint.origin, size, signed.checkpoint.root), bank.id,
                  bank.key.signing_key, int(api.clock.now.timestamp()))
    r = api.client.post("/v1/journal/cosignatures", json={"tree_size": size, "signature_line": line},
                        headers={**bank.auth, "Idempotency-Key": "cos-1"})
    assert r.status_code == 201, r.text
    witness = parse_cosigner_verifier_key(cosigner_verifier_key(bank.id, bank.key.public_key))
    reopened = open_checkpoint(api.get("/v1/journal/checkpoint").text, parse_verifier_key(vkey), [witness])
    assert reopened.verified_cosigners() == [bank.id]

    # Consistency between the one-entry tree and the latest checkpoint.
    consistency = api.get("/v1/journal/proofs/consistency", first=1, second=size).json()
    first_root = merkle.leaf_hash(b64d(entries[0]["leaf"]))
    merkle.verify_consistency(1, size, [b64d(h) for h in consistency["hashes"]], first_root,
                              signed.checkpoint.root)


def test_wrong_witness_key_is_refused(api: Api, cast: dict[str, Actor]) -> None:
    api.platform.journal.integrate_all()
    note = api.get("/v1/journal/checkpoint").text
    size = int(note.split("\n")[1])
    cp = open_checkpoint(note, parse_verifier_key(api.get("/v1/journal/key").text.strip())).checkpoint
    line = cosign(cp, cast["bank"].id, SigningKey.generate(), int(api.clock.now.timestamp()))
    r = api.client.post("/v1/journal/cosignatures", json={"tree_size": size, "signature_line": line},
                        headers={**cast["bank"].auth, "Idempotency-Key": "k"})
    assert r.status_code == 422 and r.json()["code"] == "cosignature_rejected"
