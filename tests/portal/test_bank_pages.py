"""Financial institution pages: the queue of requests, the facts to decide, approve or decline, the portfolio.

Each test acts through the pages as a bank's credit officer would (forms posted with the session's CSRF token)
and then checks the ledger itself: the financing is declined and the units are the applicant's again, or (once
the case is paid out, see ``test_case_pages``) the units are the bank's. Another bank sees nothing of it; nobody
else may decide.
"""

from __future__ import annotations

import html
import re
import secrets
from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from tests.conftest import FakeClock
from tests.portal.conftest import PASSWORD, World
from tierflow.bootstrap import Platform
from tierflow.client import PartyKey
from tierflow.domain.model import Party, Role
from tierflow.domain.money import Money
from tierflow.domain.pricing import DayCount, quote
from tierflow.portal import routes_bank
from tierflow.portal.render import money as shown
from tierflow.services.accounts import PortalRole


def token() -> str:
    return secrets.token_urlsafe(18)


def everyone(platform: Platform) -> Party:
    return Party(platform.operator.party_id, "operator", Role.OPERATOR, platform.operator.public_key)


def financing(platform: Platform, financing_id: str) -> dict[str, Any]:
    return platform.queries.financing(everyone(platform), financing_id)


def holdings_of(platform: Platform, key: PartyKey, status: str | None = None) -> list[dict[str, Any]]:
    page = platform.queries.holdings(everyone(platform), voucher_id=None, status=status, limit=500, after=None)
    return [h for h in page.items if h["holder"] == key.party_id]


def cny(text: str) -> str:
    return shown({"amount": text, "currency": "CNY"})


def location(response: Any) -> str:
    assert response.status_code == 303, (response.status_code, re.findall(r'role="alert".*', response.text))
    return str(response.headers["location"])


def request_financing(
    world: World,
    *,
    amount: str = "500000.00",
    face: str = "1000000.00",
    days: int = 90,
    who: PartyKey | None = None,
    bank: PartyKey | None = None,
    holding_id: str | None = None,
) -> dict[str, Any]:
    """Tier-1 (or ``who``) asks First Bank (or ``bank``) to finance part of a fresh voucher's holding at 3.65 %."""
    if holding_id is None:
        holding_id = str(world.issue(face, days=days)["holding_id"])
    return world.do(
        who or world.tier1,
        "financing.request",
        holding_id=holding_id,
        financier=(bank or world.bank).party_id,
        amount=amount,
        currency="CNY",
        annual_rate="0.0365",
        fee="100.00",
    )


@pytest.fixture
def other_officer(world: World, platform: Platform) -> str:
    """A portal user of Second Bank, to check that one bank sees nothing of another's requests."""
    accounts = platform.accounts
    accounts.keep_signing_key(world.other_bank.party_id, world.other_bank.signing_key)
    accounts.create_user(
        username="other.officer",
        password=PASSWORD,
        party_id=world.other_bank.party_id,
        display_name="Other Officer",
        role=PortalRole.MEMBER,
    )
    return "other.officer"


# --- one request: facts, provenance, verification, decision ---------------------------------------------------


