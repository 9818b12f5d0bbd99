"""The financing case over HTTP, for a client that signs its own commands: the platform draws up the contract,
checks the signed files, builds the pain.001 and matches the camt.054; the client signs every transition."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from tests.api.conftest import Actor, Api
from tests.trade_world import BANK_ACCOUNT
from tierflow.integrations.iso20022 import validate_pain001


def _financing(api: Api, cast: dict[str, Actor]) -> str:
    core, t1, bank = cast["core"], cast["t1"], cast["bank"]
    maturity = api.clock.now.date() + timedelta(days=90)
    issued = api.post("/v1/vouchers", core, "voucher.issue", {
        "first_holder": t1.id, "amount": "500000.00", "currency": "CNY", "maturity": maturity.isoformat(),
        "contract_ref": "PO-1", "invoice_refs": ["26442000000000000001"]}).json()
    asked = api.post("/v1/financings", t1, "financing.request", {
        "holding_id": issued["effects"]["holding_id"], "financier": bank.id, "amount": "500000.00",
        "currency": "CNY", "annual_rate": "0.04"}).json()
    return str(asked["effects"]["financing_id"])


def _act(api: Api, who: Actor, fid: str, verb: str, kind: str, body: dict[str, Any], expect: int = 201) -> Any:
    return api.post(f"/v1/financings/{fid}/{verb}", who, kind, {"financing_id": fid, **body}, expect=expect)


def _upload(api: Api, who: Actor, path: str, content: bytes, media_type: str) -> Any:
    return api.client.post(path, content=content, headers={**who.auth, "Content-Type": media_type})


def test_a_financing_case_over_http(api: Api, cast: dict[str, Actor]) -> None:
    t1, bank = cast["t1"], cast["bank"]
    esign, registry_bank = api.platform.outside.esign, api.platform.outside.bank
    fid = _financing(api, cast)
    case = api.get(f"/v1/financings/{fid}/case", bank).json()
    assert case["stage"] == "verified" and case["verification"]["results"]
    assert api.get(f"/v1/financings/{fid}/case", cast["t2"]).status_code == 404

    _act(api, bank, fid, "review", "financing.review", {"user": "li.wei", "recommendation": "approve"})
    refused = _act(api, bank, fid, "approve", "financing.approve", {"user": "li.wei"}, expect=403)
    assert refused.json()["code"] == "maker_checker"
    assert refused.headers["content-type"].startswith("application/problem+json")
    _act(api, bank, fid, "approve", "financing.approve", {"user": "zhang.min"})

    # The applicant signs the drawn-up contract with its own e-signature provider, then uploads it.
    draft = api.get(f"/v1/financings/{fid}/contract", t1)
    assert draft.status_code == 200 and draft.content.startswith(b"%PDF")
    signed = esign.sign(draft.content, party_id=t1.id, party_name="Tier-1 Ltd", field_name="applicant", reason="r")
    uploaded = _upload(api, t1, f"/v1/financings/{fid}/contract", signed, "application/pdf")
    assert uploaded.status_code == 200, uploaded.text
    checked = uploaded.json()
    assert [s["signer_party"] for s in checked["signatures"]] == [t1.id]
    number = "FC-" + fid.removeprefix("fin_")[:32]
    _act(api, t1, fid, "sign", "financing.sign", {"contract_number": number, "contract_sha256": checked["sha256"]})

    # The bank countersigns the applicant's file.
    theirs = api.get(f"/v1/financings/{fid}/files/{checked['sha256']}", bank).content
    both = esign.sign(theirs, party_id=bank.id, party_name="First Bank", field_name="bank", reason="r")
    rechecked = _upload(api, bank, f"/v1/financings/{fid}/contract", both, "application/pdf").json()
    assert [s["signer_party"] for s in rechecked["signatures"]] == [t1.id, bank.id]
    _act(api, bank, fid, "sign", "financing.sign", {"contract_number": number, "contract_sha256": rechecked["sha256"]})
    _act(api, bank, fid, "register", "financing.register", {"registry_number": "00000001262611260001"})

    # The payment instruction validates against the XSD; the bank's own gateway takes it.
    prepared = api.client.post(f"/v1/financings/{fid}/payment-instruction", headers=bank.auth, json={
        "debtor": {"number": BANK_ACCOUNT.number, "name": BANK_ACCOUNT.name, "bank_code": BANK_ACCOUNT.bank_code},
        "creditor": {"number": "6222000000001", "name": "Tier-1 Ltd", "bank_code": "103100000026"}}).json()
    xml = prepared["pain001"].encode()
    validate_pain001(xml)
    status = registry_bank.submit_pain001(xml)
    assert status.accepted, status.detail
    _act(api, bank, fid, "fund", "financing.fund", {"payment_message_id": status.message_id,
                                                    "payment_sha256": prepared["sha256"],
                                                    "bank_reference": status.bank_reference})

    # The obligor's payment reaches the bank; the camt.054 is matched and the bank signs the repayment.
    registry_bank.credit(BANK_ACCOUNT, amount_minor=500_000_00, currency="CNY", end_to_end_id=fid,
                         debtor_name="Core Co")
    camt = registry_bank.notifications(BANK_ACCOUNT.number)
    matched = _upload(api, bank, "/v1/repayments/camt054", camt, "application/xml").json()
    assert len(matched["to_sign"]) == 1 and matched["unmatched"] == []
    repay = matched["to_sign"][0]
    _act(api, bank, fid, "repay", repay["kind"], {k: v for k, v in repay["body"].items() if k != "financing_id"})
    assert api.get(f"/v1/financings/{fid}/case", t1).json()["stage"] == "closed"


def test_bad_uploads_are_problems_not_errors(api: Api, cast: dict[str, Actor]) -> None:
    bank = cast["bank"]
    fid = _financing(api, cast)
    wrong_type = _upload(api, bank, f"/v1/financings/{fid}/contract", b"%PDF-1.7", "text/plain")
    assert wrong_type.status_code == 415 and wrong_type.json()["code"] == "unsupported_media_type"
    garbage = _upload(api, bank, f"/v1/financings/{fid}/contract", b"not a pdf", "application/pdf")
    assert garbage.status_code == 422 and garbage.json()["code"] == "external_service_refused"
    bad_xml = _upload(api, bank, "/v1/repayments/camt054", b"<!DOCTYPE x [<!ENTITY a 'b'>]><x>&a;</x>",
                      "application/xml")
    assert bad_xml.status_code == 400 and bad_xml.json()["code"] == "invalid_command"
    not_a_bank = _upload(api, cast["t1"], "/v1/repayments/camt054", b"<x/>", "application/xml")
    assert not_a_bank.status_code == 403
    early = api.get(f"/v1/financings/{fid}/contract", bank)
    assert early.status_code == 409 and early.json()["code"] == "invalid_transition"
    bad_account = api.client.post(f"/v1/financings/{fid}/payment-instruction", headers=bank.auth, json={
        "debtor": {"number": "1", "name": "B", "bank_code": "12"},
        "creditor": {"number": "2", "name": "T", "bank_code": "103100000026"}})
    assert bad_account.status_code == 400
