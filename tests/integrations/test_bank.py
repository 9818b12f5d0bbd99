"""SimulatedBank: a bank's payment gateway that checks, books and notifies like the real one."""

from __future__ import annotations

import threading
from datetime import UTC, date, datetime

import pytest

from tierflow.integrations.bank import SimulatedBank
from tierflow.integrations.iso20022 import Account, CreditTransfer, build_pain001, parse_camt054
from tierflow.services.external import BankGateway, ExternalServiceError

LENDER = Account("6222021001001234567", "华东商业保理有限公司", "102290012345", "中国工商银行上海分行")
SUPPLIER = Account("31050161393600000123", "苏州二级供应商有限公司", "105305000011", "中国建设银行苏州分行")
ELSEWHERE = Account("440301000111222", "深圳三级供应商有限公司", "308584000013", "招商银行深圳分行")
NOW = datetime(2025, 3, 3, 10, 0, tzinfo=UTC)


def order(message_id: str, *transfers: CreditTransfer) -> bytes:
    return build_pain001(
        message_id=message_id,
        created_at=NOW,
        debtor=LENDER,
        payment_info_id=f"P-{message_id}",
        requested_date=date(2025, 3, 3),
        transfers=transfers or (CreditTransfer("FIN-0001", 100_000_00, "CNY", SUPPLIER, "放款 FIN-0001"),),
        initiating_party="Tierflow platform",
    )


@pytest.fixture
def bank() -> SimulatedBank:
    bank = SimulatedBank(clock=lambda: NOW)
    bank.open_account(LENDER, 1_000_000_00, "CNY")
    bank.open_account(SUPPLIER, 0, "CNY")
    return bank


def test_accepts_books_and_notifies(bank: SimulatedBank) -> None:
    gateway: BankGateway = bank
    xml = order(
        "MSG-1",
        CreditTransfer("FIN-0001", 100_000_00, "CNY", SUPPLIER, "放款 FIN-0001"),
        CreditTransfer("FIN-0002", 250_000_00, "CNY", ELSEWHERE),
    )
    status = gateway.submit_pain001(xml)
    assert status.accepted, status.detail
    assert status.message_id == "MSG-1"
    assert status.bank_reference.startswith("SIMB")
    assert "CNY 350000.00" in status.detail
    assert bank.balance(LENDER.number) == 650_000_00
    assert bank.balance(SUPPLIER.number) == 100_000_00  # held here; ELSEWHERE is paid out through CNAPS

    [received] = parse_camt054(bank.notifications(SUPPLIER.number))
    assert received.credit and received.amount_minor == 100_000_00 and received.currency == "CNY"
    assert (received.end_to_end_id, received.remittance, received.debtor_name) == (
        "FIN-0001",
        "放款 FIN-0001",
        LENDER.name,
    )
    assert received.booking_date == NOW.date()

    debits = parse_camt054(bank.notifications(LENDER.number))  # one batch entry, one transaction per transfer
    assert [(d.end_to_end_id, d.amount_minor, d.credit) for d in debits] == [
        ("FIN-0001", 100_000_00, False),
        ("FIN-0002", 250_000_00, False),
    ]
    assert {d.entry_ref for d in debits} == {status.bank_reference}

    assert parse_camt054(bank.notifications(SUPPLIER.number)) == []  # nothing new since the last call


def test_duplicate_message_id_is_refused(bank: SimulatedBank) -> None:
    first = bank.submit_pain001(order("MSG-1"))
    again = bank.submit_pain001(order("MSG-1", CreditTransfer("FIN-0009", 1, "CNY", SUPPLIER)))
    assert first.accepted and not again.accepted
    assert "duplicate" in again.detail and first.bank_reference in again.detail
    assert bank.balance(LENDER.number) == 900_000_00


def test_insufficient_funds_is_refused(bank: SimulatedBank) -> None:
    status = bank.submit_pain001(order("MSG-1", CreditTransfer("FIN-0001", 1_000_000_01, "CNY", SUPPLIER)))
    assert not status.accepted
    assert "insufficient funds" in status.detail
    assert bank.balance(LENDER.number) == 1_000_000_00
    assert parse_camt054(bank.notifications(LENDER.number)) == []
    # A refused message id may be sent again once corrected.
    assert bank.submit_pain001(order("MSG-1")).accepted


