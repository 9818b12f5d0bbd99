"""The financing case page: the applicant and the institution follow a case through the workflow and act on it.

The tests click through the forms as the people would (CSRF token, one-time idempotency key) and check the case
the workflow service keeps: review by one person of the bank and approval by another, the contract signed by
both parties (real PAdES signatures), the registration, the payment (a pain.001 that validates), repayments
from a camt.054 notification; what each party may see and do; and refusals shown on the page, never a 500.
"""

from __future__ import annotations

import html
import re
import secrets
from typing import Any

import pytest

from tests.conftest import FakeClock
from tests.portal.conftest import PASSWORD, World
from tests.portal.test_bank_pages import everyone, request_financing
from tierflow.bootstrap import Platform
from tierflow.integrations.iso20022 import parse_pain001, validate_pain001
from tierflow.services.accounts import PortalRole
from tierflow.services.payment_data import Account

BANK_ACCOUNT = Account("11014850000001", "First Bank", "102100099996", "First Bank")
TIER1_ACCOUNT = {"number": "62220000000001", "bank_code": "103100000026", "name": "Tier-1 Ltd"}


def token() -> str:
    return secrets.token_urlsafe(18)


def case_of(platform: Platform, financing_id: str) -> dict[str, Any]:
    return platform.cases.case(everyone(platform), financing_id)


def location(response: Any) -> str:
    assert response.status_code == 303, (
        response.status_code,
        re.findall(r'role="alert".*?</div>', response.text, re.S),
    )
    return str(response.headers["location"])


def main(text: str) -> str:
    return html.unescape(text.split("<main", 1)[1])


def disburse_form() -> dict[str, str]:
    return {
        "debtor_number": BANK_ACCOUNT.number,
        "debtor_bank_code": BANK_ACCOUNT.bank_code,
        "debtor_name": BANK_ACCOUNT.name,
        "debtor_bank_name": BANK_ACCOUNT.bank_name,
        "creditor_number": TIER1_ACCOUNT["number"],
        "creditor_bank_code": TIER1_ACCOUNT["bank_code"],
        "creditor_name": TIER1_ACCOUNT["name"],
        "creditor_bank_name": "Agricultural Bank of China",
    }


@pytest.fixture
def checker(platform: Platform, world: World) -> str:
    """A second person of First Bank: the checker of the four-eyes rule."""
    platform.accounts.create_user(
        username="bank.checker",
        password=PASSWORD,
        party_id=world.bank.party_id,
        display_name="Bank Checker",
        role=PortalRole.MEMBER,
    )
    return "bank.checker"


def post(b: Any, path: str, data: dict[str, Any] | None = None, **kwargs: Any) -> Any:
    return b.post(path, {**(data or {}), "idempotency_key": token()}, **kwargs)


def walk_to_disbursed(browser: Any, world: World, platform: Platform, checker: str) -> tuple[str, Any]:
    """Tier-1's request clicked through the whole workflow in the portal; returns its id and the officer."""
    fin_id = str(request_financing(world)["financing_id"])
    base = f"/portal/financings/{fin_id}"
    officer, second, supplier = browser("bank.officer"), browser(checker), browser("supplier1")
    location(post(officer, f"{base}/review", {"recommendation": "approve", "note": "documents in order"}))
    location(post(second, f"{base}/approve", {"note": "agreed"}))
    location(post(supplier, f"{base}/sign"))
    location(post(officer, f"{base}/sign"))
    location(post(officer, f"{base}/register"))
    location(post(officer, f"{base}/disburse", disburse_form()))
    assert case_of(platform, fin_id)["stage"] == "disbursed"
    return fin_id, officer


# --- who sees a case ---------------------------------------------------------------------------------------


def test_the_case_page_is_for_the_applicant_and_the_institution_only(
    world: World, browser: Any, platform: Platform
) -> None:
    fin_id = str(request_financing(world)["financing_id"])
    path = f"/portal/financings/{fin_id}"
    for username in ("bank.officer", "supplier1"):
        page = browser(username).get(path)
        assert page.status_code == 200, username
        text = main(page.text)
        assert "Financing case: CNY 500,000.00 for Tier-1 Ltd" in text
        assert 'aria-current="step"' in text and "Trade checked" in text
        assert "First Bank" in text and "Tier-1 Ltd" in text
    for username in ("supplier2", "core.clerk"):
        assert browser(username).get(path).status_code == 404, username
    platform.accounts.keep_signing_key(world.other_bank.party_id, world.other_bank.signing_key)
    platform.accounts.create_user(
        username="other.officer",
        password=PASSWORD,
        party_id=world.other_bank.party_id,
        display_name="Other",
        role=PortalRole.MEMBER,
    )
    other = browser("other.officer")
    assert other.get(path).status_code == 404
    assert post(other, f"{path}/review", {"recommendation": "approve"}).status_code == 404
    assert browser("bank.officer").get("/portal/financings/fin_nope").status_code == 404
    # The applicant sees its own actions, not the bank's.
    supplier = main(browser("supplier1").get(path).text)
    assert f'action="{path}/cancel"' in supplier and f'action="{path}/review"' not in supplier
    bank = main(browser("bank.officer").get(path).text)
    assert f'action="{path}/review"' in bank and f'action="{path}/decline"' in bank and "/cancel" not in bank
    assert browser("supplier1").post(f"{path}/review", {"recommendation": "approve"}).status_code == 403


