"""Core enterprise pages: issuing vouchers, the maturity ladder, how far vouchers travelled, paying at maturity.

Each test acts through the pages as a payables clerk would (forms posted with the session's CSRF token) and then
checks the ledger itself, not only the page: the voucher exists with the exact face, maturity and references, the
numbers on the page are the ledger's, the holders were paid. The nasty cases check that nothing changed.
"""

from __future__ import annotations

import html
import re
import secrets
from datetime import timedelta
from typing import Any

import pytest

from tests.conftest import FakeClock
from tests.portal.conftest import PASSWORD, World
from tierflow.bootstrap import Platform
from tierflow.domain.model import Party, Role
from tierflow.portal import routes_core
from tierflow.portal.render import money as shown
from tierflow.portal.routes_core import parse_refs
from tierflow.services.accounts import PortalRole


def token() -> str:
    """A fresh one-time form token, as a rendered form carries."""
    return secrets.token_urlsafe(18)


def everyone(platform: Platform) -> Party:
    """The operator's view: every object, whoever holds it (to check the ledger behind the pages)."""
    return Party(platform.operator.party_id, "operator", Role.OPERATOR, platform.operator.public_key)


def vouchers(platform: Platform) -> list[dict[str, Any]]:
    return platform.queries.vouchers(everyone(platform), limit=500, after=None).items


def holdings(platform: Platform, voucher_id: str, status: str | None = None) -> list[dict[str, Any]]:
    return platform.queries.holdings(
        everyone(platform), voucher_id=voucher_id, status=status, limit=500, after=None
    ).items


def cny(text: str) -> str:
    """How the pages show an amount of CNY (the shared ``money`` filter)."""
    return shown({"amount": text, "currency": "CNY"})


def location(response: Any) -> str:
    assert response.status_code == 303, (response.status_code, re.findall(r'role="alert".*', response.text))
    return str(response.headers["location"])


def in_days(clock: FakeClock, days: int) -> str:
    return (clock.now + timedelta(days=days)).date().isoformat()


def issue_form(world: World, clock: FakeClock, **overrides: str) -> dict[str, str]:
    form = {
        "first_holder": world.tier1.party_id,
        "amount": "1234567.89",
        "currency": "CNY",
        "maturity": in_days(clock, 90),
        "contract_ref": "PO-2026-042",
        "invoice_refs": "INV-1, INV-2\nINV-3",
        "confirm": "yes",
        "idempotency_key": token(),
    }
    form.update(overrides)
    return form


# --- issuing -----------------------------------------------------------------------------------------------


def test_issue_form_lists_the_suppliers_by_name_and_the_currencies(world: World, browser: Any) -> None:
    page = browser("core.clerk").get("/portal/core/issue")
    assert page.status_code == 200
    text = page.text
    assert "<h1>Issue a voucher</h1>" in text
    assert 'href="/portal/core/issue" aria-current="page"' in text
    holders = text.split('id="i-holder"', 1)[1].split("</select>", 1)[0]
    assert holders.index("Tier-1 Ltd") < holders.index("Tier-2 Ltd") < holders.index("Tier-3 Ltd")
    assert "First Bank" not in holders and "Core Co" not in holders
    assert f'value="{world.tier2.party_id}"' in holders
    currencies = text.split('id="i-currency"', 1)[1].split("</select>", 1)[0]
    assert '<option value="CNY" selected>' in currencies and '<option value="USD"' in currencies
    assert 'type="date"' in text and 'type="checkbox"' in text
    assert "I confirm Core Co owes this amount to the supplier" in text
    assert 'name="idempotency_key"' in text and 'name="csrf_token"' in text