@pytest.mark.parametrize(
    ("xml", "detail"),
    [
        (b"not xml at all", "well-formed"),
        (order("MSG-X").replace(b"<MsgId>MSG-X</MsgId>", b"<MsgId>MSG-X</MsgId><Foo/>"), "schema"),
        (order("MSG-X").replace(b">100000.00</InstdAmt>", b">100000.001</InstdAmt>"), "2 decimal places"),
        (order("MSG-X").replace(b"<CtrlSum>100000.00</CtrlSum>", b"<CtrlSum>1.00</CtrlSum>"), "CtrlSum"),
        (order("MSG-X").replace(b"<NbOfTxs>1</NbOfTxs>", b"<NbOfTxs>2</NbOfTxs>"), "NbOfTxs"),
    ],
)
def test_invalid_messages_are_refused(bank: SimulatedBank, xml: bytes, detail: str) -> None:
    status = bank.submit_pain001(xml)
    assert not status.accepted and status.bank_reference == ""
    assert detail in status.detail
    assert bank.balance(LENDER.number) == 1_000_000_00


@pytest.mark.parametrize(("method", "detail"), [(b"XXX", "schema"), (b"CHK", "only credit transfers")])
def test_refusal_keeps_the_message_id(bank: SimulatedBank, method: bytes, detail: str) -> None:
    status = bank.submit_pain001(order("MSG-X").replace(b"<PmtMtd>TRF</PmtMtd>", b"<PmtMtd>" + method + b"</PmtMtd>"))
    assert not status.accepted and status.message_id == "MSG-X"
    assert detail in status.detail and "line " in status.detail


def test_unknown_debtor_and_currency_mismatch(bank: SimulatedBank) -> None:
    stranger = SimulatedBank(clock=lambda: NOW)
    assert "no debtor account" in stranger.submit_pain001(order("MSG-1")).detail
    usd = bank.submit_pain001(order("MSG-2", CreditTransfer("FIN-0001", 100, "USD", SUPPLIER)))
    assert not usd.accepted and "USD" in usd.detail


def test_incoming_credit_appears_in_the_notification(bank: SimulatedBank) -> None:
    reference = bank.credit(
        LENDER,
        amount_minor=100_500_00,
        currency="CNY",
        end_to_end_id="FIN-0001",
        remittance="还款 FIN-0001",
        debtor_name="华东核心企业有限公司",
        booking_date=date(2025, 6, 30),
    )
    assert bank.balance(LENDER.number) == 1_100_500_00
    [repayment] = parse_camt054(bank.notifications(LENDER.number))
    assert repayment.entry_ref == reference
    assert repayment.credit and repayment.amount_minor == 100_500_00
    assert repayment.end_to_end_id == "FIN-0001"
    assert repayment.debtor_name == "华东核心企业有限公司"
    assert repayment.booking_date == date(2025, 6, 30)


def test_account_errors(bank: SimulatedBank) -> None:
    with pytest.raises(ExternalServiceError) as caught:
        bank.notifications("000")
    assert caught.value.code == "unknown_account"
    with pytest.raises(ExternalServiceError):
        bank.credit(ELSEWHERE, amount_minor=1, currency="CNY")
    with pytest.raises(ExternalServiceError):
        bank.credit(LENDER, amount_minor=1, currency="USD")
    with pytest.raises(ValueError, match="positive"):
        bank.credit(LENDER, amount_minor=0, currency="CNY")
    with pytest.raises(ValueError, match="already open"):
        bank.open_account(LENDER, 0, "CNY")


def test_concurrent_submissions_never_overdraw(bank: SimulatedBank) -> None:
    messages = [order(f"MSG-{i}", CreditTransfer(f"FIN-{i}", 300_000_00, "CNY", SUPPLIER)) for i in range(8)]
    statuses = []
    lock = threading.Lock()

    def submit(xml: bytes) -> None:
        status = bank.submit_pain001(xml)
        with lock:
            statuses.append(status)

    threads = [threading.Thread(target=submit, args=(xml,)) for xml in messages]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(s.accepted for s in statuses) == 3
    assert bank.balance(LENDER.number) == 100_000_00
    assert bank.balance(SUPPLIER.number) == 900_000_00
