"""The operator's and auditor's pages, receipts, signing in and out (both databases)."""

from __future__ import annotations

import html
import json
import re
from typing import Any

from fastapi.testclient import TestClient

from tests.conftest import FakeClock
from tests.portal.conftest import PASSWORD, World
from tierflow.bootstrap import Platform
from tierflow.portal import create_app


def _field(page: str, name: str) -> str:
    textarea = re.search(rf'name="{name}"[^>]*>([^<]*)</textarea>', page, re.S)
    if textarea:
        return html.unescape(textarea.group(1))
    found = re.search(rf'name="{name}"[^>]*value="([^"]*)"', page)
    assert found, name
    return html.unescape(found.group(1))


def _integrated(platform: Platform) -> None:
    platform.journal.integrate_all()
    platform.journal.publish_checkpoint()


def _chain(world: World) -> dict[str, Any]:
    issued = world.issue("1000000.00")
    offer = world.offer(world.tier1, issued["holding_id"], world.tier2, "250000.00")
    accepted = world.do(world.tier2, "transfer.accept", offer_id=offer["offer_id"])
    return {"issued": issued, "offer": offer, "accepted": accepted}


def _event_of(platform: Platform, kind: str) -> str:
    from sqlalchemy import select

    from tierflow.store import schema as t

    with platform.engine.connect() as conn:
        return str(conn.execute(select(t.events.c.id).where(t.events.c.kind == kind)).scalars().first())


def test_the_journal_page_shows_entries_checkpoints_and_counts(browser: Any, world: World, platform: Platform) -> None:
    _chain(world)
    _integrated(platform)
    auditor = browser("auditor")
    page = auditor.get("/portal/audit")
    assert page.status_code == 200
    assert "voucher.issue" in page.text and "transfer.accept" in page.text
    assert platform.journal.verifier_key() in page.text
    size = int(platform.journal.latest_checkpoint().split("\n")[1])
    assert f'href="/portal/audit/checkpoints/{size}"' in page.text
    cp = auditor.get(f"/portal/audit/checkpoints/{size}")
    assert cp.status_code == 200 and platform.journal.origin in cp.text
    event = auditor.get(f"/portal/audit/events/{_event_of(platform, 'voucher.issue')}")
    assert event.status_code == 200 and "PO-2026-001" in event.text


def test_receipts_prefill_and_the_server_fallback_agrees(browser: Any, world: World, platform: Platform) -> None:
    _chain(world)
    _integrated(platform)
    auditor = browser("auditor")
    event_id = _event_of(platform, "transfer.offer")
    page = auditor.get(f"/portal/audit/verify?event={event_id}").text
    receipt = json.loads(_field(page, "receipt"))
    assert receipt["event_id"] == event_id and "proof" in receipt
    checkpoint, vkey = _field(page, "checkpoint"), _field(page, "vkey")
    assert vkey == platform.journal.verifier_key()
    assert 'data-verify-receipt' in page and '/portal/static/verify.js' in page
    fields = {"receipt": json.dumps(receipt), "checkpoint": checkpoint, "vkey": vkey, "check": "server"}
    ok = auditor.get("/portal/audit/verify", params=fields)
    assert "Verified" in ok.text and "checked by the server" in ok.text and event_id in ok.text
    tampered = {**fields, "receipt": json.dumps({**receipt, "index": receipt["index"] + 1})}
    assert "Not verified" in auditor.get("/portal/audit/verify", params=tampered).text
    other_key = {**fields, "vkey": vkey[:-8] + "AAAAAAA="}
    assert "Not verified" in auditor.get("/portal/audit/verify", params=other_key).text


def test_a_party_sees_receipts_of_its_own_entries_only(browser: Any, world: World, platform: Platform) -> None:
    _chain(world)
    _integrated(platform)
    tier2, tier3 = browser("supplier2"), browser("supplier3")
    accept = _event_of(platform, "transfer.accept")
    mine = tier2.get(f"/portal/receipt/{accept}")
    assert mine.status_code == 200 and accept in _field(mine.text, "receipt")
    assert tier3.get(f"/portal/receipt/{accept}").status_code == 404
    assert tier3.get("/portal/receipt/evt_doesnotexist").status_code == 404


def test_a_receipt_not_yet_in_a_checkpoint_says_so(browser: Any, world: World, platform: Platform) -> None:
    issued = world.issue()
    assert issued
    page = browser("core.clerk").get(f"/portal/receipt/{_event_of(platform, 'voucher.issue')}")
    assert page.status_code in (200, 409)
    if page.status_code == 409:
        assert "not covered by a published checkpoint yet" in page.text


