"""Supplier pages: the wallet, split and transfer, incoming and outgoing offers, financing with its price.

What a supplier's accountant does here: look at its holdings (by status, with what each is worth and when it
matures), split a holding and offer a part to one of its own suppliers, accept or reject what others offer it,
and ask a bank to finance part of a holding after seeing the price (discount, fee, net proceeds) the ledger
will fix. Reads go through ``QueryService`` with the supplier as the viewer; actions are signed commands
(``actions.act``), so the ledger's rules decide and this module only turns form fields into command bodies
with messages a person can act on.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import date
from decimal import Decimal
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, Response

from tierflow.bootstrap import Platform
from tierflow.domain.errors import DomainError, ErrorKind, HoldingNotAvailable
from tierflow.domain.money import Money
from tierflow.domain.pricing import DayCount, Quote, quote
from tierflow.portal.access import SupplierActor, SupplierArea, Viewer, platform_of
from tierflow.portal.actions import act
from tierflow.portal.forms import (
    Field,
    FormProblem,
    LongField,
    ObjectId,
    ShortField,
    days_to,
    directory,
    error_status,
    parse_amount,
    parse_rate,
    parse_refs,
    percent,
    refused,
    today_of,
)
from tierflow.portal.render import done, page

router = APIRouter(prefix="/portal/supplier", tags=["portal"], include_in_schema=False)

PAGE_SIZE = 50
BASE = "/portal/supplier"

Cursor = Annotated[str | None, Query(max_length=128)]
WalletStatus = Literal["", "live", "offered", "encumbered", "frozen", "overdue", "settled"]
STATUSES: tuple[str, ...] = ("live", "offered", "encumbered", "frozen", "overdue", "settled")


# --- reading forms ---------------------------------------------------------------------------------------


class NotLive(DomainError):
    """The holding was spent, offered or encumbered meanwhile (another tab, a double click): a conflict (409)."""

    code = "holding_not_live"
    kind = ErrorKind.CONFLICT


def _not_live(status: str) -> str:
    return (
        f"This holding is {status} now: only a live holding of yours can be transferred or financed. "
        "Your wallet shows what you hold."
    )


def _must_be_live(viewer: Viewer, holding: dict[str, Any]) -> None:
    if holding["status"] != "live" or holding["holder"] != viewer.party.id:
        raise NotLive(_not_live(str(holding["status"])))


def _at_most(amount: Money, holding: dict[str, Any]) -> None:
    available = Money.parse(str(holding["amount"]["amount"]), str(holding["amount"]["currency"]))
    if amount > available:
        raise FormProblem(f"The holding is {available}; the amount cannot be more than that.")


@dataclass(slots=True)
class TransferForm:
    recipient: str = ""
    amount: str = ""
    trade_ref: str = ""
    invoices: str = ""


@dataclass(slots=True)
class FinanceForm:
    financier: str = ""
    amount: str = ""
    rate: str = ""
    fee: str = ""
    basis: str = DayCount.ACT_360.value


# --- reading the ledger ----------------------------------------------------------------------------------


def _names(platform: Platform, viewer: Viewer, role: str | None = None) -> dict[str, str]:
    return {str(p["id"]): str(p["name"]) for p in directory(platform, viewer, role)}


# --- the wallet ------------------------------------------------------------------------------------------


@router.get("", response_class=HTMLResponse)
def wallet(
    request: Request,
    viewer: SupplierArea,
    status: Annotated[WalletStatus, Query()] = "",
    after: Cursor = None,
) -> Response:
    platform = platform_of(request)
    today = today_of(platform)
    listing = platform.queries.wallet(viewer.party, status=status or None, limit=PAGE_SIZE, after=after)
    rows = [{**h, "days": days_to(h.get("maturity"), today)} for h in listing["items"]]
    order = {name: i for i, name in enumerate(STATUSES)}
    totals = sorted(listing["totals"], key=lambda t: (order.get(str(t["status"]), 99), str(t["currency"])))
    return page(
        request,
        "supplier_wallet.html",
        viewer,
        nav="wallet",
        rows=rows,
        next_after=listing["next_after"],
        status=status,
        statuses=STATUSES,
        totals=totals,
        today=today,
    )


# --- one holding: facts, provenance, transfer and financing ------------------------------------------------


def _holding_page(
    request: Request,
    viewer: Viewer,
    holding_id: str,
    *,
    status_code: int = 200,
    transfer: TransferForm | None = None,
    transfer_error: str | None = None,
    finance: FinanceForm | None = None,
    finance_error: str | None = None,
    priced: dict[str, Any] | None = None,
) -> Response:
    platform = platform_of(request)
    provenance = platform.queries.provenance(viewer.party, holding_id)  # 404 unless the viewer may see it
    holding = provenance["holding"]
    voucher = provenance["voucher"] or {}
    obligor = platform.queries.party(viewer.party, voucher["obligor"]) if voucher.get("obligor") else None
    live = holding["status"] == "live" and holding["holder"] == viewer.party.id
    recipients: list[dict[str, Any]] = []
    financiers: list[dict[str, Any]] = []
    if live:
        recipients = [p for p in directory(platform, viewer, "supplier") if p["id"] != viewer.party.id]
        financiers = directory(platform, viewer, "financial_institution")
    return page(
        request,
        "supplier_holding.html",
        viewer,
        status_code=status_code,
        nav="wallet",
        holding=holding,
        voucher=voucher,
        obligor=obligor,
        hops=provenance["hops"],
        days=days_to(voucher.get("maturity"), today_of(platform)),
        live=live,
        recipients=recipients,
        financiers=financiers,
        bases=[d.value for d in DayCount],
        transfer=transfer or TransferForm(amount=holding["amount"]["amount"]),
        transfer_error=transfer_error,
        finance=finance or FinanceForm(amount=holding["amount"]["amount"]),
        finance_error=finance_error,
        quote=priced,
    )


def _explain(platform: Platform, viewer: Viewer, holding_id: str, error: DomainError) -> str:
    """The refusal in the accountant's words. The state is checked by the ledger, not before it, so that a
    double submit still reaches the ledger's idempotency and replays the first answer."""
    if isinstance(error, HoldingNotAvailable):
        return _not_live(str(platform.queries.holding(viewer.party, holding_id)["status"]))
    return error.message


