"""The simulated tax authority: issued-invoice register, verification answers, state changes, persistence."""

from __future__ import annotations

import threading
from dataclasses import replace
from datetime import date
from pathlib import Path

import pytest

from tierflow.domain.documents import uscc_check_char
from tierflow.integrations.tax_invoice import IssuedInvoice, SimulatedTaxAuthority
from tierflow.services.external import ExternalServiceError, InvoiceQuery, InvoiceState, TaxInvoiceVerifier

SELLER = "91320500MA1TELLER" + uscc_check_char("91320500MA1TELLER")
BUYER = "91110000MA01BUYER" + uscc_check_char("91110000MA01BUYER")
OTHER = "91440300MA5EXAMPL" + uscc_check_char("91440300MA5EXAMPL")
NUMBER = "25322000000123456789"
ISSUED_ON = date(2025, 3, 3)
TOTAL = 1_130_000  # 11,300.00 CNY


def query(**changes: object) -> InvoiceQuery:
    base = InvoiceQuery(NUMBER, ISSUED_ON, TOTAL, SELLER, BUYER)
    return replace(base, **changes)  # type: ignore[arg-type]


def authority(path: Path | None = None) -> SimulatedTaxAuthority:
    tax = SimulatedTaxAuthority(path)
    tax.issue(NUMBER, ISSUED_ON, TOTAL, SELLER, BUYER)
    return tax


def test_implements_the_port() -> None:
    verifier: TaxInvoiceVerifier = authority()
    assert verifier.check(query()).state is InvoiceState.NORMAL


def test_an_issued_invoice_queried_faithfully_matches() -> None:
    check = authority().check(query())
    assert check.number == NUMBER
    assert check.state is InvoiceState.NORMAL
    assert check.matches
    assert "agree" in check.detail


def test_a_different_total_does_not_match_and_says_so() -> None:
    check = authority().check(query(total_minor=TOTAL + 1))
    assert check.state is InvoiceState.NORMAL
    assert not check.matches
    assert "total amount" in check.detail
    assert "11300.01 CNY" in check.detail and "11300.00 CNY" in check.detail
    assert "USCC" not in check.detail and "date" not in check.detail


@pytest.mark.parametrize(
    ("changes", "words"),
    [
        ({"issue_date": date(2025, 3, 4)}, "issue date 2025-03-04"),
        ({"seller_uscc": OTHER}, "seller USCC"),
        ({"buyer_uscc": OTHER}, "buyer USCC"),
    ],
)
def test_each_differing_field_is_named(changes: dict[str, object], words: str) -> None:
    check = authority().check(query(**changes))
    assert not check.matches
    assert words in check.detail


def test_several_differences_are_all_named() -> None:
    check = authority().check(query(total_minor=1, buyer_uscc=SELLER, seller_uscc=BUYER))
    assert not check.matches
    for words in ("total amount", "seller USCC", "buyer USCC"):
        assert words in check.detail


def test_unknown_invoice_is_not_found() -> None:
    tax = authority()
    check = tax.check(query(number="25322000000000000000"))
    assert check.state is InvoiceState.NOT_FOUND and not check.matches
    malformed = tax.check(query(number="1234"))
    assert malformed.state is InvoiceState.NOT_FOUND and "20-digit" in malformed.detail


def test_voided_invoice() -> None:
    tax = authority()
    assert tax.void(NUMBER).state is InvoiceState.VOID
    check = tax.check(query())
    assert check.state is InvoiceState.VOID
    assert check.matches  # the fields agree; the state says it is no longer valid
    assert "voided" in check.detail


def test_reversed_invoice() -> None:
    tax = authority()
    tax.reverse(NUMBER)
    check = tax.check(query(total_minor=5))
    assert check.state is InvoiceState.REVERSED and not check.matches
    assert "red-letter" in check.detail


def test_state_changes_are_refused_when_not_normal_or_unknown() -> None:
    tax = authority()
    tax.reverse(NUMBER)
    for change in (tax.void, tax.reverse):
        with pytest.raises(ExternalServiceError) as raised:
            change(NUMBER)
        assert raised.value.code == "tax_invalid"
    with pytest.raises(ExternalServiceError) as raised:
        tax.void("25322000000000000000")
    assert raised.value.code == "tax_not_found"


