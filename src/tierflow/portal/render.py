"""Rendering pages: one Jinja2 environment (autoescaped), the filters the templates share, and the flash
messages a redirect-after-POST carries as a fixed key (never as free text in the URL)."""

from __future__ import annotations

import re
import secrets
from collections.abc import Mapping
from datetime import date, datetime
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.templating import Jinja2Templates

from tierflow.domain.money import Money
from tierflow.portal.access import CSRF_FIELD, CSRF_HEADER, Viewer
from tierflow.portal.charts import format_money

HERE = Path(__file__).parent
EVENT_ID = re.compile(r"^evt_[0-9A-Za-z]{10,40}$")
templates = Jinja2Templates(directory=HERE / "templates")

# Messages shown after a successful action: the redirect names the key, the page shows the text.
DONE = {
    "issued": "Voucher issued.",
    "offered": "Transfer offered; the recipient has until the offer expires to accept it.",
    "accepted": "Transfer accepted: the units are in your wallet.",
    "rejected": "Transfer rejected: the units went back to the sender.",
    "requested": "Financing requested; the institution will review it.",
    "cancelled": "Financing request cancelled.",
    "funded": "Financing approved and funded.",
    "declined": "Financing declined.",
    "reviewed": "Review recorded: a second person of the institution approves or declines next.",
    "approved": "Financing approved: the applicant signs the contract next.",
    "contract_signed": "Contract signed; the signature was checked and the signed file is kept with the case.",
    "registered": "Assignment registered with the financing registry.",
    "disbursed": "Payment sent to the bank and recorded: the financing is paid out.",
    "recourse": "Recourse claimed: the applicant owes what the obligor did not pay.",
    "settled": "Payment recorded.",
    "signed_out": "You have signed out.",
    "labelled": "Label signed and recorded in the journal.",
    "label_revoked": "Label revoked: it no longer counts in any institution's green totals.",
}


def money(value: Any, currency: str | None = None) -> str:
    """``{"amount": "12.30", "currency": "CNY"}``, or minor units with a currency, as ``CNY 12.30``."""
    if isinstance(value, Mapping):
        parsed = Money.parse(str(value["amount"]), str(value["currency"]))
        return format_money(parsed.minor, parsed.currency)
    if isinstance(value, int) and currency:
        return format_money(value, currency)
    return "—"


def short_id(value: Any, keep: int = 10) -> str:
    text = str(value or "")
    return text if len(text) <= keep + 4 else text[: keep + 4] + "…"


def when(value: Any) -> str:
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M UTC")
    if isinstance(value, date):
        return value.isoformat()
    text = str(value or "")
    return text.replace("T", " ")[:16] + (" UTC" if "T" in text else "")


templates.env.filters["money"] = money
templates.env.filters["short_id"] = short_id
templates.env.filters["when"] = when
templates.env.globals["CSRF_FIELD"] = CSRF_FIELD
templates.env.globals["CSRF_HEADER"] = CSRF_HEADER
templates.env.globals["form_token"] = lambda: secrets.token_urlsafe(18)


def is_htmx(request: Request) -> bool:
    return request.headers.get("HX-Request") == "true" and request.headers.get("HX-Boosted") != "true"


def _event_id(value: str | None) -> str | None:
    """A journal entry id from the URL, or None: the page links to it, so only the id's own alphabet passes."""
    return value if value and EVENT_ID.match(value) else None


def page(
    request: Request,
    template: str,
    viewer: Viewer | None,
    *,
    status_code: int = 200,
    **context: Any,
) -> HTMLResponse:
    done = request.query_params.get("done")
    response = templates.TemplateResponse(
        request,
        template,
        {
            "viewer": viewer,
            "party": viewer.party if viewer else None,
            "csrf": viewer.csrf_token if viewer else "",
            "flash": DONE.get(done or ""),
            "flash_event": _event_id(request.query_params.get("event")) if done in DONE else None,
            "htmx": is_htmx(request),
            **context,
        },
        status_code=status_code,
    )
    response.headers["Cache-Control"] = "no-store"
    return response


def done(url: str, key: str, event_id: str | None = None) -> RedirectResponse:
    """Redirect-after-POST to ``url`` with the success message ``key`` (a key of ``DONE``)."""
    assert key in DONE, key
    sep = "&" if "?" in url else "?"
    target = f"{url}{sep}done={key}" + (f"&event={event_id}" if event_id else "")
    return RedirectResponse(target, status_code=303)