def test_provenance_graphs_for_the_operator(browser: Any, world: World, platform: Platform) -> None:
    chain = _chain(world)
    auditor = browser("auditor")
    voucher_id = str(chain["issued"]["voucher_id"])
    page = auditor.get(f"/portal/audit/vouchers/{voucher_id}")
    assert page.status_code == 200
    assert "<svg" in page.text and "Tier-1 Ltd" in page.text and "Tier-2 Ltd" in page.text and "Core Co" in page.text
    assert "CNY 250,000.00" in page.text and "CNY 750,000.00" in page.text
    listing = auditor.get("/portal/audit/vouchers")
    assert voucher_id[:10] in listing.text
    found = auditor.get(f"/portal/audit/vouchers?find={voucher_id}", follow_redirects=False)
    assert found.status_code == 303 and found.headers["location"].endswith(voucher_id)
    holding = str(chain["accepted"]["holding_id"])
    chain_page = auditor.get(f"/portal/audit/holdings/{holding}")
    assert chain_page.status_code == 200 and "Tier-2 Ltd" in chain_page.text and "<svg" in chain_page.text
    assert auditor.get("/portal/audit/vouchers?find=nothing-like-this").status_code == 404


def test_other_roles_cannot_open_the_operator_pages(browser: Any, world: World) -> None:
    for username in ("supplier1", "core.clerk", "bank.officer"):
        r = browser(username).get("/portal/audit")
        assert r.status_code == 403 and "platform operator" in r.text


def test_history_lists_what_concerned_the_party(browser: Any, world: World, platform: Platform) -> None:
    _chain(world)
    tier2 = browser("supplier2").get("/portal/history")
    assert tier2.status_code == 200
    assert "transfer.accept" in tier2.text and "transfer.offer" in tier2.text
    assert "voucher.issue" not in tier2.text  # the issue concerned the core and tier 1 only
    tier3 = browser("supplier3").get("/portal/history")
    assert "transfer.accept" not in tier3.text


def test_landing_sign_in_and_out(platform: Platform, world: World, clock: FakeClock) -> None:
    logins = [{"username": "supplier1", "password": PASSWORD, "role_label": "Supplier", "party_name": "Tier-1 Ltd"}]
    with TestClient(create_app(platform, demo_logins=logins)) as client:
        landing = client.get("/portal/")
        assert "Demo sign-ins" in landing.text and PASSWORD in landing.text
        assert client.get("/", follow_redirects=False).headers["location"] == "/portal/"
        bad = client.post("/portal/login", data={"username": "supplier1", "password": "nope-nope-nope"})
        assert bad.status_code == 401 and "not right" in bad.text and "tierflow_session" not in client.cookies
        evil = client.post(
            "/portal/login",
            data={"username": "supplier1", "password": PASSWORD, "next": "//evil.example/x"},
            follow_redirects=False,
        )
        assert evil.headers["location"] == "/portal/supplier"
        assert "HttpOnly" in evil.headers["set-cookie"] and "SameSite=lax" in evil.headers["set-cookie"]
        again = client.post(
            "/portal/login",
            data={"username": "supplier1", "password": PASSWORD, "next": "/portal/supplier/offers"},
            follow_redirects=False,
        )
        assert again.headers["location"] == "/portal/supplier/offers"
        assert client.get("/portal/", follow_redirects=False).headers["location"] == "/portal/supplier"
        no_csrf = client.post("/portal/logout", data={}, follow_redirects=False)
        assert no_csrf.status_code == 403
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/portal/history").text)
        assert csrf
        out = client.post("/portal/logout", data={"csrf_token": csrf.group(1)}, follow_redirects=False)
        assert out.status_code == 303 and "signed_out" in out.headers["location"]
        gone = client.get("/portal/history", follow_redirects=False)
        assert gone.status_code == 303 and gone.headers["location"].startswith("/portal/login")


def test_sessions_expire(platform: Platform, world: World, clock: FakeClock, browser: Any) -> None:
    tier1 = browser("supplier1")
    assert tier1.get("/portal/supplier").status_code == 200
    clock.advance(minutes=platform.settings.session_ttl_minutes + 1)
    r = tier1.get("/portal/supplier", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/portal/login?next=/portal/supplier"


def test_unknown_pages_and_bad_input_are_pages_not_json(browser: Any, world: World) -> None:
    auditor = browser("auditor")
    missing = auditor.get("/portal/audit/nothing")
    assert missing.status_code == 404 and "text/html" in missing.headers["content-type"]
    bad = auditor.get("/portal/audit/checkpoints/0")
    assert bad.status_code == 400 and "text/html" in bad.headers["content-type"]
    api = auditor.get("/v1/vouchers")
    assert api.headers["content-type"] == "application/problem+json"  # the API keeps problem+json


def test_static_assets_are_served(portal_app: TestClient) -> None:
    for asset in ("htmx.min.js", "portal.css", "verify.js"):
        r = portal_app.get(f"/portal/static/{asset}")
        assert r.status_code == 200 and len(r.content) > 1000


def test_repeated_failed_sign_ins_are_slowed_down(portal_app: TestClient, world: World) -> None:
    for _ in range(5):
        r = portal_app.post("/portal/login", data={"username": "supplier1", "password": "wrong-password!"})
        assert r.status_code == 401
    locked = portal_app.post("/portal/login", data={"username": "supplier1", "password": PASSWORD})
    assert locked.status_code == 429 and "Too many failed sign-ins" in locked.text
    assert "tierflow_session" not in portal_app.cookies
    other = portal_app.post(
        "/portal/login", data={"username": "supplier2", "password": PASSWORD}, follow_redirects=False
    )
    assert other.status_code == 303