def test_core_issues_through_the_page_and_the_voucher_is_the_ledgers(
    world: World, browser: Any, platform: Platform, clock: FakeClock
) -> None:
    b = browser("core.clerk")
    maturity = in_days(clock, 90)
    target = location(b.post("/portal/core/issue", issue_form(world, clock, maturity=maturity)))
    found = re.fullmatch(r"/portal/core/vouchers/(vch_[A-Za-z0-9_]+)\?done=issued&event=(evt_[A-Z0-9]+)", target)
    assert found, target
    [voucher] = vouchers(platform)
    assert voucher["id"] == found.group(1)
    assert voucher["obligor"] == world.core.party_id and voucher["first_holder"] == world.tier1.party_id
    assert voucher["face"] == {"amount": "1234567.89", "currency": "CNY"}
    assert voucher["maturity"] == maturity
    assert voucher["contract_ref"] == "PO-2026-042"
    assert voucher["invoice_refs"] == ["INV-1", "INV-2", "INV-3"]
    [root] = holdings(platform, voucher["id"])
    assert root["holder"] == world.tier1.party_id and root["tier"] == 1 and root["status"] == "live"
    page = b.get(target)
    assert page.status_code == 200
    assert "Voucher issued." in page.text and f'href="/portal/receipt/{found.group(2)}"' in page.text
    assert cny("1234567.89") in page.text and "PO-2026-042" in page.text and "Tier-1 Ltd" in page.text


def test_other_currencies_are_issued_in_their_own_minor_units(
    world: World, browser: Any, platform: Platform, clock: FakeClock
) -> None:
    location(browser("core.clerk").post("/portal/core/issue", issue_form(world, clock, amount="5000", currency="JPY")))
    [voucher] = vouchers(platform)
    assert voucher["face"] == {"amount": "5000", "currency": "JPY"}


FIELD_IDS = {
    "first_holder": "i-holder",
    "amount": "i-amount",
    "currency": "i-currency",
    "maturity": "i-maturity",
    "contract_ref": "i-contract",
    "invoice_refs": "i-invoices",
    "confirm": "i-confirm",
}
BAD_ISSUES: list[tuple[dict[str, str], str]] = [
    ({"amount": "0"}, "must be more than zero"),
    ({"amount": "0.00"}, "must be more than zero"),
    ({"amount": "-5.00"}, "cannot be negative"),
    ({"amount": "abc"}, "is not an amount"),
    ({"amount": "1e6"}, "is not an amount"),
    ({"amount": "1,000.00"}, "is not an amount"),
    ({"amount": ""}, "Enter the amount"),
    ({"amount": "1.234"}, "CNY amounts have 2 decimal places at most"),
    ({"amount": "1000000000.01"}, "CNY 1,000,000,000.01 is more than the platform's limit of CNY 1,000,000,000.00"),
    ({"amount": "9" * 40}, "far too large"),
    ({"amount": "1.5", "currency": "JPY"}, "JPY amounts have 0 decimal places at most"),
    ({"currency": "XYZ"}, "“XYZ” is not a currency the platform takes"),
    ({"maturity": "PAST"}, "is not after today (2026-01-05)"),
    ({"maturity": "TODAY"}, "is not after today (2026-01-05)"),
    ({"maturity": "FAR"}, "is 400 days away; the platform allows at most 365 days. Choose 2027-01-05 or earlier"),
    ({"maturity": "05/04/2026"}, "is not a date"),
    ({"maturity": ""}, "Enter the maturity date"),
    ({"first_holder": ""}, "Choose the supplier"),
    ({"first_holder": "BANK"}, "Choose the supplier"),
    ({"contract_ref": "  "}, "Enter the contract reference"),
    ({"invoice_refs": " , \n"}, "Enter at least one invoice number"),
    ({"confirm": ""}, "Tick the confirmation"),
]


def test_bad_issues_are_refused_on_the_form_and_nothing_happens(
    world: World, browser: Any, platform: Platform, clock: FakeClock
) -> None:
    special = {
        "PAST": in_days(clock, -1),
        "TODAY": in_days(clock, 0),
        "FAR": in_days(clock, 400),
        "BANK": world.bank.party_id,
    }
    b = browser("core.clerk")
    for overrides, message in BAD_ISSUES:
        form = issue_form(world, clock, **{k: special.get(v, v) for k, v in overrides.items()})
        r = b.post("/portal/core/issue", form)
        assert r.status_code == 422, (overrides, r.status_code)
        alert = re.findall(r'role="alert".*', r.text)
        assert message in html.unescape(r.text), (overrides, alert)
        assert len(alert) == 1 and "<h1>Issue a voucher</h1>" in r.text, overrides
        # The field at fault is marked invalid and points at the message.
        field = FIELD_IDS[next(iter(overrides))]
        marked = re.findall(r'<(?:input|select|textarea) [^>]*aria-invalid="true"[^>]*>', r.text)
        assert len(marked) == 1 and f'id="{field}"' in marked[0] and "issue-error" in marked[0], (overrides, marked)
        # The form keeps what was typed.
        if "contract_ref" not in overrides:
            assert 'value="PO-2026-042"' in r.text, overrides
        if overrides.get("amount") and len(overrides["amount"]) < 40:
            assert f'value="{overrides["amount"]}"' in r.text, overrides
        if "invoice_refs" not in overrides:
            assert ">INV-1, INV-2\nINV-3</textarea>" in r.text, overrides
    assert vouchers(platform) == []