def test_the_request_page_shows_the_facts_to_decide(
    world: World, browser: Any, platform: Platform, clock: FakeClock
) -> None:
    holding_id = str(world.issue("1000000.00", days=90)["holding_id"])
    world.offer(world.tier1, holding_id, world.tier2, "600000.00")
    offer = platform.queries.offers(everyone(platform), direction="all", status=None, limit=5, after=None).items[0]
    accepted = world.do(world.tier2, "transfer.accept", offer_id=offer["id"])
    clock.advance(days=10)
    requested = request_financing(world, amount="250000.00", who=world.tier2, holding_id=str(accepted["holding_id"]))
    fin = financing(platform, str(requested["financing_id"]))
    page = browser("bank.officer").get(f"/portal/bank/financings/{fin['id']}")
    assert page.status_code == 200
    text = html.unescape(page.text)
    assert "<h1>Financing of CNY 250,000.00 for Tier-2 Ltd</h1>" in text
    facts = text.split('id="facts-h"', 1)[1].split("</dl>", 1)[0]
    assert "<dd>Tier-2 Ltd</dd>" in facts and "Core Co" in facts and "no overdue vouchers" in facts
    assert "<dd>80 days</dd>" in facts, "the tenor: value date to maturity"
    assert "<dd>3.65 % (ACT/360)</dd>" in facts
    assert f"<dd>{shown(fin['discount'])}</dd>" in facts and f"<dd>{cny('100.00')}</dd>" in facts
    assert f"<dd>{shown(fin['net'])}</dd>" in facts
    expected = quote(
        Money.parse("250000.00", "CNY"),
        annual_rate=Decimal("0.0365"),
        value_date=clock.now.date(),
        maturity=date.fromisoformat(fin["maturity"]),
        basis=DayCount.ACT_360,
        fee_minor=10_000,
    )
    assert fin["net"]["amount"] == expected.net.to_str()
    assert "<dt>Tier of the units</dt><dd>2</dd>" in facts and "PO-2026-001" in facts
    # Provenance: tier 1 then tier 2, with the trade references and a receipt for each hop.
    prov = text.split('id="prov-h"', 1)[1].split("</table>", 1)[0]
    assert prov.index("Tier-1 Ltd") < prov.index("Tier-2 Ltd")
    assert "PO-2026-001" in prov and "INV-0001" in prov and "INV-600000.00" in prov
    assert len(re.findall(r'href="/portal/receipt/evt_[A-Z0-9]+"', prov)) >= 2
    # The case: its stage and the trade-check verdict, with a link to the case page where it is decided.
    checks = text.split('id="checks-h"', 1)[1].split("</section>", 1)[0]
    outcome = platform.cases.case(everyone(platform), fin["id"])["verification"]["outcome"]
    assert "Trade checked" in checks and f'<span class="status {outcome}">{outcome}</span>' in checks
    assert f'href="/portal/financings/{fin["id"]}"' in checks
    # No one-click funding: approval goes through the case; declining stays here.
    assert "/fund" not in text
    assert f'action="/portal/bank/financings/{fin["id"]}/decline"' in text
    assert '<label for="d-reason">Reason</label>' in text


def test_a_paid_out_financing_moves_the_units_to_the_bank(world: World, browser: Any, platform: Platform) -> None:
    fin_id = str(request_financing(world)["financing_id"])
    b = browser("bank.officer")
    # The old one-click funding is gone: the money goes out through the case (tests/portal/test_case_pages.py).
    assert b.post(f"/portal/bank/financings/{fin_id}/fund", {"idempotency_key": token()}).status_code in (404, 405)
    assert financing(platform, fin_id)["status"] == "requested"
    world.disburse(fin_id)
    target = f"/portal/bank/financings/{fin_id}"
    funded = financing(platform, fin_id)
    assert funded["status"] == "funded" and funded["funded_holding_id"]
    [mine] = holdings_of(platform, world.bank)
    assert mine["status"] == "live" and mine["amount"] == {"amount": "500000.00", "currency": "CNY"}
    assert [h["amount"]["amount"] for h in holdings_of(platform, world.tier1)] == ["500000.00"]
    page = b.get(target).text
    assert '<span class="status funded">funded</span>' in page and "there is nothing left to decide" in page
    assert "/decline" not in page.split("<main", 1)[1]


def test_decline_needs_a_reason_and_returns_the_units(world: World, browser: Any, platform: Platform) -> None:
    fin_id = str(request_financing(world)["financing_id"])
    b = browser("bank.officer")
    r = b.post(f"/portal/bank/financings/{fin_id}/decline", {"reason": "   ", "idempotency_key": token()})
    assert r.status_code == 422 and "Give the reason for declining" in r.text and 'role="alert"' in r.text
    assert financing(platform, fin_id)["status"] == "requested"
    target = location(
        b.post(f"/portal/bank/financings/{fin_id}/decline", {"reason": "Tenor too long", "idempotency_key": token()})
    )
    assert target.startswith(f"/portal/bank/financings/{fin_id}?done=declined&event=evt_")
    assert financing(platform, fin_id)["status"] == "declined"
    assert holdings_of(platform, world.bank) == []
    assert sorted(h["status"] for h in holdings_of(platform, world.tier1)) == ["live", "live"]
    assert "Financing declined." in b.get(target).text


def test_a_decided_request_cannot_be_decided_again(world: World, browser: Any, platform: Platform) -> None:
    fin_id = str(request_financing(world)["financing_id"])
    b = browser("bank.officer")
    form = {"reason": "Tenor too long", "idempotency_key": token()}
    first = location(b.post(f"/portal/bank/financings/{fin_id}/decline", form))
    # The same form twice (a double click) replays the first answer: one decision.
    assert location(b.post(f"/portal/bank/financings/{fin_id}/decline", form)) == first
    # A fresh form is refused with the reason; nothing changes.
    r = b.post(f"/portal/bank/financings/{fin_id}/decline", {"reason": "Changed my mind", "idempotency_key": token()})
    assert r.status_code == 409 and "This request is declined already" in r.text
    # A funded one cannot be declined either.
    funded = str(request_financing(world)["financing_id"])
    world.disburse(funded)
    r = b.post(f"/portal/bank/financings/{funded}/decline", {"reason": "Too late", "idempotency_key": token()})
    assert r.status_code == 409 and "This request is funded already" in r.text
    assert financing(platform, fin_id)["status"] == "declined" and financing(platform, funded)["status"] == "funded"
    assert len(holdings_of(platform, world.bank)) == 1


