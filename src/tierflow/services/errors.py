"""Errors raised by the service layer, in the same hierarchy as the domain's (one mapping to problem+json)."""

from __future__ import annotations

from tierflow.domain.errors import DomainError, ErrorKind


class InvalidCommand(DomainError):
    code = "invalid_command"
    kind = ErrorKind.INVALID


class UnknownKind(DomainError):
    code = "unknown_command_kind"
    kind = ErrorKind.INVALID


class StaleCommand(DomainError):
    code = "stale_command"
    kind = ErrorKind.UNPROCESSABLE


class BadSignature(DomainError):
    code = "bad_signature"
    kind = ErrorKind.FORBIDDEN


class ReplayedCommand(DomainError):
    code = "replayed_command"
    kind = ErrorKind.CONFLICT


class UnknownParty(DomainError):
    code = "unknown_party"
    kind = ErrorKind.NOT_FOUND


class NotFound(DomainError):
    code = "not_found"
    kind = ErrorKind.NOT_FOUND


class Unauthenticated(DomainError):
    code = "unauthenticated"
    kind = ErrorKind.FORBIDDEN


class ActorMismatch(DomainError):
    code = "actor_mismatch"
    kind = ErrorKind.FORBIDDEN


class IdempotencyMismatch(DomainError):
    code = "idempotency_key_reused"
    kind = ErrorKind.UNPROCESSABLE


class ConcurrentUpdate(DomainError):
    """Another operation changed the same holding first (the database refused the second)."""

    code = "concurrent_update"
    kind = ErrorKind.CONFLICT


class ProofUnavailable(DomainError):
    code = "proof_unavailable"
    kind = ErrorKind.INVALID


class CosignatureRejected(DomainError):
    code = "cosignature_rejected"
    kind = ErrorKind.UNPROCESSABLE


class DocumentExists(DomainError):
    """A document of this type and number is already registered (by anyone)."""

    code = "document_exists"
    kind = ErrorKind.CONFLICT


class UsccConflict(DomainError):
    """An invoice would tie a USCC to a different party than earlier invoices did (or a party to another USCC)."""

    code = "uscc_conflict"
    kind = ErrorKind.CONFLICT


class TradeCheckFailed(DomainError):
    """The trade-background rules failed and the platform enforces them; ``fields["results"]`` says which."""

    code = "trade_check_failed"
    kind = ErrorKind.UNPROCESSABLE


class ExternalRefusal(DomainError):
    """An outside service (registry, bank, e-signature, tax authority) refused or failed the step."""

    code = "external_service_refused"
    kind = ErrorKind.UNPROCESSABLE


class RepaymentUnmatched(DomainError):
    """A bank notification entry names no financing that can take the repayment."""

    code = "repayment_unmatched"
    kind = ErrorKind.UNPROCESSABLE


class RepaymentRecorded(DomainError):
    """This bank entry was already reconciled to a financing (a notification imported twice)."""

    code = "repayment_already_recorded"
    kind = ErrorKind.CONFLICT


SERVICE_ERRORS: tuple[type[DomainError], ...] = (
    InvalidCommand,
    UnknownKind,
    StaleCommand,
    BadSignature,
    ReplayedCommand,
    UnknownParty,
    NotFound,
    Unauthenticated,
    ActorMismatch,
    IdempotencyMismatch,
    ConcurrentUpdate,
    ProofUnavailable,
    CosignatureRejected,
    DocumentExists,
    UsccConflict,
    TradeCheckFailed,
    ExternalRefusal,
    RepaymentUnmatched,
    RepaymentRecorded,
)
