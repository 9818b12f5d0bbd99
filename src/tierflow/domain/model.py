"""Parties, vouchers, holdings, offers and financings.

All values are immutable. A record changes status only through its ``with_status`` method,
which consults an explicit transition table (``HOLDING_TRANSITIONS``, ``VOUCHER_TRANSITIONS``,
``OFFER_TRANSITIONS``, ``FINANCING_TRANSITIONS``) and raises ``InvalidTransition`` for any pair
the table does not list; everything else about a holding (holder, units, tier, parent) is fixed
for its lifetime, so a move always retires holdings and creates new ones.

Holding lifecycle, kept minimal for the operations in ``operations``:

- LIVE → SUPERSEDED (moved, offered, encumbered, carved for a freeze, settled) or FROZEN
  (the whole holding disputed);
- OFFERED → LIVE (accepted) or SUPERSEDED (rejected or expired; units return to the sender);
- ENCUMBERED → LIVE (request declined or cancelled) or SUPERSEDED (funded);
- FROZEN → LIVE or OVERDUE (dispute resolved, before or after settlement) or SUPERSEDED;
- OVERDUE → SUPERSEDED (later payment) or FROZEN (disputed while overdue);
- SETTLED and SUPERSEDED are terminal.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from types import MappingProxyType

from tierflow.domain.errors import InvalidAmount, InvalidDate, InvalidRange, InvalidTransition
from tierflow.domain.money import Money, exponent
from tierflow.domain.pricing import DayCount
from tierflow.domain.units import UnitRange


class Role(StrEnum):
    CORE_ENTERPRISE = "core_enterprise"
    SUPPLIER = "supplier"
    FINANCIER = "financial_institution"
    OPERATOR = "operator"
    CERTIFIER = "certifier"  # an accredited verifier: signs green labels and confirms sustainability KPIs


@dataclass(frozen=True, slots=True)
class Party:
    id: str
    name: str
    role: Role
    public_key: bytes


class HoldingStatus(StrEnum):
    LIVE = "live"
    OFFERED = "offered"
    ENCUMBERED = "encumbered"
    FROZEN = "frozen"
    OVERDUE = "overdue"
    SETTLED = "settled"
    SUPERSEDED = "superseded"


HOLDING_TRANSITIONS: Mapping[HoldingStatus, frozenset[HoldingStatus]] = MappingProxyType(
    {
        HoldingStatus.LIVE: frozenset({HoldingStatus.SUPERSEDED, HoldingStatus.FROZEN}),
        HoldingStatus.OFFERED: frozenset({HoldingStatus.LIVE, HoldingStatus.SUPERSEDED}),
        HoldingStatus.ENCUMBERED: frozenset({HoldingStatus.LIVE, HoldingStatus.SUPERSEDED}),
        HoldingStatus.FROZEN: frozenset({HoldingStatus.LIVE, HoldingStatus.OVERDUE, HoldingStatus.SUPERSEDED}),
        HoldingStatus.OVERDUE: frozenset({HoldingStatus.SUPERSEDED, HoldingStatus.FROZEN}),
        HoldingStatus.SETTLED: frozenset(),
        HoldingStatus.SUPERSEDED: frozenset(),
    }
)


@dataclass(frozen=True, slots=True)
class Holding:
    """Ownership of ``units`` of one voucher by ``holder``."""

    id: str
    voucher_id: str
    units: UnitRange
    holder: str
    tier: int
    parent_id: str | None
    status: HoldingStatus

    def __post_init__(self) -> None:
        if isinstance(self.tier, bool) or not isinstance(self.tier, int) or self.tier < 1:
            raise InvalidRange(f"tier must be a positive integer; got {self.tier!r}")

    @property
    def amount_minor(self) -> int:
        return self.units.count

    @property
    def is_current(self) -> bool:
        """Not yet consumed by a later move."""
        return self.status is not HoldingStatus.SUPERSEDED

    def with_status(self, new: HoldingStatus) -> Holding:
        """The one mutator: this holding in status ``new``, if the table allows it."""
        if new not in HOLDING_TRANSITIONS[self.status]:
            raise InvalidTransition(
                f"holding {self.id} cannot go from {self.status} to {new}",
                holding_id=self.id,
                from_status=str(self.status),
                to_status=str(new),
            )
        return replace(self, status=new)


class VoucherStatus(StrEnum):
    ACTIVE = "active"
    SETTLED = "settled"
    OVERDUE = "overdue"


VOUCHER_TRANSITIONS: Mapping[VoucherStatus, frozenset[VoucherStatus]] = MappingProxyType(
    {
        VoucherStatus.ACTIVE: frozenset({VoucherStatus.SETTLED, VoucherStatus.OVERDUE}),
        VoucherStatus.OVERDUE: frozenset({VoucherStatus.SETTLED}),
        VoucherStatus.SETTLED: frozenset(),
    }
)


@dataclass(frozen=True, slots=True)
class Voucher:
    """A confirmed payable of ``obligor``, numbered in units ``1..face_minor``."""

    id: str
    obligor: str
    first_holder: str
    currency: str
    face_minor: int
    issue_date: date
    maturity: date
    contract_ref: str
    invoice_refs: tuple[str, ...]
    split_count: int
    status: VoucherStatus

    def __post_init__(self) -> None:
        exponent(self.currency)
        if isinstance(self.face_minor, bool) or not isinstance(self.face_minor, int) or self.face_minor < 1:
            raise InvalidAmount(f"face must be a positive integer of minor units; got {self.face_minor!r}")
        if not isinstance(self.invoice_refs, tuple):
            raise InvalidAmount("invoice_refs must be a tuple")
        if self.split_count < 0:
            raise InvalidAmount(f"split count must not be negative; got {self.split_count}")

    @property
    def units(self) -> UnitRange:
        return UnitRange(1, self.face_minor)

    @property
    def face(self) -> Money:
        return Money(self.face_minor, self.currency)

    def with_status(self, new: VoucherStatus) -> Voucher:
        if new not in VOUCHER_TRANSITIONS[self.status]:
            raise InvalidTransition(
                f"voucher {self.id} cannot go from {self.status} to {new}",
                voucher_id=self.id,
                from_status=str(self.status),
                to_status=str(new),
            )
        return replace(self, status=new)


class OfferStatus(StrEnum):
    PENDING = "pending"
    ACCEPTED = "accepted"
    REJECTED = "rejected"
    EXPIRED = "expired"


OFFER_TRANSITIONS: Mapping[OfferStatus, frozenset[OfferStatus]] = MappingProxyType(
    {
        OfferStatus.PENDING: frozenset({OfferStatus.ACCEPTED, OfferStatus.REJECTED, OfferStatus.EXPIRED}),
        OfferStatus.ACCEPTED: frozenset(),
        OfferStatus.REJECTED: frozenset(),
        OfferStatus.EXPIRED: frozenset(),
    }
)


@dataclass(frozen=True, slots=True)
class Offer:
    """A pending transfer: ``holding_id`` is the OFFERED part held by ``recipient``."""

    id: str
    voucher_id: str
    holding_id: str
    source_holding_id: str
    sender: str
    recipient: str
    units_minor: int
    trade_ref: str
    invoice_refs: tuple[str, ...]
    expires_at: datetime
    status: OfferStatus

    def __post_init__(self) -> None:
        if self.expires_at.tzinfo is None:
            raise InvalidDate("offer expiry must be timezone-aware")
        if isinstance(self.units_minor, bool) or self.units_minor < 1:
            raise InvalidAmount(f"offered units must be positive; got {self.units_minor!r}")

    def with_status(self, new: OfferStatus) -> Offer:
        if new not in OFFER_TRANSITIONS[self.status]:
            raise InvalidTransition(
                f"offer {self.id} cannot go from {self.status} to {new}",
                offer_id=self.id,
                from_status=str(self.status),
                to_status=str(new),
            )
        return replace(self, status=new)


class FinancingStatus(StrEnum):
    REQUESTED = "requested"
    FUNDED = "funded"
    DECLINED = "declined"
    CANCELLED = "cancelled"


FINANCING_TRANSITIONS: Mapping[FinancingStatus, frozenset[FinancingStatus]] = MappingProxyType(
    {
        FinancingStatus.REQUESTED: frozenset(
            {FinancingStatus.FUNDED, FinancingStatus.DECLINED, FinancingStatus.CANCELLED}
        ),
        FinancingStatus.FUNDED: frozenset(),
        FinancingStatus.DECLINED: frozenset(),
        FinancingStatus.CANCELLED: frozenset(),
    }
)


@dataclass(frozen=True, slots=True)
class Financing:
    """A request to sell the ENCUMBERED holding ``holding_id`` to ``financier`` at a discount."""

    id: str
    voucher_id: str
    holding_id: str
    applicant: str
    financier: str
    amount_minor: int
    currency: str
    annual_rate: Decimal
    basis: DayCount
    value_date: date
    maturity: date
    discount_minor: int
    fee_minor: int
    net_minor: int
    status: FinancingStatus

    def __post_init__(self) -> None:
        exponent(self.currency)
        if self.amount_minor < 1:
            raise InvalidAmount(f"financed amount must be positive; got {self.amount_minor}")
        if self.discount_minor < 0 or self.fee_minor < 0:
            raise InvalidAmount("discount and fee must not be negative")
        if self.amount_minor - self.discount_minor - self.fee_minor != self.net_minor:
            raise InvalidAmount(
                "net must equal amount less discount and fee",
                amount_minor=self.amount_minor,
                discount_minor=self.discount_minor,
                fee_minor=self.fee_minor,
                net_minor=self.net_minor,
            )

    def with_status(self, new: FinancingStatus) -> Financing:
        if new not in FINANCING_TRANSITIONS[self.status]:
            raise InvalidTransition(
                f"financing {self.id} cannot go from {self.status} to {new}",
                financing_id=self.id,
                from_status=str(self.status),
                to_status=str(new),
            )
        return replace(self, status=new)
