"""The landing page (with the demo's sign-ins when the server runs the demo), signing in and out, and each
user's own history."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlsplit

from fastapi import APIRouter, Form, Path, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from tierflow.domain.model import Role
from tierflow.portal.access import COOKIE, PublicPage, SessionPost, SignedIn, Viewer, platform_of
from tierflow.portal.receipts import ReceiptForm, check_on_server, prefilled
from tierflow.portal.render import done, page
from tierflow.services.accounts import TooManyAttempts
from tierflow.services.errors import NotFound, Unauthenticated

router = APIRouter(prefix="/portal", tags=["portal"], include_in_schema=False)

HOME = {
    Role.CORE_ENTERPRISE: "/portal/core",
    Role.SUPPLIER: "/portal/supplier",
    Role.FINANCIER: "/portal/bank",
    Role.OPERATOR: "/portal/audit",
    Role.CERTIFIER: "/portal/green",
}


def home_of(viewer: Viewer) -> str:
    return HOME[viewer.party.role]


def _safe_next(value: str | None) -> str | None:
    """Only a path on this site (no scheme, no host, no '//' tricks) may be a redirect target."""
    if not value or not value.startswith("/portal") or value.startswith("//"):
        return None
    parts = urlsplit(value)
    return value if not parts.scheme and not parts.netloc else None


async def _optional_viewer(request: Request) -> Viewer | None:
    session = await run_in_threadpool(platform_of(request).accounts.session, request.cookies.get(COOKIE))
    return Viewer(session.user, session.csrf_token) if session else None


@router.get("/", response_class=HTMLResponse, dependencies=[PublicPage])
async def landing(request: Request) -> Response:
    viewer = await _optional_viewer(request)
    if viewer is not None:
        return RedirectResponse(home_of(viewer), status_code=303)
    return page(request, "landing.html", None, demo_logins=request.app.state.demo_logins)


@router.get("/login", response_class=HTMLResponse, dependencies=[PublicPage])
async def login_form(request: Request, next: Annotated[str | None, Query(max_length=500)] = None) -> Response:
    return page(request, "login.html", None, next=_safe_next(next) or "", error=None)


@router.post("/login", response_class=HTMLResponse, dependencies=[PublicPage])
async def login(
    request: Request,
    username: Annotated[str, Form(max_length=64)],
    password: Annotated[str, Form(max_length=200)],
    next: Annotated[str, Form(max_length=500)] = "",
) -> Response:
    platform = platform_of(request)
    try:
        token, session = await run_in_threadpool(platform.accounts.sign_in, username, password)
    except (Unauthenticated, TooManyAttempts) as error:
        status = 401 if isinstance(error, Unauthenticated) else 429
        return page(request, "login.html", None, status_code=status, next=_safe_next(next) or "", error=error.message,
                    username=username)
    viewer = Viewer(session.user, session.csrf_token)
    response = RedirectResponse(_safe_next(next) or home_of(viewer), status_code=303)
    response.set_cookie(
        COOKIE,
        token,
        max_age=platform.settings.session_ttl_minutes * 60,
        httponly=True,
        samesite="lax",
        secure=platform.settings.secure_cookies,
        path="/",
    )
    return response


@router.post("/logout", dependencies=[])
async def logout(request: Request, viewer: SessionPost) -> Response:
    token = request.cookies.get(COOKIE)
    if token:
        await run_in_threadpool(platform_of(request).accounts.sign_out, token)
    response = done("/portal/login", "signed_out")
    response.delete_cookie(COOKIE, path="/")
    return response


@router.get("/history", response_class=HTMLResponse)
def history(
    request: Request, viewer: SignedIn, before: Annotated[str | None, Query(max_length=64)] = None
) -> Response:
    platform = platform_of(request)
    events = platform.queries.party_history(viewer.party, limit=50, before=before)
    return page(request, "history.html", viewer, events=events)


TextParam = Annotated[str, Query(max_length=200_000)]


def verify_page(
    request: Request,
    viewer: Viewer,
    template: str,
    *,
    event_id: str | None,
    fields: ReceiptForm,
    check: str | None,
    **context: Any,
) -> Response:
    """A page with the receipt check: prefilled from ``event_id``, or checked on the server when a browser
    without JavaScript submitted the form (``check=server``)."""
    platform = platform_of(request)
    server_check = None
    receipt: dict[str, Any] | None = None
    # 404 unless the entry concerns the viewer (the operator's people see every entry).
    event = platform.queries.event(viewer.party, event_id) if event_id else None
    if check == "server":
        ok, message, entry = check_on_server(fields)
        server_check = {"ok": ok, "message": message, "entry": entry}
        form = fields
    elif event_id:
        try:
            form, receipt = prefilled(platform, viewer.party, event_id)
        except NotFound as error:
            return page(request, "receipt_pending.html", viewer, status_code=409, detail=error.message)
    else:
        form = fields
    return page(
        request,
        template,
        viewer,
        form=form,
        event=event,
        receipt=receipt,
        server_check=server_check,
        verify_action=request.url.path,
        **context,
    )


@router.get("/receipt/{event_id}", response_class=HTMLResponse)
def receipt_page(
    request: Request,
    viewer: SignedIn,
    event_id: Annotated[str, Path(max_length=64)],
    receipt: TextParam = "",
    checkpoint: TextParam = "",
    vkey: Annotated[str, Query(max_length=500)] = "",
    witness_vkeys: TextParam = "",
    min_cosignatures: Annotated[int, Query(ge=0, le=20)] = 0,
    check: Annotated[str | None, Query(max_length=10)] = None,
) -> Response:
    fields = ReceiptForm(receipt, checkpoint, vkey, witness_vkeys, min_cosignatures)
    return verify_page(request, viewer, "receipt.html", event_id=event_id, fields=fields, check=check, nav="history")
