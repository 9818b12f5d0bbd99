"""Ports to the outside services a financing needs, and the plain data that crosses them.

The platform never calls these from inside a command handler: handlers must replay identically from the
journal, and an outside answer can change. The workflow service (``tierflow.services.financing_case``)
asks the outside service first, keeps what it answered (a registry number, a signed PDF, a payment
message) and then submits a signed command that records it. ``tierflow.integrations`` holds the adapters:
real formats (PDF/PAdES, ISO 20022) and faithful fakes of the services China's supply-chain finance uses
(the tax authority's invoice verification, the movable-asset financing registry, an e-signature provider,
a bank's payment gateway).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from typing import Protocol

from tierflow.services.payment_data import Account, CreditTransfer, NotificationEntry


class ExternalServiceError(Exception):
    """An outside service refused or failed; ``code`` is stable, the message is for people."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


# --- tax authority: invoice verification (全国增值税发票查验平台) -------------------------------------------


class InvoiceState(StrEnum):
    NORMAL = "normal"  # issued and valid
    VOID = "void"  # 作废
    REVERSED = "reversed"  # 红冲: offset by a red-letter invoice
    NOT_FOUND = "not_found"


@dataclass(frozen=True, slots=True)
class InvoiceQuery:
    number: str
    issue_date: date
    total_minor: int  # amount with tax, in fen
    seller_uscc: str
    buyer_uscc: str


@dataclass(frozen=True, slots=True)
class InvoiceCheck:
    number: str
    state: InvoiceState
    matches: bool  # date, total and both USCCs agree with the authority's record
    detail: str


class TaxInvoiceVerifier(Protocol):
    def check(self, query: InvoiceQuery) -> InvoiceCheck: ...


# --- movable-asset financing registry (中登网) -------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RegistrationRequest:
    pledgor_name: str  # who assigns the receivable (the supplier)
    pledgor_id: str
    pledgee_name: str  # who takes it (the financial institution)
    pledgee_id: str
    collateral_id: str  # the platform's identifier of the receivable (voucher and unit range)
    description: str
    amount_minor: int
    currency: str
    period_end: date


@dataclass(frozen=True, slots=True)
class Registration:
    number: str
    registered_at: datetime
    request: RegistrationRequest


class FinancingRegistry(Protocol):
    def search(self, collateral_id: str) -> list[Registration]: ...

    def register(self, request: RegistrationRequest) -> Registration: ...


# --- the financing contract ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ContractTerms:
    """Everything the contract states; money is pre-formatted as decimal strings (``"500000.00"``)."""

    contract_number: str
    financing_id: str
    applicant_id: str
    applicant_name: str
    financier_id: str
    financier_name: str
    obligor_id: str
    obligor_name: str
    voucher_id: str
    unit_range: str  # e.g. "1-500000"
    currency: str
    amount: str  # face amount of the assigned units
    discount: str
    fee: str
    net: str  # paid to the applicant on the value date
    annual_rate: str  # e.g. "0.0450"
    basis: str  # day-count basis, e.g. "ACT/360"
    value_date: date
    maturity: date
    recourse: bool
    invoice_numbers: tuple[str, ...]
    trade_contract: str
    generated_on: date


class ContractRenderer(Protocol):
    def __call__(self, terms: ContractTerms) -> bytes: ...


# --- e-signature ----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SignatureCheck:
    field_name: str
    signer: str  # the certificate subject's common name
    signer_party: str  # the party id carried in the certificate
    intact: bool  # the signed bytes are unchanged
    valid: bool  # the cryptographic signature verifies
    trusted: bool  # the certificate chains to a trusted root
    covers_whole_file: bool  # nothing but later signatures was appended after it
    signed_at: datetime | None


class ESignatureProvider(Protocol):
    def sign(self, pdf: bytes, *, party_id: str, party_name: str, field_name: str, reason: str) -> bytes: ...

    def verify(self, pdf: bytes) -> list[SignatureCheck]: ...


# --- bank payment gateway -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PaymentStatus:
    message_id: str
    accepted: bool
    bank_reference: str
    detail: str


class BankGateway(Protocol):
    def submit_pain001(self, xml: bytes) -> PaymentStatus: ...


class PaymentMessages(Protocol):
    """Builds and reads the ISO 20022 messages exchanged with banks (``tierflow.integrations.iso20022``)."""

    def build_pain001(
        self,
        *,
        message_id: str,
        created_at: datetime,
        debtor: Account,
        payment_info_id: str,
        requested_date: date,
        transfers: Sequence[CreditTransfer],
        initiating_party: str,
    ) -> bytes: ...

    def validate_pain001(self, xml: bytes) -> None: ...

    def parse_camt054(self, xml: bytes) -> list[NotificationEntry]: ...
