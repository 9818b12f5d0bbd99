"""Core enterprise pages: payables by maturity, issuing vouchers, how far vouchers travelled, paying at maturity.

What a core enterprise's payables clerk does here: confirm a payable to a supplier by issuing a voucher (with
the contract and invoices behind it), see what the enterprise owes by maturity date, see how far down the supply
chain its vouchers travelled (the tiers reached and the amounts at each), and pay whoever holds a voucher once it
is due. Reads go through ``QueryService`` with the enterprise as the viewer; actions are signed commands
(``actions.act``), so the ledger's rules decide and this module only turns form fields into command bodies and
the ledger's refusals into sentences a clerk can act on.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response

from tierflow.bootstrap import Platform
from tierflow.domain.errors import (
    DomainError,
    FaceTooLarge,
    InvalidAmount,
    MaturityInPast,
    NotMatured,
    ObligorOverdue,
    Overpayment,
    TenorTooLong,
    UnknownCurrency,
)
from tierflow.domain.money import Money
from tierflow.portal import charts, graphs
from tierflow.portal.access import CoreActor, CoreArea, Viewer, platform_of
from tierflow.portal.actions import act
from tierflow.portal.forms import (
    OFFERED_CURRENCIES,
    Field,
    FormProblem,
    LongField,
    ObjectId,
    ShortField,
    days_to,
    directory,
    error_status,
    parse_amount,
    parse_currency,
    parse_date,
    parse_refs,
    refused,
    today_of,
)
from tierflow.portal.render import done, page
from tierflow.services.errors import NotFound

T = TypeVar("T")

router = APIRouter(prefix="/portal/core", tags=["portal"], include_in_schema=False)

PAGE_SIZE = 50
GRAPH_LIMIT = 200  # holdings drawn in a voucher's provenance graph (the chart folds what does not fit)
BASE = "/portal/core"

Cursor = Annotated[str | None, Query(max_length=64)]


# --- reading forms ---------------------------------------------------------------------------------------


@dataclass(slots=True)
class IssueForm:
    first_holder: str = ""
    amount: str = ""
    currency: str = "CNY"
    maturity: str = ""
    contract_ref: str = ""
    invoices: str = ""
    confirm: bool = False


# --- the payables page: cards, maturity ladder, how far the vouchers travelled, the vouchers ---------------


def _by_currency(rows: list[dict[str, Any]], field: str) -> dict[str, int]:
    totals: dict[str, int] = {}
    for row in rows:
        totals[str(row["currency"])] = totals.get(str(row["currency"]), 0) + int(row[field])
    return totals


def _amounts(totals: dict[str, int]) -> list[str]:
    """Per-currency totals as the exact strings shown (``CNY 1,000.00``); one zero line when there is none."""
    shown = [charts.format_money(minor, currency) for currency, minor in sorted(totals.items())]
    return shown or [charts.format_money(0, "CNY")]


def _next_maturity(platform: Platform, viewer: Viewer, today: date) -> dict[str, Any] | None:
    """The first voucher maturing today or later with something outstanding on it. The listing is ordered by
    maturity then id, and its cursor ``<day>~<id>`` starts it after the day before today; a voucher due today may
    be paid already, so a few are read."""
    start = f"{(today - timedelta(days=1)).isoformat()}~~"
    try:
        found = platform.queries.voucher_reach(viewer.party, viewer.party.id, limit=10, after=start).items
    except DomainError:  # a listing whose cursor changed: leave the card empty rather than fail the page
        return None
    for voucher in found:
        if str(voucher["maturity"]) >= today.isoformat() and int(voucher["outstanding_minor"]) > 0:
            return {**voucher, "days": days_to(voucher["maturity"], today)}
    return None


@router.get("", response_class=HTMLResponse)
def payables(request: Request, viewer: CoreArea, after: Cursor = None) -> Response:
    platform = platform_of(request)
    queries = platform.queries
    me = viewer.party.id
    today = today_of(platform)
    ladder = queries.maturity_ladder(viewer.party, me)
    travel = queries.tier_travel(viewer.party, me)
    listing = queries.voucher_reach(viewer.party, me, limit=PAGE_SIZE, after=after)
    ladders = []
    for currency in sorted({str(r["currency"]) for r in ladder}):
        buckets = [
            charts.MaturityBucket(
                str(r["month"]), int(r["outstanding_minor"]), int(r["overdue_minor"]), int(r["paid_minor"])
            )
            for r in ladder
            if r["currency"] == currency
        ]
        chart = charts.maturity_ladder(
            buckets,
            currency,
            chart_id=f"ladder-{currency.lower()}",
            title=f"What {viewer.party.name} owes by maturity month ({currency})",
        )
        ladders.append({"currency": currency, "chart": chart})
    travels = []
    for currency in sorted({str(r["currency"]) for r in travel}):
        levels = [
            charts.TierLevel(int(r["tier"]), int(r["amount_minor"]), int(r["holders"]))
            for r in travel
            if r["currency"] == currency
        ]
        chart = charts.tier_travel(
            levels,
            currency,
            chart_id=f"travel-{currency.lower()}",
            title=f"Unpaid value of {viewer.party.name}'s vouchers held at each tier ({currency})",
        )
        travels.append({"currency": currency, "chart": chart})
    rows = [
        {
            **v,
            "face": {"amount": Money(int(v["face_minor"]), v["currency"]).to_str(), "currency": v["currency"]},
            "outstanding": {
                "amount": Money(int(v["outstanding_minor"]), v["currency"]).to_str(),
                "currency": v["currency"],
            },
            "overdue": {"amount": Money(int(v["overdue_minor"]), v["currency"]).to_str(), "currency": v["currency"]},
        }
        for v in listing.items
    ]
    cards = {
        "outstanding": _amounts(_by_currency(ladder, "outstanding_minor")),
        "overdue": _amounts(_by_currency(ladder, "overdue_minor")),
        "vouchers": sum(int(r["vouchers"]) for r in ladder),
        "next_maturity": _next_maturity(platform, viewer, today),
    }
    return page(
        request,
        "core_home.html",
        viewer,
        nav="core",
        cards=cards,
        ladders=ladders,
        travels=travels,
        rows=rows,
        next_after=listing.items[-1]["cursor"] if listing.items and listing.has_more else None,
        today=today,
    )


# --- issuing a voucher -----------------------------------------------------------------------------------


def _explain_issue(platform: Platform, viewer: Viewer, form: IssueForm, error: DomainError) -> str:
    """The ledger's refusal of an issue, in the clerk's words (with the limit and the date to use instead)."""
    today = today_of(platform)
    policy = platform.ledger.policy
    if isinstance(error, MaturityInPast):
        return (
            f"The maturity date {form.maturity.strip()} is not after today ({today.isoformat()}): a voucher is "
            f"paid in the future. Choose {(today + timedelta(days=1)).isoformat()} or later."
        )
    if isinstance(error, TenorTooLong):
        latest = today + timedelta(days=policy.max_tenor_days)
        return (
            f"The maturity date {form.maturity.strip()} is {error.fields.get('tenor_days', '')} days away; the "
            f"platform allows at most {policy.max_tenor_days} days. Choose {latest.isoformat()} or earlier."
        )
    if isinstance(error, FaceTooLarge):
        currency = parse_currency(form.currency)
        limit = Money(policy.max_face_minor.get(currency, 0), currency)
        return (
            f"{charts.format_money(Money.parse(str(error.fields['face']), currency).minor, currency)} is more than "
            f"the platform's limit of {charts.format_money(limit.minor, currency)} for one voucher; "
            "issue several vouchers or a smaller amount."
        )
    if isinstance(error, ObligorOverdue):
        return (
            f"{viewer.party.name} has overdue vouchers and may not issue new ones until they are paid; "
            "pay them from the payables page first."
        )
    if isinstance(error, UnknownCurrency):
        return f"The platform has no limit set for {form.currency.strip()[:12]}; choose another currency."
    if isinstance(error, InvalidAmount):
        return f"The amount is not valid: {error.message}."
    return error.message


def _issue_page(
    request: Request,
    viewer: Viewer,
    form: IssueForm,
    *,
    error: str | None = None,
    error_field: str | None = None,
    status_code: int = 200,
) -> Response:
    platform = platform_of(request)
    today = today_of(platform)
    policy = platform.ledger.policy
    return page(
        request,
        "core_issue.html",
        viewer,
        status_code=status_code,
        nav="issue",
        form=form,
        error=error,
        error_field=error_field,
        suppliers=directory(platform, viewer, "supplier"),
        currencies=OFFERED_CURRENCIES,
        earliest=(today + timedelta(days=1)).isoformat(),
        latest=(today + timedelta(days=policy.max_tenor_days)).isoformat(),
        max_tenor_days=policy.max_tenor_days,
        today=today,
    )


def _tagged(field: str, parse: Callable[[], T]) -> T:
    """``parse()``, with the form field it reads named on its refusal (the page marks that field invalid)."""
    try:
        return parse()
    except FormProblem as problem:
        problem.fields.setdefault("field", field)
        raise


def _issue_body(platform: Platform, viewer: Viewer, form: IssueForm) -> dict[str, Any]:
    def holder() -> str:
        suppliers = {str(p["id"]) for p in directory(platform, viewer, "supplier")}
        if form.first_holder not in suppliers:
            raise FormProblem("Choose the supplier the voucher is issued to (its first holder).")
        return form.first_holder

    def contract() -> str:
        if not form.contract_ref.strip():
            raise FormProblem("Enter the contract reference (the purchase contract or order behind the payable).")
        return form.contract_ref.strip()

    first_holder = _tagged("first_holder", holder)
    currency = _tagged("currency", lambda: parse_currency(form.currency))
    amount = _tagged("amount", lambda: parse_amount(form.amount, currency))
    maturity = _tagged("maturity", lambda: parse_date(form.maturity))
    contract_ref = _tagged("contract_ref", contract)
    invoice_refs = _tagged(
        "invoice_refs",
        lambda: parse_refs(form.invoices, missing="Enter at least one invoice number behind the payable."),
    )
    if not form.confirm:
        raise FormProblem(
            f"Tick the confirmation: the voucher is {viewer.party.name}'s promise to pay this amount at maturity.",
            field="confirm",
        )
    return {
        "first_holder": first_holder,
        "amount": amount.to_str(),
        "currency": currency,
        "maturity": maturity.isoformat(),
        "contract_ref": contract_ref,
        "invoice_refs": invoice_refs,
    }


# The form field a refusal of the ledger is about.
_ISSUE_FIELDS: dict[type[DomainError], str] = {
    MaturityInPast: "maturity",
    TenorTooLong: "maturity",
    FaceTooLarge: "amount",
    InvalidAmount: "amount",
    UnknownCurrency: "currency",
}


def _error_field(error: DomainError) -> str | None:
    field = error.fields.get("field") if isinstance(error, FormProblem) else _ISSUE_FIELDS.get(type(error))
    return str(field) if field else None


@router.get("/issue", response_class=HTMLResponse)
def issue_form(request: Request, viewer: CoreArea) -> Response:
    return _issue_page(request, viewer, IssueForm())


@router.post("/issue", response_class=HTMLResponse)
def issue(
    request: Request,
    viewer: CoreActor,
    first_holder: ShortField = "",
    amount: ShortField = "",
    currency: ShortField = "CNY",
    maturity: ShortField = "",
    contract_ref: Field = "",
    invoice_refs: LongField = "",
    confirm: ShortField = "",
) -> Response:
    platform = platform_of(request)
    form = IssueForm(first_holder, amount, currency, maturity, contract_ref, invoice_refs, confirm == "yes")
    try:
        body = _issue_body(platform, viewer, form)
        accepted = act(request, viewer, "voucher.issue", body)
    except DomainError as error:
        if not refused(error):
            raise
        return _issue_page(
            request,
            viewer,
            form,
            error=_explain_issue(platform, viewer, form, error),
            error_field=_error_field(error),
            status_code=error_status(error),
        )
    return done(f"{BASE}/vouchers/{accepted.effects['voucher_id']}", "issued", accepted.event_id)


# --- one voucher: facts, tiers, provenance graph, settlements, paying at maturity ---------------------------


def _explain_settle(platform: Platform, voucher: dict[str, Any], error: DomainError) -> str:
    today = today_of(platform)
    if isinstance(error, NotMatured):
        days = days_to(voucher["maturity"], today)
        return (
            f"This voucher is not due yet: it matures on {voucher['maturity']} (in {days} "
            f"day{'' if days == 1 else 's'}; today is {today.isoformat()}). It can be paid from that day on."
        )
    if isinstance(error, Overpayment):
        currency = str(voucher["face"]["currency"])
        due = error.fields.get("due_minor")
        owed = charts.format_money(due, currency) if isinstance(due, int) else "what is outstanding"
        return f"That is more than is due: at most {owed} can be paid now."
    return error.message


def _voucher_page(
    request: Request,
    viewer: Viewer,
    voucher_id: str,
    *,
    amount: str | None = None,
    error: str | None = None,
    amount_invalid: bool = False,
    status_code: int = 200,
) -> Response:
    platform = platform_of(request)
    queries = platform.queries
    # The whole tree of holdings is the obligor's to see: another party's voucher is not found here.
    tree = queries.voucher_tiers(viewer.party, voucher_id, limit=GRAPH_LIMIT)
    voucher = queries.voucher(viewer.party, voucher_id)
    settlements = queries.settlements(viewer.party, voucher_id)
    today = today_of(platform)
    currency = str(voucher["face"]["currency"])
    names = {str(n["holder"]): str(n["holder_name"]) for n in tree["nodes"]}
    tiers = [
        {
            **t,
            "amount": {"amount": Money(int(t["amount_minor"]), currency).to_str(), "currency": currency},
            "unpaid": {"amount": Money(int(t["unpaid_minor"]), currency).to_str(), "currency": currency},
            "settled": {"amount": Money(int(t["settled_minor"]), currency).to_str(), "currency": currency},
        }
        for t in tree["tiers"]
    ]
    unpaid = sum(int(t["unpaid_minor"]) for t in tree["tiers"])
    graph = graphs.voucher_graph({**voucher, "obligor_name": viewer.party.name}, tree, href=lambda _holding_id: None)
    days = days_to(voucher["maturity"], today)
    return page(
        request,
        "core_voucher.html",
        viewer,
        status_code=status_code,
        nav="core",
        voucher=voucher,
        first_holder_name=names.get(str(voucher["first_holder"]), str(voucher["first_holder"])),
        days=days,
        due=days is not None and days <= 0,
        unpaid={"amount": Money(unpaid, currency).to_str(), "currency": currency},
        settlements=settlements,
        names=names,
        tiers=tiers,
        graph=graph,
        truncated=tree["truncated"],
        amount=Money(unpaid, currency).to_str() if amount is None else amount,
        error=error,
        amount_invalid=amount_invalid,
        today=today,
    )


@router.get("/vouchers/{voucher_id}", response_class=HTMLResponse)
def voucher_page(request: Request, viewer: CoreArea, voucher_id: ObjectId) -> Response:
    return _voucher_page(request, viewer, voucher_id)


@router.post("/vouchers/{voucher_id}/settle", response_class=HTMLResponse)
def settle(
    request: Request,
    viewer: CoreActor,
    voucher_id: ObjectId,
    amount: ShortField = "",
) -> Response:
    platform = platform_of(request)
    voucher = platform.queries.voucher(viewer.party, voucher_id)  # 404 first: nothing about others' vouchers
    if voucher["obligor"] != viewer.party.id:
        raise NotFound(f"No voucher {voucher_id!r} owed by you.", voucher_id=voucher_id)
    currency = str(voucher["face"]["currency"])
    try:
        paid = parse_amount(amount, currency, what="amount to pay")
        body = {"voucher_id": voucher_id, "amount": paid.to_str(), "currency": currency}
        accepted = act(request, viewer, "voucher.settle", body)
    except DomainError as error:
        if not refused(error):
            raise
        return _voucher_page(
            request,
            viewer,
            voucher_id,
            amount=amount,
            error=_explain_settle(platform, voucher, error),
            amount_invalid=isinstance(error, (FormProblem, InvalidAmount, Overpayment)),
            status_code=error_status(error),
        )
    return done(f"{BASE}/vouchers/{voucher_id}", "settled", accepted.event_id)
