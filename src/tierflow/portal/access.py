"""Who is looking: the session cookie, the CSRF token, and the access every portal route declares.

Every portal route declares its access with exactly one of these dependencies (a test walks the routes and
fails on any route that has none):

- ``PublicPage``: the landing page, sign-in and static help: no session needed;
- ``SignedIn``: any signed-in user (their own history, their account);
- ``area(role)``: a signed-in user of a party with that role (core enterprise, supplier, financial
  institution, certifier, or the operator's people — operators and auditors);
- ``actor(role)``: as ``area`` for a state-changing POST, and also checks the CSRF token and that the user may
  act (auditors may not);
- ``session_post``: a signed-in user's POST about their own session (signing out), CSRF checked.

What a user may see inside its area is decided by ``QueryService`` with the user's party as the viewer, the
same rules as the API, so a supplier asking for another party's holding gets 404 whatever the URL.
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import Depends, Request
from starlette.concurrency import run_in_threadpool

from tierflow.bootstrap import Platform
from tierflow.domain.errors import DomainError, ErrorKind
from tierflow.domain.model import Party, Role
from tierflow.services.accounts import User

COOKIE = "tierflow_session"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"

ACCESS_MARK = "portal_access"


class SignInRequired(Exception):
    """Raised for a protected page without a valid session; answered with a redirect to sign-in."""

    def __init__(self, next_url: str) -> None:
        super().__init__(next_url)
        self.next_url = next_url


class Forbidden(DomainError):
    code = "forbidden"
    kind = ErrorKind.FORBIDDEN


@dataclass(frozen=True, slots=True)
class Viewer:
    user: User
    csrf_token: str

    @property
    def party(self) -> Party:
        return self.user.party


def platform_of(request: Request) -> Platform:
    platform: Platform = request.app.state.platform
    return platform


def _mark(kind: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    def decorate(fn: Callable[..., Any]) -> Callable[..., Any]:
        setattr(fn, ACCESS_MARK, kind)
        return fn

    return decorate


@_mark("public")
async def public_page() -> None:
    """Marks a page as deliberately open to anyone."""


@_mark("signed_in")
async def signed_in(request: Request) -> Viewer:
    platform = platform_of(request)
    session = await run_in_threadpool(platform.accounts.session, request.cookies.get(COOKIE))
    if session is None:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        raise SignInRequired(target if request.method == "GET" else "/portal/")
    viewer = Viewer(session.user, session.csrf_token)
    request.state.portal_viewer = viewer  # so that an error page still shows the user's navigation
    return viewer


AREA_NAMES = {
    Role.CORE_ENTERPRISE: "core enterprise",
    Role.SUPPLIER: "supplier",
    Role.FINANCIER: "financial institution",
    Role.OPERATOR: "platform operator",
    Role.CERTIFIER: "certifier",
}


def area(role: Role) -> Callable[..., Awaitable[Viewer]]:
    @_mark("area")
    async def in_area(viewer: Annotated[Viewer, Depends(signed_in)]) -> Viewer:
        if viewer.party.role is not role:
            raise Forbidden(f"This page is for the {AREA_NAMES[role]}'s people; you sign in for {viewer.party.name}.")
        return viewer

    in_area.__name__ = f"area_{role.value}"
    return in_area


async def check_csrf(request: Request, viewer: Viewer) -> None:
    given = request.headers.get(CSRF_HEADER)
    if given is None:
        form = await request.form()
        value = form.get(CSRF_FIELD)
        given = value if isinstance(value, str) else None
    if not given or not hmac.compare_digest(given, viewer.csrf_token):
        raise Forbidden("The form has expired or did not come from this site; reload the page and try again.")


def actor(role: Role | None) -> Callable[..., Awaitable[Viewer]]:
    """A signed-in user of ``role`` (any role when None) who may act, on a POST with a valid CSRF token."""

    @_mark("actor")
    async def acting(request: Request, viewer: Annotated[Viewer, Depends(signed_in)]) -> Viewer:
        if role is not None and viewer.party.role is not role:
            raise Forbidden(f"Only the {AREA_NAMES[role]}'s people may do this.")
        await check_csrf(request, viewer)
        if not viewer.user.can_act:
            raise Forbidden("An auditor's account can read but not act.")
        return viewer

    acting.__name__ = f"actor_{role.value if role else 'any'}"
    return acting


@_mark("session_post")
async def session_post(request: Request, viewer: Annotated[Viewer, Depends(signed_in)]) -> Viewer:
    """A signed-in user's POST that changes only their own session (signing out): CSRF checked."""
    await check_csrf(request, viewer)
    return viewer


def sign_in_url(next_url: str) -> str:
    return "/portal/login?next=" + quote(next_url, safe="/")


PublicPage = Depends(public_page)
SignedIn = Annotated[Viewer, Depends(signed_in)]
CoreArea = Annotated[Viewer, Depends(area(Role.CORE_ENTERPRISE))]
SupplierArea = Annotated[Viewer, Depends(area(Role.SUPPLIER))]
BankArea = Annotated[Viewer, Depends(area(Role.FINANCIER))]
AuditArea = Annotated[Viewer, Depends(area(Role.OPERATOR))]
CertifierArea = Annotated[Viewer, Depends(area(Role.CERTIFIER))]
CoreActor = Annotated[Viewer, Depends(actor(Role.CORE_ENTERPRISE))]
SupplierActor = Annotated[Viewer, Depends(actor(Role.SUPPLIER))]
BankActor = Annotated[Viewer, Depends(actor(Role.FINANCIER))]
CertifierActor = Annotated[Viewer, Depends(actor(Role.CERTIFIER))]
AnyActor = Annotated[Viewer, Depends(actor(None))]
SessionPost = Annotated[Viewer, Depends(session_post)]
