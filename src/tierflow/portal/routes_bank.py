"""Financial institution pages: the queue of financing requests with the stage and trade-check verdict of each,
the maturity reminders, the facts behind a request, the portfolio.

What a bank's credit officer does here: go through the financing requests addressed to the bank, each with the
facts a decision needs (who asks, who owes at maturity and whether that obligor is paying its other vouchers, the
tenor, the tier the units reached, where they came from, the price), open its case (``routes_cases``) to review,
approve, sign, register and pay it out, or decline it with a reason; see which paid-out financings mature soon;
and look at what the bank holds by obligor and maturity. Reads go through ``QueryService`` with the
bank as the viewer, so another bank's requests answer 404; actions are signed commands (``actions.act``) and the
ledger decides.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, Response

from tierflow.bootstrap import Platform
from tierflow.domain.errors import DomainError, InvalidTransition
from tierflow.domain.money import Money
from tierflow.domain.pricing import DayCount, quote
from tierflow.portal import charts
from tierflow.portal.access import BankActor, BankArea, Viewer, platform_of
from tierflow.portal.actions import act
from tierflow.portal.forms import FormProblem, ObjectId, error_status, percent, refused, today_of
from tierflow.portal.render import done, page
from tierflow.portal.routes_cases import queue_case
from tierflow.services.errors import NotFound

router = APIRouter(prefix="/portal/bank", tags=["portal"], include_in_schema=False)

PAGE_SIZE = 50
REMINDER_DAYS = 30
BASE = "/portal/bank"
STATUSES: tuple[str, ...] = ("requested", "funded", "declined", "all")

Cursor = Annotated[str | None, Query(max_length=64)]
QueueStatus = Literal["requested", "funded", "declined", "cancelled", "all"]


# --- the queue ---------------------------------------------------------------------------------------------


@router.get("", response_class=HTMLResponse)
def queue(
    request: Request,
    viewer: BankArea,
    status: Annotated[QueueStatus, Query()] = "requested",
    after: Cursor = None,
) -> Response:
    platform = platform_of(request)
    listing = platform.queries.financing_queue(
        viewer.party, status=None if status == "all" else status, limit=PAGE_SIZE, after=after
    )
    rows = [
        {**f, "percent": percent(f["annual_rate"]), "case": queue_case(platform, viewer, str(f["id"]))}
        for f in listing.items
    ]
    return page(
        request,
        "bank_queue.html",
        viewer,
        nav="queue",
        rows=rows,
        status=status,
        statuses=STATUSES,
        next_after=rows[-1]["cursor"] if rows and listing.has_more else None,
        reminders=platform.cases.reminders(viewer.party, within_days=REMINDER_DAYS),
        reminder_days=REMINDER_DAYS,
    )


# --- the portfolio -----------------------------------------------------------------------------------------


@router.get("/portfolio", response_class=HTMLResponse)
def portfolio(request: Request, viewer: BankArea) -> Response:
    platform = platform_of(request)
    held = platform.queries.portfolio(viewer.party, viewer.party.id)
    pictures = []
    for total in held["totals"]:
        currency = str(total["currency"])
        cells = [r for r in held["rows"] if r["currency"] == currency]
        chart = charts.portfolio(
            [charts.PortfolioRow(str(r["obligor_name"]), str(r["month"]), int(r["amount_minor"])) for r in cells],
            currency,
            chart_id=f"portfolio-{currency.lower()}",
            title=f"What {viewer.party.name} holds by obligor and maturity month ({currency})",
            buckets=sorted({str(r["month"]) for r in cells}),
        )
        pictures.append({"currency": currency, "chart": chart})
    return page(
        request,
        "bank_portfolio.html",
        viewer,
        nav="portfolio",
        pictures=pictures,
        obligors=held["obligors"],
        totals=held["totals"],
    )


# --- one request: the facts, its provenance, approve or decline ---------------------------------------------


def _pricetoday_of(platform: Platform, financing: dict[str, Any]) -> dict[str, Any] | None:
    """What funding today would pay, by the ledger's rule (value date today, the request's rate, basis and fee):
    the ledger prices a financing again on the day it is funded. None once the voucher has matured."""
    currency = str(financing["amount"]["currency"])
    amount = Money.parse(str(financing["amount"]["amount"]), currency)
    fee = Money.parse(str(financing["fee"]["amount"]), currency)
    try:
        priced = quote(
            amount,
            annual_rate=Decimal(str(financing["annual_rate"])),
            value_date=today_of(platform),
            maturity=date.fromisoformat(str(financing["maturity"])),
            basis=DayCount(str(financing["basis"])),
            fee_minor=fee.minor,
        )
    except (DomainError, ValueError):
        return None
    return {
        "value_date": today_of(platform).isoformat(),
        "days": priced.days,
        "discount": {"amount": priced.discount.to_str(), "currency": currency},
        "fee": {"amount": priced.fee.to_str(), "currency": currency},
        "net": {"amount": priced.net.to_str(), "currency": currency},
    }


def _queue_entry(platform: Platform, viewer: Viewer, financing: dict[str, Any]) -> dict[str, Any] | None:
    """This financing as the queue lists it (names, tier, whether the obligor has overdue units), read with one
    indexed query: the queue is ordered by id and pages with ``id > after``, so starting just below this id
    (ids have one fixed length) answers this financing first. None if the listing answers anything else."""
    fid = str(financing["id"])
    below = fid[:-1] + chr(ord(fid[-1]) - 1) + "~"
    try:
        found = platform.queries.financing_queue(viewer.party, status=None, limit=1, after=below).items
    except DomainError:
        return None
    return found[0] if found and found[0]["id"] == fid else None


def _financing_page(
    request: Request,
    viewer: Viewer,
    financing_id: str,
    *,
    error: str | None = None,
    reason: str = "",
    status_code: int = 200,
) -> Response:
    platform = platform_of(request)
    queries = platform.queries
    financing = queries.financing(viewer.party, financing_id)  # 404 unless this bank was asked
    if financing["financier"] != viewer.party.id:
        # The applicant may see its own request, but these pages are the financier's.
        raise NotFound(f"No financing {financing_id!r} addressed to you.", financing_id=financing_id)
    provenance = queries.provenance(viewer.party, str(financing["holding_id"]))
    holding = provenance["holding"]
    voucher = provenance["voucher"] or {}
    entry = _queue_entry(platform, viewer, financing)
    case = queue_case(platform, viewer, financing_id)
    applicant_name = entry["applicant_name"] if entry else queries.party(viewer.party, financing["applicant"])["name"]
    obligor_name = entry["obligor_name"] if entry else queries.party(viewer.party, voucher["obligor"])["name"]
    return page(
        request,
        "bank_financing.html",
        viewer,
        status_code=status_code,
        nav="queue",
        financing=financing,
        holding=holding,
        voucher=voucher,
        applicant_name=applicant_name,
        obligor_name=obligor_name,
        overdue=entry["obligor_overdue"] if entry else None,
        hops=provenance["hops"],
        rate=percent(financing["annual_rate"]),
        price_today=_pricetoday_of(platform, financing) if financing["status"] == "requested" else None,
        case=case,
        error=error,
        reason=reason,
    )


def _explain(request: Request, viewer: Viewer, financing_id: str, error: DomainError) -> str:
    """The ledger's refusal in the officer's words. The state is checked by the ledger, not before it, so that a
    double submit still reaches the ledger's idempotency and replays the first answer."""
    if isinstance(error, InvalidTransition):
        status = platform_of(request).queries.financing(viewer.party, financing_id)["status"]
        return f"This request is {status} already: only a requested financing can be declined."
    return error.message


@router.get("/financings/{financing_id}", response_class=HTMLResponse)
def financing_page(request: Request, viewer: BankArea, financing_id: ObjectId) -> Response:
    return _financing_page(request, viewer, financing_id)


@router.post("/financings/{financing_id}/decline", response_class=HTMLResponse)
def decline(
    request: Request,
    viewer: BankActor,
    financing_id: ObjectId,
    reason: Annotated[str, Form(max_length=1000)] = "",
) -> Response:
    platform_of(request).queries.financing(viewer.party, financing_id)
    try:
        if not reason.strip():
            raise FormProblem("Give the reason for declining: it is kept with the decision in the journal.")
        body = {"financing_id": financing_id, "reason": reason.strip()}
        accepted = act(request, viewer, "financing.decline", body)
    except DomainError as error:
        if not refused(error):
            raise
        return _financing_page(
            request,
            viewer,
            financing_id,
            error=_explain(request, viewer, financing_id, error),
            reason=reason,
            status_code=error_status(error),
        )
    return done(f"{BASE}/financings/{financing_id}", "declined", accepted.event_id)
