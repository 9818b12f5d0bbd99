"""A faithful fake of a bank's host-to-host payment gateway, implementing the ``BankGateway`` port.

``SimulatedBank`` keeps accounts and balances in memory and behaves the way a corporate bank's gateway
does with a ``pain.001`` file: it validates the file against the official XSD, checks that the declared
totals (NbOfTxs, CtrlSum) match the transactions, refuses a message id it has already accepted, refuses a
debtor account it does not hold or that lacks the funds, and otherwise books the whole message at once
(all or nothing). The debit is one batch entry with one transaction per transfer; a creditor account held
by the simulation is credited, one entry per transfer. ``credit`` simulates an incoming payment (a
repayment, say), and ``notifications`` returns the ``camt.054`` of everything booked on an account since
the previous call, as a bank's notification service would. A production adapter replaces it without any
change to the services. All state sits behind one lock, so a bank can be shared between threads.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

from tierflow.integrations.iso20022 import Iso20022Error, build_camt054, format_amount, parse_pain001
from tierflow.services.external import ExternalServiceError, PaymentStatus
from tierflow.services.payment_data import Account, NotificationEntry


@dataclass(slots=True)
class _Ledger:
    account: Account
    currency: str
    balance_minor: int
    pending: list[NotificationEntry] = field(default_factory=list)  # booked, not yet notified


class SimulatedBank:
    """In-memory stand-in for a bank's payment gateway; see the module docstring for what it checks."""

    def __init__(
        self,
        *,
        reference_prefix: str = "SIMB",
        clock: Callable[[], datetime] | None = None,
        opening_balance_minor: int | None = None,
    ) -> None:
        """``opening_balance_minor``: a convenience of the simulation for a platform run without a bank behind it:
        a debtor account the bank has not seen is opened with this balance (in the message's currency) on its
        first payment. None (the default) keeps the strict behaviour: unknown debtor accounts are refused."""
        self._prefix = reference_prefix
        self._opening_balance = opening_balance_minor
        self._clock = clock or (lambda: datetime.now(UTC))
        self._lock = threading.Lock()
        self._ledgers: dict[str, _Ledger] = {}
        self._accepted: dict[str, str] = {}  # message id -> bank reference
        self._sequence = 0

    def _next(self, kind: str) -> str:
        self._sequence += 1
        return f"{self._prefix}{kind}{self._sequence:010d}"

    def open_account(self, account: Account, balance_minor: int, currency: str) -> None:
        """Hold ``account`` with an opening balance; refuses an account number already held."""
        if isinstance(balance_minor, bool) or not isinstance(balance_minor, int) or balance_minor < 0:
            raise ValueError(f"opening balance must be a non-negative integer of minor units; got {balance_minor!r}")
        format_amount(0, currency)  # refuses an unknown currency
        with self._lock:
            if account.number in self._ledgers:
                raise ValueError(f"account {account.number} is already open")
            self._ledgers[account.number] = _Ledger(account, currency, balance_minor)

    def balance(self, account_number: str) -> int:
        """Balance of a held account, in minor units of its currency."""
        with self._lock:
            return self._ledger(account_number).balance_minor

    def _ledger(self, account_number: str) -> _Ledger:
        ledger = self._ledgers.get(account_number)
        if ledger is None:
            raise ExternalServiceError("unknown_account", f"the bank holds no account {account_number!r}")
        return ledger

    def submit_pain001(self, xml: bytes) -> PaymentStatus:
        """Check and book a ``pain.001``; a refusal is an unaccepted status whose ``detail`` says why."""
        try:
            order = parse_pain001(xml)
        except Iso20022Error as exc:
            return PaymentStatus(exc.message_id or "", False, "", f"rejected: {exc}")
        message_id = order.message_id

        def refuse(detail: str) -> PaymentStatus:
            return PaymentStatus(message_id, False, "", f"rejected: {detail}")

        with self._lock:
            if message_id in self._accepted:
                return refuse(f"duplicate message id {message_id!r} (already accepted as {self._accepted[message_id]})")
            debtor = self._ledgers.get(order.debtor.number)
            if debtor is None and self._opening_balance is not None and order.transfers:
                currency = order.transfers[0].currency
                debtor = self._ledgers[order.debtor.number] = _Ledger(order.debtor, currency, self._opening_balance)
            if debtor is None or debtor.account.bank_code != order.debtor.bank_code:
                return refuse(f"the bank holds no debtor account {order.debtor.number!r}")
            foreign = sorted({t.currency for t in order.transfers} - {debtor.currency})
            if foreign:
                return refuse(f"debtor account is in {debtor.currency}; the message pays in {', '.join(foreign)}")
            total = sum(t.amount_minor for t in order.transfers)
            if total > debtor.balance_minor:
                balance = format_amount(debtor.balance_minor, debtor.currency)
                needed = format_amount(total, debtor.currency)
                return refuse(f"insufficient funds: balance {debtor.currency} {balance}, message total {needed}")
            reference = self._next("P")
            self._accepted[message_id] = reference
            today = self._clock().date()
            debtor.balance_minor -= total
            for transfer in order.transfers:
                debtor.pending.append(
                    NotificationEntry(
                        entry_ref=reference,
                        account=debtor.account.number,
                        amount_minor=transfer.amount_minor,
                        currency=transfer.currency,
                        credit=False,
                        booking_date=today,
                        value_date=today,
                        end_to_end_id=transfer.end_to_end_id,
                        remittance=transfer.remittance or None,
                    )
                )
                creditor = self._ledgers.get(transfer.creditor.number)
                if creditor is not None and creditor.account.bank_code == transfer.creditor.bank_code:
                    self._book_credit(
                        creditor,
                        amount_minor=transfer.amount_minor,
                        end_to_end_id=transfer.end_to_end_id,
                        remittance=transfer.remittance or None,
                        debtor_name=order.debtor.name,
                        booking_date=today,
                    )
        count = len(order.transfers)
        amount = f"{debtor.currency} {format_amount(total, debtor.currency)}"
        return PaymentStatus(message_id, True, reference, f"accepted: {count} transfer(s), {amount}")

    def _book_credit(
        self,
        ledger: _Ledger,
        *,
        amount_minor: int,
        end_to_end_id: str | None,
        remittance: str | None,
        debtor_name: str | None,
        booking_date: date,
    ) -> str:
        reference = self._next("C")
        ledger.balance_minor += amount_minor
        ledger.pending.append(
            NotificationEntry(
                entry_ref=reference,
                account=ledger.account.number,
                amount_minor=amount_minor,
                currency=ledger.currency,
                credit=True,
                booking_date=booking_date,
                value_date=booking_date,
                end_to_end_id=end_to_end_id,
                remittance=remittance,
                debtor_name=debtor_name,
            )
        )
        return reference

    def credit(
        self,
        account: Account,
        *,
        amount_minor: int,
        currency: str,
        end_to_end_id: str | None = None,
        remittance: str | None = None,
        debtor_name: str | None = None,
        booking_date: date | None = None,
    ) -> str:
        """Simulate an incoming payment to a held account; returns the entry's bank reference."""
        if isinstance(amount_minor, bool) or not isinstance(amount_minor, int) or amount_minor <= 0:
            raise ValueError(f"amount must be a positive integer of minor units; got {amount_minor!r}")
        with self._lock:
            ledger = self._ledger(account.number)
            if ledger.currency != currency:
                raise ExternalServiceError(
                    "currency_mismatch", f"account {account.number} is in {ledger.currency}, not {currency}"
                )
            return self._book_credit(
                ledger,
                amount_minor=amount_minor,
                end_to_end_id=end_to_end_id,
                remittance=remittance,
                debtor_name=debtor_name,
                booking_date=booking_date or self._clock().date(),
            )

    def notifications(self, account_number: str) -> bytes:
        """A ``camt.054`` of the entries booked on the account since the previous call (possibly none)."""
        with self._lock:
            ledger = self._ledger(account_number)
            xml = build_camt054(
                message_id=self._next("N"),
                created_at=self._clock(),
                account=ledger.account,
                entries=ledger.pending,
            )
            ledger.pending = []
            return xml
