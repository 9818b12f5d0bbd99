"""Supplier pages: the wallet, split and transfer, accepting and rejecting offers, financing with its price.

Each test acts through the pages as a supplier's accountant would (forms posted with the session's CSRF token)
and then checks the ledger itself, not only the page: the offer exists with the exact amount, the remainder is
still the sender's, the financing carries the domain's price. The nasty cases check that nothing changed.
"""

from __future__ import annotations

import re
import secrets
from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from tests.conftest import FakeClock
from tests.portal.conftest import World
from tierflow.bootstrap import Platform
from tierflow.client import PartyKey
from tierflow.domain.model import Party, Role
from tierflow.domain.money import Money
from tierflow.domain.pricing import DayCount, quote
from tierflow.portal import routes_supplier
from tierflow.portal.render import money as shown
from tierflow.portal.routes_supplier import parse_rate


def token() -> str:
    """A fresh one-time form token, as a rendered form carries."""
    return secrets.token_urlsafe(18)


def everyone(platform: Platform) -> Party:
    """The operator's view: every object, whoever holds it (to check the ledger behind the pages)."""
    return Party(platform.operator.party_id, "operator", Role.OPERATOR, platform.operator.public_key)


def holdings_of(platform: Platform, key: PartyKey, status: str | None = None) -> list[dict[str, Any]]:
    page = platform.queries.holdings(everyone(platform), voucher_id=None, status=status, limit=500, after=None)
    return [h for h in page.items if h["holder"] == key.party_id]


def offers(platform: Platform, status: str | None = None) -> list[dict[str, Any]]:
    return platform.queries.offers(everyone(platform), direction="all", status=status, limit=500, after=None).items


def financings(platform: Platform) -> list[dict[str, Any]]:
    return platform.queries.financings(everyone(platform), status=None, limit=500, after=None).items


def cny(text: str) -> str:
    """How the pages show an amount of CNY (the shared ``money`` filter)."""
    return shown({"amount": text, "currency": "CNY"})


def issued(world: World, amount: str = "1000000.00", days: int = 90) -> str:
    return str(world.issue(amount, days=days)["holding_id"])


def transfer_form(world: World, **overrides: str) -> dict[str, str]:
    form = {
        "recipient": world.tier2.party_id,
        "amount": "400000.00",
        "trade_ref": "PO-T2-77",
        "invoice_refs": "T2-INV-1, T2-INV-2\nT2-INV-3",
        "idempotency_key": token(),
    }
    form.update(overrides)
    return form


def finance_form(world: World, **overrides: str) -> dict[str, str]:
    form = {
        "financier": world.bank.party_id,
        "amount": "500000.00",
        "rate": "3.65",
        "fee": "100.00",
        "basis": "ACT/360",
        "idempotency_key": token(),
    }
    form.update(overrides)
    return form


def location(response: Any) -> str:
    assert response.status_code == 303, (response.status_code, re.findall(r'role="alert".*', response.text))
    return str(response.headers["location"])


# --- the wallet --------------------------------------------------------------------------------------------


def test_wallet_shows_the_issued_holding_with_amount_obligor_and_status(world: World, browser: Any) -> None:
    holding_id = issued(world, "1234567.89", days=90)
    page = browser("supplier1").get("/portal/supplier")
    assert page.status_code == 200
    text = page.text
    assert "<h1>Wallet</h1>" in text
    assert cny("1234567.89") in text
    assert "Core Co" in text
    assert f'href="/portal/supplier/holdings/{holding_id}"' in text
    assert '<span class="status live">live</span>' in text
    assert re.search(r'<td class="num">90</td>', text), "days to maturity"
    assert 'aria-current="page"' in text and 'href="/portal/supplier" aria-current="page"' in text
    # Another supplier's wallet does not show it.
    assert holding_id not in browser("supplier2").get("/portal/supplier").text


