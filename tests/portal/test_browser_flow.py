"""The whole flow in a real browser (Playwright driving Debian's Chromium), as the people who do it:

issue → split and transfer → accept → finance request (price shown first) → review, approve (a second person),
sign, countersign, register and pay out on the case page → settle at maturity →
verify a receipt in the browser; a supplier trying another party's holding gets "not found"; and every main
page passes an axe accessibility check with no serious or critical violation. Screenshots of each main page
are saved under ``test-artifacts/screenshots`` (not committed).

Skipped, with the reason shown, where Chromium or Playwright is missing; ``.ci/run`` installs both and sets
``TIERFLOW_REQUIRE_BROWSER=1`` so that CI fails instead of skipping.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from tests.portal.conftest import PASSWORD, LiveServer, screenshot
from tierflow.services.accounts import PortalRole
from tierflow.store import schema as t

pytestmark = pytest.mark.browser


class Accessibility:
    """Runs axe-core on pages and keeps the serious and critical violations."""

    def __init__(self) -> None:
        from axe_playwright_python.sync_playwright import Axe

        self.axe = Axe()
        self.problems: list[str] = []
        self.pages = 0

    def check(self, page: Any, name: str) -> None:
        results = self.axe.run(page)
        self.pages += 1
        for violation in results.response["violations"]:
            if violation.get("impact") in ("serious", "critical"):
                targets = [node.get("target") for node in violation.get("nodes", [])][:3]
                self.problems.append(f"{name}: {violation['id']} ({violation['impact']}) {violation['help']} {targets}")


def open_as(chromium: Any, server: LiveServer, username: str) -> Any:
    context = chromium.new_context(base_url=server.url, viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.goto("/portal/login")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_load_state("networkidle")
    return page


def visit(page: Any, path: str, name: str, a11y: Accessibility) -> None:
    page.goto(path)
    page.wait_for_load_state("networkidle")
    screenshot(page, name)
    a11y.check(page, name)


def flash(page: Any) -> str:
    page.wait_for_selector(".flash.ok", timeout=10_000)
    return str(page.locator(".flash.ok").inner_text())


def test_the_whole_flow_in_a_browser(live_server: LiveServer, chromium: Any) -> None:
    server, world = live_server, live_server.world
    a11y = Accessibility()

    # The landing page and sign-in.
    anonymous = chromium.new_context(base_url=server.url).new_page()
    visit(anonymous, "/portal/", "landing", a11y)
    visit(anonymous, "/portal/login", "login", a11y)

    # 1. The core enterprise confirms a payable and issues a voucher.
    core = open_as(chromium, server, "core.clerk")
    assert core.url.endswith("/portal/core")
    visit(core, "/portal/core/issue", "core-issue", a11y)
    core.get_by_label("Supplier (first holder)").select_option(label="Tier-1 Ltd")
    core.get_by_label("Amount", exact=True).fill("100000.00")
    maturity = (server.clock.now + timedelta(days=60)).date().isoformat()
    core.get_by_label("Maturity date").fill(maturity)
    core.get_by_label("Contract reference").fill("PO-BROWSER-1")
    core.get_by_label("Invoice numbers").fill("04400260000000000001")
    core.get_by_role("checkbox").check()
    core.get_by_role("button", name="Issue the voucher").click()
    assert "Voucher issued" in flash(core)
    voucher_url = core.url.split("?")[0]
    visit(core, "/portal/core", "core-payables", a11y)
    assert "CNY 100,000.00" in core.content()

    # 2. Tier-1 splits it and transfers part to its own supplier.
    tier1 = open_as(chromium, server, "supplier1")
    visit(tier1, "/portal/supplier", "supplier-wallet", a11y)
    tier1.get_by_role("link", name=re.compile("^Holding")).first.click()
    tier1.wait_for_url(re.compile("/portal/supplier/holdings/"))
    holding_url = tier1.url
    screenshot(tier1, "supplier-holding")
    a11y.check(tier1, "supplier-holding")
    tier1.get_by_label("Recipient").select_option(label="Tier-2 Ltd")
    tier1.get_by_label(re.compile("^Amount \\(")).fill("40000.00")
    tier1.get_by_label("Trade reference").fill("SC-T1-T2-01")
    tier1.get_by_label("Invoice numbers").first.fill("04400260000000000002")
    tier1.get_by_role("button", name="Offer the transfer").click()
    assert "Transfer offered" in flash(tier1)

    # 3. Tier-2 accepts.
    tier2 = open_as(chromium, server, "supplier2")
    visit(tier2, "/portal/supplier/offers", "supplier-offers", a11y)
    tier2.get_by_role("button", name=re.compile("^Accept")).first.click()
    assert "Transfer accepted" in flash(tier2)
    visit(tier2, "/portal/supplier", "supplier-wallet-tier2", a11y)
    assert "CNY 40,000.00" in tier2.content()

    # 4. Tier-2 asks the bank to finance it, seeing the price before confirming.
    tier2.get_by_role("link", name=re.compile("^Holding")).first.click()
    tier2.wait_for_url(re.compile("/portal/supplier/holdings/"))
    tier2.get_by_label("Bank", exact=True).select_option(label="First Bank")
    tier2.get_by_label("Amount to finance").fill("40000.00")
    tier2.get_by_label("Annual rate").fill("3.65")
    tier2.get_by_role("button", name="Preview price").click()
    quote = tier2.locator("#quote")
    quote.get_by_text(re.compile("net", re.I)).first.wait_for(timeout=10_000)
    screenshot(tier2, "supplier-finance-preview")
    a11y.check(tier2, "supplier-finance-preview")
    assert "CNY" in quote.inner_text()
    quote.get_by_role("button", name=re.compile("Confirm")).click()
    assert "Financing requested" in flash(tier2)
    visit(tier2, "/portal/supplier/financings", "supplier-financings", a11y)

    # 5. The bank reviews it, a second officer approves it, both parties sign, the bank registers and pays out.
    server.platform.accounts.create_user(
        username="bank.checker",
        password=PASSWORD,
        party_id=world.bank.party_id,
        display_name="Bank Checker",
        role=PortalRole.MEMBER,
    )
    bank = open_as(chromium, server, "bank.officer")
    visit(bank, "/portal/bank", "bank-queue", a11y)
    bank.get_by_role("link", name=re.compile("Open the case", re.I)).first.click()
    bank.wait_for_url(re.compile("/portal/financings/fin_"))
    case_url = bank.url
    screenshot(bank, "bank-case")
    a11y.check(bank, "bank-case")
    bank.get_by_label("Approve", exact=True).check()
    bank.get_by_label("Note").first.fill("Documents in order")
    bank.get_by_role("button", name="Record the review").click()
    bank.wait_for_url(re.compile("done=reviewed"))
    assert "review recorded" in flash(bank).lower()
    checker = open_as(chromium, server, "bank.checker")
    checker.goto(case_url)
    checker.get_by_role("button", name="Approve").click()
    checker.wait_for_url(re.compile("done=approved"))
    assert "approved" in flash(checker).lower()
    tier2.goto(case_url)
    tier2.get_by_role("button", name="Sign the contract").click()
    tier2.wait_for_url(re.compile("done=contract_signed"))
    assert "contract signed" in flash(tier2).lower()
    bank.goto(case_url)
    bank.get_by_role("button", name="Countersign").click()
    bank.wait_for_url(re.compile("done=contract_signed"))
    assert "contract signed" in flash(bank).lower()
    bank.get_by_role("button", name="Register").click()
    bank.wait_for_url(re.compile("done=registered"))
    assert "registered" in flash(bank).lower()
    screenshot(bank, "bank-case-disburse")
    a11y.check(bank, "bank-case-disburse")
    debit = bank.get_by_role("group", name="Your account to debit")
    debit.get_by_label("Account number").fill("11014850000001")
    debit.get_by_label("Bank code (CNAPS, 12 digits)").fill("102100099996")
    credit = bank.get_by_role("group", name=re.compile("account to credit"))
    credit.get_by_label("Account number").fill("62220000000002")
    credit.get_by_label("Bank code (CNAPS, 12 digits)").fill("103100000026")
    bank.get_by_role("button", name="Send the payment").click()
    bank.wait_for_url(re.compile("done=disbursed"))
    assert "paid out" in flash(bank).lower()
    visit(bank, "/portal/bank/repayments", "bank-repayments", a11y)
    visit(bank, "/portal/bank/portfolio", "bank-portfolio", a11y)

    # 6. At maturity the core enterprise pays whoever holds the units.
    server.clock.advance(days=61)  # sessions last hours: everyone signs in again
    core = open_as(chromium, server, "core.clerk")
    visit(core, voucher_url, "core-voucher", a11y)
    core.get_by_role("button", name="Pay at maturity").click()
    assert "Payment recorded" in flash(core)

    # 7. The auditor checks a receipt in the browser, and sees a tampered one fail.
    with server.platform.engine.connect() as conn:
        settled = conn.execute(select(t.events.c.id).where(t.events.c.kind == "voucher.settle")).scalar_one()
    auditor = open_as(chromium, server, "auditor")
    visit(auditor, "/portal/audit", "audit-journal", a11y)
    for _ in range(50):  # the entry enters the signed tree within a moment
        auditor.goto(f"/portal/audit/verify?event={settled}")
        if auditor.locator("#receipt").count():
            break
        auditor.wait_for_timeout(200)
    screenshot(auditor, "audit-verify")
    a11y.check(auditor, "audit-verify")
    requests: list[str] = []
    auditor.on("request", lambda r: requests.append(r.url))
    auditor.get_by_role("button", name="Verify in this browser").click()
    result = auditor.locator("#verify-result")
    result.get_by_text(re.compile("^Verified", re.M)).first.wait_for(timeout=10_000)
    assert not [u for u in requests if "/portal/audit/verify" in u], "the check went to the server"
    receipt = auditor.locator("#receipt")
    receipt.fill(re.sub(r'"index": (\d+)', lambda m: f'"index": {int(m.group(1)) + 1}', receipt.input_value()))
    auditor.get_by_role("button", name="Verify in this browser").click()
    result.get_by_text(re.compile("Not verified")).first.wait_for(timeout=10_000)
    visit(auditor, voucher_url.replace("/portal/core/", "/portal/audit/"), "audit-provenance", a11y)
    assert auditor.locator("main svg").count() >= 1 and "Tier-2 Ltd" in auditor.content()
    visit(auditor, "/portal/history", "history", a11y)

    # 8. Tier-2 tries to open Tier-1's holding: not found, and nothing of it shown.
    tier2 = open_as(chromium, server, "supplier2")
    response = tier2.goto(holding_url)
    assert response is not None and response.status in (403, 404)
    assert "Not found" in tier2.content() or "Not allowed" in tier2.content()
    screenshot(tier2, "forbidden-holding")

    assert a11y.pages >= 17
    assert not a11y.problems, "accessibility violations:\n" + "\n".join(a11y.problems)
    world.p.journal.integrate_all()
