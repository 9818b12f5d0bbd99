"""One handler per command kind: load what the command touches (locking it), call the pure domain
operation, store the outcome, and describe the effects for the journal.

Handlers run inside the caller's transaction and never commit. They are deterministic given the command,
the event id and the acceptance time, which is what lets a replay of the journal rebuild the same state.
Lock order, to keep PostgreSQL free of deadlocks: party (obligor) → voucher → offer/financing/freeze →
holdings.
"""

from __future__ import annotations

import base64
import binascii
import json

from tierflow.domain import operations as ops
from tierflow.domain.documents import VatInvoice, content_hash
from tierflow.domain.errors import (
    InvalidTransition,
    NotAuthorised,
    NotMatured,
    OfferExpired,
)
from tierflow.domain.financing_case import Stage
from tierflow.domain.model import (
    FinancingStatus,
    HoldingStatus,
    Offer,
    OfferStatus,
    Party,
    Role,
    VoucherStatus,
)
from tierflow.domain.money import Money
from tierflow.domain.units import UnitRange
from tierflow.domain.verification import Hop, HopKind
from tierflow.services import commands as c
from tierflow.services import trade_checks as tc
from tierflow.services.context import Context, Handler, Result
from tierflow.services.context import holding_and_voucher as _holding_and_voucher
from tierflow.services.context import ids_of as _ids
from tierflow.services.context import load_party as _party
from tierflow.services.context import locked_voucher as _voucher
from tierflow.services.context import same_currency as _same_currency
from tierflow.services.context import store_outcome as _store
from tierflow.services.documents import build_document, check_type, document_fields
from tierflow.services.errors import (
    DocumentExists,
    InvalidCommand,
    NotFound,
    UsccConflict,
)
from tierflow.services.financing_handlers import FINANCING_HANDLERS, close_case
from tierflow.services.green_handlers import GREEN_HANDLERS
from tierflow.services.ids import party_id_for
from tierflow.services.ports import DocumentRecord, FreezeRecord, Repository, SettlementRecord

# --- parties -------------------------------------------------------------------------------------------


def register_party(ctx: Context) -> Result:
    body = ctx.body
    name = c.text(body, "name")
    try:
        role = Role(c.text(body, "role"))
    except ValueError:
        raise InvalidCommand("'role' must be one of " + ", ".join(r.value for r in Role) + ".") from None
    try:
        public_key = base64.b64decode(c.text(body, "public_key"), validate=True)
    except (binascii.Error, ValueError):
        raise InvalidCommand("'public_key' must be base64.", field="public_key") from None
    if len(public_key) != 32:
        raise InvalidCommand("'public_key' must be a 32-byte Ed25519 public key.", field="public_key")
    party_id = party_id_for(public_key)
    genesis = ctx.actor is None
    if genesis:
        if role is not Role.OPERATOR or ctx.actor_id != party_id:
            raise NotAuthorised("Only the platform operator can register parties.")
    elif ctx.actor is not None and ctx.actor.role is not Role.OPERATOR:
        raise NotAuthorised("Only the platform operator can register parties.")
    if "policy" in body and not genesis:
        raise InvalidCommand("Only the genesis entry carries the platform policy.", field="policy")
    if ctx.repo.get_party(party_id) is not None:
        raise InvalidCommand("This public key is already registered.", party_id=party_id)
    party = Party(id=party_id, name=name, role=role, public_key=public_key)
    ctx.repo.add_party(party, None, ctx.event_id)
    return Result({"party_id": party_id}, {party_id})


# --- vouchers ------------------------------------------------------------------------------------------


def issue_voucher(ctx: Context) -> Result:
    obligor = ctx.require_actor()
    body = ctx.body
    first_holder = _party(ctx.repo, body.get("first_holder"), "first_holder")
    face = c.money(body)
    maturity = c.business_date(body, "maturity")
    contract_ref = c.text(body, "contract_ref")
    invoice_refs = c.refs(body, "invoice_refs")
    ctx.repo.lock_party(obligor.id)
    result = ops.issue(
        voucher_id=ctx.ids.one("vch"),
        obligor=obligor,
        first_holder=first_holder,
        face=face,
        issue_date=ctx.today,
        maturity=maturity,
        contract_ref=contract_ref,
        invoice_refs=invoice_refs,
        policy=ctx.policy,
        obligor_has_overdue=ctx.repo.obligor_has_overdue(obligor.id, ctx.today),
        new_id=ctx.ids.holding_ids,
    )
    hop = tc.issue_hop(result.voucher, *tc.parties_facts(ctx.repo, obligor, first_holder))
    checked = tc.check_hop(ctx.repo, hop, obligor_id=obligor.id, today=ctx.today, verification_id=ctx.ids.one("vrf"))
    tc.refuse_if_enforced(checked, enforce=ctx.policy.enforces_trade_checks)
    ctx.repo.add_voucher(result.voucher, ctx.event_id)
    ctx.repo.add_holdings((result.holding,), ctx.event_id)
    tc.store(ctx.repo, checked, ctx.event_id)
    return Result(
        {"voucher_id": result.voucher.id, "holding_id": result.holding.id, "trade_check": checked.summary()},
        {obligor.id, first_holder.id},
        list(result.warnings),
    )


