"""The business core of tierflow: pure, immutable, free of I/O.

Design overview
---------------

- ``money``: amounts are ``int`` minor units with an ISO 4217 code (``Money``); strict text
  parsing and formatting; ``allocate`` splits an integer total by weights (largest remainder).
- ``units``: a voucher of face N minor units is numbered ``1..N``; ``UnitRange`` is an
  inclusive range of those numbers and ``is_partition`` states the ownership invariant.
- ``model``: parties, vouchers, holdings, offers and financings as frozen dataclasses; every
  status change goes through ``with_status`` and an explicit transition table.
- ``rules``: the platform ``Policy`` (tier, split, tenor and size limits) and issuance checks.
- ``pricing``: discount pricing of early payment (day counts, half-up rounding to the minor unit).
- ``operations``: the state transitions (issue, offer/accept/return, encumber/fund/release,
  freeze/unfreeze, settle). Each takes records and returns new ones; a move supersedes the
  source holding and creates children on the lowest units first, so for every voucher the
  current holdings always partition ``[1, N]`` and each unit's provenance is a parent chain.
- ``errors``: every refusal is a ``DomainError`` with a stable ``code`` and an ``ErrorKind``.

The package imports only the standard library; ids are supplied by the caller (``new_id``).
"""

from tierflow.domain.errors import (
    ALL_ERRORS,
    AlreadyMatured,
    CurrencyMismatch,
    DomainError,
    ErrorKind,
    FaceTooLarge,
    HoldingNotAvailable,
    InsufficientUnits,
    InvalidAmount,
    InvalidDate,
    InvalidRange,
    InvalidTransition,
    MaturityInPast,
    NetProceedsNotPositive,
    NotAuthorised,
    NotHolder,
    NotMatured,
    ObligorOverdue,
    OfferExpired,
    Overpayment,
    SelfTransfer,
    SplitLimitExceeded,
    TenorTooLong,
    TierLimitExceeded,
    UnknownCurrency,
    WrongRole,
)
from tierflow.domain.model import (
    FINANCING_TRANSITIONS,
    HOLDING_TRANSITIONS,
    OFFER_TRANSITIONS,
    VOUCHER_TRANSITIONS,
    Financing,
    FinancingStatus,
    Holding,
    HoldingStatus,
    Offer,
    OfferStatus,
    Party,
    Role,
    Voucher,
    VoucherStatus,
)
from tierflow.domain.money import CURRENCIES, Money, allocate, exponent
from tierflow.domain.operations import (
    IssueResult,
    NewId,
    Outcome,
    Payment,
    SettlementResult,
    accept_offer,
    encumber,
    ensure_offer_open,
    freeze,
    fund,
    issue,
    offer_expires_at,
    offer_transfer,
    release_encumbrance,
    require_role,
    return_offer,
    settle,
    unfreeze,
)
from tierflow.domain.pricing import DayCount, Quote, days_between, discount_minor, quote
from tierflow.domain.rules import DEFAULT_MAX_FACE_MINOR, Policy, add_months, check_issue
from tierflow.domain.units import UnitRange, is_partition

__all__ = [
    "ALL_ERRORS",
    "CURRENCIES",
    "DEFAULT_MAX_FACE_MINOR",
    "FINANCING_TRANSITIONS",
    "HOLDING_TRANSITIONS",
    "OFFER_TRANSITIONS",
    "VOUCHER_TRANSITIONS",
    "AlreadyMatured",
    "CurrencyMismatch",
    "DayCount",
    "DomainError",
    "ErrorKind",
    "FaceTooLarge",
    "Financing",
    "FinancingStatus",
    "Holding",
    "HoldingNotAvailable",
    "HoldingStatus",
    "InsufficientUnits",
    "InvalidAmount",
    "InvalidDate",
    "InvalidRange",
    "InvalidTransition",
    "IssueResult",
    "MaturityInPast",
    "Money",
    "NetProceedsNotPositive",
    "NewId",
    "NotAuthorised",
    "NotHolder",
    "NotMatured",
    "ObligorOverdue",
    "Offer",
    "OfferExpired",
    "OfferStatus",
    "Outcome",
    "Overpayment",
    "Party",
    "Payment",
    "Policy",
    "Quote",
    "Role",
    "SelfTransfer",
    "SettlementResult",
    "SplitLimitExceeded",
    "TenorTooLong",
    "TierLimitExceeded",
    "UnitRange",
    "UnknownCurrency",
    "Voucher",
    "VoucherStatus",
    "WrongRole",
    "accept_offer",
    "add_months",
    "allocate",
    "check_issue",
    "days_between",
    "discount_minor",
    "encumber",
    "ensure_offer_open",
    "exponent",
    "freeze",
    "fund",
    "is_partition",
    "issue",
    "offer_expires_at",
    "offer_transfer",
    "quote",
    "release_encumbrance",
    "require_role",
    "return_offer",
    "settle",
    "unfreeze",
]
