"""The web portal: server-rendered pages (Jinja2 + htmx) for every role, on the same server as the API.

Design overview:

- **Same services, no second copy of the rules.** Pages read through ``QueryService`` with the signed-in
  user's party as the viewer (so the API's visibility rules apply unchanged) and act by signing a command with
  the party's custodial key and handing it to the API's group committer (``actions``).
- **Access** (``access``): a session cookie (HttpOnly, SameSite=Lax), a CSRF token on every form, and one
  declared access dependency per route — public, signed in, the area of a party role, or an actor in it.
- **Progressive enhancement**: every form is a plain POST answered with a redirect (``render.done``); htmx
  (vendored, ``static/htmx.min.js``) boosts links and forms and swaps fragments where a part of a page
  changes (the price of a financing before it is confirmed, a page of journal entries).
- **Charts** are server-rendered SVG with a data table beside them (``charts``); the receipt check runs in
  the browser (``static/verify.js``) so an auditor need not trust the server.
- Pages by role: ``routes_core`` (payables, maturity ladder, how far vouchers travelled, pay at maturity),
  ``routes_supplier`` (wallet, split and transfer, offers, financing with its price), ``routes_bank``
  (request queue with the stage and verdict of each, maturity reminders, portfolio), ``routes_cases`` (the
  financing case of the applicant and the institution: stages, verdict, steps, contract, registration, payment,
  repayments, files, green labels and sustainability-linked terms, and the workflow's actions; camt.054 import),
  ``routes_green`` (a certifier's green labels and KPI certifications; an institution's green totals),
  ``routes_footprints`` (a supplier's or core enterprise's PACT product footprints: upload, export, PACT clients,
  requests received), ``routes_esg`` (the HKEX ESG KPI table and charts from an inputs file),
  ``routes_audit`` (journal, checkpoints, cosignatures, receipts, provenance graphs) and ``routes_public``
  (landing, sign-in, history).
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from tierflow.api import create_app as create_api
from tierflow.bootstrap import Platform
from tierflow.portal import errors
from tierflow.portal.access import PublicPage
from tierflow.portal.routes_audit import router as audit_router
from tierflow.portal.routes_bank import router as bank_router
from tierflow.portal.routes_cases import router as cases_router
from tierflow.portal.routes_core import router as core_router
from tierflow.portal.routes_esg import router as esg_router
from tierflow.portal.routes_footprints import router as footprints_router
from tierflow.portal.routes_green import router as green_router
from tierflow.portal.routes_public import router as public_router
from tierflow.portal.routes_supplier import router as supplier_router

PORTAL_ROUTERS = [
    public_router, core_router, supplier_router, bank_router, cases_router, green_router, footprints_router,
    esg_router, audit_router,
]


def create_app(
    platform: Platform, *, background: bool = True, demo_logins: list[dict[str, Any]] | None = None
) -> FastAPI:
    """The whole server: the REST API under ``/v1`` and the portal under ``/portal``."""
    from fastapi.responses import RedirectResponse
    from fastapi.staticfiles import StaticFiles

    from tierflow.portal.render import HERE

    app = create_api(platform, background=background)
    app.state.demo_logins = demo_logins or []
    errors.install(app)
    for router in PORTAL_ROUTERS:
        app.include_router(router)
    app.mount("/portal/static", StaticFiles(directory=HERE / "static"), name="portal-static")

    @app.get("/", include_in_schema=False, dependencies=[PublicPage])
    async def root() -> RedirectResponse:
        return RedirectResponse("/portal/", status_code=307)

    return app
