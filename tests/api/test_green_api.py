"""Green finance over HTTP: taxonomies, a certifier's label and the bank's green totals, ESG figures."""

from __future__ import annotations

import json
from datetime import timedelta
from importlib import resources

from tests.api.conftest import Actor, Api

EVIDENCE = [{"description": "assurance statement", "sha256": "e" * 64}]


def test_taxonomies_are_listed_and_browsable(api: Api, cast: dict[str, Actor]) -> None:
    listed = api.get("/v1/green/taxonomies", cast["bank"]).json()["data"]
    assert {(t["id"], t["version"]) for t in listed} >= {("cn-gfspc", "2025"), ("cn-gbepc", "2021")}
    tree = api.get("/v1/green/taxonomies/cn-gfspc/2025", cast["bank"]).json()
    assert tree["nodes"][0]["level"] == 1 and tree["nodes"][0]["children"]
    assert api.get("/v1/green/taxonomies/nope/1", cast["bank"]).status_code == 404
    assert api.get("/v1/green/taxonomies").status_code == 401


def test_a_certified_green_financing_counts_in_the_banks_totals(api: Api, cast: dict[str, Actor]) -> None:
    core, t1, bank = cast["core"], cast["t1"], cast["bank"]
    certifier = api.register("China Green Assurance", "certifier")
    maturity = (api.clock.now.date() + timedelta(days=90)).isoformat()
    issued = api.post("/v1/vouchers", core, "voucher.issue", {
        "first_holder": t1.id, "amount": "300000.00", "currency": "CNY", "maturity": maturity,
        "contract_ref": "PO-9", "invoice_refs": ["26442000000000000009"]}).json()
    fid = api.post("/v1/financings", t1, "financing.request", {
        "holding_id": issued["effects"]["holding_id"], "financier": bank.id, "amount": "300000.00",
        "currency": "CNY", "annual_rate": "0.04"}).json()["effects"]["financing_id"]
    label = api.post("/v1/green/labels", certifier, "green.label", {
        "subject_kind": "asset", "subject_id": issued["effects"]["voucher_id"], "taxonomy": "cn-gfspc",
        "version": "2025", "code": "3.1.1", "criterion_id": "3.1.1/c1", "evidence": EVIDENCE,
        "valid_from": api.clock.now.date().isoformat()}).json()
    assert label["effects"]["label"]["certifier_id"] == certifier.id
    refused = api.post("/v1/green/labels", bank, "green.label", {
        "subject_kind": "asset", "subject_id": issued["effects"]["voucher_id"], "taxonomy": "cn-gfspc",
        "version": "2025", "code": "3.1.1", "criterion_id": "3.1.1/c1", "evidence": EVIDENCE,
        "valid_from": api.clock.now.date().isoformat()}, expect=403)
    assert refused.json()["code"] == "not_authorised"
    assert api.get("/v1/green/totals", bank).json()["data"] == []  # not disbursed yet
    for kind, who, body in (
        ("financing.review", bank, {"user": "a", "recommendation": "approve"}),
        ("financing.approve", bank, {"user": "b"}),
        ("financing.sign", t1, {"contract_number": "FC", "contract_sha256": "a" * 64}),
        ("financing.sign", bank, {"contract_number": "FC", "contract_sha256": "b" * 64}),
        ("financing.register", bank, {"registry_number": "0" * 20}),
        ("financing.fund", bank, {"payment_message_id": "M", "payment_sha256": "c" * 64, "bank_reference": "B"}),
    ):
        verb = kind.split(".")[1]
        api.post(f"/v1/financings/{fid}/{verb}", who, kind, {"financing_id": fid, **body})
    totals = {(r["level"], r["code"]): r for r in api.get("/v1/green/totals", bank).json()["data"]}
    assert totals[(3, "3.1.1")]["amount"] == "300000.00" and totals[(1, "3")]["subjects"] == 1
    assert api.get("/v1/green/labels", core, subject_id=issued["effects"]["voucher_id"]).json()["data"]
    # The bank financed the voucher: it sees the label that counts in its totals; another supplier does not.
    assert api.get("/v1/green/labels", bank, subject_id=issued["effects"]["voucher_id"]).json()["data"]
    assert api.get("/v1/green/labels", cast["t2"], subject_id=issued["effects"]["voucher_id"]).json()["data"] == []


def test_esg_figures_from_inputs(api: Api, cast: dict[str, Actor]) -> None:
    example = resources.files("tierflow.green").joinpath("data/examples/esg-2021.json").read_text()
    answer = api.client.post("/v1/green/esg", content=example, headers=cast["t1"].auth)
    assert answer.status_code == 200, answer.text
    rows = {(r["code"], r["item"]): r for r in answer.json()["rows"]}
    total = rows[("A1.2", "Total GHG emissions (Scope 1 + Scope 2 location-based)")]
    assert total["value"] == "292"
    csv = api.client.post("/v1/green/esg?format=csv", content=example, headers=cast["t1"].auth)
    assert csv.headers["content-type"].startswith("text/csv") and "292.2379" in csv.text
    html = api.client.post("/v1/green/esg?format=html", content=example, headers=cast["t1"].auth)
    assert "<svg" in html.text and "<script" not in html.text
    floaty = json.loads(example)
    bad = json.dumps(floaty).replace('"479"', "479.0")
    refused = api.client.post("/v1/green/esg", content=bad, headers=cast["t1"].auth)
    assert refused.status_code == 400 and "string" in refused.json()["detail"]


def test_the_factor_library_is_published_with_its_sources(api: Api, cast: dict[str, Actor]) -> None:
    answer = api.get("/v1/green/factors", cast["t1"]).json()
    factors = {f["id"]: f for f in answer["data"]}
    seed = factors["cn.grid.national.2015.mee-2021-guide"]
    assert seed["value"] == "0.6101" and seed["source"] and len(answer["digest"]) == 64
    grid = api.get("/v1/green/factors", cast["t1"], activity="electricity.grid").json()["data"]
    assert grid and all(f["activity"] == "electricity.grid" for f in grid)
    assert api.get("/v1/green/factors", cast["t1"], version="nope").status_code == 404
