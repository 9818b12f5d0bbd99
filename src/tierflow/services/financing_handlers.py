"""Financing handlers: the ledger's side of a financing (units encumbered, sold to the institution or
released) and the case around it (``tierflow.domain.financing_case``), one signed command per transition.

Outside services (e-signature, the registry, the bank) are never called here: the workflow service
(``tierflow.services.financing_case``) calls them first and the command records what they answered (a
signed contract's hash, a registry number, a payment message's hash and the bank's reference), so that a
replay of the journal rebuilds every case exactly.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import replace
from datetime import date
from typing import Any

from tierflow.domain import operations as ops
from tierflow.domain.errors import (
    InvalidTransition,
    NotAuthorised,
    NotMatured,
    Overpayment,
    SelfTransfer,
    WrongRole,
)
from tierflow.domain.financing_case import MAX_USER, POST_LOAN, Stage, advance, check_maker_checker, outstanding_minor
from tierflow.domain.model import Financing, FinancingStatus, Holding, HoldingStatus, Party, Role, Voucher
from tierflow.domain.money import Money
from tierflow.domain.pricing import DayCount, quote
from tierflow.domain.verification import Hop, HopKind
from tierflow.services import commands as c
from tierflow.services import trade_checks as tc
from tierflow.services.context import Context, Handler, Result
from tierflow.services.context import holding_and_voucher as _holding_and_voucher
from tierflow.services.context import load_party as _party
from tierflow.services.context import locked_voucher as _voucher
from tierflow.services.context import same_currency as _same_currency
from tierflow.services.context import store_outcome as _store
from tierflow.services.errors import InvalidCommand, NotFound, RepaymentRecorded, TradeCheckFailed
from tierflow.services.green_handlers import effective_rate, parse_terms
from tierflow.services.ports import CaseRecord, CaseStep, RepaymentRecord

RECOMMENDATIONS = ("approve", "decline")


def _basis(body: Mapping[str, Any]) -> DayCount:
    value = body.get("basis", DayCount.ACT_360.value)
    try:
        return DayCount(value)
    except ValueError:
        raise InvalidCommand(
            "'basis' must be one of " + ", ".join(d.value for d in DayCount) + ".", field="basis"
        ) from None


def request_financing(ctx: Context) -> Result:
    """Collects a financing request and runs the trade checks on it at once (the case's first two stages).

    A failing verdict on a platform that enforces the checks rejects the request: it is recorded (the
    institution sees the attempt, and which rule caught it) but nothing is encumbered."""
    voucher, holding = _holding_and_voucher(ctx)
    financier = _party(ctx.repo, ctx.body.get("financier"), "financier")
    if financier.role is not Role.FINANCIER:
        raise WrongRole("Financing is requested from a financial institution.", party=financier.id)
    if financier.id == ctx.actor_id:
        raise SelfTransfer("An institution cannot finance its own holding.", party=financier.id)
    amount = c.money(ctx.body)
    _same_currency(amount, voucher)
    fee = c.money(ctx.body, "fee") if "fee" in ctx.body else Money(0, amount.currency)
    annual_rate = c.rate(ctx.body, "annual_rate")
    basis = _basis(ctx.body)
    recourse = c.optional_bool(ctx.body, "recourse", default=True)
    link = parse_terms(ctx.body["sustainability_link"])[1] if "sustainability_link" in ctx.body else None
    priced = quote(
        amount,
        annual_rate=annual_rate,
        value_date=ctx.today,
        maturity=voucher.maturity,
        basis=basis,
        fee_minor=fee.minor,
    )
    financing_id = ctx.ids.one("fin")
    checked = _check_financing(ctx, voucher, holding, financier, financing_id, amount)
    rejected = checked is not None and checked.failed and ctx.policy.enforces_trade_checks
    # The request must be one the ledger could take even when the checks reject it: the units must be there.
    outcome = ops.encumber(
        voucher,
        holding,
        actor=ctx.actor_id,
        units=amount.minor,
        today=ctx.today,
        policy=ctx.policy,
        new_id=ctx.ids.holding_ids,
    )
    if rejected:
        part_id = holding.id  # nothing is encumbered; the record points at the holding the request named
    else:
        _store(ctx, outcome, voucher)
        part_id = next(h for h in outcome.created if h.status is HoldingStatus.ENCUMBERED).id
    financing = Financing(
        id=financing_id,
        voucher_id=voucher.id,
        holding_id=part_id,
        applicant=ctx.actor_id,
        financier=financier.id,
        amount_minor=amount.minor,
        currency=amount.currency,
        annual_rate=annual_rate,
        basis=basis,
        value_date=ctx.today,
        maturity=voucher.maturity,
        discount_minor=priced.discount.minor,
        fee_minor=priced.fee.minor,
        net_minor=priced.net.minor,
        status=FinancingStatus.DECLINED if rejected else FinancingStatus.REQUESTED,
    )
    ctx.repo.add_financing(financing, ctx.event_id)
    if link is not None:
        ctx.repo.put_sll_terms(financing.id, json.dumps(link, sort_keys=True, separators=(",", ":")), ctx.event_id)
    stage = Stage.REJECTED if rejected else Stage.VERIFIED
    if checked is not None:
        tc.store(ctx.repo, checked, ctx.event_id, record_usage=not rejected)
    ctx.repo.put_case(
        CaseRecord(
            financing_id=financing_id,
            stage=stage.value,
            recourse=recourse,
            verification_id=checked.record.id if checked is not None else None,
        ),
        ctx.event_id,
    )
    note = "trade checks: " + (checked.verdict.outcome.value if checked is not None else "not run")
    _step(ctx, financing_id, stage, note=note)
    effects: dict[str, Any] = {
        "financing_id": financing.id,
        "stage": stage.value,
        "recourse": recourse,
        "quote": _quote_json(priced, amount.currency),
        "trade_check": checked.summary() if checked is not None else None,
    }
    if link is not None:
        effects["sustainability_link"] = link
    if not rejected:
        effects["encumbered_holding_id"] = part_id
    return Result(effects, {ctx.actor_id, financier.id, voucher.obligor})


def _check_financing(
    ctx: Context, voucher: Voucher, holding: Holding, financier: Party, financing_id: str, amount: Money
) -> tc.Checked | None:
    backing = tc.backing_hop(ctx.repo, voucher, holding)
    if backing is None:
        if ctx.policy.enforces_trade_checks:
            raise TradeCheckFailed(
                "No issue or accepted transfer on the platform brought these units to you, so the trade behind "
                "them cannot be checked.",
                holding_id=holding.id,
            )
        return None
    contract_ref = c.text(ctx.body, "contract_ref") if "contract_ref" in ctx.body else backing.contract_number
    invoice_refs = c.refs(ctx.body, "invoice_refs") if "invoice_refs" in ctx.body else backing.invoice_numbers
    applicant_facts, financier_facts = tc.parties_facts(ctx.repo, ctx.require_actor(), financier)
    hop = Hop(
        id=financing_id,
        kind=HopKind.FINANCING,
        voucher_id=voucher.id,
        from_party=applicant_facts,
        to_party=financier_facts,
        hop_date=ctx.today,
        maturity=voucher.maturity,
        amount_minor=amount.minor,
        currency=amount.currency,
        invoice_numbers=tuple(invoice_refs),
        contract_number=contract_ref,
        backing=backing,
    )
    return tc.check_hop(ctx.repo, hop, obligor_id=voucher.obligor, today=ctx.today, verification_id=ctx.ids.one("vrf"))


def _step(ctx: Context, financing_id: str, stage: Stage, *, user: str | None = None, note: str | None = None) -> None:
    ctx.repo.add_case_step(
        CaseStep(
            financing_id, stage.value, ctx.actor_id, user, note or None, ctx.at.isoformat().replace("+00:00", "Z")
        ),
        ctx.event_id,
    )


def close_case(ctx: Context, financing_id: str, stage: Stage, *, note: str, user: str | None = None) -> None:
    """End a case before disbursement (declined, cancelled): its invoice usage is released."""
    case = ctx.repo.get_case(financing_id, for_update=True)
    if case is not None:
        ctx.repo.put_case(replace(case, stage=stage.value), ctx.event_id)
        _step(ctx, financing_id, stage, user=user, note=note)
    ctx.repo.release_invoice_uses(financing_id, ctx.event_id)


def _quote_json(priced: Any, currency: str) -> dict[str, Any]:
    return {
        "days": priced.days,
        "discount": priced.discount.to_str(),
        "fee": priced.fee.to_str(),
        "net": priced.net.to_str(),
        "currency": currency,
    }


def _financing(ctx: Context, *, operator_too: bool = False) -> Financing:
    financing_id = c.text(ctx.body, "financing_id")
    financing = ctx.repo.get_financing(financing_id)
    allowed = financing is not None and (
        ctx.actor_id in (financing.applicant, financing.financier)
        or (operator_too and ctx.require_actor().role is Role.OPERATOR)
    )
    if financing is None or not allowed:
        raise NotFound(f"No financing {financing_id!r} for you.", financing_id=financing_id)
    _voucher(ctx.repo, financing.voucher_id)  # lock order: voucher first
    locked = ctx.repo.get_financing(financing_id, for_update=True)
    assert locked is not None
    return locked


def _case(ctx: Context, financing: Financing) -> CaseRecord:
    case = ctx.repo.get_case(financing.id, for_update=True)
    if case is None:
        raise InvalidTransition(f"financing {financing.id} has no case to advance", financing_id=financing.id)
    return case


def _move(
    ctx: Context, case: CaseRecord, stage: Stage, *, user: str | None = None, note: str | None = None, **changes: Any
) -> CaseRecord:
    new_stage = advance(Stage(case.stage), stage, financing_id=case.financing_id)
    updated = replace(case, stage=new_stage.value, **changes)
    ctx.repo.put_case(updated, ctx.event_id)
    _step(ctx, case.financing_id, new_stage, user=user, note=note)
    return updated


def _only(ctx: Context, party_id: str, what: str) -> None:
    if ctx.actor_id != party_id:
        raise NotAuthorised(f"Only the {what} can do this.")


def _user(ctx: Context, *, required: bool = True) -> str | None:
    if not required and "user" not in ctx.body:
        return None
    return c.text(ctx.body, "user", max_len=MAX_USER).strip()


def _moved(financing: Financing, case: CaseRecord, **extra: Any) -> Result:
    return Result(
        {"financing_id": financing.id, "stage": case.stage, **extra}, {financing.applicant, financing.financier}
    )


# --- review: maker and checker -------------------------------------------------------------------------


def review_financing(ctx: Context) -> Result:
    """The maker's review: a recommendation to approve or decline, by a named person of the institution."""
    financing = _financing(ctx)
    _only(ctx, financing.financier, "financial institution asked")
    recommendation = ctx.body.get("recommendation")
    if recommendation not in RECOMMENDATIONS:
        raise InvalidCommand("'recommendation' must be 'approve' or 'decline'.", field="recommendation")
    user = _user(ctx)
    note = c.optional_text(ctx.body, "note")
    case = _move(
        ctx, _case(ctx, financing), Stage.REVIEWED, user=user, note=note, maker=user, recommendation=recommendation
    )
    return _moved(financing, case, maker=user, recommendation=recommendation)


def approve_financing(ctx: Context) -> Result:
    """The checker's approval: a second person, who agrees with the maker's recommendation to approve."""
    financing = _financing(ctx)
    _only(ctx, financing.financier, "financial institution asked")
    user = _user(ctx)
    assert user is not None
    case = _case(ctx, financing)
    if Stage(case.stage) is Stage.REVIEWED:
        check_maker_checker(case.maker, user)
        if case.recommendation != "approve":
            raise InvalidTransition(
                f"{case.maker} recommended declining this financing; the checker may decline it, not approve it",
                financing_id=financing.id,
            )
    case = _move(ctx, case, Stage.APPROVED, user=user, note=c.optional_text(ctx.body, "note"), checker=user)
    return _moved(financing, case, maker=case.maker, checker=user)


# --- contract, registration, disbursement --------------------------------------------------------------


def sign_financing(ctx: Context) -> Result:
    """Records a PAdES signature on the financing contract: the applicant signs first, the institution
    countersigns the file the applicant signed. The workflow service verified the signatures before sending."""
    financing = _financing(ctx)
    number = c.text(ctx.body, "contract_number", max_len=40)
    digest = c.sha256_hex(ctx.body, "contract_sha256")
    case = _case(ctx, financing)
    if ctx.actor_id == financing.applicant:
        case = _move(ctx, case, Stage.SIGNED_BY_APPLICANT, contract_number=number, contract_sha256=digest)
    else:
        if number != case.contract_number:
            raise InvalidCommand(
                f"The applicant signed contract {case.contract_number}, not {number}.", field="contract_number"
            )
        if digest == case.contract_sha256:
            raise InvalidCommand("The countersigned contract must differ from the one the applicant signed.")
        case = _move(ctx, case, Stage.CONTRACTED, user=_user(ctx, required=False), contract_sha256=digest)
    return _moved(financing, case, contract_number=number, contract_sha256=digest)


def register_financing(ctx: Context) -> Result:
    """Records the registration of the assignment with the financing registry (its registration number)."""
    financing = _financing(ctx)
    _only(ctx, financing.financier, "financial institution asked")
    number = c.text(ctx.body, "registry_number", max_len=40)
    case = _move(ctx, _case(ctx, financing), Stage.REGISTERED, user=_user(ctx, required=False), registry_number=number)
    return _moved(financing, case, registry_number=number)


def fund_financing(ctx: Context) -> Result:
    """Disbursement: the institution's bank accepted the ``pain.001`` payment, and the units pass to it."""
    financing = _financing(ctx)
    _only(ctx, financing.financier, "financial institution asked")
    message_id = c.text(ctx.body, "payment_message_id", max_len=35)
    payment_sha256 = c.sha256_hex(ctx.body, "payment_sha256")
    bank_reference = c.text(ctx.body, "bank_reference", max_len=64)
    case = _move(
        ctx,
        _case(ctx, financing),
        Stage.DISBURSED,
        user=_user(ctx, required=False),
        payment_message_id=message_id,
        payment_sha256=payment_sha256,
        bank_reference=bank_reference,
    )
    funded = financing.with_status(FinancingStatus.FUNDED)
    part = ctx.repo.get_holding(financing.holding_id, for_update=True)
    assert part is not None
    # Sustainability-linked terms move the rate by the credited KPI steps certified so far.
    rate, linked = effective_rate(ctx, financing)
    priced = quote(
        Money(financing.amount_minor, financing.currency),
        annual_rate=rate,
        value_date=ctx.today,
        maturity=financing.maturity,
        basis=financing.basis,
        fee_minor=financing.fee_minor,
    )
    outcome = ops.fund(part, financier=ctx.require_actor(), new_id=ctx.ids.holding_ids)
    ctx.repo.supersede(outcome.superseded, ctx.event_id)
    ctx.repo.add_holdings(outcome.created, ctx.event_id)
    funded = _replace_price(funded, ctx.today, priced)
    ctx.repo.update_financing(funded, ctx.event_id, outcome.created[0].id)
    return _moved(
        financing,
        case,
        holding_id=outcome.created[0].id,
        quote=_quote_json(priced, financing.currency),
        payment_message_id=message_id,
        payment_sha256=payment_sha256,
        bank_reference=bank_reference,
        **({"sustainability_link": linked} if linked is not None else {}),
    )


def _replace_price(financing: Financing, value_date: date, priced: Any) -> Financing:
    return replace(
        financing,
        value_date=value_date,
        discount_minor=priced.discount.minor,
        fee_minor=priced.fee.minor,
        net_minor=priced.net.minor,
    )


def _end_financing(ctx: Context, status: FinancingStatus, stage: Stage, who: str, note: str) -> Result:
    financing = _financing(ctx)
    if who != ctx.actor_id:
        raise NotAuthorised(
            f"Only the {'financier' if status is FinancingStatus.DECLINED else 'applicant'} can do this."
        )
    user = _user(ctx, required=False)
    _move(ctx, _case(ctx, financing), stage, user=user, note=note)
    ctx.repo.release_invoice_uses(financing.id, ctx.event_id)
    ended = financing.with_status(status)
    part = ctx.repo.get_holding(financing.holding_id, for_update=True)
    assert part is not None
    released = ops.release_encumbrance(part)
    ctx.repo.set_holding_status(released, ctx.event_id)
    ctx.repo.update_financing(ended, ctx.event_id, None)
    return Result(
        {"financing_id": financing.id, "holding_id": released.id, "stage": stage.value},
        {financing.applicant, financing.financier},
    )


def decline_financing(ctx: Context) -> Result:
    reason = c.optional_text(ctx.body, "reason")
    financing_id = c.text(ctx.body, "financing_id")
    found = ctx.repo.get_financing(financing_id)
    return _end_financing(ctx, FinancingStatus.DECLINED, Stage.DECLINED, found.financier if found else "", reason)


def cancel_financing(ctx: Context) -> Result:
    financing_id = c.text(ctx.body, "financing_id")
    found = ctx.repo.get_financing(financing_id)
    return _end_financing(ctx, FinancingStatus.CANCELLED, Stage.CANCELLED, found.applicant if found else "", "")


# --- post-loan -----------------------------------------------------------------------------------------


def repay_financing(ctx: Context) -> Result:
    """A repayment the institution's bank reported (a ``camt.054`` credit), reconciled to this financing.
    Repaid in full, the case closes."""
    financing = _financing(ctx)
    _only(ctx, financing.financier, "financial institution asked")
    entry_ref = c.text(ctx.body, "entry_ref", max_len=80)
    paid = c.money(ctx.body)
    if paid.currency != financing.currency:
        raise InvalidCommand(f"The financing is in {financing.currency}, not {paid.currency}.", field="currency")
    if not paid.is_positive:
        raise InvalidCommand("A repayment must be positive.", field="amount")
    booking_date = c.business_date(ctx.body, "booking_date")
    payer = c.optional_text(ctx.body, "payer", max_len=140) or None
    case = _case(ctx, financing)
    if Stage(case.stage) not in POST_LOAN:
        raise InvalidTransition(
            f"financing {financing.id} is {case.stage}; repayments are taken once it is disbursed",
            financing_id=financing.id,
        )
    if ctx.repo.repayment(entry_ref) is not None:
        raise RepaymentRecorded(f"The bank entry {entry_ref} is already reconciled.", entry_ref=entry_ref)
    owed = outstanding_minor(financing.amount_minor, case.repaid_minor)
    if paid.minor > owed:
        raise Overpayment(
            f"{paid} exceeds the {Money(owed, financing.currency)} still owed on {financing.id}",
            owed=Money(owed, financing.currency).to_str(),
        )
    ctx.repo.add_repayment(
        RepaymentRecord(entry_ref, financing.id, paid.minor, paid.currency, booking_date, payer), ctx.event_id
    )
    repaid = case.repaid_minor + paid.minor
    if repaid == financing.amount_minor:
        case = _move(ctx, case, Stage.CLOSED, note=f"repaid in full by bank entry {entry_ref}", repaid_minor=repaid)
    else:
        case = replace(case, repaid_minor=repaid)
        ctx.repo.put_case(case, ctx.event_id)
        _step(ctx, financing.id, Stage(case.stage), note=f"repayment {paid} (bank entry {entry_ref})")
    left = Money(financing.amount_minor - repaid, financing.currency)
    return _moved(financing, case, repaid=Money(repaid, financing.currency).to_str(), outstanding=left.to_str())


def mark_overdue(ctx: Context) -> Result:
    """Past maturity with money still owed: the case goes overdue (the institution, or the operator's sweep)."""
    financing = _financing(ctx, operator_too=True)
    if ctx.require_actor().role is not Role.OPERATOR:
        _only(ctx, financing.financier, "financial institution asked or the platform operator")
    if ctx.today <= financing.maturity:
        raise NotMatured(
            f"The financing matures on {financing.maturity.isoformat()}.", maturity=financing.maturity.isoformat()
        )
    case = _case(ctx, financing)
    owed = outstanding_minor(financing.amount_minor, case.repaid_minor)
    note = f"{Money(owed, financing.currency)} unpaid after maturity on {financing.maturity.isoformat()}"
    case = _move(ctx, case, Stage.OVERDUE, note=note)
    voucher = ctx.repo.get_voucher(financing.voucher_id)
    concerns = {financing.applicant, financing.financier} | ({voucher.obligor} if voucher else set())
    return Result(
        {"financing_id": financing.id, "stage": case.stage, "outstanding": Money(owed, financing.currency).to_str()},
        concerns,
    )


def claim_recourse(ctx: Context) -> Result:
    """With recourse in the terms, the institution turns to the applicant for what the obligor did not pay."""
    financing = _financing(ctx)
    _only(ctx, financing.financier, "financial institution asked")
    case = _case(ctx, financing)
    if not case.recourse:
        raise NotAuthorised(
            f"financing {financing.id} was granted without recourse: the applicant owes nothing if the obligor "
            "does not pay",
            financing_id=financing.id,
        )
    owed = Money(outstanding_minor(financing.amount_minor, case.repaid_minor), financing.currency)
    note = c.optional_text(ctx.body, "note") or f"recourse to the applicant for {owed}"
    case = _move(ctx, case, Stage.RECOURSE, user=_user(ctx, required=False), note=note)
    return _moved(financing, case, claimed=owed.to_str(), from_party=financing.applicant)


FINANCING_HANDLERS: dict[str, Handler] = {
    "financing.request": request_financing,
    "financing.review": review_financing,
    "financing.approve": approve_financing,
    "financing.sign": sign_financing,
    "financing.register": register_financing,
    "financing.fund": fund_financing,
    "financing.decline": decline_financing,
    "financing.cancel": cancel_financing,
    "financing.repay": repay_financing,
    "financing.overdue": mark_overdue,
    "financing.recourse": claim_recourse,
}
