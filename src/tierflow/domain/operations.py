"""Pure state transitions over vouchers and holdings.

Each operation takes the current records, checks every rule, and returns new immutable
records; it never mutates, stores or reads anything. Ids come from the caller's ``new_id``
so that a service can make them deterministic. A move never edits a holding in place: it
marks the source SUPERSEDED and creates new holdings whose ``parent_id`` is the source, with
the moved part on the LOWEST units and the holder's change on the rest. So for every voucher
the current (non-superseded) holdings always partition ``[1, N]``, and the provenance of any
unit is the parent chain of the holding that contains it.

``Outcome`` lists what changed: ``superseded`` (sources now SUPERSEDED), ``created`` (new
holdings) and ``updated`` (holdings whose status changed in place: accept, release, whole-
holding freeze), plus the voucher as it stands after the move; ``voucher`` is ``None`` for the
moves that never touch the voucher (``return_offer``, ``fund``).

Tiers: a transfer puts the recipient one tier below the sender (tier + 1); financing, change,
freezing, returns and settlement keep the tier. Splits: a move that leaves change counts one
split against ``Policy.split_limit``; freezing does not.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from itertools import pairwise

from tierflow.domain.errors import (
    AlreadyMatured,
    HoldingNotAvailable,
    InvalidAmount,
    InvalidRange,
    NotAuthorised,
    NotHolder,
    NotMatured,
    OfferExpired,
    Overpayment,
    SelfTransfer,
    SplitLimitExceeded,
    TierLimitExceeded,
    WrongRole,
)
from tierflow.domain.model import (
    Holding,
    HoldingStatus,
    Offer,
    OfferStatus,
    Party,
    Role,
    Voucher,
    VoucherStatus,
)
from tierflow.domain.money import Money, allocate
from tierflow.domain.rules import Policy, check_issue
from tierflow.domain.units import UnitRange, is_partition

NewId = Callable[[], str]


@dataclass(frozen=True, slots=True)
class Outcome:
    superseded: tuple[Holding, ...]
    created: tuple[Holding, ...]
    updated: tuple[Holding, ...]
    voucher: Voucher | None


@dataclass(frozen=True, slots=True)
class IssueResult:
    voucher: Voucher
    holding: Holding
    warnings: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Payment:
    holding_id: str
    holder: str
    amount_minor: int


@dataclass(frozen=True, slots=True)
class SettlementResult:
    outcome: Outcome
    payments: tuple[Payment, ...]
    overdue_minor: int


# --- helpers ---------------------------------------------------------------------------------


def require_role(actor: Party, *allowed: Role) -> None:
    """Refuse ``actor`` (NotAuthorised) unless its role is one of ``allowed``."""
    if actor.role not in allowed:
        raise NotAuthorised(
            f"{actor.id} ({actor.role}) may not do this",
            party=actor.id,
            role=str(actor.role),
            allowed=tuple(str(r) for r in allowed),
        )


def offer_expires_at(policy: Policy, now: datetime) -> datetime:
    """Expiry instant of an offer made at ``now``."""
    return now + timedelta(hours=policy.offer_ttl_hours)


def ensure_offer_open(offer: Offer, *, now: datetime) -> None:
    """Refuse to act on an offer that is no longer pending or has passed its expiry."""
    if offer.status is not OfferStatus.PENDING:
        raise HoldingNotAvailable(f"offer {offer.id} is {offer.status}", offer_id=offer.id, status=str(offer.status))
    if now >= offer.expires_at:
        raise OfferExpired(
            f"offer {offer.id} expired at {offer.expires_at.isoformat()}",
            offer_id=offer.id,
            expires_at=offer.expires_at.isoformat(),
        )


def _unavailable(holding: Holding, why: str) -> HoldingNotAvailable:
    return HoldingNotAvailable(
        f"holding {holding.id} is {holding.status}: {why}",
        holding_id=holding.id,
        status=str(holding.status),
    )


def _check_belongs(voucher: Voucher, holding: Holding) -> None:
    if holding.voucher_id != voucher.id:
        raise HoldingNotAvailable(
            f"holding {holding.id} is not part of voucher {voucher.id}",
            holding_id=holding.id,
            voucher_id=voucher.id,
        )


def _check_move(voucher: Voucher, holding: Holding, *, actor: str) -> None:
    _check_belongs(voucher, holding)
    if actor != holding.holder:
        raise NotHolder(f"{actor} does not hold {holding.id}", holding_id=holding.id, actor=actor)
    if holding.status is not HoldingStatus.LIVE:
        raise _unavailable(holding, "only a live holding can be moved")


def _check_quantity(voucher: Voucher, holding: Holding, *, units: int, today: date) -> None:
    if today >= voucher.maturity:
        raise AlreadyMatured(
            f"voucher {voucher.id} matured on {voucher.maturity.isoformat()}",
            voucher_id=voucher.id,
            maturity=voucher.maturity.isoformat(),
        )
    if isinstance(units, bool) or not isinstance(units, int) or units <= 0:
        raise InvalidAmount(f"amount must be a positive number of minor units; got {units!r}")
    holding.units.take_lowest(units)  # raises InsufficientUnits


def _check_split(voucher: Voucher, holding: Holding, units: int, policy: Policy) -> None:
    if units < holding.units.count and voucher.split_count + 1 > policy.split_limit:
        raise SplitLimitExceeded(
            f"voucher {voucher.id} has reached its limit of {policy.split_limit} splits",
            voucher_id=voucher.id,
            split_limit=policy.split_limit,
        )


def _split(
    voucher: Voucher,
    holding: Holding,
    *,
    units: int,
    part_holder: str,
    part_tier: int,
    part_status: HoldingStatus,
    new_id: NewId,
) -> Outcome:
    taken, rest = holding.units.take_lowest(units)
    part = Holding(new_id(), voucher.id, taken, part_holder, part_tier, holding.id, part_status)
    created = [part]
    if rest is not None:
        created.append(
            Holding(new_id(), voucher.id, rest, holding.holder, holding.tier, holding.id, HoldingStatus.LIVE)
        )
        voucher = replace(voucher, split_count=voucher.split_count + 1)
    return Outcome(
        superseded=(holding.with_status(HoldingStatus.SUPERSEDED),),
        created=tuple(created),
        updated=(),
        voucher=voucher,
    )


# --- issuance --------------------------------------------------------------------------------


def issue(
    *,
    voucher_id: str,
    obligor: Party,
    first_holder: Party,
    face: Money,
    issue_date: date,
    maturity: date,
    contract_ref: str,
    invoice_refs: Sequence[str],
    policy: Policy,
    obligor_has_overdue: bool,
    new_id: NewId,
) -> IssueResult:
    """The obligor confirms a payable: a voucher and its root holding ``[1, N]`` at tier 1."""
    if obligor.id == first_holder.id:
        raise SelfTransfer(f"{obligor.id} cannot issue a voucher to itself", party=obligor.id)
    if obligor.role is not Role.CORE_ENTERPRISE:
        raise WrongRole(
            f"only a core enterprise can issue; {obligor.id} is {obligor.role}",
            party=obligor.id,
            role=str(obligor.role),
        )
    if first_holder.role is not Role.SUPPLIER:
        raise WrongRole(
            f"vouchers are issued to suppliers; {first_holder.id} is {first_holder.role}",
            party=first_holder.id,
            role=str(first_holder.role),
        )
    warnings = check_issue(
        policy,
        face=face,
        issue_date=issue_date,
        maturity=maturity,
        obligor_has_overdue=obligor_has_overdue,
    )
    voucher = Voucher(
        id=voucher_id,
        obligor=obligor.id,
        first_holder=first_holder.id,
        currency=face.currency,
        face_minor=face.minor,
        issue_date=issue_date,
        maturity=maturity,
        contract_ref=contract_ref,
        invoice_refs=tuple(invoice_refs),
        split_count=0,
        status=VoucherStatus.ACTIVE,
    )
    root = Holding(new_id(), voucher.id, voucher.units, first_holder.id, 1, None, HoldingStatus.LIVE)
    return IssueResult(voucher, root, tuple(warnings))


# --- transfer --------------------------------------------------------------------------------


def offer_transfer(
    voucher: Voucher,
    holding: Holding,
    *,
    actor: str,
    recipient: Party,
    units: int,
    today: date,
    policy: Policy,
    new_id: NewId,
) -> Outcome:
    """Offer the lowest ``units`` of ``holding`` to ``recipient`` (an OFFERED part at tier + 1)."""
    _check_move(voucher, holding, actor=actor)
    if recipient.id == actor:
        raise SelfTransfer(f"{actor} cannot transfer to itself", party=actor)
    if recipient.role is not Role.SUPPLIER:
        raise WrongRole(
            f"vouchers are transferred to suppliers; {recipient.id} is {recipient.role}",
            party=recipient.id,
            role=str(recipient.role),
        )
    _check_quantity(voucher, holding, units=units, today=today)
    if holding.tier + 1 > policy.tier_limit:
        raise TierLimitExceeded(
            f"a transfer would reach tier {holding.tier + 1}; the limit is {policy.tier_limit}",
            tier=holding.tier + 1,
            tier_limit=policy.tier_limit,
        )
    _check_split(voucher, holding, units, policy)
    return _split(
        voucher,
        holding,
        units=units,
        part_holder=recipient.id,
        part_tier=holding.tier + 1,
        part_status=HoldingStatus.OFFERED,
        new_id=new_id,
    )


def accept_offer(part: Holding, *, actor: str) -> Holding:
    """The recipient accepts: the OFFERED part becomes LIVE."""
    if actor != part.holder:
        raise NotHolder(f"{actor} is not the recipient of {part.id}", holding_id=part.id, actor=actor)
    if part.status is not HoldingStatus.OFFERED:
        raise _unavailable(part, "only an offered holding can be accepted")
    return part.with_status(HoldingStatus.LIVE)


def return_offer(part: Holding, source: Holding, *, new_id: NewId) -> Outcome:
    """Rejection or expiry: the OFFERED part is retired and its units go back to the sender."""
    if part.status is not HoldingStatus.OFFERED:
        raise _unavailable(part, "only an offered holding can be returned")
    if part.parent_id != source.id or part.voucher_id != source.voucher_id:
        raise HoldingNotAvailable(
            f"{source.id} is not the source of {part.id}", holding_id=part.id, source_id=source.id
        )
    back = Holding(new_id(), part.voucher_id, part.units, source.holder, source.tier, source.id, HoldingStatus.LIVE)
    return Outcome(
        superseded=(part.with_status(HoldingStatus.SUPERSEDED),),
        created=(back,),
        updated=(),
        voucher=None,
    )


# --- financing -------------------------------------------------------------------------------


def encumber(
    voucher: Voucher,
    holding: Holding,
    *,
    actor: str,
    units: int,
    today: date,
    policy: Policy,
    new_id: NewId,
) -> Outcome:
    """A financing request: the lowest ``units`` become an ENCUMBERED part, still the actor's."""
    _check_move(voucher, holding, actor=actor)
    _check_quantity(voucher, holding, units=units, today=today)
    _check_split(voucher, holding, units, policy)
    return _split(
        voucher,
        holding,
        units=units,
        part_holder=actor,
        part_tier=holding.tier,
        part_status=HoldingStatus.ENCUMBERED,
        new_id=new_id,
    )