def settle_voucher(ctx: Context) -> Result:
    obligor = ctx.require_actor()
    voucher_id = c.text(ctx.body, "voucher_id")
    paid = c.money(ctx.body)
    ctx.repo.lock_party(obligor.id)
    voucher = _voucher(ctx.repo, voucher_id)
    if voucher.obligor != obligor.id:
        raise NotFound(f"No voucher {voucher_id!r} owed by you.", voucher_id=voucher_id)
    _same_currency(paid, voucher)
    if ctx.today < voucher.maturity:
        raise NotMatured(f"The voucher matures on {voucher.maturity.isoformat()}.", maturity=str(voucher.maturity))
    concerns = {obligor.id}
    holdings = {h.id: h for h in ctx.repo.active_holdings(voucher.id, for_update=True)}
    unwound: dict[str, list[str]] = {"expired_offers": [], "cancelled_financings": []}
    # Open offers and financing requests end at maturity: the units go back to who held them.
    for offer in ctx.repo.pending_offers(voucher.id):
        part = holdings.pop(offer.holding_id)
        source = ctx.repo.get_holding(offer.source_holding_id)
        assert source is not None
        outcome = ops.return_offer(part, source, new_id=ctx.ids.holding_ids)
        _store(ctx, outcome, voucher)
        holdings.update({h.id: h for h in outcome.created})
        ctx.repo.update_offer(offer.with_status(OfferStatus.EXPIRED), ctx.event_id)
        ctx.repo.release_invoice_uses(offer.id, ctx.event_id)
        unwound["expired_offers"].append(offer.id)
        concerns.update({offer.sender, offer.recipient})
    for financing in ctx.repo.requested_financings(voucher.id):
        part = holdings[financing.holding_id]
        released = ops.release_encumbrance(part)
        ctx.repo.set_holding_status(released, ctx.event_id)
        holdings[released.id] = released
        ctx.repo.update_financing(financing.with_status(FinancingStatus.CANCELLED), ctx.event_id, None)
        close_case(ctx, financing.id, Stage.CANCELLED, note="the voucher matured before the financing was paid out")
        unwound["cancelled_financings"].append(financing.id)
        concerns.update({financing.applicant, financing.financier})
    payable = sorted(
        (h for h in holdings.values() if h.status in (HoldingStatus.LIVE, HoldingStatus.OVERDUE)),
        key=lambda h: h.units.start,
    )
    others = [h for h in holdings.values() if h.status not in (HoldingStatus.LIVE, HoldingStatus.OVERDUE)]
    settled = ops.settle(
        voucher, payable, paid_minor=paid.minor, today=ctx.today, new_id=ctx.ids.holding_ids, others=others
    )
    assert settled.outcome.voucher is not None
    _store(ctx, settled.outcome, voucher)
    settlement_id = ctx.ids.one("stl")
    payments = tuple((p.holding_id, p.holder, p.amount_minor) for p in settled.payments)
    ctx.repo.add_settlement(
        SettlementRecord(
            id=settlement_id,
            voucher_id=voucher.id,
            obligor_id=obligor.id,
            paid_minor=paid.minor,
            overdue_minor=settled.overdue_minor,
            value_date=ctx.today,
            payments=payments,
        ),
        ctx.event_id,
    )
    concerns.update(p.holder for p in settled.payments)
    concerns.update(h.holder for h in payable)
    return Result(
        {
            "settlement_id": settlement_id,
            "payments": [
                {"holding_id": h, "holder": p, "amount": Money(a, voucher.currency).to_str()} for h, p, a in payments
            ],
            "overdue": Money(settled.overdue_minor, voucher.currency).to_str(),
            "voucher_status": settled.outcome.voucher.status.value,
            "created": _ids(settled.outcome.created),
            **unwound,
        },
        concerns,
    )