def test_another_bank_sees_nothing_and_cannot_decide(
    world: World, browser: Any, platform: Platform, other_officer: str
) -> None:
    fin_id = str(request_financing(world)["financing_id"])
    other = browser(other_officer)
    assert other.get(f"/portal/bank/financings/{fin_id}").status_code == 404
    assert other.get(f"/portal/financings/{fin_id}").status_code == 404
    r = other.post(f"/portal/financings/{fin_id}/review", {"recommendation": "approve", "idempotency_key": token()})
    assert r.status_code == 404
    r = other.post(f"/portal/bank/financings/{fin_id}/decline", {"reason": "x", "idempotency_key": token()})
    assert r.status_code == 404
    assert fin_id not in other.get("/portal/bank").text
    assert fin_id not in other.get("/portal/bank?status=all").text
    assert "Core Co" not in other.get("/portal/bank/portfolio").text.split("<main", 1)[1]
    assert browser("bank.officer").get("/portal/bank/financings/fin_nope").status_code == 404
    assert financing(platform, fin_id)["status"] == "requested"


def test_bank_pages_need_the_bank_a_user_who_may_act_and_the_csrf_token(
    world: World, browser: Any, platform: Platform
) -> None:
    fin_id = str(request_financing(world)["financing_id"])
    supplier = browser("supplier1")
    for path in (
        "/portal/bank",
        "/portal/bank/portfolio",
        f"/portal/bank/financings/{fin_id}",
        "/portal/bank/repayments",
    ):
        r = supplier.get(path)
        assert r.status_code == 403 and "financial institution" in r.text, path
    review = {"recommendation": "approve", "idempotency_key": token()}
    assert supplier.post(f"/portal/financings/{fin_id}/review", review).status_code == 403
    assert supplier.post(f"/portal/bank/financings/{fin_id}/decline", {"reason": "x"}).status_code == 403
    assert browser("core.clerk").get("/portal/bank").status_code == 403
    auditor = browser("auditor")
    assert auditor.post(f"/portal/financings/{fin_id}/review", review).status_code == 403
    officer = browser("bank.officer")
    r = officer.post(f"/portal/financings/{fin_id}/review", review, csrf=False)
    assert r.status_code == 403 and "reload the page" in r.text
    r = officer.post(f"/portal/bank/financings/{fin_id}/decline", {"reason": "x", "csrf_token": "forged"})
    assert r.status_code == 403
    assert financing(platform, fin_id)["status"] == "requested"
    assert holdings_of(platform, world.bank) == []


def test_a_read_only_user_of_the_bank_sees_the_request_but_cannot_decide(
    world: World, browser: Any, platform: Platform
) -> None:
    fin_id = str(request_financing(world)["financing_id"])
    platform.accounts.create_user(
        username="bank.reader",
        password=PASSWORD,
        party_id=world.bank.party_id,
        display_name="Bank Reader",
        role=PortalRole.AUDITOR,
    )
    reader = browser("bank.reader")
    assert reader.get(f"/portal/bank/financings/{fin_id}").status_code == 200
    for path, data in (
        (f"/portal/financings/{fin_id}/review", {"recommendation": "approve"}),
        (f"/portal/bank/financings/{fin_id}/decline", {"reason": "No"}),
    ):
        r = reader.post(path, {**data, "idempotency_key": token()})
        assert r.status_code == 403 and "can read but not act" in html.unescape(r.text), path
    assert financing(platform, fin_id)["status"] == "requested"


def test_rates_show_as_percent() -> None:
    assert routes_bank.percent("0.0365") == "3.65"
    assert routes_bank.percent("0.05") == "5"
    assert routes_bank.percent("0") == "0"


# --- the queue -----------------------------------------------------------------------------------------------