def fund(part: Holding, *, financier: Party, new_id: NewId) -> Outcome:
    """The financier pays: the ENCUMBERED part passes to it, at the same tier."""
    if part.status is not HoldingStatus.ENCUMBERED:
        raise _unavailable(part, "only an encumbered holding can be funded")
    if financier.role is not Role.FINANCIER:
        raise WrongRole(
            f"only a financial institution can fund; {financier.id} is {financier.role}",
            party=financier.id,
            role=str(financier.role),
        )
    if financier.id == part.holder:
        raise SelfTransfer(f"{financier.id} cannot fund its own holding", party=financier.id)
    bought = Holding(new_id(), part.voucher_id, part.units, financier.id, part.tier, part.id, HoldingStatus.LIVE)
    return Outcome(
        superseded=(part.with_status(HoldingStatus.SUPERSEDED),),
        created=(bought,),
        updated=(),
        voucher=None,
    )


def release_encumbrance(part: Holding) -> Holding:
    """The request was declined or cancelled: the ENCUMBERED part is LIVE again."""
    if part.status is not HoldingStatus.ENCUMBERED:
        raise _unavailable(part, "only an encumbered holding can be released")
    return part.with_status(HoldingStatus.LIVE)


# --- disputes --------------------------------------------------------------------------------