# --- transfers -----------------------------------------------------------------------------------------


def offer_transfer(ctx: Context) -> Result:
    voucher, holding = _holding_and_voucher(ctx)
    recipient = _party(ctx.repo, ctx.body.get("recipient"), "recipient")
    amount = c.money(ctx.body)
    _same_currency(amount, voucher)
    trade_ref = c.text(ctx.body, "trade_ref")
    invoice_refs = c.refs(ctx.body, "invoice_refs")
    outcome = ops.offer_transfer(
        voucher,
        holding,
        actor=ctx.actor_id,
        recipient=recipient,
        units=amount.minor,
        today=ctx.today,
        policy=ctx.policy,
        new_id=ctx.ids.holding_ids,
    )
    _store(ctx, outcome, voucher)
    offered = next(h for h in outcome.created if h.status is HoldingStatus.OFFERED)
    offer = Offer(
        id=ctx.ids.one("ofr"),
        voucher_id=voucher.id,
        holding_id=offered.id,
        source_holding_id=holding.id,
        sender=ctx.actor_id,
        recipient=recipient.id,
        units_minor=amount.minor,
        trade_ref=trade_ref,
        invoice_refs=invoice_refs,
        expires_at=ctx.at + ctx.offer_ttl,
        status=OfferStatus.PENDING,
    )
    sender_facts, recipient_facts = tc.parties_facts(ctx.repo, ctx.require_actor(), recipient)
    hop = Hop(
        id=offer.id,
        kind=HopKind.TRANSFER,
        voucher_id=voucher.id,
        from_party=sender_facts,
        to_party=recipient_facts,
        hop_date=ctx.today,
        maturity=voucher.maturity,
        amount_minor=amount.minor,
        currency=amount.currency,
        invoice_numbers=invoice_refs,
        contract_number=trade_ref,
    )
    checked = tc.check_hop(
        ctx.repo, hop, obligor_id=voucher.obligor, today=ctx.today, verification_id=ctx.ids.one("vrf")
    )
    tc.refuse_if_enforced(checked, enforce=ctx.policy.enforces_trade_checks)
    ctx.repo.add_offer(offer, ctx.event_id)
    tc.store(ctx.repo, checked, ctx.event_id)
    change = [h.id for h in outcome.created if h.status is HoldingStatus.LIVE]
    return Result(
        {
            "offer_id": offer.id,
            "offered_holding_id": offered.id,
            "change_holding_id": change[0] if change else None,
            "expires_at": offer.expires_at.isoformat().replace("+00:00", "Z"),
            "trade_check": checked.summary(),
        },
        {ctx.actor_id, recipient.id, voucher.obligor},
    )


def _offer(ctx: Context) -> Offer:
    offer_id = c.text(ctx.body, "offer_id")
    found = ctx.repo.get_offer(offer_id)
    if found is not None:
        _voucher(ctx.repo, found.voucher_id)  # lock order: voucher first
    offer = ctx.repo.get_offer(offer_id, for_update=True)
    actor = ctx.require_actor()
    allowed = offer is not None and (actor.id in (offer.recipient, offer.sender) or actor.role is Role.OPERATOR)
    if offer is None or not allowed:
        raise NotFound(f"No offer {offer_id!r} for you.", offer_id=offer_id)
    return offer


def accept_transfer(ctx: Context) -> Result:
    offer = _offer(ctx)
    if offer.recipient != ctx.actor_id:
        raise NotAuthorised("Only the recipient can accept an offer.", offer_id=offer.id)
    if offer.status is OfferStatus.PENDING and ctx.at >= offer.expires_at:
        raise OfferExpired("The offer expired at " + offer.expires_at.isoformat() + ".", offer_id=offer.id)
    accepted = offer.with_status(OfferStatus.ACCEPTED)
    part = ctx.repo.get_holding(offer.holding_id, for_update=True)
    assert part is not None
    live = ops.accept_offer(part, actor=ctx.actor_id)
    ctx.repo.set_holding_status(live, ctx.event_id)
    ctx.repo.update_offer(accepted, ctx.event_id)
    return Result({"offer_id": offer.id, "holding_id": live.id}, {offer.sender, offer.recipient})


