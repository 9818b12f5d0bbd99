"""Green finance pages: a certifier labels subjects and certifies KPIs through its forms, the bank sees its green
financing totalled by taxonomy category, and the case page shows the sustainability-linked terms and labels.

The certifier is a party with the ``certifier`` role whose key the platform keeps, like the parties of ``World``.
"""

from __future__ import annotations

import hashlib
import html
import re
import secrets
from typing import Any

import pytest

from tests.portal.conftest import PASSWORD, World
from tests.portal.test_bank_pages import cny, request_financing
from tierflow.bootstrap import Platform
from tierflow.client import PartyKey
from tierflow.services.accounts import PortalRole

BASELINE_FACTOR = "cn.grid.national.mee-2023-notice"
EVIDENCE = [{"description": "verification statement 2025", "sha256": "d" * 64}]


def token() -> str:
    return secrets.token_urlsafe(18)


def main(text: str) -> str:
    return html.unescape(text.split("<main", 1)[1])


def words(text: str) -> str:
    """The page's text without tags, its whitespace collapsed."""
    return " ".join(re.sub(r"<[^>]+>", " ", main(text)).split())


def post(b: Any, path: str, data: dict[str, Any] | None = None, **kwargs: Any) -> Any:
    return b.post(path, {**(data or {}), "idempotency_key": token()}, **kwargs)


@pytest.fixture
def certifier(world: World, platform: Platform) -> PartyKey:
    key = world.register("China Green Assurance", "certifier")
    platform.accounts.keep_signing_key(key.party_id, key.signing_key)
    platform.accounts.create_user(username="certifier", password=PASSWORD, party_id=key.party_id,
                                  display_name="Green Certifier", role=PortalRole.MEMBER)
    return key


def link() -> dict[str, Any]:
    return {
        "kpis": [{
            "id": "ghg-intensity", "name": "Scope 1+2 emission intensity",
            "metric": "tCO2e per RMB million revenue", "baseline_value": "0.30", "baseline_year": 2024,
            "target_value": "0.27", "target_year": 2025, "factor_pins": [BASELINE_FACTOR],
        }],
        "ratchet": {"met_bp": -10, "missed_bp": 5},
        "floor_rate": "0.01",
    }


def linked_financing(world: World, amount: str = "1000000.00") -> str:
    issued = world.issue(amount)
    asked = world.do(world.tier1, "financing.request", holding_id=issued["holding_id"],
                     financier=world.bank.party_id, amount=amount, currency="CNY", annual_rate="0.0365",
                     sustainability_link=link())
    return str(asked["financing_id"])


def label_form(subject_kind: str, subject_id: str, **extra: str) -> dict[str, str]:
    return {
        "subject_kind": subject_kind, "subject_id": subject_id, "edition": "cn-gfspc@2025", "code": "3.1.1",
        "criterion_id": "3.1.1/c1", "evidence_description": "assurance statement", "valid_from": "2026-01-01",
        **extra,
    }


# --- access ---------------------------------------------------------------------------------------------------