def test_wallet_filters_by_status_and_pages(world: World, browser: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(routes_supplier, "PAGE_SIZE", 2)
    ids = [issued(world, f"{n}00.00") for n in (1, 2, 3, 4)]
    first = world.do(
        world.tier1,
        "transfer.offer",
        holding_id=ids[0],
        recipient=world.tier2.party_id,
        amount="100.00",
        currency="CNY",
        trade_ref="T",
        invoice_refs=["I"],
    )
    assert first["offer_id"]
    b = browser("supplier1")
    page1 = b.get("/portal/supplier?status=live")
    assert page1.status_code == 200
    found = re.search(r'href="(/portal/supplier\?status=live&amp;after=[^"]+)">Next page<', page1.text)
    assert found, "a next-page link that keeps the filter"
    page2 = b.get(found.group(1).replace("&amp;", "&"))
    shown_ids = set(re.findall(r"/portal/supplier/holdings/(hld_[A-Za-z0-9_]+)", page1.text + page2.text))
    assert shown_ids == set(ids[1:]), "the three live holdings, across two pages"
    assert "Next page" not in page2.text
    # The whole first holding was offered away: tier1 no longer holds it; tier2 sees it as offered.
    offered = browser("supplier2").get("/portal/supplier?status=offered")
    assert cny("100.00") in offered.text and '<span class="status offered">offered</span>' in offered.text
    assert b.get("/portal/supplier?status=nonsense").status_code == 400
    bad_cursor = b.get("/portal/supplier?after=garbage")
    assert bad_cursor.status_code == 400 and "cursor" in bad_cursor.text


def test_wallet_totals_by_status(world: World, browser: Any) -> None:
    hid = issued(world, "1000.00")
    issued(world, "250.50")
    world.do(
        world.tier1,
        "financing.request",
        holding_id=hid,
        financier=world.bank.party_id,
        amount="400.00",
        currency="CNY",
        annual_rate="0.05",
    )
    text = browser("supplier1").get("/portal/supplier").text
    totals = text.split('id="totals-h"', 1)[1].split('id="holdings-h"', 1)[0]
    assert cny("850.50") in totals, "live: 600.00 left of the first, 250.50 of the second"
    assert cny("400.00") in totals and "encumbered" in totals


# --- one holding -------------------------------------------------------------------------------------------


def test_holding_page_shows_facts_provenance_and_both_forms(world: World, browser: Any) -> None:
    holding_id = issued(world, "1000000.00")
    page = browser("supplier1").get(f"/portal/supplier/holdings/{holding_id}")
    assert page.status_code == 200
    text = page.text
    assert cny("1000000.00") in text and "Core Co" in text
    assert "1 – 100,000,000" in text, "the unit range"
    assert "PO-2026-001" in text and "INV-0001" in text, "the issue's contract and invoices"
    assert re.search(r'href="/portal/receipt/evt_[A-Z0-9]+"', text), "a link to the journal receipt"
    # Recipients: the other suppliers, sorted by name, never itself nor a bank.
    transfer = text.split('id="t-recipient"', 1)[1].split("</select>", 1)[0]
    assert transfer.index("Tier-2 Ltd") < transfer.index("Tier-3 Ltd")
    assert "Tier-1 Ltd" not in transfer and "First Bank" not in transfer
    financiers = text.split('id="f-financier"', 1)[1].split("</select>", 1)[0]
    assert "First Bank" in financiers and "Second Bank" in financiers and "Tier-2 Ltd" not in financiers
    assert 'hx-post="/portal/supplier/holdings/' + holding_id + '/finance/preview"' in text
    assert 'hx-target="#quote"' in text and 'id="quote" aria-live="polite"' in text


def test_another_suppliers_holding_is_not_found(world: World, browser: Any, platform: Platform) -> None:
    holding_id = issued(world)
    b = browser("supplier2")
    assert b.get(f"/portal/supplier/holdings/{holding_id}").status_code == 404
    assert b.get("/portal/supplier/holdings/hld_nope").status_code == 404
    r = b.post(f"/portal/supplier/holdings/{holding_id}/transfer", transfer_form(world, recipient=world.tier3.party_id))
    assert r.status_code == 404
    r = b.post(f"/portal/supplier/holdings/{holding_id}/finance/preview", finance_form(world))
    assert r.status_code == 404
    r = b.post(f"/portal/supplier/holdings/{holding_id}/finance", finance_form(world))
    assert r.status_code == 404
    assert offers(platform) == [] and financings(platform) == []
    assert [h["status"] for h in holdings_of(platform, world.tier1)] == ["live"]


# --- split and transfer, accept, reject ----------------------------------------------------------------------


def test_split_and_transfer_offers_part_and_keeps_the_rest(world: World, browser: Any, platform: Platform) -> None:
    holding_id = issued(world, "1000000.00")
    b = browser("supplier1")
    target = location(b.post(f"/portal/supplier/holdings/{holding_id}/transfer", transfer_form(world)))
    assert target.startswith("/portal/supplier/offers?done=offered&event=evt_")
    [offer] = offers(platform)
    assert offer["sender"] == world.tier1.party_id and offer["recipient"] == world.tier2.party_id
    assert offer["amount"] == {"amount": "400000.00", "currency": "CNY"}
    assert offer["trade_ref"] == "PO-T2-77"
    assert offer["invoice_refs"] == ["T2-INV-1", "T2-INV-2", "T2-INV-3"]
    assert offer["status"] == "pending"
    [rest] = holdings_of(platform, world.tier1)
    assert rest["status"] == "live" and rest["amount"]["amount"] == "600000.00"
    # The pages agree: the remainder is in the wallet, the offer is waiting.
    wallet = b.get("/portal/supplier").text
    assert cny("600000.00") in wallet and cny("1000000.00") not in wallet.split('id="holdings-h"', 1)[1]
    after = b.get(target)
    assert "Transfer offered" in after.text and "Tier-2 Ltd" in after.text and cny("400000.00") in after.text


def test_the_whole_holding_by_default_and_the_old_one_is_no_longer_live(
    world: World, browser: Any, platform: Platform
) -> None:
    holding_id = issued(world, "5000.00")
    b = browser("supplier1")
    page = b.get(f"/portal/supplier/holdings/{holding_id}").text
    assert 'id="t-amount" name="amount"' in page and 'value="5000.00"' in page
    location(b.post(f"/portal/supplier/holdings/{holding_id}/transfer", transfer_form(world, amount="5000.00")))
    assert holdings_of(platform, world.tier1) == []
    again = b.get(f"/portal/supplier/holdings/{holding_id}")
    assert again.status_code == 200 and "superseded" in again.text and 'id="t-recipient"' not in again.text


def test_recipient_accepts_through_the_page_and_sees_it_in_its_wallet(
    world: World, browser: Any, platform: Platform
) -> None:
    holding_id = issued(world, "1000000.00")
    location(browser("supplier1").post(f"/portal/supplier/holdings/{holding_id}/transfer", transfer_form(world)))
    [offer] = offers(platform)
    b2 = browser("supplier2")
    page = b2.get("/portal/supplier/offers")
    assert page.status_code == 200
    incoming = page.text.split('id="in-h"', 1)[1].split('id="out-h"', 1)[0]
    for expected in ("Tier-1 Ltd", cny("400000.00"), "Core Co", "PO-T2-77", "T2-INV-1, T2-INV-2, T2-INV-3"):
        assert expected in incoming, expected
    assert f'action="/portal/supplier/offers/{offer["id"]}/accept"' in incoming
    # The sender sees it among its outgoing offers, without accept.
    sender = browser("supplier1").get("/portal/supplier/offers").text
    assert "accept" not in sender.split('id="out-h"', 1)[1].split('id="done-h"', 1)[0].lower()
    target = location(b2.post(f"/portal/supplier/offers/{offer['id']}/accept", {"idempotency_key": token()}))
    assert target.startswith("/portal/supplier/offers?done=accepted&event=evt_")
    [mine] = holdings_of(platform, world.tier2)
    assert mine["status"] == "live" and mine["tier"] == 2 and mine["amount"]["amount"] == "400000.00"
    wallet = b2.get("/portal/supplier").text
    assert cny("400000.00") in wallet and "Core Co" in wallet and '<span class="status live">live</span>' in wallet
    resolved = b2.get("/portal/supplier/offers").text.split('id="done-h"', 1)[1]
    assert '<span class="status accepted">accepted</span>' in resolved
    # Accepting twice is refused with a page, not a second effect.
    r = b2.post(f"/portal/supplier/offers/{offer['id']}/accept", {"idempotency_key": "x" * 20})
    assert r.status_code == 409
    assert len(holdings_of(platform, world.tier2)) == 1


def test_reject_returns_the_units_to_the_sender(world: World, browser: Any, platform: Platform) -> None:
    holding_id = issued(world, "1000000.00")
    location(browser("supplier1").post(f"/portal/supplier/holdings/{holding_id}/transfer", transfer_form(world)))
    [offer] = offers(platform)
    b2 = browser("supplier2")
    target = location(b2.post(f"/portal/supplier/offers/{offer['id']}/reject", {"reason": "Wrong invoice"}))
    assert target.startswith("/portal/supplier/offers?done=rejected")
    assert offers(platform)[0]["status"] == "rejected"
    assert holdings_of(platform, world.tier2) == []
    back = holdings_of(platform, world.tier1, "live")
    assert sorted(h["amount"]["amount"] for h in back) == ["400000.00", "600000.00"]
    assert sum(Money.parse(h["amount"]["amount"], "CNY").minor for h in back) == 100_000_000
    assert "Transfer rejected" in b2.get(target).text


def test_only_the_recipient_may_accept(world: World, browser: Any, platform: Platform) -> None:
    holding_id = issued(world)
    location(browser("supplier1").post(f"/portal/supplier/holdings/{holding_id}/transfer", transfer_form(world)))
    [offer] = offers(platform)
    assert browser("supplier3").post(f"/portal/supplier/offers/{offer['id']}/accept", {}).status_code == 404
    assert browser("supplier1").post(f"/portal/supplier/offers/{offer['id']}/accept", {}).status_code == 403
    assert offers(platform)[0]["status"] == "pending"


# --- financing ---------------------------------------------------------------------------------------------


def _expected_quote(clock: FakeClock, maturity: str) -> Any:
    return quote(
        Money.parse("500000.00", "CNY"),
        annual_rate=Decimal("0.0365"),
        value_date=clock.now.date(),
        maturity=date.fromisoformat(maturity),
        basis=DayCount.ACT_360,
        fee_minor=10_000,
    )


def test_preview_shows_the_domain_price_and_changes_nothing(
    world: World, browser: Any, platform: Platform, clock: FakeClock
) -> None:
    holding_id = issued(world, "1000000.00", days=90)
    clock.advance(days=10)
    voucher = platform.queries.voucher(everyone(platform), holding_of(platform, holding_id)["voucher_id"])
    expected = _expected_quote(clock, voucher["maturity"])
    assert expected.days == 80
    b = browser("supplier1")
    # Without JavaScript: the holding page with the price and the confirm form prefilled.
    r = b.post(f"/portal/supplier/holdings/{holding_id}/finance/preview", finance_form(world))
    assert r.status_code == 200
    quote_region = r.text.split('id="quote" aria-live="polite"', 1)[1]
    for value in (expected.discount, expected.fee, expected.net):
        assert shown({"amount": value.to_str(), "currency": "CNY"}) in quote_region, value
    assert "<dd>80 " in quote_region and "3.65 %" in quote_region and "First Bank" in quote_region
    assert "Confirm financing request" in quote_region
    assert f'action="/portal/supplier/holdings/{holding_id}/finance"' in quote_region
    assert (
        'name="rate" value="3.65"' in quote_region and f'name="financier" value="{world.bank.party_id}"' in quote_region
    )
    # With htmx: only the fragment.
    r = b.post(
        f"/portal/supplier/holdings/{holding_id}/finance/preview", finance_form(world), headers={"HX-Request": "true"}
    )
    assert r.status_code == 200 and "<html" not in r.text and "<h1" not in r.text
    assert shown({"amount": expected.net.to_str(), "currency": "CNY"}) in r.text
    assert "Confirm financing request" in r.text
    # Nothing happened.
    assert financings(platform) == []
    assert [h["status"] for h in holdings_of(platform, world.tier1)] == ["live"]


def holding_of(platform: Platform, holding_id: str) -> dict[str, Any]:
    return platform.queries.holding(everyone(platform), holding_id)


def test_confirm_requests_the_financing_at_the_quoted_price_and_cancel_releases_it(
    world: World, browser: Any, platform: Platform, clock: FakeClock
) -> None:
    holding_id = issued(world, "1000000.00", days=90)
    voucher = platform.queries.voucher(everyone(platform), holding_of(platform, holding_id)["voucher_id"])
    expected = _expected_quote(clock, voucher["maturity"])
    b = browser("supplier1")
    target = location(b.post(f"/portal/supplier/holdings/{holding_id}/finance", finance_form(world)))
    assert target.startswith("/portal/supplier/financings?done=requested&event=evt_")
    [financing] = financings(platform)
    assert financing["applicant"] == world.tier1.party_id and financing["financier"] == world.bank.party_id
    assert financing["status"] == "requested" and financing["annual_rate"] == "0.0365"
    assert financing["amount"]["amount"] == "500000.00"
    assert financing["discount"]["amount"] == expected.discount.to_str()
    assert financing["fee"]["amount"] == "100.00"
    assert financing["net"]["amount"] == expected.net.to_str()
    statuses = sorted((h["status"], h["amount"]["amount"]) for h in holdings_of(platform, world.tier1))
    assert statuses == [("encumbered", "500000.00"), ("live", "500000.00")]
    page = b.get(target).text
    assert "Financing requested" in page and "First Bank" in page and "3.65 %" in page
    assert shown(financing["net"]) in page and '<span class="status requested">requested</span>' in page
    assert f'action="/portal/supplier/financings/{financing["id"]}/cancel"' in page
    # Cancel.
    target = location(b.post(f"/portal/supplier/financings/{financing['id']}/cancel", {"idempotency_key": token()}))
    assert target.startswith("/portal/supplier/financings?done=cancelled")
    assert financings(platform)[0]["status"] == "cancelled"
    assert sorted(h["status"] for h in holdings_of(platform, world.tier1)) == ["live", "live"]
    page = b.get(target).text
    assert "Financing request cancelled" in page and '<span class="status cancelled">cancelled</span>' in page
    assert "/cancel" not in page


@pytest.mark.parametrize(
    ("rate", "message"),
    [
        ("abc", "is not a rate"),
        ("-1", "is not a rate"),
        ("1e2", "is not a rate"),
        ("100", "below 100"),
        ("", "Enter the annual rate"),
        ("1.1234567", "6 decimal places"),
    ],
)
def test_bad_rates_are_refused_before_anything_happens(
    world: World, browser: Any, platform: Platform, rate: str, message: str
) -> None:
    holding_id = issued(world)
    b = browser("supplier1")
    for path in ("finance/preview", "finance"):
        r = b.post(f"/portal/supplier/holdings/{holding_id}/{path}", finance_form(world, rate=rate))
        assert r.status_code == 422, (path, r.status_code)
        assert message in r.text and 'role="alert"' in r.text
    assert financings(platform) == []


def test_rates_convert_exactly() -> None:
    assert parse_rate("3.65") == "0.0365"
    assert parse_rate(" 5 ") == "0.05"
    assert parse_rate("4.5%") == "0.045"
    assert parse_rate("0.000001") == "0.00000001"
    assert parse_rate("99.999999") == "0.99999999"


def test_a_price_with_no_proceeds_is_refused(world: World, browser: Any, platform: Platform) -> None:
    holding_id = issued(world, "1000.00")
    r = browser("supplier1").post(
        f"/portal/supplier/holdings/{holding_id}/finance/preview",
        finance_form(world, amount="1000.00", fee="1000.00"),
        headers={"HX-Request": "true"},
    )
    assert r.status_code == 422 and "no proceeds" in r.text and "Confirm financing request" not in r.text
    assert financings(platform) == []


# --- who may do what ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("username", ["core.clerk", "bank.officer", "operator", "auditor"])
def test_other_roles_may_not_open_supplier_pages(world: World, browser: Any, username: str) -> None:
    holding_id = issued(world)
    b = browser(username)
    for path in (
        "/portal/supplier",
        "/portal/supplier/offers",
        "/portal/supplier/financings",
        f"/portal/supplier/holdings/{holding_id}",
    ):
        r = b.get(path)
        assert r.status_code == 403, (username, path, r.status_code)
        assert "supplier" in r.text


@pytest.mark.parametrize("username", ["auditor", "core.clerk", "bank.officer"])
def test_other_roles_and_the_auditor_may_not_act(world: World, browser: Any, platform: Platform, username: str) -> None:
    holding_id = issued(world)
    b = browser(username)
    r = b.post(f"/portal/supplier/holdings/{holding_id}/transfer", transfer_form(world))
    assert r.status_code == 403
    r = b.post(f"/portal/supplier/holdings/{holding_id}/finance/preview", finance_form(world))
    assert r.status_code == 403
    assert offers(platform) == []


def test_a_form_without_the_csrf_token_is_refused(world: World, browser: Any, platform: Platform) -> None:
    holding_id = issued(world)
    b = browser("supplier1")
    r = b.post(f"/portal/supplier/holdings/{holding_id}/transfer", transfer_form(world), csrf=False)
    assert r.status_code == 403 and "reload the page" in r.text
    r = b.post(f"/portal/supplier/holdings/{holding_id}/transfer", {**transfer_form(world), "csrf_token": "forged"})
    assert r.status_code == 403
    r = b.post(f"/portal/supplier/holdings/{holding_id}/finance/preview", finance_form(world), csrf=False)
    assert r.status_code == 403
    assert offers(platform) == [] and financings(platform) == []


# --- bad input and double submits ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("amount", "message"),
    [
        ("-5.00", "cannot be negative"),
        ("0", "more than zero"),
        ("0.00", "more than zero"),
        ("1000000.01", "cannot be more than"),
        ("99999999999999999999999999.99", "cannot be more than"),
        ("abc", "is not an amount"),
        ("1e30", "is not an amount"),
        ("1,000.00", "is not an amount"),
        ("1.234", "2 decimal places"),
        ("", "Enter the amount"),
        ("9" * 40, "far too large"),
    ],
)
def test_bad_amounts_are_refused_with_a_clear_message(
    world: World, browser: Any, platform: Platform, amount: str, message: str
) -> None:
    holding_id = issued(world, "1000000.00")
    b = browser("supplier1")
    r = b.post(f"/portal/supplier/holdings/{holding_id}/transfer", transfer_form(world, amount=amount))
    assert r.status_code == 422, r.status_code
    assert message in r.text and 'role="alert"' in r.text
    assert 'name="trade_ref" required maxlength="200" value="PO-T2-77"' in r.text, "the form keeps what was typed"
    r = b.post(f"/portal/supplier/holdings/{holding_id}/finance/preview", finance_form(world, amount=amount))
    assert r.status_code == 422 and message in r.text
    r = b.post(f"/portal/supplier/holdings/{holding_id}/finance", finance_form(world, amount=amount))
    assert r.status_code == 422 and message in r.text
    assert offers(platform) == [] and financings(platform) == []
    [holding] = holdings_of(platform, world.tier1)
    assert holding["id"] == holding_id and holding["status"] == "live"


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("recipient", "", "Choose the supplier"),
        ("recipient", "pty_unknown", "Choose the supplier"),
        ("trade_ref", "  ", "trade reference"),
        ("invoice_refs", " , \n", "at least one invoice"),
    ],
)
def test_other_transfer_fields_are_checked(
    world: World, browser: Any, platform: Platform, field: str, value: str, message: str
) -> None:
    holding_id = issued(world)
    r = browser("supplier1").post(
        f"/portal/supplier/holdings/{holding_id}/transfer", transfer_form(world, **{field: value})
    )
    assert r.status_code == 422 and message in r.text
    assert offers(platform) == []