def _return(ctx: Context, offer: Offer, status: OfferStatus) -> Result:
    ended = offer.with_status(status)
    part = ctx.repo.get_holding(offer.holding_id, for_update=True)
    source = ctx.repo.get_holding(offer.source_holding_id)
    assert part is not None and source is not None
    voucher = _voucher(ctx.repo, offer.voucher_id)
    outcome = ops.return_offer(part, source, new_id=ctx.ids.holding_ids)
    _store(ctx, outcome, voucher)
    ctx.repo.update_offer(ended, ctx.event_id)
    ctx.repo.release_invoice_uses(offer.id, ctx.event_id)
    return Result(
        {"offer_id": offer.id, "returned_holding_id": outcome.created[0].id},
        {offer.sender, offer.recipient},
    )


def reject_transfer(ctx: Context) -> Result:
    offer = _offer(ctx)
    if offer.recipient != ctx.actor_id:
        raise NotAuthorised("Only the recipient can reject an offer.", offer_id=offer.id)
    c.optional_text(ctx.body, "reason")
    return _return(ctx, offer, OfferStatus.REJECTED)


def expire_transfer(ctx: Context) -> Result:
    offer = _offer(ctx)
    if ctx.require_actor().role is not Role.OPERATOR:
        raise NotAuthorised("Offers are expired by the platform operator.")
    if offer.status is OfferStatus.PENDING and ctx.at < offer.expires_at:
        raise InvalidCommand("The offer has not expired yet.", expires_at=offer.expires_at.isoformat())
    return _return(ctx, offer, OfferStatus.EXPIRED)


# --- disputes ------------------------------------------------------------------------------------------


def freeze_holding(ctx: Context) -> Result:
    if ctx.require_actor().role is not Role.OPERATOR:
        raise NotAuthorised("Disputed units are frozen by the platform operator.")
    voucher, holding = _holding_and_voucher(ctx)
    sub = UnitRange(c.integer(ctx.body, "start_unit"), c.integer(ctx.body, "end_unit"))
    reason = c.text(ctx.body, "reason", max_len=1000)
    outcome = ops.freeze(voucher, holding, sub, new_id=ctx.ids.holding_ids)
    _store(ctx, outcome, voucher)
    # Freezing a whole holding changes it in place (``updated``); a part is carved out (``created``).
    frozen = next(h for h in (*outcome.created, *outcome.updated) if h.status is HoldingStatus.FROZEN)
    freeze_id = ctx.ids.one("frz")
    ctx.repo.add_freeze(
        FreezeRecord(id=freeze_id, voucher_id=voucher.id, holding_id=frozen.id, reason=reason, status="active"),
        ctx.event_id,
    )
    return Result(
        {"freeze_id": freeze_id, "frozen_holding_id": frozen.id, "created": _ids(outcome.created)},
        {holding.holder, voucher.obligor},
    )


def release_freeze(ctx: Context) -> Result:
    if ctx.require_actor().role is not Role.OPERATOR:
        raise NotAuthorised("Frozen units are released by the platform operator.")
    freeze_id = c.text(ctx.body, "freeze_id")
    found = ctx.repo.get_freeze(freeze_id)
    if found is None:
        raise NotFound(f"No freeze {freeze_id!r}.", freeze_id=freeze_id)
    voucher = _voucher(ctx.repo, found.voucher_id)
    freeze = ctx.repo.get_freeze(freeze_id, for_update=True)
    assert freeze is not None
    if freeze.status != "active":
        raise InvalidTransition("This freeze has already been released.", freeze_id=freeze_id)
    holding = ctx.repo.get_holding(freeze.holding_id, for_update=True)
    assert holding is not None
    released = ops.unfreeze(holding, matured_unpaid=voucher.status is VoucherStatus.OVERDUE)
    ctx.repo.set_holding_status(released, ctx.event_id)
    ctx.repo.release_freeze(freeze_id, ctx.event_id)
    return Result(
        {"freeze_id": freeze_id, "holding_id": released.id, "status": released.status.value},
        {holding.holder, voucher.obligor},
    )


# --- trade documents -----------------------------------------------------------------------------------

DOCUMENT_SOURCES = ("json", "csv", "xml")


