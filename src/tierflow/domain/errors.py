"""Domain errors.

Every refusal of the business core is a ``DomainError`` subclass that carries a stable
snake_case ``code`` and an ``ErrorKind``; outer layers map the kind to a transport status
(INVALID → 400/422, NOT_FOUND → 404, FORBIDDEN → 403, CONFLICT → 409, UNPROCESSABLE → 422)
and the code to a machine-readable reason. ``message`` is for people; ``fields`` carries the
structured facts behind the refusal (amounts, ids, limits) and holds only plain values.
"""

from __future__ import annotations

from enum import StrEnum
from typing import ClassVar


class ErrorKind(StrEnum):
    """Broad family of a refusal."""

    INVALID = "invalid"
    NOT_FOUND = "not_found"
    FORBIDDEN = "forbidden"
    CONFLICT = "conflict"
    UNPROCESSABLE = "unprocessable"


class DomainError(Exception):
    """Base of all domain refusals."""

    code: ClassVar[str] = "domain_error"
    kind: ClassVar[ErrorKind] = ErrorKind.UNPROCESSABLE

    def __init__(self, message: str, **fields: object) -> None:
        super().__init__(message)
        self.message = message
        self.fields: dict[str, object] = dict(fields)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.message!r}, code={self.code!r}, fields={self.fields!r})"


class InvalidAmount(DomainError):
    code = "invalid_amount"
    kind = ErrorKind.INVALID


class UnknownCurrency(DomainError):
    code = "unknown_currency"
    kind = ErrorKind.INVALID


class CurrencyMismatch(DomainError):
    code = "currency_mismatch"
    kind = ErrorKind.INVALID


class InvalidRange(DomainError):
    code = "invalid_range"
    kind = ErrorKind.INVALID


class InvalidDate(DomainError):
    code = "invalid_date"
    kind = ErrorKind.INVALID


class TenorTooLong(DomainError):
    code = "tenor_too_long"
    kind = ErrorKind.UNPROCESSABLE


class MaturityInPast(DomainError):
    code = "maturity_in_past"
    kind = ErrorKind.UNPROCESSABLE


class FaceTooLarge(DomainError):
    code = "face_too_large"
    kind = ErrorKind.UNPROCESSABLE


class TierLimitExceeded(DomainError):
    code = "tier_limit_exceeded"
    kind = ErrorKind.UNPROCESSABLE


class SplitLimitExceeded(DomainError):
    code = "split_limit_exceeded"
    kind = ErrorKind.UNPROCESSABLE


class InsufficientUnits(DomainError):
    """More units asked for than the holding holds."""

    code = "insufficient_units"
    kind = ErrorKind.UNPROCESSABLE


class NotHolder(DomainError):
    code = "not_holder"
    kind = ErrorKind.FORBIDDEN


class NotAuthorised(DomainError):
    code = "not_authorised"
    kind = ErrorKind.FORBIDDEN


class InvalidTransition(DomainError):
    code = "invalid_transition"
    kind = ErrorKind.CONFLICT


class HoldingNotAvailable(DomainError):
    """The holding is consumed, frozen, offered, encumbered… and cannot be used now."""

    code = "holding_not_available"
    kind = ErrorKind.CONFLICT


class ObligorOverdue(DomainError):
    code = "obligor_overdue"
    kind = ErrorKind.UNPROCESSABLE


class NotMatured(DomainError):
    code = "not_matured"
    kind = ErrorKind.UNPROCESSABLE


class AlreadyMatured(DomainError):
    code = "already_matured"
    kind = ErrorKind.UNPROCESSABLE


class OfferExpired(DomainError):
    code = "offer_expired"
    kind = ErrorKind.UNPROCESSABLE


class Overpayment(DomainError):
    code = "overpayment"
    kind = ErrorKind.UNPROCESSABLE


class SelfTransfer(DomainError):
    code = "self_transfer"
    kind = ErrorKind.UNPROCESSABLE


class WrongRole(DomainError):
    code = "wrong_role"
    kind = ErrorKind.FORBIDDEN


class NetProceedsNotPositive(DomainError):
    code = "net_proceeds_not_positive"
    kind = ErrorKind.UNPROCESSABLE


ALL_ERRORS: tuple[type[DomainError], ...] = (
    InvalidAmount,
    UnknownCurrency,
    CurrencyMismatch,
    InvalidRange,
    InvalidDate,
    TenorTooLong,
    MaturityInPast,
    FaceTooLarge,
    TierLimitExceeded,
    SplitLimitExceeded,
    InsufficientUnits,
    NotHolder,
    NotAuthorised,
    InvalidTransition,
    HoldingNotAvailable,
    ObligorOverdue,
    NotMatured,
    AlreadyMatured,
    OfferExpired,
    Overpayment,
    SelfTransfer,
    WrongRole,
    NetProceedsNotPositive,
)
