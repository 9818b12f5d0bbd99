"""The financing case: one page for the applicant and the institution, from the request to the last repayment.

The page shows where the case stands (a stepper through the workflow's stages and how it ended, if it did), the
trade-check verdict with every rule's result and reasons, the steps so far (which party, which person, when, the
note), the contract, the registration, the payment and the repayments, the case's files to download, and its
green side: the sustainability-linked terms (KPIs, ratchet, floor), each KPI certification with its assessment
and the effective rate, and the green labels on the financing or its voucher.

The actions on it are plain POST forms (CSRF token, one-time idempotency key), each shown only to the party
and at the stage that can use it:

- the institution reviews (the maker's recommendation), approves (a second person: the four-eyes rule),
  declines, countersigns the contract, registers the assignment with the financing registry, pays out (a
  ``pain.001`` to the bank gateway), and claims recourse on an overdue case granted with recourse; it imports its
  bank's ``camt.054`` notifications to record repayments;
- the applicant signs the contract once the institution approved, and may cancel before it signs.

The person acting is the signed-in user (never a form field). Reads go through ``FinancingCaseService`` with the
user's party as the viewer, so a case of others answers 404; the steps that need the outside world go through
the same service, which submits the party's signed command (``actions.case_acting``); the ledger decides, and a
refusal is shown on the page in words.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi import Path as PathParam
from fastapi.responses import HTMLResponse, Response

from tierflow.bootstrap import Platform
from tierflow.domain.errors import DomainError, ErrorKind, InvalidTransition
from tierflow.domain.financing_case import POST_LOAN, Stage
from tierflow.portal.access import AnyActor, BankActor, BankArea, SignedIn, SupplierActor, Viewer, platform_of
from tierflow.portal.actions import act, case_acting
from tierflow.portal.forms import FormProblem, ObjectId, error_status, today_of
from tierflow.portal.render import done, page
from tierflow.portal.routes_green import case_green
from tierflow.services.errors import NotFound
from tierflow.services.financing_case import Reconciliation
from tierflow.services.payment_data import Account

router = APIRouter(prefix="/portal", tags=["portal"], include_in_schema=False)

BASE = "/portal/financings"
MAX_CAMT054 = 5 * 1024 * 1024  # a day's notification of a busy account is far smaller

Sha256 = Annotated[str, PathParam(min_length=64, max_length=64, pattern="^[0-9a-f]{64}$")]
Note = Annotated[str, Form(max_length=1000)]
AccountField = Annotated[str, Form(max_length=140)]

# --- the stages, in words -------------------------------------------------------------------------------

# The way a case goes when all goes well (overdue and recourse only when the money comes late).
PATH: tuple[Stage, ...] = (
    Stage.COLLECTED,
    Stage.VERIFIED,
    Stage.REVIEWED,
    Stage.APPROVED,
    Stage.SIGNED_BY_APPLICANT,
    Stage.CONTRACTED,
    Stage.REGISTERED,
    Stage.DISBURSED,
    Stage.OVERDUE,
    Stage.RECOURSE,
    Stage.CLOSED,
)
ENDINGS: tuple[Stage, ...] = (Stage.REJECTED, Stage.DECLINED, Stage.CANCELLED)

STAGE_NAMES: Mapping[str, str] = {
    Stage.COLLECTED: "Collected",
    Stage.VERIFIED: "Trade checked",
    Stage.REVIEWED: "Reviewed",
    Stage.APPROVED: "Approved",
    Stage.SIGNED_BY_APPLICANT: "Signed by the applicant",
    Stage.CONTRACTED: "Contract signed by both",
    Stage.REGISTERED: "Registered",
    Stage.DISBURSED: "Paid out",
    Stage.OVERDUE: "Overdue",
    Stage.RECOURSE: "Recourse claimed",
    Stage.CLOSED: "Closed",
    Stage.REJECTED: "Rejected by the trade checks",
    Stage.DECLINED: "Declined",
    Stage.CANCELLED: "Cancelled",
}

STAGE_HINTS: Mapping[str, str] = {
    Stage.COLLECTED: "the request and its documents are in",
    Stage.VERIFIED: "the trade checks ran; the institution reviews it next",
    Stage.REVIEWED: "a first person of the institution recommended; a second person approves or declines",
    Stage.APPROVED: "the applicant signs the contract next",
    Stage.SIGNED_BY_APPLICANT: "the institution countersigns the contract next",
    Stage.CONTRACTED: "the institution registers the assignment with the financing registry next",
    Stage.REGISTERED: "the institution pays out the net proceeds next",
    Stage.DISBURSED: "the obligor pays at maturity; repayments are recorded from the bank's notifications",
    Stage.OVERDUE: "unpaid after maturity",
    Stage.RECOURSE: "the institution turned to the applicant for what is unpaid",
    Stage.CLOSED: "repaid in full",
    Stage.REJECTED: "a trade check failed, so nothing was financed",
    Stage.DECLINED: "the institution declined it",
    Stage.CANCELLED: "the applicant withdrew the request",
}

FILE_NAMES: Mapping[str, tuple[str, str]] = {  # kind -> (what it is, file name suffix)
    "contract_draft": ("Contract, unsigned draft", "contract-draft.pdf"),
    "contract_applicant": ("Contract signed by the applicant", "contract-applicant-signed.pdf"),
    "contract_signed": ("Contract signed by both parties", "contract-signed.pdf"),
    "pain001": ("Payment instruction (ISO 20022 pain.001)", "pain001.xml"),
}

RULE_OUTCOMES: Mapping[str, str] = {"pass": "passed", "warn": "warning", "fail": "failed"}

# Before the contract binds, the institution may still decline; the applicant may cancel until it signs.
BANK_MAY_DECLINE = frozenset(
    {Stage.VERIFIED, Stage.REVIEWED, Stage.APPROVED, Stage.SIGNED_BY_APPLICANT, Stage.CONTRACTED, Stage.REGISTERED}
)
APPLICANT_MAY_CANCEL = frozenset({Stage.VERIFIED, Stage.REVIEWED, Stage.APPROVED})


def stage_name(stage: Any) -> str:
    return STAGE_NAMES.get(str(stage), str(stage).replace("_", " "))


def stepper(stage: str, reached: set[str]) -> list[dict[str, Any]]:
    """Each stage of the way with its state: done, current, skipped (passed over) or to come; an ending that
    stopped the case is added after the last stage it reached."""
    current = Stage(stage)
    ended = current in ENDINGS
    last = max((i for i, s in enumerate(PATH) if s.value in reached or s is current), default=0)
    items: list[dict[str, Any]] = []
    for i, s in enumerate(PATH):
        if s is current:
            state = "current"
        elif s.value in reached or (i < last and s is Stage.COLLECTED):
            state = "done"
        elif i < last:
            state = "skipped"
        else:
            state = "todo"
        if ended and state == "todo":
            continue
        items.append({"stage": s.value, "name": STAGE_NAMES[s], "state": state})
    if ended:
        items.append({"stage": current.value, "name": STAGE_NAMES[current], "state": "current", "ending": True})
    return items


# --- reading a case ---------------------------------------------------------------------------------------


def _names(platform: Platform, viewer: Viewer, ids: set[str]) -> dict[str, str]:
    names: dict[str, str] = {}
    for party_id in ids:
        try:
            names[party_id] = str(platform.queries.party(viewer.party, party_id)["name"])
        except DomainError:
            names[party_id] = party_id
    return names


def _case(platform: Platform, viewer: Viewer, financing_id: str) -> dict[str, Any]:
    """The case as ``viewer`` sees it (404 for a case of others)."""
    return platform.cases.case(viewer.party, financing_id)


def _view(request: Request, viewer: Viewer, financing_id: str) -> dict[str, Any]:
    platform = platform_of(request)
    case = _case(platform, viewer, financing_id)
    names = _names(platform, viewer, {case["applicant"], case["financier"], *(s["actor"] for s in case["steps"])})
    stage = Stage(case["stage"])
    is_bank = viewer.party.id == case["financier"]
    is_applicant = viewer.party.id == case["applicant"]
    can_act = viewer.user.can_act
    reached = {str(s["stage"]) for s in case["steps"]}
    verification = case["verification"]
    rules = []
    if verification:
        for result in verification["results"]:
            rules.append(
                {
                    "rule": result.get("rule", ""),
                    "version": result.get("version", ""),
                    "outcome": result.get("outcome", ""),
                    "outcome_name": RULE_OUTCOMES.get(str(result.get("outcome")), str(result.get("outcome"))),
                    "reasons": [str(r) for r in result.get("reasons", [])],
                }
            )
    files = [
        {
            **f,
            "name": FILE_NAMES.get(f["kind"], (f["kind"].replace("_", " "), ""))[0],
            "url": f"{BASE}/{financing_id}/files/{f['sha256']}",
        }
        for f in case["files"]
    ]
    maker = case["maker"]
    return {
        "case": case,
        "names": names,
        "stage": stage.value,
        "stage_label": stage_name(stage),
        "stage_hint": STAGE_HINTS.get(stage, ""),
        "steps_view": stepper(stage.value, reached),
        "rules": rules,
        "verification": verification,
        "files": files,
        "is_bank": is_bank,
        "is_applicant": is_applicant,
        "applicant_name": names.get(case["applicant"], case["applicant"]),
        "financier_name": names.get(case["financier"], case["financier"]),
        "same_as_maker": bool(maker) and str(maker).strip().casefold() == viewer.user.username.casefold(),
        "post_loan": stage in POST_LOAN,
        "green": case_green(platform, viewer, financing_id),
        "today": today_of(platform).isoformat(),
        "may": {
            "review": is_bank and can_act and stage is Stage.VERIFIED,
            "approve": is_bank and can_act and stage is Stage.REVIEWED and case["recommendation"] == "approve",
            "decline": is_bank and can_act and stage in BANK_MAY_DECLINE,
            "bank_sign": is_bank and can_act and stage is Stage.SIGNED_BY_APPLICANT,
            "register": is_bank and can_act and stage is Stage.CONTRACTED,
            "disburse": is_bank and can_act and stage is Stage.REGISTERED,
            "recourse": is_bank and can_act and stage is Stage.OVERDUE and bool(case["recourse"]),
            "reconcile": is_bank and can_act and stage in POST_LOAN,
            "applicant_sign": is_applicant and can_act and stage is Stage.APPROVED,
            "cancel": is_applicant and can_act and stage in APPLICANT_MAY_CANCEL,
        },
    }


def _case_page(
    request: Request,
    viewer: Viewer,
    financing_id: str,
    *,
    error: str | None = None,
    form: Mapping[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    view = _view(request, viewer, financing_id)
    nav = "queue" if view["is_bank"] else "financings" if view["is_applicant"] else None
    return page(
        request,
        "case.html",
        viewer,
        status_code=status_code,
        nav=nav,
        error=error,
        form=dict(form or {}),
        **view,
    )


@router.get("/financings/{financing_id}", response_class=HTMLResponse)
def case_page(request: Request, viewer: SignedIn, financing_id: ObjectId) -> Response:
    return _case_page(request, viewer, financing_id)


@router.get("/financings/{financing_id}/files/{sha256}")
def case_file(request: Request, viewer: SignedIn, financing_id: ObjectId, sha256: Sha256) -> Response:
    platform = platform_of(request)
    case = _case(platform, viewer, financing_id)
    media_type, content = platform.cases.file(viewer.party, financing_id, sha256)
    kind = next((f["kind"] for f in case["files"] if f["sha256"] == sha256), "file")
    suffix = FILE_NAMES.get(kind, ("", f"{kind}.{'pdf' if media_type.endswith('pdf') else 'xml'}"))[1]
    prefix = case["contract_number"] or financing_id
    filename = re.sub(r"[^A-Za-z0-9._-]", "_", f"{prefix}-{suffix}")
    return Response(
        content,
        media_type=media_type,
        headers={
            "Content-Disposition": f'attachment; filename="{filename}"',
            "Cache-Control": "no-store",
            "X-Content-Type-Options": "nosniff",
        },
    )


# --- acting on a case ---------------------------------------------------------------------------------------


def _explain(platform: Platform, viewer: Viewer, financing_id: str, error: DomainError) -> str:
    """A refusal in the words of the page."""
    if error.code == "maker_checker":
        return (
            "You recommended this financing, so you cannot also approve it: the four-eyes rule needs a second "
            f"person of {viewer.party.name} to approve. ({error.message}.)"
        )
    if isinstance(error, InvalidTransition):
        try:
            stage = _case(platform, viewer, financing_id)["stage"]
        except DomainError:
            return error.message
        return f"This case is now at “{stage_name(stage)}”, so that step is not open: {error.message}."
    if error.code == "external_service_refused":
        return f"{error.message}. Nothing was recorded; you may try again once the cause is fixed."
    return error.message


def _attempt(
    request: Request,
    viewer: Viewer,
    financing_id: str,
    key: str,
    step: Callable[[], str | None],
    *,
    form: Mapping[str, str] | None = None,
) -> Response:
    """Run ``step`` (it returns the journal entry to show); on success redirect to the case with the message
    ``key``, on a refusal show the case again with the reason by the forms."""
    platform = platform_of(request)
    _case(platform, viewer, financing_id)  # 404 first: nothing about the cases of others
    try:
        event_id = step()
    except DomainError as error:
        if error.kind is ErrorKind.NOT_FOUND:
            raise
        status = 403 if error.kind is ErrorKind.FORBIDDEN else error_status(error)
        return _case_page(
            request,
            viewer,
            financing_id,
            error=_explain(platform, viewer, financing_id, error),
            form=form,
            status_code=status,
        )
    return done(f"{BASE}/{financing_id}", key, event_id)


@router.post("/financings/{financing_id}/review", response_class=HTMLResponse)
def review(
    request: Request,
    viewer: BankActor,
    financing_id: ObjectId,
    recommendation: Annotated[str, Form(max_length=16)] = "",
    note: Note = "",
) -> Response:
    def step() -> str | None:
        if recommendation not in ("approve", "decline"):
            raise FormProblem("Choose your recommendation: approve or decline.")
        body: dict[str, Any] = {
            "financing_id": financing_id,
            "user": viewer.user.username,
            "recommendation": recommendation,
        }
        if note.strip():
            body["note"] = note.strip()
        return act(request, viewer, "financing.review", body).event_id

    return _attempt(request, viewer, financing_id, "reviewed", step, form={"review_note": note})


@router.post("/financings/{financing_id}/approve", response_class=HTMLResponse)
def approve(request: Request, viewer: BankActor, financing_id: ObjectId, note: Note = "") -> Response:
    def step() -> str | None:
        body: dict[str, Any] = {"financing_id": financing_id, "user": viewer.user.username}
        if note.strip():
            body["note"] = note.strip()
        return act(request, viewer, "financing.approve", body).event_id

    return _attempt(request, viewer, financing_id, "approved", step, form={"approve_note": note})


@router.post("/financings/{financing_id}/decline", response_class=HTMLResponse)
def decline(request: Request, viewer: BankActor, financing_id: ObjectId, reason: Note = "") -> Response:
    def step() -> str | None:
        if not reason.strip():
            raise FormProblem("Give the reason for declining: it is kept with the decision in the journal.")
        body = {"financing_id": financing_id, "reason": reason.strip(), "user": viewer.user.username}
        return act(request, viewer, "financing.decline", body).event_id

    return _attempt(request, viewer, financing_id, "declined", step, form={"reason": reason})


@router.post("/financings/{financing_id}/sign", response_class=HTMLResponse)
def sign(request: Request, viewer: AnyActor, financing_id: ObjectId) -> Response:
    def step() -> str | None:
        acting = case_acting(request, viewer)
        platform_of(request).cases.sign(acting.acting, financing_id)
        return acting.event_id

    return _attempt(request, viewer, financing_id, "contract_signed", step)


@router.post("/financings/{financing_id}/register", response_class=HTMLResponse)
def register(request: Request, viewer: BankActor, financing_id: ObjectId) -> Response:
    def step() -> str | None:
        acting = case_acting(request, viewer)
        platform_of(request).cases.register(acting.acting, financing_id)
        return acting.event_id

    return _attempt(request, viewer, financing_id, "registered", step)


def _account(number: str, bank_code: str, name: str, bank_name: str, *, what: str) -> Account:
    """An account from the disbursement form; ``what`` names it in the messages ("your account to debit")."""
    number, bank_code, name, bank_name = number.strip(), bank_code.strip(), name.strip(), bank_name.strip()
    if not number:
        raise FormProblem(f"Enter the number of {what}.")
    if not re.fullmatch(r"[0-9A-Za-z-]{1,34}", number):
        raise FormProblem(f"The number of {what} is 1 to 34 letters, digits or '-'; “{number[:40]}” is not.")
    if not re.fullmatch(r"[0-9]{12}", bank_code):
        raise FormProblem(
            f"The bank code of {what} is the 12-digit CNAPS code of its bank branch; “{bank_code[:40]}” is not."
        )
    if not name:
        raise FormProblem(f"Enter the holder's name of {what}.")
    try:
        return Account(number, name, bank_code, bank_name)
    except ValueError as exc:
        raise FormProblem(f"About {what}: {exc}.") from None


@router.post("/financings/{financing_id}/disburse", response_class=HTMLResponse)
def disburse(
    request: Request,
    viewer: BankActor,
    financing_id: ObjectId,
    debtor_number: AccountField = "",
    debtor_bank_code: AccountField = "",
    debtor_name: AccountField = "",
    debtor_bank_name: AccountField = "",
    creditor_number: AccountField = "",
    creditor_bank_code: AccountField = "",
    creditor_name: AccountField = "",
    creditor_bank_name: AccountField = "",
) -> Response:
    form = {
        "debtor_number": debtor_number,
        "debtor_bank_code": debtor_bank_code,
        "debtor_name": debtor_name,
        "debtor_bank_name": debtor_bank_name,
        "creditor_number": creditor_number,
        "creditor_bank_code": creditor_bank_code,
        "creditor_name": creditor_name,
        "creditor_bank_name": creditor_bank_name,
    }

    def step() -> str | None:
        debtor = _account(debtor_number, debtor_bank_code, debtor_name, debtor_bank_name, what="your account to debit")
        creditor = _account(
            creditor_number,
            creditor_bank_code,
            creditor_name,
            creditor_bank_name,
            what="the applicant's account to credit",
        )
        acting = case_acting(request, viewer)
        platform_of(request).cases.disburse(acting.acting, financing_id, debtor=debtor, creditor=creditor)
        return acting.event_id

    return _attempt(request, viewer, financing_id, "disbursed", step, form=form)


@router.post("/financings/{financing_id}/recourse", response_class=HTMLResponse)
def recourse(request: Request, viewer: BankActor, financing_id: ObjectId, note: Note = "") -> Response:
    def step() -> str | None:
        body: dict[str, Any] = {"financing_id": financing_id, "user": viewer.user.username}
        if note.strip():
            body["note"] = note.strip()
        return act(request, viewer, "financing.recourse", body).event_id

    return _attempt(request, viewer, financing_id, "recourse", step, form={"recourse_note": note})


@router.post("/financings/{financing_id}/cancel", response_class=HTMLResponse)
def cancel(request: Request, viewer: SupplierActor, financing_id: ObjectId) -> Response:
    def step() -> str | None:
        return act(request, viewer, "financing.cancel", {"financing_id": financing_id}).event_id

    return _attempt(request, viewer, financing_id, "cancelled", step)


# --- repayments: the bank's camt.054 notifications ------------------------------------------------------------


def _repayments_page(
    request: Request,
    viewer: Viewer,
    *,
    report: Reconciliation | None = None,
    error: str | None = None,
    filename: str = "",
    status_code: int = 200,
) -> Response:
    return page(
        request,
        "bank_repayments.html",
        viewer,
        status_code=status_code,
        nav="repayments",
        report=report,
        error=error,
        filename=filename,
    )


@router.get("/bank/repayments", response_class=HTMLResponse)
def repayments(request: Request, viewer: BankArea) -> Response:
    return _repayments_page(request, viewer)


@router.post("/bank/repayments", response_class=HTMLResponse)
def reconcile(
    request: Request,
    viewer: BankActor,
    notification: Annotated[UploadFile | None, File()] = None,
) -> Response:
    filename = (notification.filename or "")[:120] if notification else ""
    try:
        if notification is None or not filename:
            raise FormProblem("Choose the camt.054 file your bank sent (an XML file).")
        content = notification.file.read(MAX_CAMT054 + 1)
        if not content:
            raise FormProblem(f"The file {filename} is empty.")
        if len(content) > MAX_CAMT054:
            raise FormProblem(f"The file is larger than {MAX_CAMT054 // (1024 * 1024)} MiB; split the notification.")
        acting = case_acting(request, viewer, per_command=True)
        report = platform_of(request).cases.reconcile(acting.acting, content)
    except DomainError as error:
        if error.kind is ErrorKind.NOT_FOUND:
            raise
        return _repayments_page(
            request,
            viewer,
            error=error.message,
            filename=filename,
            status_code=403 if error.kind is ErrorKind.FORBIDDEN else error_status(error),
        )
    return _repayments_page(request, viewer, report=report, filename=filename)


def queue_case(platform: Platform, viewer: Viewer, financing_id: str) -> dict[str, Any] | None:
    """The stage and the verdict of a financing as the queue shows them; None when it has no case."""
    try:
        case = _case(platform, viewer, financing_id)
    except NotFound:
        return None
    verification = case["verification"]
    return {
        "stage": case["stage"],
        "stage_name": stage_name(case["stage"]),
        "outcome": verification["outcome"] if verification else None,
    }
