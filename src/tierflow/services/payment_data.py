"""The plain data of bank payments, shared by the workflow service and the ISO 20022 adapter: domestic accounts
(CNAPS bank codes), credit transfers (what a ``pain.001`` asks), and booked entries (what a ``camt.054`` reports).

Pure values with their own checks; the XML lives in ``tierflow.integrations.iso20022``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime

from tierflow.domain.errors import UnknownCurrency
from tierflow.domain.money import exponent

_ACCOUNT_NUMBER = re.compile(r"[0-9A-Za-z-]{1,34}")
_CNAPS = re.compile(r"[0-9]{12}")


def check_text(field: str, value: object, max_len: int) -> None:
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{field} must be a non-empty string; got {value!r}")
    if len(value) > max_len:
        raise ValueError(f"{field} must be at most {max_len} characters; got {len(value)}")


def currency_exponent(currency: str) -> int:
    try:
        return exponent(currency)
    except UnknownCurrency:
        raise ValueError(f"unknown currency {currency!r}") from None


def check_minor(field: str, value: object, *, positive: bool) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{field} must be an integer of minor units; got {value!r}")
    if value < 0 or (positive and value == 0):
        raise ValueError(f"{field} must be {'positive' if positive else 'non-negative'}; got {value}")


@dataclass(frozen=True, slots=True)
class Account:
    """A domestic bank account: number, holder's name, and the bank's CNAPS code and name."""

    number: str
    name: str
    bank_code: str
    bank_name: str = ""

    def __post_init__(self) -> None:
        if not isinstance(self.number, str) or _ACCOUNT_NUMBER.fullmatch(self.number) is None:
            raise ValueError(f"account number must be 1 to 34 letters, digits or '-'; got {self.number!r}")
        if not isinstance(self.bank_code, str) or _CNAPS.fullmatch(self.bank_code) is None:
            raise ValueError(f"bank code must be a 12-digit CNAPS code; got {self.bank_code!r}")
        check_text("account name", self.name, 140)
        if not isinstance(self.bank_name, str) or len(self.bank_name) > 140:
            raise ValueError(f"bank name must be a string of at most 140 characters; got {self.bank_name!r}")


@dataclass(frozen=True, slots=True)
class CreditTransfer:
    """One payment of a ``pain.001``; ``end_to_end_id`` (the financing id) travels to the creditor."""

    end_to_end_id: str
    amount_minor: int
    currency: str
    creditor: Account
    remittance: str = ""

    def __post_init__(self) -> None:
        check_text("end-to-end id", self.end_to_end_id, 35)
        check_minor("amount", self.amount_minor, positive=True)
        currency_exponent(self.currency)
        if not isinstance(self.creditor, Account):
            raise ValueError(f"creditor must be an Account; got {self.creditor!r}")
        if not isinstance(self.remittance, str) or len(self.remittance) > 140:
            raise ValueError("remittance must be a string of at most 140 characters")


@dataclass(frozen=True, slots=True)
class PaymentOrder:
    """What a ``pain.001`` asks for, as read back by ``parse_pain001``."""

    message_id: str
    created_at: datetime
    initiating_party: str
    payment_info_id: str
    requested_date: date
    debtor: Account
    transfers: tuple[CreditTransfer, ...]


@dataclass(frozen=True, slots=True)
class NotificationEntry:
    """One booked transaction of a ``camt.054``."""

    entry_ref: str  # the bank's reference of the entry (AcctSvcrRef, else NtryRef)
    account: str  # the notified account's number
    amount_minor: int
    currency: str
    credit: bool  # CdtDbtInd CRDT
    booking_date: date
    value_date: date | None = None
    end_to_end_id: str | None = None
    remittance: str | None = None
    debtor_name: str | None = None
    reversal: bool = False  # RvslInd: this entry reverses an earlier one

    def __post_init__(self) -> None:
        check_text("entry reference", self.entry_ref, 35)
        check_text("account", self.account, 34)
        check_minor("amount", self.amount_minor, positive=False)
        currency_exponent(self.currency)