def test_a_double_submit_issues_one_voucher(world: World, browser: Any, platform: Platform, clock: FakeClock) -> None:
    b = browser("core.clerk")
    form = issue_form(world, clock)
    first = location(b.post("/portal/core/issue", form))
    second = location(b.post("/portal/core/issue", form))
    assert first == second
    assert len(vouchers(platform)) == 1
    # A fresh form token is a new voucher.
    location(b.post("/portal/core/issue", {**form, "idempotency_key": token()}))
    assert len(vouchers(platform)) == 2


def test_issuing_needs_the_core_enterprise_a_user_who_may_act_and_the_csrf_token(
    world: World, browser: Any, platform: Platform, clock: FakeClock
) -> None:
    form = issue_form(world, clock)
    supplier = browser("supplier1")
    for path in ("/portal/core", "/portal/core/issue"):
        r = supplier.get(path)
        assert r.status_code == 403 and "core enterprise" in r.text
    assert supplier.post("/portal/core/issue", form).status_code == 403
    auditor = browser("auditor")
    assert auditor.get("/portal/core/issue").status_code == 403
    assert auditor.post("/portal/core/issue", form).status_code == 403
    assert browser("bank.officer").post("/portal/core/issue", form).status_code == 403
    clerk = browser("core.clerk")
    r = clerk.post("/portal/core/issue", form, csrf=False)
    assert r.status_code == 403 and "reload the page" in r.text
    r = clerk.post("/portal/core/issue", {**form, "csrf_token": "forged-token"})
    assert r.status_code == 403
    assert vouchers(platform) == []


def test_a_read_only_user_of_the_core_enterprise_sees_but_cannot_issue(
    world: World, browser: Any, platform: Platform, clock: FakeClock
) -> None:
    platform.accounts.create_user(
        username="core.reader",
        password=PASSWORD,
        party_id=world.core.party_id,
        display_name="Core Reader",
        role=PortalRole.AUDITOR,
    )
    reader = browser("core.reader")
    assert reader.get("/portal/core").status_code == 200
    assert reader.get("/portal/core/issue").status_code == 200
    r = reader.post("/portal/core/issue", issue_form(world, clock))
    assert r.status_code == 403 and "can read but not act" in html.unescape(r.text)
    assert vouchers(platform) == []


def test_invoice_numbers_split_on_lines_and_commas() -> None:
    assert parse_refs("A-1, A-2\r\nA-3\n\n,A-1") == ["A-1", "A-2", "A-3"]


# --- the payables page ---------------------------------------------------------------------------------------


def _accept_offer(
    world: World, platform: Platform, sender: Any, holding_id: object, recipient: Any, amount: str
) -> str:
    """``sender`` passes ``amount`` of a holding to ``recipient``, who accepts; the recipient's holding id."""
    offer = world.offer(sender, holding_id, recipient, amount)
    accepted = world.do(recipient, "transfer.accept", offer_id=offer["offer_id"])
    return str(accepted["holding_id"])


def three_tiers(world: World, platform: Platform) -> dict[str, Any]:
    """A voucher of CNY 1,000,000.00 at 90 days: 600,000 stay at tier 1, 300,000 at tier 2, 100,000 at tier 3."""
    issued = world.issue("1000000.00", days=90)
    t2 = _accept_offer(world, platform, world.tier1, issued["holding_id"], world.tier2, "400000.00")
    _accept_offer(world, platform, world.tier2, t2, world.tier3, "100000.00")
    return issued


