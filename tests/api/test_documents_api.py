"""Trade documents over HTTP: registration, visibility, lookup by number and idempotent retries."""

from __future__ import annotations

from typing import Any

from tests.api.conftest import Actor, Api
from tests.services.documents_data import contract, invoice


def _invoice_body(seller: Actor, buyer: Actor, **changes: Any) -> dict[str, Any]:
    return {
        "type": "vat_invoice",
        "fields": invoice(**changes),
        "seller_party": seller.id,
        "buyer_party": buyer.id,
        "source": "xml",
    }


def test_register_and_read_a_document(api: Api, cast: dict[str, Actor]) -> None:
    t1, core, t2 = cast["t1"], cast["core"], cast["t2"]
    r = api.post("/v1/documents", t1, "document.register", _invoice_body(t1, core))
    effects = r.json()["effects"]
    doc_id = effects["document_id"]
    assert r.headers["Location"] == f"/v1/documents/{doc_id}"
    for who in (t1, core, api.operator):
        got = api.get(f"/v1/documents/{doc_id}", who)
        assert got.status_code == 200, got.text
        body = got.json()
        assert body["content_hash"] == effects["content_hash"] and body["fields"]["total"] == "1130.00"
        assert (body["seller"], body["buyer"], body["registered_by"], body["source"]) == (t1.id, core.id, t1.id, "xml")
    hidden = api.get(f"/v1/documents/{doc_id}", t2)
    assert hidden.status_code == 404 and hidden.json()["code"] == "not_found"
    assert api.get("/v1/documents/doc_nothing", t1).status_code == 404
    assert api.get(f"/v1/documents/{doc_id}").status_code == 401

    found = api.get("/v1/documents", core, type="vat_invoice", number=invoice()["number"]).json()
    assert [d["id"] for d in found["data"]] == [doc_id] and found["has_more"] is False
    assert api.get("/v1/documents", t2, type="vat_invoice", number=invoice()["number"]).json()["data"] == []
    assert api.get("/v1/documents", core, type="contract").json()["data"] == []
    assert len(api.get("/v1/documents", api.operator).json()["data"]) == 1


def test_refusals_over_http(api: Api, cast: dict[str, Actor]) -> None:
    t1, core, t2 = cast["t1"], cast["core"], cast["t2"]
    api.post("/v1/documents", t1, "document.register", {"type": "contract", "fields": contract(t1.id, core.id)})
    dup = api.post(
        "/v1/documents", core, "document.register", {"type": "contract", "fields": contract(t1.id, core.id)}, expect=409
    )
    assert dup.json()["code"] == "document_exists" and dup.json()["fields"]["document_id"].startswith("doc_")
    bad = api.post("/v1/documents", t1, "document.register", _invoice_body(t1, core, total="1.00"), expect=400)
    assert bad.json()["code"] == "invalid_document" and bad.json()["fields"]["field"] == "total"
    uscc = api.post(
        "/v1/documents", t1, "document.register", _invoice_body(t1, core, seller_uscc="91440300MA5F000AA0"), expect=400
    )
    assert uscc.json()["code"] == "invalid_uscc"
    outsider = api.post(
        "/v1/documents",
        t2,
        "document.register",
        {"type": "contract", "fields": contract(t1.id, core.id, number="SC-9")},
        expect=403,
    )
    assert outsider.json()["code"] == "not_authorised"
    wrong = api.post("/v1/documents", t1, "voucher.issue", {}, expect=400)
    assert wrong.json()["code"] == "wrong_command_kind"
    assert len(api.get("/v1/documents", api.operator).json()["data"]) == 1


def test_a_retried_request_gets_the_same_answer(api: Api, cast: dict[str, Actor]) -> None:
    t1, core = cast["t1"], cast["core"]
    signed = t1.key.command("document.register", _invoice_body(t1, core), now=api.clock)
    payload = {"command": signed.command, "signature": signed.signature}
    headers = {**t1.auth, "Idempotency-Key": "doc-retry-1"}
    first = api.client.post("/v1/documents", json=payload, headers=headers)
    again = api.client.post("/v1/documents", json=payload, headers=headers)
    assert first.status_code == again.status_code == 201
    assert first.json() == again.json()
    assert len(api.get("/v1/documents", api.operator).json()["data"]) == 1
    other = api.client.post("/v1/documents", json=payload, headers={**t1.auth, "Idempotency-Key": "doc-retry-2"})
    assert other.status_code == 409 and other.json()["code"] == "replayed_command"