def freeze(voucher: Voucher, holding: Holding, sub: UnitRange, *, new_id: NewId) -> Outcome:
    """Freeze ``sub`` of a LIVE or OVERDUE holding.

    The whole holding changes status in place; a part is carved into up to three pieces
    (before and after keep the holding's status, ``sub`` is FROZEN), same holder and tier,
    parent = holding. Freezing does not count as a split.
    """
    _check_belongs(voucher, holding)
    if holding.status not in (HoldingStatus.LIVE, HoldingStatus.OVERDUE):
        raise _unavailable(holding, "only a live or overdue holding can be frozen")
    before, mid, after = holding.units.carve(sub)
    if before is None and after is None:
        return Outcome((), (), (holding.with_status(HoldingStatus.FROZEN),), voucher)
    created: list[Holding] = []
    for rng, status in ((before, holding.status), (mid, HoldingStatus.FROZEN), (after, holding.status)):
        if rng is not None:
            created.append(Holding(new_id(), voucher.id, rng, holding.holder, holding.tier, holding.id, status))
    return Outcome((holding.with_status(HoldingStatus.SUPERSEDED),), tuple(created), (), voucher)


def unfreeze(holding: Holding, *, matured_unpaid: bool) -> Holding:
    """Lift a freeze: LIVE again, or OVERDUE if the voucher has already gone through settlement."""
    if holding.status is not HoldingStatus.FROZEN:
        raise _unavailable(holding, "only a frozen holding can be unfrozen")
    return holding.with_status(HoldingStatus.OVERDUE if matured_unpaid else HoldingStatus.LIVE)