def test_transferring_to_itself_is_refused(world: World, browser: Any, platform: Platform) -> None:
    holding_id = issued(world)
    r = browser("supplier1").post(
        f"/portal/supplier/holdings/{holding_id}/transfer", transfer_form(world, recipient=world.tier1.party_id)
    )
    assert r.status_code == 422
    assert offers(platform) == []


def test_double_submit_with_the_same_idempotency_key_makes_one_offer(
    world: World, browser: Any, platform: Platform
) -> None:
    holding_id = issued(world, "1000000.00")
    b = browser("supplier1")
    form = transfer_form(world)
    first = location(b.post(f"/portal/supplier/holdings/{holding_id}/transfer", form))
    second = location(b.post(f"/portal/supplier/holdings/{holding_id}/transfer", form))
    assert first == second, "the second submit replays the first answer"
    assert len(offers(platform)) == 1
    [rest] = holdings_of(platform, world.tier1)
    assert rest["amount"]["amount"] == "600000.00"


def test_a_second_submit_of_a_spent_holding_is_a_conflict_on_the_form(
    world: World, browser: Any, platform: Platform
) -> None:
    holding_id = issued(world, "1000000.00")
    b = browser("supplier1")
    location(b.post(f"/portal/supplier/holdings/{holding_id}/transfer", transfer_form(world)))
    r = b.post(f"/portal/supplier/holdings/{holding_id}/transfer", transfer_form(world))
    assert r.status_code == 409 and 'role="alert"' in r.text
    assert len(offers(platform)) == 1