def section(text: str, heading_id: str) -> str:
    return text.split(f'id="{heading_id}"', 1)[1].split("</section>", 1)[0]


def test_payables_page_numbers_are_the_ledgers(
    world: World, browser: Any, platform: Platform, clock: FakeClock
) -> None:
    big = three_tiers(world, platform)
    small = world.issue("250000.50", days=40)
    page = browser("core.clerk").get("/portal/core")
    assert page.status_code == 200
    text = page.text
    assert "<h1>Payables of Core Co</h1>" in text and 'href="/portal/core" aria-current="page"' in text
    # Cards.
    assert cny("1250000.50") in text.split('id="card-outstanding"', 1)[1].split("</div>", 1)[0]
    assert cny("0.00") in text.split('id="card-overdue"', 1)[1].split("</div>", 1)[0]
    assert '<p class="value">2</p>' in text.split('id="card-vouchers"', 1)[1].split("</div>", 1)[0]
    nxt = text.split('id="card-next"', 1)[1].split("</div>", 1)[0]
    assert in_days(clock, 40) in nxt and "In 40 days" in nxt and f"/portal/core/vouchers/{small['voucher_id']}" in nxt
    # The maturity ladder: one bar per month, the numbers equal the ledger's.
    ladder = platform.queries.maturity_ladder(everyone(platform), world.core.party_id)
    assert [(r["month"], r["outstanding_minor"]) for r in ladder] == [("2026-02", 25_000_050), ("2026-04", 100_000_000)]
    numbers = section(text, "ladder-h")
    assert "<svg" in numbers and 'role="img"' in numbers and "Show the numbers" in numbers
    assert re.search(r"2026-02</th>\s*<td[^>]*>CNY 250,000.50</td>", numbers), "the February bucket"
    assert re.search(r"2026-04</th>\s*<td[^>]*>CNY 1,000,000.00</td>", numbers), "the April bucket"
    assert "CNY 1,250,000.50" in numbers, "the total"
    # How far the vouchers travelled: tier 1 holds 600,000 + 250,000.50, tier 2 300,000, tier 3 100,000.
    travel = platform.queries.tier_travel(everyone(platform), world.core.party_id)
    assert [(r["tier"], r["amount_minor"], r["holders"]) for r in travel] == [
        (1, 85_000_050, 1),
        (2, 30_000_000, 1),
        (3, 10_000_000, 1),
    ]
    tiers = section(text, "travel-h")
    for tier, amount in ((1, "850000.50"), (2, "300000.00"), (3, "100000.00")):
        assert re.search(rf"Tier {tier}</th>\s*<td[^>]*>{re.escape(cny(amount))}</td>", tiers), tier
    # The vouchers, by maturity: the small one first; deepest tier and holders ever.
    table = section(text, "vouchers-h")
    assert table.index(str(small["voucher_id"])) < table.index(str(big["voucher_id"]))
    row = table.split(f'href="/portal/core/vouchers/{big["voucher_id"]}"', 1)[1].split("</tr>", 1)[0]
    assert row.count(cny("1000000.00")) == 2 and cny("0.00") in row
    assert in_days(clock, 90) in row and '<td class="num">3</td>' in row and '<span class="status active">' in row


