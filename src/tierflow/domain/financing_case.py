"""The financing case: the asset-management workflow a financing goes through, from request to close.

A ``Financing`` (``tierflow.domain.model``) is the ledger's view: units encumbered, then sold to the
institution or released. The case is the institution's view of the same request, one stage at a time::

    collected ─► verified ─► reviewed ─► approved ─► signed_by_applicant ─► contracted ─► registered
        │            │          │           │                                   │             │
        ▼            ▼          ▼           ▼                                   ▼             ▼
     rejected     declined / cancelled (before the contract binds)           declined     disbursed
                                                                                               │
                                        closed ◄── recourse ◄── overdue ◄──────────────────────┤
                                          ▲                       │                            │
                                          └───────────────────────┴────────────────────────────┘

- ``collected`` → ``verified`` or ``rejected``: the trade-background rules run when the request arrives
  (``tierflow.domain.verification``); a failing verdict rejects the request when the platform enforces them.
- ``reviewed`` (the maker's recommendation) → ``approved`` (the checker): two different people of the
  institution, which ``check_maker_checker`` enforces.
- The contract is signed by the applicant, then by the institution; only then is it registered with the
  financing registry and the money paid out (``disbursed``: the ledger's ``financing.fund``).
- Post-loan: repayments reduce what is outstanding; unpaid at maturity makes the case ``overdue``; with
  recourse the institution may turn to the applicant (``recourse``); fully repaid is ``closed``.

Pure data and rules, no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from types import MappingProxyType

from tierflow.domain.errors import DomainError, ErrorKind, InvalidTransition


class MakerCheckerViolation(DomainError):
    """The person approving is the person who recommended: the four-eyes rule forbids it."""

    code = "maker_checker"
    kind = ErrorKind.FORBIDDEN


CASE_ERRORS: tuple[type[DomainError], ...] = (MakerCheckerViolation,)


class Stage(StrEnum):
    COLLECTED = "collected"
    VERIFIED = "verified"
    REJECTED = "rejected"
    REVIEWED = "reviewed"
    APPROVED = "approved"
    SIGNED_BY_APPLICANT = "signed_by_applicant"
    CONTRACTED = "contracted"
    REGISTERED = "registered"
    DISBURSED = "disbursed"
    OVERDUE = "overdue"
    RECOURSE = "recourse"
    CLOSED = "closed"
    DECLINED = "declined"
    CANCELLED = "cancelled"


_ENDS = (Stage.DECLINED, Stage.CANCELLED)

TRANSITIONS: Mapping[Stage, frozenset[Stage]] = MappingProxyType(
    {
        Stage.COLLECTED: frozenset({Stage.VERIFIED, Stage.REJECTED}),
        Stage.VERIFIED: frozenset({Stage.REVIEWED, *_ENDS}),
        Stage.REVIEWED: frozenset({Stage.APPROVED, *_ENDS}),
        Stage.APPROVED: frozenset({Stage.SIGNED_BY_APPLICANT, *_ENDS}),
        # Once the applicant has signed, only the institution may still walk away (by not countersigning).
        Stage.SIGNED_BY_APPLICANT: frozenset({Stage.CONTRACTED, Stage.DECLINED}),
        Stage.CONTRACTED: frozenset({Stage.REGISTERED, Stage.DECLINED}),
        Stage.REGISTERED: frozenset({Stage.DISBURSED, Stage.DECLINED}),
        Stage.DISBURSED: frozenset({Stage.OVERDUE, Stage.CLOSED}),
        Stage.OVERDUE: frozenset({Stage.RECOURSE, Stage.CLOSED}),
        Stage.RECOURSE: frozenset({Stage.CLOSED}),
        Stage.REJECTED: frozenset(),
        Stage.CLOSED: frozenset(),
        Stage.DECLINED: frozenset(),
        Stage.CANCELLED: frozenset(),
    }
)

TERMINAL: frozenset[Stage] = frozenset(s for s, nxt in TRANSITIONS.items() if not nxt)
# Stages after the money went out: the case is a loan being repaid.
POST_LOAN: frozenset[Stage] = frozenset({Stage.DISBURSED, Stage.OVERDUE, Stage.RECOURSE})

MAX_USER = 120


def advance(current: Stage, new: Stage, *, financing_id: str) -> Stage:
    """``new`` if the workflow allows it from ``current``; otherwise an ``InvalidTransition`` that says what
    may come next."""
    if new not in TRANSITIONS[current]:
        allowed = ", ".join(sorted(TRANSITIONS[current])) or "nothing (the case is closed)"
        raise InvalidTransition(
            f"financing {financing_id} is {current}; it cannot become {new} (next may be: {allowed})",
            financing_id=financing_id,
            from_stage=str(current),
            to_stage=str(new),
        )
    return new


def check_maker_checker(maker: str | None, checker: str) -> None:
    """The checker must be a different person from the maker (compared case-insensitively, trimmed)."""
    if maker is None:
        raise InvalidTransition("the case has no maker's review to approve")
    if maker.strip().casefold() == checker.strip().casefold():
        raise MakerCheckerViolation(
            f"{checker} recommended this financing and cannot also approve it; a second person must",
            maker=maker,
            checker=checker,
        )


def outstanding_minor(amount_minor: int, repaid_minor: int) -> int:
    """What is still owed on a financed amount after repayments (never below zero)."""
    return max(amount_minor - repaid_minor, 0)