@router.get("/holdings/{holding_id}", response_class=HTMLResponse)
def holding_page(request: Request, viewer: SupplierArea, holding_id: ObjectId) -> Response:
    return _holding_page(request, viewer, holding_id)


def _transfer_body(platform: Platform, viewer: Viewer, holding: dict[str, Any], form: TransferForm) -> dict[str, Any]:
    currency = str(holding["amount"]["currency"])
    suppliers = {p["id"] for p in directory(platform, viewer, "supplier")} - {viewer.party.id}
    if form.recipient not in suppliers:
        raise FormProblem("Choose the supplier to transfer to.")
    amount = parse_amount(form.amount, currency)
    _at_most(amount, holding)
    trade_ref = form.trade_ref.strip()
    if not trade_ref:
        raise FormProblem("Enter the trade reference (the contract or order the transfer pays for).")
    return {
        "holding_id": holding["id"],
        "recipient": form.recipient,
        "amount": amount.to_str(),
        "currency": currency,
        "trade_ref": trade_ref,
        "invoice_refs": parse_refs(form.invoices, missing="Enter at least one invoice number the transfer pays."),
    }


@router.post("/holdings/{holding_id}/transfer", response_class=HTMLResponse)
def transfer(
    request: Request,
    viewer: SupplierActor,
    holding_id: ObjectId,
    recipient: ShortField = "",
    amount: ShortField = "",
    trade_ref: Field = "",
    invoice_refs: LongField = "",
) -> Response:
    platform = platform_of(request)
    form = TransferForm(recipient, amount, trade_ref, invoice_refs)
    holding = platform.queries.holding(viewer.party, holding_id)  # 404 first: nothing about others' holdings
    try:
        body = _transfer_body(platform, viewer, holding, form)
        accepted = act(request, viewer, "transfer.offer", body)
    except DomainError as error:
        if not refused(error):
            raise
        return _holding_page(
            request,
            viewer,
            holding_id,
            status_code=error_status(error),
            transfer=form,
            transfer_error=_explain(platform, viewer, holding_id, error),
        )
    return done(f"{BASE}/offers", "offered", accepted.event_id)