def test_a_number_is_issued_once() -> None:
    tax = authority()
    with pytest.raises(ExternalServiceError) as raised:
        tax.issue(NUMBER, ISSUED_ON, 1, SELLER, BUYER)
    assert raised.value.code == "tax_invalid"
    assert tax.get(NUMBER) == IssuedInvoice(NUMBER, ISSUED_ON, TOTAL, SELLER, BUYER)


@pytest.mark.parametrize(
    "args",
    [
        ("1234567890123456789", ISSUED_ON, TOTAL, SELLER, BUYER),  # 19 digits
        ("2532200000012345678X", ISSUED_ON, TOTAL, SELLER, BUYER),
        ("２５３２２０００００００１２３４５６７８", ISSUED_ON, TOTAL, SELLER, BUYER),  # full-width digits
        (NUMBER, "2025-03-03", TOTAL, SELLER, BUYER),
        (NUMBER, ISSUED_ON, 0, SELLER, BUYER),
        (NUMBER, ISSUED_ON, True, SELLER, BUYER),
        (NUMBER, ISSUED_ON, 10.5, SELLER, BUYER),
        (NUMBER, ISSUED_ON, TOTAL, SELLER[:-1] + ("0" if SELLER[-1] != "0" else "1"), BUYER),  # bad check char
        (NUMBER, ISSUED_ON, TOTAL, SELLER, "not-a-uscc"),
        (NUMBER, ISSUED_ON, TOTAL, SELLER, SELLER),
    ],
)
def test_malformed_invoices_are_refused(args: tuple[object, ...]) -> None:
    tax = SimulatedTaxAuthority()
    with pytest.raises(ExternalServiceError) as raised:
        tax.issue(*args)  # type: ignore[arg-type]
    assert raised.value.code == "tax_invalid"
    assert tax.check(query()).state is InvoiceState.NOT_FOUND


def test_state_survives_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "tax" / "invoices.jsonl"
    first = authority(path)
    first.issue("25322000000000000002", ISSUED_ON, 500, SELLER, BUYER)
    first.issue("25322000000000000003", ISSUED_ON, 700, SELLER, BUYER)
    first.void("25322000000000000002")
    first.reverse("25322000000000000003")

    second = SimulatedTaxAuthority(path)
    assert second.check(query()).state is InvoiceState.NORMAL and second.check(query()).matches
    assert second.check(query(number="25322000000000000002")).state is InvoiceState.VOID
    assert second.check(query(number="25322000000000000003")).state is InvoiceState.REVERSED
    with pytest.raises(ExternalServiceError):
        second.issue(NUMBER, ISSUED_ON, TOTAL, SELLER, BUYER)
    second.reverse(NUMBER)
    assert SimulatedTaxAuthority(path).check(query()).state is InvoiceState.REVERSED


def test_a_torn_last_line_is_dropped(tmp_path: Path) -> None:
    path = tmp_path / "invoices.jsonl"
    authority(path)
    with path.open("ab") as f:
        f.write(b'{"op":"void","num')
    reopened = SimulatedTaxAuthority(path)
    assert reopened.check(query()).state is InvoiceState.NORMAL
    reopened.void(NUMBER)
    assert SimulatedTaxAuthority(path).check(query()).state is InvoiceState.VOID


def test_a_corrupt_record_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "invoices.jsonl"
    path.write_text('{"op":"void","number":"25322000000123456789"}\n', encoding="utf-8")
    with pytest.raises(ExternalServiceError) as raised:
        SimulatedTaxAuthority(path)
    assert raised.value.code == "tax_unavailable"


def test_concurrent_issues_of_one_number_record_it_once(tmp_path: Path) -> None:
    path = tmp_path / "invoices.jsonl"
    tax = SimulatedTaxAuthority(path)
    barrier = threading.Barrier(8)
    outcomes: list[str] = []

    def issue(total: int) -> None:
        barrier.wait()
        try:
            tax.issue(NUMBER, ISSUED_ON, total, SELLER, BUYER)
            outcomes.append("issued")
        except ExternalServiceError as exc:
            outcomes.append(exc.code)

    threads = [threading.Thread(target=issue, args=(TOTAL + i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["issued"] + ["tax_invalid"] * 7
    assert len(path.read_text(encoding="utf-8").splitlines()) == 1