def test_the_verdict_shows_every_rule_with_its_reasons(world: World, browser: Any, platform: Platform) -> None:
    fin_id = str(request_financing(world)["financing_id"])
    verification = case_of(platform, fin_id)["verification"]
    assert verification and verification["results"]
    text = main(browser("bank.officer").get(f"/portal/financings/{fin_id}").text)
    verdict = text.split('id="verdict-h"', 1)[1].split("</section>", 1)[0]
    assert f'<span class="status {verification["outcome"]}">{verification["outcome"]}</span>' in verdict
    for result in verification["results"]:
        assert result["version"] in verdict
        for reason in result["reasons"]:
            assert reason in verdict
    assert len(re.findall(r'<span class="status (pass|warn|fail)">', verdict)) == len(verification["results"]) + 1
    # The queue shows the stage and the verdict, and links to the case.
    queue = main(browser("bank.officer").get("/portal/bank").text)
    row = queue.split(f'href="/portal/financings/{fin_id}"', 1)[1].split("</tr>", 1)[0]
    assert "Trade checked" in row and f'<span class="status {verification["outcome"]}">' in row
    assert "/fund" not in queue


# --- the workflow, clicked through ------------------------------------------------------------------------------


def test_review_approve_sign_register_disburse_in_the_portal(
    world: World, browser: Any, platform: Platform, checker: str
) -> None:
    fin_id = str(request_financing(world)["financing_id"])
    base = f"/portal/financings/{fin_id}"
    officer, second, supplier = browser("bank.officer"), browser(checker), browser("supplier1")

    r = post(officer, f"{base}/review", {"note": "no choice"})
    assert r.status_code == 422 and "Choose your recommendation" in r.text
    target = location(post(officer, f"{base}/review", {"recommendation": "approve", "note": "documents in order"}))
    assert re.fullmatch(rf"{base}\?done=reviewed&event=evt_[A-Z0-9]+", target), target
    assert "Review recorded" in officer.get(target).text

    # The maker cannot also be the checker: refused with a message, nothing changes.
    r = post(officer, f"{base}/approve")
    assert r.status_code == 403
    text = main(r.text)
    assert 'role="alert"' in r.text and "four-eyes rule" in text and "second person of First Bank" in text
    assert case_of(platform, fin_id)["stage"] == "reviewed"
    assert f'action="{base}/sign"' not in main(supplier.get(base).text)
    location(post(second, f"{base}/approve", {"note": "agreed"}))
    case = case_of(platform, fin_id)
    assert (case["stage"], case["maker"], case["checker"]) == ("approved", "bank.officer", "bank.checker")

    # The applicant signs, then the bank countersigns: the contract carries both signatures.
    assert f'action="{base}/sign"' in main(supplier.get(base).text)
    assert f'action="{base}/sign"' not in main(officer.get(base).text)
    location(post(supplier, f"{base}/sign"))
    location(post(officer, f"{base}/sign"))
    case = case_of(platform, fin_id)
    assert case["stage"] == "contracted" and case["contract_number"]
    _, signed = platform.cases.file(everyone(platform), fin_id, case["contract_sha256"])
    signers = [c.signer_party for c in platform.outside.esign.verify(signed)]
    assert signers == [world.tier1.party_id, world.bank.party_id]

    location(post(officer, f"{base}/register"))
    assert case_of(platform, fin_id)["registry_number"]

    # A wrong bank code is refused with a message; the right accounts pay out.
    r = post(officer, f"{base}/disburse", {**disburse_form(), "creditor_bank_code": "1031"})
    assert r.status_code == 422 and "12-digit CNAPS code" in html.unescape(r.text)
    assert 'value="62220000000001"' in r.text, "the form keeps what was typed"
    target = location(post(officer, f"{base}/disburse", disburse_form()))
    assert "?done=disbursed&event=evt_" in target
    case = case_of(platform, fin_id)
    assert case["stage"] == "disbursed" and case["bank_reference"] and case["payment_message_id"]
    assert platform.queries.financing(everyone(platform), fin_id)["status"] == "funded"
    assert [s["stage"] for s in case["steps"]] == [
        "verified",
        "reviewed",
        "approved",
        "signed_by_applicant",
        "contracted",
        "registered",
        "disbursed",
    ]

    text = main(officer.get(target).text)
    assert "Payment sent to the bank" in text
    for value in (
        case["contract_number"],
        case["contract_sha256"],
        case["registry_number"],
        case["payment_message_id"],
        case["bank_reference"],
    ):
        assert value in text
    steps = text.split('id="steps-h"', 1)[1].split("</table>", 1)[0]
    assert "bank.officer" in steps and "bank.checker" in steps and "documents in order" in steps
    assert "First Bank" in steps and "Tier-1 Ltd" in steps
    assert f'action="{base}/' not in text, "nothing left to do until the repayments"