def _financing_body(
    platform: Platform, viewer: Viewer, holding: dict[str, Any], form: FinanceForm
) -> tuple[dict[str, Any], Quote]:
    """The ``financing.request`` body and the price the ledger will fix for it today (the handler's rule:
    value date today, maturity from the voucher, the chosen day-count basis)."""
    currency = str(holding["amount"]["currency"])
    financiers = {p["id"] for p in directory(platform, viewer, "financial_institution")}
    if form.financier not in financiers:
        raise FormProblem("Choose the bank to ask.")
    amount = parse_amount(form.amount, currency)
    _at_most(amount, holding)
    annual_rate = parse_rate(form.rate)
    fee = parse_amount(form.fee, currency, what="fee", zero_ok=True) if form.fee.strip() else None
    try:
        basis = DayCount(form.basis)
    except ValueError:
        raise FormProblem("Choose a day-count basis: " + " or ".join(d.value for d in DayCount) + ".") from None
    voucher = platform.queries.voucher(viewer.party, holding["voucher_id"])
    priced = quote(
        amount,
        annual_rate=Decimal(annual_rate),
        value_date=today_of(platform),
        maturity=date.fromisoformat(voucher["maturity"]),
        basis=basis,
        fee_minor=fee.minor if fee else 0,
    )
    body: dict[str, Any] = {
        "holding_id": holding["id"],
        "financier": form.financier,
        "amount": amount.to_str(),
        "currency": currency,
        "annual_rate": annual_rate,
        "basis": basis.value,
    }
    if fee is not None and fee.minor:
        body["fee"] = fee.to_str()
    return body, priced


def _quote_view(
    form: FinanceForm, body: dict[str, Any], priced: Quote, names: dict[str, str], value_date: date
) -> dict[str, Any]:
    currency = priced.amount.currency
    return {
        "form": asdict(form),
        "financier_name": names.get(form.financier, form.financier),
        "amount": {"amount": priced.amount.to_str(), "currency": currency},
        "discount": {"amount": priced.discount.to_str(), "currency": currency},
        "fee": {"amount": priced.fee.to_str(), "currency": currency},
        "net": {"amount": priced.net.to_str(), "currency": currency},
        "days": priced.days,
        "percent": form.rate.strip().removesuffix("%").strip(),
        "annual_rate": body["annual_rate"],
        "basis": body["basis"],
        "value_date": value_date.isoformat(),
    }


@router.post("/holdings/{holding_id}/finance/preview", response_class=HTMLResponse)
def finance_preview(
    request: Request,
    viewer: SupplierActor,
    holding_id: ObjectId,
    financier: ShortField = "",
    amount: ShortField = "",
    rate: ShortField = "",
    fee: ShortField = "",
    basis: Annotated[str, Form(max_length=16)] = DayCount.ACT_360.value,
) -> Response:
    """The price of a financing request, computed as the ledger will, without asking for it (no command)."""
    from tierflow.portal.render import is_htmx

    platform = platform_of(request)
    form = FinanceForm(financier, amount, rate, fee, basis)
    holding = platform.queries.holding(viewer.party, holding_id)
    error: str | None = None
    status_code = 200
    priced: dict[str, Any] | None = None
    try:
        _must_be_live(viewer, holding)
        body, q = _financing_body(platform, viewer, holding, form)
        priced = _quote_view(form, body, q, _names(platform, viewer, "financial_institution"), today_of(platform))
    except DomainError as problem:
        if not refused(problem):
            raise
        error, status_code = problem.message, error_status(problem)
    if is_htmx(request):
        return page(
            request,
            "supplier_quote.html",
            viewer,
            status_code=status_code,
            holding=holding,
            quote=priced,
            finance_error=error,
        )
    return _holding_page(
        request, viewer, holding_id, status_code=status_code, finance=form, finance_error=error, priced=priced
    )