def test_the_certifier_area_is_for_certifiers_and_the_green_totals_for_banks(
    world: World, browser: Any, certifier: PartyKey
) -> None:
    c = browser("certifier")
    page = c.get("/portal/green")
    assert page.status_code == 200
    text = main(page.text)
    assert "Green labels and KPIs of China Green Assurance" in text
    assert 'href="/portal/green" aria-current="page"' in page.text
    assert "the file itself is not kept" in text
    assert "<optgroup" in text and "(provisional)" in text
    assert c.get("/portal/bank/green").status_code == 403
    for username in ("bank.officer", "supplier1", "core.clerk", "operator"):
        b = browser(username)
        assert b.get("/portal/green").status_code == 403, username
        assert b.get("/portal/green/terms?financing_id=x", headers={"HX-Request": "true"}).status_code == 403
        assert post(b, "/portal/green/labels", label_form("asset", "v")).status_code == 403, username
        assert post(b, "/portal/green/kpi", {"financing_id": "x"}).status_code == 403, username
    for username in ("supplier1", "core.clerk"):
        assert browser(username).get("/portal/bank/green").status_code == 403
    assert browser("bank.officer").get("/portal/bank/green").status_code == 200
    assert 'href="/portal/bank/green"' in browser("bank.officer").get("/portal/bank").text
    anonymous = browser()
    r = anonymous.get("/portal/green", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/portal/login?next=")
    # CSRF: a form without the session's token is refused.
    assert c.post("/portal/green/labels", label_form("asset", "v"), csrf=False).status_code == 403
    # Signing in lands the certifier on its area.
    fresh = browser()
    landed = fresh.client.post("/portal/login", data={"username": "certifier", "password": PASSWORD},
                               follow_redirects=False)
    assert landed.headers["location"] == "/portal/green"


def test_the_item_select_follows_the_edition_and_the_criteria_follow_the_item(
    world: World, browser: Any, certifier: PartyKey
) -> None:
    c = browser("certifier")
    fragment = c.get("/portal/green/items?edition=cn-gfspc@2025&code=3.1.1", headers={"HX-Request": "true"})
    assert fragment.status_code == 200 and "<html" not in fragment.text
    assert 'value="3.1.1" selected' in fragment.text and 'value="3.1.1/c1"' in fragment.text
    assert "<optgroup" in fragment.text
    other = c.get("/portal/green/items?edition=eu-taxonomy@2023", headers={"HX-Request": "true"})
    assert other.status_code == 200 and "3.1.1/c1" not in other.text
    plain = c.get("/portal/green/items?edition=cn-gfspc@2025&code=3.1.1", follow_redirects=False)
    assert plain.status_code == 303 and plain.headers["location"].startswith("/portal/green?edition=")


# --- labels ---------------------------------------------------------------------------------------------------


def test_labelling_through_the_form_with_an_upload_and_revoking(
    world: World, browser: Any, platform: Platform, certifier: PartyKey
) -> None:
    voucher_id = str(world.issue("300000.00")["voucher_id"])
    c = browser("certifier")
    document = b"%PDF-1.7 assurance statement of the solar plant\n" * 50
    digest = hashlib.sha256(document).hexdigest()
    r = c.post("/portal/green/labels", {**label_form("asset", voucher_id), "idempotency_key": token()},
               files={"evidence_file": ("assurance.pdf", document, "application/pdf")})
    assert r.status_code == 303 and r.headers["location"].startswith("/portal/green?done=labelled"), r.text[-2000:]
    labels = platform.green.labels(_party(platform, certifier.party_id))
    assert len(labels) == 1 and labels[0]["evidence"] == [{"description": "assurance statement", "sha256": digest}]
    text = main(c.get(r.headers["location"]).text)
    assert "Label signed and recorded" in text
    assert digest in text and voucher_id in text
    assert "Level 1: 3" in text and "Level 3: 3.1.1" in text and "3.1.1/c1" in text
    assert "Active" in text

    # A pasted hash that differs from the uploaded file's is refused, the computed hash kept in the form.
    refused = c.post("/portal/green/labels",
                     {**label_form("asset", voucher_id, evidence_sha256="a" * 64), "idempotency_key": token()},
                     files={"evidence_file": ("assurance.pdf", document, "application/pdf")})
    assert refused.status_code == 422 and f"The file's SHA-256 is {digest}" in main(refused.text)
    # No evidence at all; a subject that does not exist; a category that is not an item.
    assert "upload the document, or paste its SHA-256" in main(
        post(c, "/portal/green/labels", label_form("asset", voucher_id)).text)
    missing = post(c, "/portal/green/labels", label_form("asset", "vch_nope", evidence_sha256="b" * 64))
    assert missing.status_code == 404 and "No asset 'vch_nope'" in main(missing.text)
    category = post(c, "/portal/green/labels", label_form("asset", voucher_id, code="3.1", evidence_sha256="b" * 64))
    assert category.status_code == 422 and "Choose an item" in main(category.text)

    label_id = labels[0]["label_id"]
    no_reason = post(c, f"/portal/green/labels/{label_id}/revoke", {"reason": " "})
    assert no_reason.status_code == 422 and "Give the reason" in main(no_reason.text)
    revoked = post(c, f"/portal/green/labels/{label_id}/revoke", {"reason": "evidence withdrawn"})
    assert revoked.status_code == 303 and "done=label_revoked" in revoked.headers["location"]
    text = main(c.get("/portal/green").text)
    assert "Revoked" in text and f'action="/portal/green/labels/{label_id}/revoke"' not in text
    again = post(c, f"/portal/green/labels/{label_id}/revoke", {"reason": "twice"})
    assert again.status_code == 409
    # Another certifier cannot revoke it.
    other = world.register("Other Assurance", "certifier")
    platform.accounts.keep_signing_key(other.party_id, other.signing_key)
    platform.accounts.create_user(username="other.certifier", password=PASSWORD, party_id=other.party_id,
                                  display_name="Other", role=PortalRole.MEMBER)
    assert post(browser("other.certifier"), f"/portal/green/labels/{label_id}/revoke",
                {"reason": "not mine"}).status_code == 404


def _party(platform: Platform, party_id: str) -> Any:
    with platform.uow(read_only=True) as uow:
        return uow.repo.get_party(party_id)


# --- KPI certification -------------------------------------------------------------------------------------------


def test_certifying_a_kpi_through_the_form_shows_the_assessment(
    world: World, browser: Any, certifier: PartyKey
) -> None:
    financing_id = linked_financing(world)
    c = browser("certifier")
    fragment = c.get(f"/portal/green/terms?financing_id={financing_id}", headers={"HX-Request": "true"})
    assert fragment.status_code == 200 and "<html" not in fragment.text
    text = html.unescape(fragment.text)
    assert f'name="factor_ids" required maxlength="2000" value="{BASELINE_FACTOR}"' in text
    assert 'value="2025"' in text and "0.30 in 2024" in text and "0.27 by 2025" in text
    assert "not credited" in text
    unknown = c.get("/portal/green/terms?financing_id=fin_nope", headers={"HX-Request": "true"})
    assert "No sustainability-linked terms that you may certify" in html.unescape(unknown.text)
    # Without JavaScript the page itself loads the terms.
    assert BASELINE_FACTOR in main(c.get(f"/portal/green?financing_id={financing_id}").text)

    form = {"financing_id": financing_id, "kpi_id": "ghg-intensity", "year": "2025", "value": "0.27",
            "value_with_baseline_factors": "0.30", "factor_ids": BASELINE_FACTOR,
            "evidence_description": "verification statement 2025"}
    r = post(c, "/portal/green/kpi", form, files={"evidence_file": ("statement.pdf", b"statement", "application/pdf")})
    assert r.status_code == 200, main(r.text)[-1500:]
    text = main(r.text)
    assert "Outcome: <strong>Missed</strong>" in text and "changed emission factors" in text
    assert "3.7 % a year (base rate 3.65 %)" in text  # missed: +5 bp
    again = post(c, "/portal/green/kpi", form | {"evidence_sha256": "e" * 64})
    assert again.status_code == 409 and "already certified" in main(again.text)
    wrong = post(c, "/portal/green/kpi", form | {"year": "2026", "factor_ids": "cn.grid.other",
                                                  "evidence_sha256": "e" * 64})
    assert wrong.status_code == 422 and "pinned baseline factors" in main(wrong.text)
    bad = post(c, "/portal/green/kpi", form | {"value": "1e3", "evidence_sha256": "e" * 64})
    assert bad.status_code == 422 and "is not a number" in main(bad.text)


def test_a_met_target_lowers_the_rate_and_the_case_page_shows_the_terms(
    world: World, browser: Any, certifier: PartyKey
) -> None:
    financing_id = linked_financing(world)
    c = browser("certifier")
    r = post(c, "/portal/green/kpi", {
        "financing_id": financing_id, "kpi_id": "ghg-intensity", "year": "2025", "value": "0.26",
        "value_with_baseline_factors": "0.26", "factor_ids": BASELINE_FACTOR,
        "evidence_description": "verification statement", "evidence_sha256": "d" * 64})
    text = main(r.text)
    assert "Outcome: <strong>Met</strong>" in text and "3.55 % a year (base rate 3.65 %)" in text
    world.do(certifier, "green.label", subject_kind="financing", subject_id=financing_id, taxonomy="cn-gfspc",
             version="2025", code="3.1.1", criterion_id="3.1.1/c1", evidence=EVIDENCE, valid_from="2026-01-01")
    for username in ("bank.officer", "supplier1"):
        page = words(browser(username).get(f"/portal/financings/{financing_id}").text)
        assert "Sustainability-linked terms" in page
        assert "Effective rate now: 3.55 % a year against the base rate of 3.65 % (-10 bp" in page
        assert "0.30 in 2024" in page and "0.27 by 2025" in page and BASELINE_FACTOR in page
        assert "-10 bp when a target is met; +5 bp when it is missed" in page
        assert "1 % a year: the rate never goes below it" in page
        assert "China Green Assurance" in page and "Met" in page and "meets target 0.27" in page
        assert "Green labels" in page and "3.1.1/c1" in page and "This financing" in page
    uncertified = linked_financing(world)
    unlinked = request_financing(world)["financing_id"]
    page = main(browser("bank.officer").get(f"/portal/financings/{unlinked}").text)
    assert "Sustainability-linked terms" not in page and "Green labels" not in page
    assert "No KPI certified yet" in main(browser("bank.officer").get(f"/portal/financings/{uncertified}").text)


# --- the bank's green totals --------------------------------------------------------------------------------------


def test_the_bank_sees_its_green_financing_after_disbursement(
    world: World, browser: Any, certifier: PartyKey
) -> None:
    b = browser("bank.officer")
    assert "No green financing yet" in main(b.get("/portal/bank/green").text)
    first = str(request_financing(world, amount="600000.00")["financing_id"])
    second = str(request_financing(world, amount="400000.50")["financing_id"])
    for financing_id, code in ((first, "3.1.1"), (second, "3.1.2")):
        world.do(certifier, "green.label", subject_kind="financing", subject_id=financing_id, taxonomy="cn-gfspc",
                 version="2025", code=code, criterion_id=f"{code}/c1", evidence=EVIDENCE, valid_from="2026-01-01")
    assert "No green financing yet" in main(b.get("/portal/bank/green").text)  # not paid out yet
    for financing_id in (first, second):
        world.disburse(financing_id)
    page = b.get("/portal/bank/green")
    assert page.status_code == 200 and 'href="/portal/bank/green" aria-current="page"' in page.text
    text = html.unescape(page.text)
    assert "<svg" in text and 'role="img"' in text and "by level-1 category of cn-gfspc 2025" in text
    table = text.split("By category, levels 1 to 3", 1)[1].split("</table>", 1)[0]
    rows = [re.findall(r"<t[dh][^>]*>(.*?)</t[dh]>", row, re.S) for row in table.split("<tr")[2:]]
    cells = {r[1].strip().removeprefix("<code>").removesuffix("</code>"): r for r in rows}
    assert cells["3"][3] == cny("1000000.50") and cells["3"][4] == "2"
    assert cells["3.1.1"][3] == cny("600000.00") and cells["3.1.1"][4] == "1"
    assert cells["3.1.2"][3] == cny("400000.50")
    assert [r[0] for r in rows] == ["1", "2", "3", "3"]
    # Another bank sees none of it.
    other = world.other_bank
    platform = world.p
    platform.accounts.keep_signing_key(other.party_id, other.signing_key)
    platform.accounts.create_user(username="other.officer", password=PASSWORD, party_id=other.party_id,
                                  display_name="Other", role=PortalRole.MEMBER)
    assert "No green financing yet" in main(browser("other.officer").get("/portal/bank/green").text)