def _check_uscc_bindings(repo: Repository, invoice: VatInvoice, seller: str, buyer: str) -> None:
    """A USCC names one party: an invoice may not tie a USCC to another party than earlier invoices did, nor
    give a party another USCC than before."""
    claimed = {invoice.seller_uscc: seller, invoice.buyer_uscc: buyer}
    for uscc, party in repo.uscc_bindings(sorted(claimed)):
        if claimed[uscc] != party:
            raise UsccConflict(
                f"USCC {uscc} belongs to party {party} on earlier invoices, not to {claimed[uscc]}.",
                uscc=uscc,
                party=party,
                claimed_by=claimed[uscc],
            )
    owned = {seller: invoice.seller_uscc, buyer: invoice.buyer_uscc}
    for party, uscc in repo.party_usccs(sorted(owned)):
        if owned[party] != uscc:
            raise UsccConflict(
                f"Party {party} has USCC {uscc} on earlier invoices, not {owned[party]}.",
                uscc=owned[party],
                party=party,
                recorded_uscc=uscc,
            )


def register_document(ctx: Context) -> Result:
    """Registers a trade document. The registering party must be its seller or its buyer: by the party ids in the
    fields for contracts and delivery notes; for an invoice, which names the parties by USCC, by the party ids
    given in ``seller_party``/``buyer_party`` (parties have no USCC on file), the first invoice to tie a USCC to
    a party fixing that pairing for later ones."""
    ctx.require_actor()
    body = ctx.body
    doc_type = check_type(body.get("type"))
    source = body.get("source", "json")
    if source not in DOCUMENT_SOURCES:
        raise InvalidCommand("'source' must be one of " + ", ".join(DOCUMENT_SOURCES) + ".", field="source")
    document = build_document(doc_type, body.get("fields"))
    if isinstance(document, VatInvoice):
        for name in ("seller_party", "buyer_party"):
            if name not in body:
                raise InvalidCommand(f"A vat_invoice registration names the '{name}' (a party id).", field=name)
        seller = _party(ctx.repo, body.get("seller_party"), "seller_party")
        buyer = _party(ctx.repo, body.get("buyer_party"), "buyer_party")
        if seller.id == buyer.id:
            raise InvalidCommand("'seller_party' and 'buyer_party' must differ.", field="buyer_party")
    else:
        for name in ("seller_party", "buyer_party"):
            if name in body:
                raise InvalidCommand(f"'{name}' is given only for a vat_invoice.", field=name)
        seller = _party(ctx.repo, document.seller, "fields.seller")
        buyer = _party(ctx.repo, document.buyer, "fields.buyer")
    if ctx.actor_id not in (seller.id, buyer.id):
        raise NotAuthorised("Only the document's seller or buyer can register it.", document=doc_type)
    existing = ctx.repo.get_document_by_number(doc_type, document.number)
    if existing is not None:
        raise DocumentExists(
            f"The {doc_type} {document.number} is already registered as {existing.id}.",
            document_id=existing.id,
            registered_by=existing.registered_by,
            content_hash=existing.content_hash,
        )
    if isinstance(document, VatInvoice):
        _check_uscc_bindings(ctx.repo, document, seller.id, buyer.id)
    digest = content_hash(document)
    record = DocumentRecord(
        id=ctx.ids.one("doc"),
        type=doc_type,
        number=document.number,
        registered_by=ctx.actor_id,
        seller_id=seller.id,
        buyer_id=buyer.id,
        seller_uscc=document.seller_uscc if isinstance(document, VatInvoice) else None,
        buyer_uscc=document.buyer_uscc if isinstance(document, VatInvoice) else None,
        fields=json.dumps(document_fields(document), sort_keys=True, separators=(",", ":"), ensure_ascii=False),
        content_hash=digest,
        source=str(source),
    )
    ctx.repo.add_document(record, ctx.event_id)
    if isinstance(document, VatInvoice):
        ctx.repo.bind_usccs([(seller.id, document.seller_uscc), (buyer.id, document.buyer_uscc)], ctx.event_id)
    return Result(
        {"document_id": record.id, "type": doc_type, "number": document.number, "content_hash": digest},
        {seller.id, buyer.id},
    )


HANDLERS: dict[str, Handler] = {
    "party.register": register_party,
    "voucher.issue": issue_voucher,
    "voucher.settle": settle_voucher,
    "transfer.offer": offer_transfer,
    "transfer.accept": accept_transfer,
    "transfer.reject": reject_transfer,
    "transfer.expire": expire_transfer,
    **FINANCING_HANDLERS,
    **GREEN_HANDLERS,
    "holding.freeze": freeze_holding,
    "freeze.release": release_freeze,
    "document.register": register_document,
}