@router.post("/holdings/{holding_id}/finance", response_class=HTMLResponse)
def finance(
    request: Request,
    viewer: SupplierActor,
    holding_id: ObjectId,
    financier: ShortField = "",
    amount: ShortField = "",
    rate: ShortField = "",
    fee: ShortField = "",
    basis: Annotated[str, Form(max_length=16)] = DayCount.ACT_360.value,
) -> Response:
    platform = platform_of(request)
    form = FinanceForm(financier, amount, rate, fee, basis)
    holding = platform.queries.holding(viewer.party, holding_id)
    try:
        body, _ = _financing_body(platform, viewer, holding, form)
        accepted = act(request, viewer, "financing.request", body)
    except DomainError as error:
        if not refused(error):
            raise
        return _holding_page(
            request,
            viewer,
            holding_id,
            status_code=error_status(error),
            finance=form,
            finance_error=_explain(platform, viewer, holding_id, error),
        )
    return done(f"{BASE}/financings", "requested", accepted.event_id)


# --- offers ----------------------------------------------------------------------------------------------


@router.get("/offers", response_class=HTMLResponse)
def offers(request: Request, viewer: SupplierArea, after: Cursor = None, resolved_after: Cursor = None) -> Response:
    """Open offers to the supplier (to accept or reject), its own open offers, and resolved ones; the listings
    carry the parties' and the obligor's names and the voucher's maturity (no per-row reads)."""
    queries = platform_of(request).queries
    incoming = queries.offers(viewer.party, direction="incoming", status="pending", limit=PAGE_SIZE, after=after)
    outgoing = queries.offers(viewer.party, direction="outgoing", status="pending", limit=PAGE_SIZE, after=None)
    every = queries.offers(viewer.party, direction="all", status=None, limit=PAGE_SIZE, after=resolved_after)
    return page(
        request,
        "supplier_offers.html",
        viewer,
        nav="offers",
        incoming=incoming.items,
        next_after=incoming.items[-1]["id"] if incoming.items and incoming.has_more else None,
        outgoing=outgoing.items,
        outgoing_more=outgoing.has_more,
        resolved=[o for o in every.items if o["status"] != "pending"],
        resolved_next=every.items[-1]["id"] if every.items and every.has_more else None,
    )


@router.post("/offers/{offer_id}/accept", response_class=HTMLResponse)
def accept(request: Request, viewer: SupplierActor, offer_id: ObjectId) -> Response:
    accepted = act(request, viewer, "transfer.accept", {"offer_id": offer_id})
    return done(f"{BASE}/offers", "accepted", accepted.event_id)


@router.post("/offers/{offer_id}/reject", response_class=HTMLResponse)
def reject(
    request: Request,
    viewer: SupplierActor,
    offer_id: ObjectId,
    reason: Annotated[str, Form(max_length=1000)] = "",
) -> Response:
    body: dict[str, Any] = {"offer_id": offer_id}
    if reason.strip():
        body["reason"] = reason.strip()
    accepted = act(request, viewer, "transfer.reject", body)
    return done(f"{BASE}/offers", "rejected", accepted.event_id)


# --- financings ------------------------------------------------------------------------------------------


@router.get("/financings", response_class=HTMLResponse)
def financings(request: Request, viewer: SupplierArea, after: Cursor = None) -> Response:
    platform = platform_of(request)
    listing = platform.queries.financings(viewer.party, status=None, limit=PAGE_SIZE, after=after)
    names = _names(platform, viewer, "financial_institution")
    rows = [
        {**f, "financier_name": names.get(f["financier"], f["financier"]), "percent": percent(f["annual_rate"])}
        for f in listing.items
    ]
    return page(
        request,
        "supplier_financings.html",
        viewer,
        nav="financings",
        rows=rows,
        next_after=rows[-1]["id"] if rows and listing.has_more else None,
    )


@router.post("/financings/{financing_id}/cancel", response_class=HTMLResponse)
def cancel(request: Request, viewer: SupplierActor, financing_id: ObjectId) -> Response:
    accepted = act(request, viewer, "financing.cancel", {"financing_id": financing_id})
    return done(f"{BASE}/financings", "cancelled", accepted.event_id)
