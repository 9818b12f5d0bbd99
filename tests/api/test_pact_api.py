"""PACT v3 conformance cases for a data owner, run against a real server (uvicorn on a free localhost port).

Case numbers are those of the conformance service's "PACT Tech Specs V3 Test Cases" (see ``docs/PACT.md``).
Each runs on SQLite and, when configured, PostgreSQL.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI, Request

from tests.conftest import Chain, FakeClock
from tests.green.test_pact_model import v3_footprint
from tierflow.api.routes_pact import footprint_service, router
from tierflow.bootstrap import Platform
from tierflow.services.footprints import PUBLISHED, REQUEST_CREATED, REQUEST_FULFILLED, REQUEST_REJECTED

PRODUCT = "urn:gtin:4012345000016"
COMPANY = "urn:uuid:6f0e8a3c-3a0b-4c36-9bd9-3c1e8f0f5a01"
CLASSIFICATION = "urn:pact:productclassification:un-cpc:35110"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    """A uvicorn server in a thread."""

    def __init__(self, app: FastAPI) -> None:
        self.port = _free_port()
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> Server:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            assert time.monotonic() < deadline, "server did not start"
            time.sleep(0.02)
        return self

    def __exit__(self, *_: object) -> None:
        self.server.should_exit = True
        self.thread.join(10)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@dataclass
class Pact:
    base: str
    client_id: str
    secret: str
    platform: Platform
    clock: FakeClock
    received: list[dict[str, Any]]
    recipient: str
    app: FastAPI
    footprint_ids: list[str]
    owner: str
    other_id: str

    def token(self) -> str:
        r = httpx.post(f"{self.base}/auth/token", auth=(self.client_id, self.secret),
                       data={"grant_type": "client_credentials"})
        assert r.status_code == 200, r.text
        return str(r.json()["access_token"])

    def get(self, path: str, token: str | None = None, **params: Any) -> httpx.Response:
        return httpx.get(self.base + path, params=params,
                         headers={"Authorization": f"Bearer {token or self.token()}"})

    def event(self, body: dict[str, Any], token: str | None = None) -> httpx.Response:
        return httpx.post(self.base + "/3/events", json=body, headers={
            "Authorization": f"Bearer {token or self.token()}",
            "Content-Type": "application/cloudevents+json; charset=UTF-8"})


@pytest.fixture
def pact(platform: Platform, chain: Chain, clock: FakeClock) -> Iterator[Pact]:
    received: list[dict[str, Any]] = []
    recipient_app = FastAPI()

    @recipient_app.post("/3/events")
    async def _events(request: Request) -> dict[str, str]:
        received.append(await request.json())
        return {}

    app = FastAPI()
    app.include_router(router)
    app.state.platform = platform
    service = footprint_service(platform, app.state)
    owner, customer, other = chain.tier1.party_id, chain.core.party_id, chain.tier2.party_id
    ids = []
    for i, (product, country) in enumerate([(PRODUCT, "DE"), ("urn:gtin:4012345000023", "FR"),
                                            ("urn:gtin:4012345000030", None)]):
        clock.advance(seconds=1)
        doc = v3_footprint(product=product, country=country)
        if i == 2:
            doc["pcf"]["geographyRegionOrSubregion"] = "Western Europe"
            doc["status"] = "Deprecated"
        ids.append(str(service.publish(owner, doc).id))
    other_id = str(service.publish(other, v3_footprint(product="urn:gtin:9999999999999")).id)
    client, secret = service.register_client(owner, customer)
    with Server(recipient_app) as recipient, Server(app) as server:
        yield Pact(server.url + "/pact", client.client_id, secret, platform, clock, received,
                   recipient.url + "/3/events", app, ids, owner, other_id)


def _wait_for(received: list[dict[str, Any]], count: int) -> None:
    deadline = time.monotonic() + 10
    while len(received) < count:
        assert time.monotonic() < deadline, "no event delivered"
        time.sleep(0.02)


def test_tc1_tc18_token_with_valid_credentials_and_discovery(pact: Pact) -> None:
    discovery = httpx.get(pact.base + "/.well-known/openid-configuration").json()
    assert discovery["token_endpoint"] == pact.base + "/auth/token"
    r = httpx.post(discovery["token_endpoint"], auth=(pact.client_id, pact.secret),
                   data={"grant_type": "client_credentials"})
    assert r.status_code == 200
    body = r.json()
    assert body["token_type"] == "Bearer" and body["expires_in"] == 3600 and body["access_token"]
    assert r.headers["cache-control"] == "no-store"


@pytest.mark.parametrize("credentials", [("wrong", "wrong"), ("client", "")])
def test_tc2_tc19_token_with_invalid_credentials(pact: Pact, credentials: tuple[str, str]) -> None:
    client_id = pact.client_id if credentials[0] == "client" else credentials[0]
    r = httpx.post(pact.base + "/auth/token", auth=(client_id, credentials[1] or "nope"),
                   data={"grant_type": "client_credentials"})
    assert r.status_code in (400, 401)
    assert r.json()["error"] == "invalid_client" and "access_token" not in r.json()
    no_auth = httpx.post(pact.base + "/auth/token", data={"grant_type": "client_credentials"})
    assert no_auth.status_code == 401
    bad_grant = httpx.post(pact.base + "/auth/token", auth=(pact.client_id, pact.secret),
                           data={"grant_type": "password"})
    assert bad_grant.status_code == 400 and bad_grant.json()["error"] == "unsupported_grant_type"


def test_tc3_get_footprint(pact: Pact) -> None:
    r = pact.get(f"/3/footprints/{pact.footprint_ids[0]}")
    assert r.status_code == 200
    data = r.json()["data"]
    assert data["id"] == pact.footprint_ids[0]
    assert data["pcf"]["pcfExcludingBiogenicUptake"] == "2.56"  # a decimal string


def test_tc4_list_footprints_only_the_owners(pact: Pact) -> None:
    r = pact.get("/3/footprints")
    assert r.status_code == 200
    assert [f["id"] for f in r.json()["data"]] == pact.footprint_ids
    assert "link" not in r.headers


def test_tc5_pagination_link(pact: Pact) -> None:
    token = pact.token()
    r = pact.get("/3/footprints", token, limit=1)
    seen = [f["id"] for f in r.json()["data"]]
    while "link" in r.headers:
        link = r.headers["link"]
        assert link.startswith(f"<{pact.base}/3/footprints?") and link.endswith('>; rel="next"')
        r = httpx.get(link[1:link.index(">")], headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 200 and len(r.json()["data"]) <= 1
        seen += [f["id"] for f in r.json()["data"]]
    assert seen == pact.footprint_ids
    filtered = pact.get("/3/footprints", token, limit=1, status="Active")
    assert "status=Active" in filtered.headers["link"]


@pytest.mark.parametrize("path", ["/3/footprints", "/3/footprints/{id}"])
def test_tc6_tc7_invalid_token(pact: Pact, path: str) -> None:
    r = pact.get(path.format(id=pact.footprint_ids[0]), "very-invalid-access-token")
    assert r.status_code == 400
    assert r.json() == {"code": "BadRequest", "message": "Invalid token provided"}
    missing = httpx.get(pact.base + path.format(id=pact.footprint_ids[0]))
    assert missing.status_code == 400 and missing.json()["code"] == "BadRequest"


def test_expired_token(pact: Pact) -> None:
    token = pact.token()
    pact.clock.advance(hours=1, seconds=1)
    r = pact.get("/3/footprints", token)
    assert r.status_code == 401 and r.json()["code"] == "TokenExpired"


def test_tc8_non_existent_footprint(pact: Pact) -> None:
    for missing in ("00000000-0000-0000-0000-000000000000", "non-existent-id"):
        r = pact.get(f"/3/footprints/{missing}")
        assert r.status_code == 404 and r.json()["code"] == "NotFound"


def test_another_owners_footprint_is_denied(pact: Pact) -> None:
    r = pact.get(f"/3/footprints/{pact.other_id}")
    assert r.status_code == 403 and r.json()["code"] == "AccessDenied"


def test_tc9_to_tc11_tc17_plain_http_is_refused_off_loopback(pact: Pact) -> None:
    pact.app.state.pact_http_allowed = ()
    r = httpx.post(pact.base + "/auth/token", auth=(pact.client_id, pact.secret),
                   data={"grant_type": "client_credentials"})
    assert r.status_code == 403 and "access_token" not in r.json()
    for path in ("/3/footprints", f"/3/footprints/{pact.footprint_ids[0]}"):
        r = httpx.get(pact.base + path, headers={"Authorization": "Bearer x"})
        assert r.status_code == 403 and "data" not in r.json()
    r = httpx.post(pact.base + "/3/events", json={}, headers={"Authorization": "Bearer x"})
    assert r.status_code == 403 and "data" not in r.json()


def _created(pact: Pact, event_id: str, products: list[str]) -> dict[str, Any]:
    return {"specversion": "1.0", "id": event_id, "source": pact.recipient, "time": "2026-01-05T09:00:00Z",
            "type": REQUEST_CREATED, "data": {"productId": products, "comment": "Please send PCF data."}}


def test_tc12_tc13_request_is_accepted_and_fulfilled(pact: Pact) -> None:
    r = pact.event(_created(pact, "req-13", [PRODUCT.upper()]))
    assert r.status_code == 200
    _wait_for(pact.received, 1)
    event = pact.received[0]
    assert event["type"] == REQUEST_FULFILLED and event["specversion"] == "1.0"
    assert event["data"]["requestEventId"] == "req-13"
    assert [pf["productIds"] for pf in event["data"]["pfs"]] == [[PRODUCT]]
    again = pact.event(_created(pact, "req-13", [PRODUCT]))  # redelivery: accepted, not answered twice
    assert again.status_code == 200
    time.sleep(0.2)
    assert len(pact.received) == 1


def test_tc14_request_for_unknown_product_is_rejected(pact: Pact) -> None:
    assert pact.event(_created(pact, "req-14", ["urn:pact:null"])).status_code == 200
    _wait_for(pact.received, 1)
    event = pact.received[0]
    assert event["type"] == REQUEST_REJECTED
    assert event["data"]["requestEventId"] == "req-14" and event["data"]["error"]["code"] == "NotFound"


def test_tc13_tc14_tc15_fulfilled_rejected_and_published_events_are_accepted(pact: Pact) -> None:
    base = {"specversion": "1.0", "source": "https://webhook.example.com", "time": "2026-01-05T09:00:00Z"}
    fulfilled = {**base, "id": "f-1", "type": REQUEST_FULFILLED,
                 "data": {"requestEventId": "x", "pfs": [v3_footprint()]}}
    rejected = {**base, "id": "r-1", "type": REQUEST_REJECTED,
                "data": {"requestEventId": "x", "error": {"code": "NotFound", "message": "none"}}}
    published = {**base, "id": "p-1", "type": PUBLISHED, "data": {"pfIds": [pact.footprint_ids[0]]}}
    token = pact.token()
    for event in (fulfilled, rejected, published):
        assert pact.event(event, token).status_code == 200


@pytest.mark.parametrize("body", [
    {"specversion": "1.0", "id": "1", "source": "s", "type": "org.example.Unknown", "data": {}},
    {"specversion": "1.0", "id": "1", "source": "s", "type": REQUEST_CREATED, "data": {}},
    {"specversion": "1.0", "id": "1", "type": PUBLISHED, "data": {"pfIds": ["a"]}},
    {"specversion": "0.3", "id": "1", "source": "s", "type": PUBLISHED, "data": {"pfIds": ["a"]}},
    {"specversion": "1.0", "id": "1", "source": "s", "type": PUBLISHED, "data": {"pfIds": []}},
    {"specversion": "1.0", "id": "1", "source": "s", "type": REQUEST_FULFILLED, "data": {"pfs": []}},
])
def test_invalid_events_are_bad_requests(pact: Pact, body: dict[str, Any]) -> None:
    r = pact.event(body)
    assert r.status_code == 400 and r.json()["code"] == "BadRequest"


def test_tc16_events_with_invalid_token(pact: Pact) -> None:
    body = {"type": PUBLISHED, "specversion": "1.0", "id": "16", "source": "s", "data": {"pfIds": ["a"]}}
    r = pact.event(body, "very-invalid-access-token")
    assert r.status_code == 400 and r.json()["code"] == "BadRequest"


FILTERS: list[tuple[dict[str, Any], list[int]]] = [
    ({"productId": PRODUCT}, [0]),                                                       # 20
    ({"productId": PRODUCT.upper()}, [0]),                                               # 20, case-insensitive
    ({"companyId": COMPANY}, [0, 1, 2]),                                                 # 21
    ({"geography": "DE"}, [0]),                                                          # 22
    ({"geography": "western europe"}, [2]),                                              # 22, region
    ({"classification": CLASSIFICATION}, [0, 1, 2]),                                     # 23
    ({"validOn": "2025-01-01T00:00:00Z"}, [0, 1, 2]),                                    # 24
    ({"validAfter": "2024-12-31T00:00:00Z"}, [0, 1, 2]),                                 # 25
    ({"validBefore": "2028-01-01T00:00:00Z"}, [0, 1, 2]),                                # 26
    ({"status": "Active"}, [0, 1]),                                                      # 27
    ({"status": "Active", "productId": PRODUCT}, [0]),                                   # 28
    ({"productId": [PRODUCT, "urn:gtin:4012345000023", "urn:gtin:0"]}, [0, 1]),          # 29 (OR)
    ({"companyId": [COMPANY, "urn:uuid:other-company"]}, [0, 1, 2]),                     # 29
    ({"productId": "urn:bogus:product:nonexistent123"}, []),                             # 30
    ({"companyId": "urn:bogus:company:nonexistent456"}, []),                             # 31
    ({"geography": "XX"}, []),                                                           # 32
    ({"classification": "urn:bogus:classification:nonexistent789"}, []),                # 33
    ({"validOn": "1900-01-01T00:00:00Z"}, []),                                           # 34
    ({"validAfter": "2099-12-31T23:59:59Z"}, []),                                        # 35
    ({"validBefore": "1900-01-01T00:00:00Z"}, []),                                       # 36
    ({"status": "BogusStatusValue"}, []),                                                # 37
    ({"companyId": "urn:bogus:company:5FIi8zS3", "productId": "urn:bogus:product:x"}, []),  # 38
    ({"companyId": ["urn:bogus:company:1", "urn:bogus:company:2"]}, []),                 # 39
    ({"geography": "DE", "productId": "urn:gtin:4012345000023"}, []),                    # AND across criteria
]


def test_tc20_to_tc39_filters(pact: Pact) -> None:
    token = pact.token()
    for params, expected in FILTERS:
        r = pact.get("/3/footprints", token, **params)
        assert r.status_code == 200, (params, r.text)
        assert [f["id"] for f in r.json()["data"]] == [pact.footprint_ids[i] for i in expected], params


@pytest.mark.parametrize("params", [{"validOn": "yesterday"}, {"validOn": "2025-01-01T00:00:00"},
                                    {"limit": "0"}, {"limit": "x"}, {"offset": "-1"}])
def test_bad_filter_values_are_bad_requests(pact: Pact, params: dict[str, str]) -> None:
    r = pact.get("/3/footprints", **params)
    assert r.status_code == 400 and r.json()["code"] == "BadRequest"


def test_a_successor_deprecates_its_predecessor(pact: Pact) -> None:
    service = footprint_service(pact.platform, pact.app.state)
    successor = v3_footprint(product=PRODUCT)
    successor["precedingPfIds"] = [pact.footprint_ids[0]]
    service.publish(pact.owner, successor)
    token = pact.token()
    assert pact.get(f"/3/footprints/{pact.footprint_ids[0]}", token).json()["data"]["status"] == "Deprecated"
    active = pact.get("/3/footprints", token, status="active", productId=PRODUCT).json()["data"]
    assert [f["id"] for f in active] == [successor["id"]]