# --- settlement ------------------------------------------------------------------------------


def settle(
    voucher: Voucher,
    payable: Sequence[Holding],
    *,
    paid_minor: int,
    today: date,
    new_id: NewId,
    others: Sequence[Holding] = (),
) -> SettlementResult:
    """The obligor pays ``paid_minor`` at or after maturity against the ``payable`` holdings.

    ``payable`` are the voucher's LIVE and OVERDUE holdings (FROZEN ones wait for the
    dispute). The payment is shared pari passu by units: ``allocate`` (largest remainder,
    ties to the lowest units) over the holdings in order of their first unit. Each holding that
    gets a share, or is LIVE, is superseded by a SETTLED holding on its lowest ``share`` units
    and an OVERDUE holding on the rest (parent = the holding); an OVERDUE holding that gets
    nothing is left as it is. ``overdue_minor`` is what stays unpaid of ``payable``.

    The voucher becomes SETTLED when every unit is SETTLED, otherwise OVERDUE. Units already
    SETTLED are only known through ``others`` (the voucher's other current holdings); when
    ``others`` is given, ``payable`` + ``others`` must partition the voucher, and when it is
    omitted, units outside ``payable`` count as unpaid.
    """
    if today < voucher.maturity:
        raise NotMatured(
            f"voucher {voucher.id} matures on {voucher.maturity.isoformat()}",
            voucher_id=voucher.id,
            maturity=voucher.maturity.isoformat(),
        )
    if isinstance(paid_minor, bool) or not isinstance(paid_minor, int) or paid_minor < 0:
        raise InvalidAmount(f"payment must be a non-negative integer; got {paid_minor!r}")
    for h in payable:
        _check_belongs(voucher, h)
        if h.status not in (HoldingStatus.LIVE, HoldingStatus.OVERDUE):
            raise _unavailable(h, "only live and overdue holdings are paid")
    for h in others:
        _check_belongs(voucher, h)
        if not h.is_current:
            raise _unavailable(h, "a superseded holding is no longer part of the voucher")
    ordered = sorted(payable, key=lambda h: h.units.start)
    for a, b in pairwise(ordered):
        if a.units.overlaps(b.units):
            raise InvalidRange(f"payable holdings {a.id} and {b.id} overlap")
    if others and not is_partition([h.units for h in (*payable, *others)], voucher.face_minor):
        raise InvalidRange(f"the holdings given do not partition voucher {voucher.id}")
    due = sum(h.units.count for h in ordered)
    if paid_minor > due:
        raise Overpayment(f"payment {paid_minor} exceeds the {due} due", paid_minor=paid_minor, due_minor=due)
    shares = allocate(paid_minor, [h.units.count for h in ordered])
    superseded: list[Holding] = []
    created: list[Holding] = []
    payments: list[Payment] = []
    for h, share in zip(ordered, shares, strict=True):
        if share == 0 and h.status is HoldingStatus.OVERDUE:
            continue
        superseded.append(h.with_status(HoldingStatus.SUPERSEDED))
        if share > 0:
            paid, rest = h.units.take_lowest(share)
            created.append(Holding(new_id(), voucher.id, paid, h.holder, h.tier, h.id, HoldingStatus.SETTLED))
            payments.append(Payment(h.id, h.holder, share))
        else:
            rest = h.units
        if rest is not None:
            created.append(Holding(new_id(), voucher.id, rest, h.holder, h.tier, h.id, HoldingStatus.OVERDUE))
    settled_units = sum(h.units.count for h in created if h.status is HoldingStatus.SETTLED) + sum(
        h.units.count for h in others if h.status is HoldingStatus.SETTLED
    )
    target = VoucherStatus.SETTLED if settled_units == voucher.face_minor else VoucherStatus.OVERDUE
    new_voucher = voucher if target is voucher.status else voucher.with_status(target)
    outcome = Outcome(tuple(superseded), tuple(created), (), new_voucher)
    return SettlementResult(outcome, tuple(payments), due - paid_minor)
