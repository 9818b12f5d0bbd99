"""The product footprint page: a supplier or core enterprise publishes PACT footprints (v3 and v2) from a file,
exports them, and registers a PACT client whose secret then obtains a token; a bad document publishes nothing."""

from __future__ import annotations

import copy
import json
import re
from typing import Any

from tests.green.test_pact_model import v2_footprint, v3_footprint
from tests.portal.conftest import PASSWORD, World
from tests.portal.test_green_pages import main, words
from tierflow.bootstrap import Platform
from tierflow.services.accounts import PortalRole

V3_ID = "3b1f0d2e-6a4c-4f8e-9d1a-2c5b7e9f0a11"


def upload(b: Any, content: Any, **extra: str) -> Any:
    body = content if isinstance(content, bytes) else json.dumps(content).encode()
    return b.post("/portal/footprints", dict(extra),
                  files={"footprints_file": ("footprints.json", body, "application/json")})


def published(platform: Platform, party_id: str) -> list[str]:
    return [str(f.id) for f in platform.footprints.footprints_of(party_id)]


# --- access ---------------------------------------------------------------------------------------------------


def test_footprints_are_for_suppliers_and_core_enterprises(world: World, browser: Any) -> None:
    for username in ("supplier1", "core.clerk"):
        b = browser(username)
        page = b.get("/portal/footprints")
        assert page.status_code == 200, username
        assert 'href="/portal/footprints" aria-current="page"' in page.text
        assert "Product carbon footprints of" in main(page.text)
    for username in ("bank.officer", "operator", "auditor"):
        b = browser(username)
        assert b.get("/portal/footprints").status_code == 403, username
        assert upload(b, v3_footprint()).status_code == 403, username
        assert b.get("/portal/footprints/export").status_code == 403, username
    anonymous = browser()
    r = anonymous.get("/portal/footprints", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/portal/login?next=")
    # CSRF: a form without the session's token is refused.
    s = browser("supplier1")
    assert s.post("/portal/footprints", csrf=False,
                  files={"footprints_file": ("f.json", b"{}", "application/json")}).status_code == 403


def test_a_read_only_auditor_of_a_supplier_sees_but_cannot_upload(
    world: World, browser: Any, platform: Platform
) -> None:
    platform.accounts.create_user(username="tier1.auditor", password=PASSWORD, party_id=world.tier1.party_id,
                                  display_name="Tier-1 Auditor", role=PortalRole.AUDITOR)
    b = browser("tier1.auditor")
    page = b.get("/portal/footprints")
    assert page.status_code == 200
    text = main(page.text)
    assert 'action="/portal/footprints"' not in text and "cannot publish footprints" in text
    r = upload(b, v3_footprint())
    assert r.status_code == 403 and "An auditor's account can read but not act" in main(r.text)
    assert b.post("/portal/footprints/clients", {"recipient": world.core.party_id}).status_code == 403
    assert published(platform, world.tier1.party_id) == []


# --- publishing -----------------------------------------------------------------------------------------------


def test_uploading_v3_and_v2_footprints_lists_them(world: World, browser: Any, platform: Platform) -> None:
    b = browser("supplier1")
    r = upload(b, {"data": [v3_footprint(id=V3_ID)]})
    assert r.status_code == 200, main(r.text)[:2000]
    assert "Published 1 footprint" in words(r.text)
    # A v2 document declared per litre needs the mass per declared unit (v3 requires it).
    needs_mass = upload(b, v2_footprint())
    assert needs_mass.status_code == 422
    assert "productMassPerDeclaredUnit is required" in words(needs_mass.text)
    assert "in “Product mass per declared unit”" in words(needs_mass.text)
    r = upload(b, [v2_footprint()], product_mass="11.2")
    assert r.status_code == 200, main(r.text)[:2000]
    assert published(platform, world.tier1.party_id) == [V3_ID, v2_footprint()["id"]]

    text = words(b.get("/portal/footprints").text)
    assert "AquaCoat 100" in text and "Polyol P-20" in text
    assert "urn:gtin:4012345000016" in text and "urn:gtin:4712345060507" in text
    assert "1 kilogram" in text and "12.5 liter" in text
    assert "2.56" in text and "2.0" in text
    assert "2024-01-01 to 2025-01-01" in text and "2023-01-01 to 2024-01-01" in text
    assert "Active" in text
    page = b.get("/portal/footprints").text
    assert f'href="/portal/footprints/{V3_ID}"' in page

    one = b.get(f"/portal/footprints/{V3_ID}")
    assert one.status_code == 200
    assert '"pcfExcludingBiogenicUptake": "2.56"' in main(one.text)
    # Another party's footprint is not found, whatever the URL.
    assert browser("supplier2").get(f"/portal/footprints/{V3_ID}").status_code == 404
    # The same id again is refused.
    again = upload(b, v3_footprint(id=V3_ID))
    assert again.status_code == 422 and "already one of your published footprints" in words(again.text)


def test_a_bad_document_publishes_nothing_and_is_named(world: World, browser: Any, platform: Platform) -> None:
    b = browser("core.clerk")
    bad = v3_footprint()
    bad["pcf"]["pcfExcludingBiogenicUptake"] = 2.56  # a JSON number: refused
    bad["productNameCompany"] = "Broken Paint"
    good = v3_footprint()
    r = upload(b, {"data": [good, bad, copy.deepcopy(good)]})
    assert r.status_code == 422
    text = words(r.text)
    assert "cannot be published; nothing was published" in text
    assert "Document 2 (Broken Paint" in text and "pcf.pcfExcludingBiogenicUptake" in text
    assert f"Document 3 (AquaCoat 100, id {good['id']})" in text and "also the id of document 1" in text
    assert 'role="alert"' in r.text
    assert published(platform, world.core.party_id) == []
    # Not JSON, and JSON of the wrong shape.
    assert "The file is not JSON" in words(upload(b, b"{not json").text)
    assert 'a list of footprints, or {"data": [...]}' in words(upload(b, b'"text"').text)
    # Another party's id is refused too.
    upload(browser("supplier1"), v3_footprint(id=V3_ID))
    taken = upload(b, v3_footprint(id=V3_ID))
    assert taken.status_code == 422 and "another party's footprint" in words(taken.text)
    assert published(platform, world.core.party_id) == []


# --- export ---------------------------------------------------------------------------------------------------


def test_export_returns_the_footprints_as_v3_and_v2_json(world: World, browser: Any) -> None:
    b = browser("supplier1")
    assert upload(b, [v3_footprint(id=V3_ID), v2_footprint()], product_mass="11.2").status_code == 200
    v3 = b.get("/portal/footprints/export?version=3")
    assert v3.status_code == 200 and v3.headers["content-type"].startswith("application/json")
    assert "attachment" in v3.headers["content-disposition"] and "v3" in v3.headers["content-disposition"]
    data = v3.json()["data"]
    assert [d["id"] for d in data] == [V3_ID, v2_footprint()["id"]]
    assert data[0] == v3_footprint(id=V3_ID)
    v2 = b.get("/portal/footprints/export?version=2")
    assert v2.status_code == 200
    docs = v2.json()["data"]
    assert {d["specVersion"][:2] for d in docs} == {"2."}
    assert docs[0]["pcf"]["pCfExcludingBiogenic"] == "2.56"
    assert b.get("/portal/footprints/export?version=4").status_code == 400


def test_a_footprint_without_a_v2_form_blocks_the_v2_export_with_a_message(world: World, browser: Any) -> None:
    b = browser("supplier1")
    assert upload(b, v3_footprint(declaredUnitOfMeasurement="piece")).status_code == 200
    r = b.get("/portal/footprints/export?version=2")
    assert r.status_code == 422 and "cannot be written as PACT v2" in words(r.text)
    assert b.get("/portal/footprints/export").status_code == 200


# --- PACT access ----------------------------------------------------------------------------------------------


def test_registering_a_client_shows_its_secret_once_and_the_secret_gets_a_token(
    world: World, browser: Any
) -> None:
    b = browser("supplier1")
    assert upload(b, v3_footprint(id=V3_ID)).status_code == 200
    page = b.get("/portal/footprints")
    text = words(page.text)
    assert "PACT access" in text and "/pact/auth/token" in text and "/pact/3/footprints" in text
    assert f'<option value="{world.core.party_id}"' in page.text
    assert f'<option value="{world.tier1.party_id}"' not in page.text  # not itself

    refused = b.post("/portal/footprints/clients", {"recipient": "pty_unknown"})
    assert refused.status_code == 422 and "Choose the registered party" in words(refused.text)
    bad_url = b.post("/portal/footprints/clients", {"recipient": world.core.party_id, "events_url": "http://x"})
    assert bad_url.status_code == 422 and "https://" in words(bad_url.text)

    r = b.post("/portal/footprints/clients", {"recipient": world.core.party_id})
    assert r.status_code == 200
    assert r.headers["cache-control"] == "no-store"
    shown = main(r.text)
    client_id = re.search(r"Client id</dt><dd><code>([^<]+)</code>", shown)
    secret = re.search(r"Client secret</dt><dd><code>([^<]+)</code>", shown)
    assert client_id and secret and "shown only once" in shown
    # Shown once: the page does not show it again.
    assert secret.group(1) not in b.get("/portal/footprints").text

    token = b.client.post("/pact/auth/token", auth=(client_id.group(1), secret.group(1)),
                          data={"grant_type": "client_credentials"})
    assert token.status_code == 200, token.text
    access = token.json()["access_token"]
    listed = b.client.get("/pact/3/footprints", headers={"Authorization": f"Bearer {access}"})
    assert listed.status_code == 200 and [d["id"] for d in listed.json()["data"]] == [V3_ID]


def test_requests_received_are_listed_and_can_be_answered(world: World, browser: Any, platform: Platform) -> None:
    service = platform.footprints
    client, _ = service.register_client(world.tier1.party_id, world.core.party_id,
                                        events_url="https://core.example/pact/3/events")
    service.receive_event(client, {
        "type": "org.wbcsd.pact.ProductFootprint.RequestCreatedEvent.3", "specversion": "1.0",
        "id": "evt-1", "source": "https://core.example", "data": {"productId": ["urn:gtin:4012345000016"],
                                                                  "comment": "for our 2025 report"},
    })
    b = browser("supplier1")
    assert upload(b, v3_footprint(id=V3_ID)).status_code == 200
    text = words(b.get("/portal/footprints").text)
    assert "for our 2025 report" in text and "urn:gtin:4012345000016" in text and "Pending" in text
    request_id = service.requests(world.tier1.party_id)[0].id
    assert browser("supplier2").post(f"/portal/footprints/requests/{request_id}/answer").status_code == 404
    r = b.post(f"/portal/footprints/requests/{request_id}/answer")
    assert r.status_code == 303
    assert "Request answered" in words(b.get(r.headers["location"]).text)
    assert service.requests(world.tier1.party_id, None)[0].status == "fulfilled"