def test_the_case_files_download_as_attachments(world: World, browser: Any, platform: Platform, checker: str) -> None:
    fin_id, officer = walk_to_disbursed(browser, world, platform, checker)
    case = case_of(platform, fin_id)
    files = {f["kind"]: f["sha256"] for f in case["files"]}
    text = officer.get(f"/portal/financings/{fin_id}").text
    for kind in ("contract_signed", "pain001"):
        assert f'href="/portal/financings/{fin_id}/files/{files[kind]}"' in text
    pdf = officer.get(f"/portal/financings/{fin_id}/files/{files['contract_signed']}")
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF")
    assert pdf.headers["content-disposition"].startswith("attachment; filename=")
    assert case["contract_number"] in pdf.headers["content-disposition"]
    xml = officer.get(f"/portal/financings/{fin_id}/files/{files['pain001']}")
    assert xml.status_code == 200 and xml.headers["content-type"].startswith("application/xml")
    assert xml.headers["content-disposition"].startswith("attachment;") and ".xml" in xml.headers["content-disposition"]
    validate_pain001(xml.content)
    assert parse_pain001(xml.content).transfers[0].end_to_end_id == fin_id
    # The applicant may download them too; others may not; an unknown file is 404.
    assert browser("supplier1").get(f"/portal/financings/{fin_id}/files/{files['contract_signed']}").status_code == 200
    assert browser("supplier2").get(f"/portal/financings/{fin_id}/files/{files['pain001']}").status_code == 404
    assert officer.get(f"/portal/financings/{fin_id}/files/{'0' * 64}").status_code == 404
    assert officer.get(f"/portal/financings/{fin_id}/files/not-a-hash").status_code in (400, 404, 422)


def test_a_camt054_upload_records_repayments(world: World, browser: Any, platform: Platform, checker: str) -> None:
    fin_id, officer = walk_to_disbursed(browser, world, platform, checker)
    bank = platform.outside.bank
    bank.credit(BANK_ACCOUNT, amount_minor=200_000_00, currency="CNY", end_to_end_id=fin_id, debtor_name="Core Co")
    bank.credit(BANK_ACCOUNT, amount_minor=12_34, currency="CNY", end_to_end_id="SOMETHING-ELSE")
    notification = bank.notifications(BANK_ACCOUNT.number)
    page = officer.get("/portal/bank/repayments")
    assert page.status_code == 200 and 'enctype="multipart/form-data"' in page.text
    assert '<label for="notification">' in page.text

    def upload(content: bytes) -> Any:
        return officer.post(
            "/portal/bank/repayments",
            {"idempotency_key": token()},
            files={"notification": ("camt054.xml", content, "application/xml")},
        )

    r = upload(notification)
    assert r.status_code == 200, r.text
    text = main(r.text)
    assert "1 recorded, 1 skipped, 1 unmatched." in text  # skipped: the payment out, a debit
    recorded = text.split('id="recorded-h"', 1)[1].split("</table>", 1)[0]
    assert fin_id in recorded and "200000.00" in recorded
    unmatched = text.split('id="unmatched-h"', 1)[1].split("</table>", 1)[0]
    assert "SOMETHING-ELSE" in unmatched and "names no disbursed financing of yours" in unmatched
    case = case_of(platform, fin_id)
    assert case["repaid"] == "200000.00" and case["outstanding"] == "300000.00" and case["stage"] == "disbursed"
    shown = main(officer.get(f"/portal/financings/{fin_id}").text)
    assert "Core Co" in shown.split('id="repaid-h"', 1)[1] and "300,000.00" in shown

    # The same file again records nothing twice; a file that is not a camt.054 is refused in words.
    again = main(upload(notification).text)
    assert "0 recorded, 2 skipped, 1 unmatched." in again and "already recorded" in again
    r = upload(b"<not-camt/>")
    assert r.status_code in (400, 422) and 'role="alert"' in r.text and "camt.054" in r.text
    r = officer.post("/portal/bank/repayments", {"idempotency_key": token()})
    assert r.status_code in (400, 422) and 'role="alert"' in r.text
    assert browser("supplier1").get("/portal/bank/repayments").status_code == 403
    assert case_of(platform, fin_id)["repaid"] == "200000.00"