def test_the_queue_lists_the_requests_with_their_facts_and_filters_by_status(
    world: World, browser: Any, platform: Platform
) -> None:
    first = str(request_financing(world, amount="500000.00")["financing_id"])
    second = str(request_financing(world, amount="1000.00", face="2000.00")["financing_id"])
    b = browser("bank.officer")
    page = b.get("/portal/bank")
    assert page.status_code == 200
    text = page.text
    assert "<h1>Financing requests</h1>" in text and 'href="/portal/bank" aria-current="page"' in text
    row = text.split(f'href="/portal/financings/{first}"', 1)[1].split("</tr>", 1)[0]
    fin = financing(platform, first)
    cells = re.findall(r"<td[^>]*>(.*?)</td>", row)
    assert cells[:9] == [
        "Tier-1 Ltd",
        "Core Co",
        cny("500000.00"),
        "90",
        "1",
        "3.65 %",
        shown(fin["discount"]),
        cny("100.00"),
        shown(fin["net"]),
    ]
    assert '<span class="status requested">requested</span>' in row and "overdue" not in row
    assert "Trade checked" in row, "the stage of the case"
    assert f"/portal/financings/{second}" in text
    # Decide one; the filter shows each where it belongs.
    world.disburse(first)
    location(b.post(f"/portal/bank/financings/{second}/decline", {"reason": "No", "idempotency_key": token()}))
    listed = {
        status: set(
            re.findall(r'"/portal/financings/(fin_[A-Za-z0-9_]+)"', b.get(f"/portal/bank?status={status}").text)
        )
        for status in ("requested", "funded", "declined", "all")
    }
    assert listed == {"requested": set(), "funded": {first}, "declined": {second}, "all": {first, second}}
    assert "No requests are waiting for a decision." in b.get("/portal/bank").text
    assert b.get("/portal/bank?status=nonsense").status_code == 400


def test_the_queue_flags_an_obligor_with_overdue_vouchers(
    world: World, browser: Any, platform: Platform, clock: FakeClock
) -> None:
    late = world.issue("1000.00", days=10)
    fin_id = str(request_financing(world, days=90)["financing_id"])
    clock.advance(days=10)
    world.do(world.core, "voucher.settle", voucher_id=late["voucher_id"], amount="100.00", currency="CNY")
    b = browser("bank.officer")
    row = b.get("/portal/bank").text.split(f'href="/portal/financings/{fin_id}"', 1)[1].split("</tr>", 1)[0]
    assert '<span class="status overdue">overdue</span>' in row and "this obligor has overdue vouchers" in row
    facts = b.get(f"/portal/bank/financings/{fin_id}").text.split('id="facts-h"', 1)[1].split("</dl>", 1)[0]
    assert '<span class="status overdue">overdue</span> has overdue vouchers' in facts


def test_the_queue_pages(world: World, browser: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(routes_bank, "PAGE_SIZE", 2)
    ids = sorted(str(request_financing(world, amount="1000.00", face="2000.00")["financing_id"]) for _ in range(3))
    b = browser("bank.officer")
    first = b.get("/portal/bank").text
    found = re.search(r'href="(/portal/bank\?status=requested&amp;after=[^"]+)">Next page of requests<', first)
    assert found, "a next-page link that keeps the filter"
    second = b.get(html.unescape(found.group(1))).text
    pages = [set(re.findall(r"/portal/financings/(fin_[A-Za-z0-9_]+)", t)) for t in (first, second)]
    assert pages == [set(ids[:2]), {ids[2]}] and "Next page" not in second


# --- the portfolio -------------------------------------------------------------------------------------------


def test_the_portfolio_shows_what_the_bank_bought_by_obligor_and_maturity(
    world: World, browser: Any, platform: Platform, clock: FakeClock
) -> None:
    b = browser("bank.officer")
    assert "The bank holds nothing yet" in b.get("/portal/bank/portfolio").text
    first = str(request_financing(world, amount="500000.00", days=90)["financing_id"])
    second = str(request_financing(world, amount="250000.25", days=40)["financing_id"])
    for fin_id in (first, second):
        world.disburse(fin_id)
    held = platform.queries.portfolio(everyone(platform), world.bank.party_id)
    assert [(r["month"], r["amount_minor"]) for r in held["rows"]] == [("2026-02", 25_000_025), ("2026-04", 50_000_000)]
    page = b.get("/portal/bank/portfolio")
    assert page.status_code == 200
    text = page.text
    assert "<h1>Portfolio of First Bank</h1>" in text and 'href="/portal/bank/portfolio" aria-current="page"' in text
    chart = text.split('id="chart-h"', 1)[1].split("</section>", 1)[0]
    assert "<svg" in chart and "Core Co" in chart and "2026-02" in chart and "2026-04" in chart
    assert cny("250000.25") in chart and cny("500000.00") in chart and cny("750000.25") in chart
    totals = text.split('id="obligors-h"', 1)[1].split("</section>", 1)[0]
    row = totals.split("<td>Core Co</td>", 1)[1].split("</tr>", 1)[0]
    assert re.findall(r"<td[^>]*>(.*?)</td>", row) == [cny("750000.25"), cny("0.00"), "2"]
    assert "Tier-1 Ltd" not in totals
