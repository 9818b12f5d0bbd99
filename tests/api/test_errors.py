"""Bad requests get RFC 9457 problem+json with a stable code, and change nothing."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import pytest

from tests.api.conftest import Actor, Api
from tierflow.store import schema as t

PROBLEM_KEYS = {"type", "title", "status", "detail", "code", "instance", "request_id"}


def assert_problem(r: Any, status: int, code: str) -> None:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    body = r.json()
    assert set(body) >= PROBLEM_KEYS, body
    assert body["code"] == code and body["status"] == status and body["type"] == f"/problems/{code}"


def events(api: Api) -> int:
    with api.platform.uow() as uow:
        return uow.repo.count(t.events)


def issue_body(api: Api, to: Actor, **over: Any) -> dict[str, Any]:
    body = {"first_holder": to.id, "amount": "1000.00", "currency": "CNY",
            "maturity": (api.clock.now + timedelta(days=30)).date().isoformat(),
            "contract_ref": "PO-1", "invoice_refs": ["INV-1"]}
    body.update(over)
    return body


@pytest.mark.parametrize(
    ("override", "status", "code"),
    [
        ({"amount": "0.00"}, 400, "invalid_amount"),
        ({"amount": "-5.00"}, 400, "invalid_amount"),
        ({"amount": "1.001"}, 400, "invalid_amount"),
        ({"amount": "1000000000.01"}, 422, "face_too_large"),
        ({"amount": "1e5"}, 400, "invalid_amount"),
        ({"currency": "XXX"}, 400, "unknown_currency"),
        ({"maturity": "2020-01-01"}, 422, "maturity_in_past"),
        ({"maturity": "2030-01-01"}, 422, "tenor_too_long"),
        ({"maturity": "tomorrow"}, 400, "invalid_command"),
        ({"first_holder": "pty_nobody"}, 404, "unknown_party"),
        ({"invoice_refs": []}, 400, "invalid_command"),
    ],
)
def test_bad_issue_is_refused_and_changes_nothing(
    api: Api, cast: dict[str, Actor], override: dict[str, Any], status: int, code: str
) -> None:
    before = events(api)
    r = api.post("/v1/vouchers", cast["core"], "voucher.issue", issue_body(api, cast["t1"], **override), expect=None)
    assert_problem(r, status, code)
    assert events(api) == before


def test_unauthenticated_and_unauthorised(api: Api, cast: dict[str, Actor]) -> None:
    r = api.client.get("/v1/holdings")
    assert_problem(r, 401, "unauthenticated")
    r = api.client.get("/v1/holdings", headers={"Authorization": "Bearer tf_forged"})
    assert_problem(r, 401, "unauthenticated")
    # A supplier cannot issue vouchers.
    r = api.post("/v1/vouchers", cast["t1"], "voucher.issue", issue_body(api, cast["t2"]), expect=None)
    assert_problem(r, 403, "wrong_role")
    # A supplier cannot register parties.
    r = api.post("/v1/parties", cast["t1"], "party.register", {"name": "x", "role": "supplier",
                                                               "public_key": "AA=="}, expect=None)
    assert_problem(r, 403, "not_authorised")
    # Signing as someone else with your own token.
    signed = cast["t1"].key.command("voucher.issue", issue_body(api, cast["t1"]), actor=cast["core"].id,
                                    now=api.clock)
    r = api.client.post("/v1/vouchers", json={"command": signed.command, "signature": signed.signature},
                        headers={**cast["core"].auth, "Idempotency-Key": "k1"})
    assert_problem(r, 403, "bad_signature")


def test_other_partys_holding_is_not_found(api: Api, cast: dict[str, Actor]) -> None:
    issued = api.post("/v1/vouchers", cast["core"], "voucher.issue", issue_body(api, cast["t1"])).json()
    holding = issued["effects"]["holding_id"]
    assert_problem(api.get(f"/v1/holdings/{holding}", cast["t2"]), 404, "not_found")
    assert_problem(api.get(f"/v1/holdings/{holding}/provenance", cast["bank"]), 404, "not_found")
    assert api.get(f"/v1/holdings/{holding}", cast["core"]).status_code == 200  # the obligor sees it
    r = api.post("/v1/transfers", cast["t2"], "transfer.offer", {
        "holding_id": holding, "recipient": cast["t2"].id, "amount": "1.00", "currency": "CNY",
        "trade_ref": "x", "invoice_refs": ["y"]}, expect=None)
    assert_problem(r, 404, "not_found")


def test_idempotency_key_rules(api: Api, cast: dict[str, Actor]) -> None:
    signed = cast["core"].key.command("voucher.issue", issue_body(api, cast["t1"]), now=api.clock)
    payload = {"command": signed.command, "signature": signed.signature}
    r = api.client.post("/v1/vouchers", json=payload, headers=cast["core"].auth)
    assert_problem(r, 400, "idempotency_key_missing")
    headers = {**cast["core"].auth, "Idempotency-Key": str(uuid.uuid4())}
    first = api.client.post("/v1/vouchers", json=payload, headers=headers)
    assert first.status_code == 201
    before = events(api)
    again = api.client.post("/v1/vouchers", json=payload, headers=headers)
    assert again.status_code == 201 and again.json() == first.json()
    assert events(api) == before
    other = cast["core"].key.command("voucher.issue", issue_body(api, cast["t1"], amount="2.00"), now=api.clock)
    r = api.client.post("/v1/vouchers", json={"command": other.command, "signature": other.signature},
                        headers=headers)
    assert_problem(r, 422, "idempotency_key_reused")
    # The same signed command under a new key is a replay.
    r = api.client.post("/v1/vouchers", json=payload, headers={**cast["core"].auth, "Idempotency-Key": "new"})
    assert_problem(r, 409, "replayed_command")
    assert events(api) == before


def test_forged_signature_wrong_kind_and_path(api: Api, cast: dict[str, Actor]) -> None:
    signed = cast["core"].key.command("voucher.issue", issue_body(api, cast["t1"]), now=api.clock)
    sig = bytearray(__import__("base64").b64decode(signed.signature))
    sig[0] ^= 1
    forged = __import__("base64").b64encode(bytes(sig)).decode()
    r = api.client.post("/v1/vouchers", json={"command": signed.command, "signature": forged},
                        headers={**cast["core"].auth, "Idempotency-Key": "f"})
    assert_problem(r, 403, "bad_signature")
    r = api.client.post("/v1/transfers", json={"command": signed.command, "signature": signed.signature},
                        headers={**cast["core"].auth, "Idempotency-Key": "g"})
    assert_problem(r, 400, "wrong_command_kind")
    acc = cast["t1"].key.command("transfer.accept", {"offer_id": "ofr_a"}, now=api.clock)
    r = api.client.post("/v1/transfers/ofr_b/accept", json={"command": acc.command, "signature": acc.signature},
                        headers={**cast["t1"].auth, "Idempotency-Key": "h"})
    assert_problem(r, 400, "path_mismatch")
    r = api.client.post("/v1/vouchers", content=b"{not json", headers={**cast["core"].auth,
                                                                      "content-type": "application/json"})
    assert_problem(r, 400, "invalid_request")
    assert_problem(api.client.get("/v1/nowhere"), 404, "not_found")


def test_proofs_beyond_the_checkpoint_are_refused(api: Api) -> None:
    api.platform.journal.integrate_all()
    size = int(api.get("/v1/journal/checkpoint").text.split("\n")[1])
    assert_problem(api.get("/v1/journal/proofs/inclusion", index=0, tree_size=size + 1), 400, "proof_unavailable")
    assert_problem(api.get("/v1/journal/proofs/consistency", first=2, second=1), 400, "proof_unavailable")
    assert_problem(api.get("/v1/journal/proofs/inclusion", index=-1, tree_size=1), 400, "invalid_request")