def test_reminders_overdue_and_recourse(world: World, browser: Any, platform: Platform, clock: FakeClock) -> None:
    fin_id = str(request_financing(world, days=90)["financing_id"])
    world.disburse(fin_id)

    def reminders() -> str:
        home = main(browser("bank.officer").get("/portal/bank").text)  # signed in afresh: time passes
        return home.split('id="reminders-h"', 1)[1].split("</section>", 1)[0]

    assert "No paid-out financing matures within 30 days" in reminders()
    clock.advance(days=70)
    shown = reminders()
    assert f'href="/portal/financings/{fin_id}"' in shown and "CNY 500000.00" in shown
    assert '<td class="num">20</td>' in shown
    clock.advance(days=25)
    world.do(world.bank, "financing.overdue", financing_id=fin_id)
    shown = reminders()
    assert "5 days past due" in shown and "overdue" in shown
    officer = browser("bank.officer")
    base = f"/portal/financings/{fin_id}"
    page = main(officer.get(base).text)
    assert f'action="{base}/recourse"' in page and 'class="step current"' in page
    location(post(officer, f"{base}/recourse", {"note": "obligor silent"}))
    assert case_of(platform, fin_id)["stage"] == "recourse"
    # Claimed twice (a fresh form): refused on the page, not a 500.
    r = post(officer, f"{base}/recourse")
    assert r.status_code == 409 and 'role="alert"' in r.text and "Recourse claimed" in html.unescape(r.text)


def test_declining_and_cancelling_from_the_case(world: World, browser: Any, platform: Platform) -> None:
    first = str(request_financing(world)["financing_id"])
    officer = browser("bank.officer")
    r = post(officer, f"/portal/financings/{first}/decline", {"reason": "  "})
    assert r.status_code == 422 and "Give the reason for declining" in r.text
    location(post(officer, f"/portal/financings/{first}/decline", {"reason": "Concentration limit"}))
    case = case_of(platform, first)
    assert case["stage"] == "declined" and case["steps"][-1]["user"] == "bank.officer"
    text = main(officer.get(f"/portal/financings/{first}").text)
    assert "Concentration limit" in text and 'class="step current ending"' in text
    assert "What you can do now" not in text

    second = str(request_financing(world)["financing_id"])
    supplier = browser("supplier1")
    location(post(supplier, f"/portal/financings/{second}/cancel"))
    assert case_of(platform, second)["stage"] == "cancelled"
    # Too late to cancel now: said on the page.
    r = post(supplier, f"/portal/financings/{second}/cancel")
    assert r.status_code == 409 and 'role="alert"' in r.text


def test_refusals_of_the_outside_world_show_on_the_page(
    world: World, browser: Any, platform: Platform, checker: str
) -> None:
    fin_id = str(request_financing(world)["financing_id"])
    base = f"/portal/financings/{fin_id}"
    officer = browser("bank.officer")
    # Not approved yet: the applicant's signature and the payment are refused in words.
    assert post(browser("supplier1"), f"{base}/sign").status_code == 409
    r = post(officer, f"{base}/disburse", disburse_form())
    assert r.status_code == 409 and 'role="alert"' in r.text and "Trade checked" in html.unescape(r.text)
    assert post(officer, f"{base}/register").status_code == 409
    # An auditor of the bank reads but does not act.
    platform.accounts.create_user(
        username="bank.reader",
        password=PASSWORD,
        party_id=world.bank.party_id,
        display_name="Reader",
        role=PortalRole.AUDITOR,
    )
    reader = browser("bank.reader")
    assert reader.get(base).status_code == 200 and "What you can do now" not in reader.get(base).text
    assert post(reader, f"{base}/review", {"recommendation": "approve"}).status_code == 403
    assert case_of(platform, fin_id)["stage"] == "verified"