def test_payables_page_pages_through_the_vouchers(
    world: World, browser: Any, platform: Platform, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(routes_core, "PAGE_SIZE", 2)
    ids = [str(world.issue(f"{n}000.00", days=10 * n)["voucher_id"]) for n in (1, 2, 3)]
    b = browser("core.clerk")
    first = b.get("/portal/core").text
    found = re.search(r'href="(/portal/core\?after=[^"]+)">Next page of vouchers<', first)
    assert found, "a next-page link"
    second = b.get(html.unescape(found.group(1))).text
    on = [
        set(re.findall(r"/portal/core/vouchers/(vch_[A-Za-z0-9_]+)", section(t, "vouchers-h"))) for t in (first, second)
    ]
    assert on == [set(ids[:2]), {ids[2]}]
    assert "Next page of vouchers" not in second
    assert b.get("/portal/core?after=garbage").status_code in (400, 422)


def test_a_core_enterprise_with_nothing_issued_sees_empty_charts(world: World, browser: Any) -> None:
    text = browser("core.clerk").get("/portal/core").text
    assert "Nothing issued yet." in text and "No vouchers yet." in text and cny("0.00") in text


# --- one voucher ---------------------------------------------------------------------------------------------


def test_voucher_page_shows_the_tiers_and_the_provenance_graph(world: World, browser: Any, platform: Platform) -> None:
    voucher_id = str(three_tiers(world, platform)["voucher_id"])
    page = browser("core.clerk").get(f"/portal/core/vouchers/{voucher_id}")
    assert page.status_code == 200
    text = page.text
    assert "<h1>Voucher of CNY 1,000,000.00 to Tier-1 Ltd</h1>" in text
    assert "PO-2026-001" in text and "INV-0001" in text
    tiers = section(text, "tiers-h")
    table = tiers.split("<table>", 1)[1].split("</table>", 1)[0]
    for tier, holders, amount in ((1, 1, "600000.00"), (2, 1, "300000.00"), (3, 1, "100000.00")):
        assert re.search(
            rf'<td class="num">{tier}</td><td class="num">{holders}</td><td class="num">{re.escape(cny(amount))}</td>',
            table,
        ), tier
    # The provenance graph: a box for the obligor and for each holder, in the column of its tier.
    svg = tiers.split("<svg", 1)[1].split("</svg>", 1)[0]
    for name in ("Core Co", "Tier-1 Ltd", "Tier-2 Ltd", "Tier-3 Ltd"):
        assert re.search(rf'class="tf-node"[^>]*>\s*<title>{name}\b', svg), name
    for column in ("Issuer", "Tier 1", "Tier 2", "Tier 3"):
        assert f">{column}</text>" in svg, column
    graph_table = tiers.split("Show the holdings as a table", 1)[1]
    for name, tier in (("Tier-1 Ltd", 1), ("Tier-2 Ltd", 2), ("Tier-3 Ltd", 3)):
        assert re.search(rf"<th scope=\"row\">{name}</th>\s*<td>Tier {tier}</td>", graph_table), name
    assert cny("100000.00") in graph_table


def test_pay_at_maturity_is_refused_before_and_pays_the_holders_after(
    world: World, browser: Any, platform: Platform, clock: FakeClock
) -> None:
    voucher_id = str(three_tiers(world, platform)["voucher_id"])
    b = browser("core.clerk")
    page = b.get(f"/portal/core/vouchers/{voucher_id}").text
    pay = section(page, "pay-h")
    assert "Not due yet" in pay and f"matures on {in_days(clock, 90)}" in pay
    assert 'value="1000000.00"' in pay and "disabled" in pay
    r = b.post(f"/portal/core/vouchers/{voucher_id}/settle", {"amount": "1000000.00", "idempotency_key": token()})
    assert r.status_code == 422
    assert f"This voucher is not due yet: it matures on {in_days(clock, 90)} (in 90 days" in r.text
    assert platform.queries.settlements(everyone(platform), voucher_id) == []
    clock.advance(days=91)
    b = browser("core.clerk")  # a new session: the first one expired while time passed
    pay = section(b.get(f"/portal/core/vouchers/{voucher_id}").text, "pay-h")
    assert "The voucher is due" in pay and "disabled" not in pay
    form = {"amount": "1000000.00", "idempotency_key": token()}
    target = location(b.post(f"/portal/core/vouchers/{voucher_id}/settle", form))
    assert re.fullmatch(rf"/portal/core/vouchers/{voucher_id}\?done=settled&event=evt_[A-Z0-9]+", target)
    assert location(b.post(f"/portal/core/vouchers/{voucher_id}/settle", form)) == target, "a double submit replays"
    [settlement] = platform.queries.settlements(everyone(platform), voucher_id)
    assert settlement["paid"] == {"amount": "1000000.00", "currency": "CNY"}
    paid = {p["holder"]: p["amount"] for p in settlement["payments"]}
    assert paid == {
        world.tier1.party_id: "600000.00",
        world.tier2.party_id: "300000.00",
        world.tier3.party_id: "100000.00",
    }
    assert platform.queries.voucher(everyone(platform), voucher_id)["status"] == "settled"
    text = b.get(target).text
    assert "Payment recorded." in text and "Paid in full" in text
    payments = section(text, "paid-h")
    for name, amount in (("Tier-1 Ltd", "600000.00"), ("Tier-2 Ltd", "300000.00"), ("Tier-3 Ltd", "100000.00")):
        assert f"{name}: {cny(amount)}" in payments
    assert cny("1000000.00") in payments
    assert '<span class="status settled">settled</span>' in text


def test_a_part_payment_leaves_the_rest_overdue_on_the_payables_page(
    world: World, browser: Any, platform: Platform, clock: FakeClock
) -> None:
    voucher_id = str(world.issue("1000.00", days=30)["voucher_id"])
    clock.advance(days=30)
    b = browser("core.clerk")
    location(b.post(f"/portal/core/vouchers/{voucher_id}/settle", {"amount": "400.00", "idempotency_key": token()}))
    voucher = platform.queries.voucher(everyone(platform), voucher_id)
    assert voucher["status"] == "overdue"
    text = b.get("/portal/core").text
    assert cny("600.00") in text.split('id="card-overdue"', 1)[1].split("</div>", 1)[0]
    assert re.search(r"2026-02</th>(\s*<td[^>]*>[^<]*</td>){3}", section(text, "ladder-h"))
    assert cny("400.00") in section(text, "ladder-h") and cny("600.00") in section(text, "ladder-h")
    page = b.get(f"/portal/core/vouchers/{voucher_id}").text
    assert 'value="600.00"' in section(page, "pay-h"), "the rest, prefilled"


@pytest.mark.parametrize(
    ("amount", "message"),
    [
        ("abc", "is not an amount"),
        ("0", "must be more than zero"),
        ("-1.00", "cannot be negative"),
        ("1000.001", "2 decimal places"),
        ("1000.01", "That is more than is due: at most CNY 1,000.00 can be paid now."),
    ],
)
def test_bad_payments_are_refused_and_nothing_is_paid(
    world: World, browser: Any, platform: Platform, clock: FakeClock, amount: str, message: str
) -> None:
    voucher_id = str(world.issue("1000.00", days=30)["voucher_id"])
    clock.advance(days=30)
    r = browser("core.clerk").post(
        f"/portal/core/vouchers/{voucher_id}/settle", {"amount": amount, "idempotency_key": token()}
    )
    assert r.status_code == 422
    assert message in html.unescape(r.text) and 'role="alert"' in r.text
    assert platform.queries.settlements(everyone(platform), voucher_id) == []


def test_another_obligors_voucher_is_not_found_and_others_may_not_pay(
    world: World, browser: Any, platform: Platform, clock: FakeClock
) -> None:
    other = world.register("Other Core", "core_enterprise")
    maturity = in_days(clock, 30)
    theirs = world.do(
        other,
        "voucher.issue",
        first_holder=world.tier1.party_id,
        amount="10.00",
        currency="CNY",
        maturity=maturity,
        contract_ref="X-1",
        invoice_refs=["X"],
    )
    ours = str(world.issue("10.00", days=30)["voucher_id"])
    clock.advance(days=30)
    clerk = browser("core.clerk")
    voucher_id = str(theirs["voucher_id"])
    assert clerk.get(f"/portal/core/vouchers/{voucher_id}").status_code == 404
    r = clerk.post(f"/portal/core/vouchers/{voucher_id}/settle", {"amount": "10.00", "idempotency_key": token()})
    assert r.status_code == 404
    assert clerk.get("/portal/core/vouchers/vch_nope").status_code == 404
    assert voucher_id not in clerk.get("/portal/core").text
    # The supplier holding ours may not see the core's page of it nor pay it; the auditor may not pay.
    supplier = browser("supplier1")
    assert supplier.get(f"/portal/core/vouchers/{ours}").status_code == 403
    assert supplier.post(f"/portal/core/vouchers/{ours}/settle", {"amount": "10.00"}).status_code == 403
    assert browser("auditor").post(f"/portal/core/vouchers/{ours}/settle", {"amount": "10.00"}).status_code == 403
    assert clerk.post(f"/portal/core/vouchers/{ours}/settle", {"amount": "10.00"}, csrf=False).status_code == 403
    for vid in (voucher_id, ours):
        assert platform.queries.settlements(everyone(platform), vid) == []
