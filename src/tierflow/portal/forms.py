"""Reading HTML form input into exact values, with one clear message per field; and the small helpers the pages
share."""

from __future__ import annotations

import re
from datetime import UTC, date
from decimal import Decimal
from typing import Annotated, Any

from fastapi import Form, Path

from tierflow.bootstrap import Platform
from tierflow.domain.errors import DomainError, ErrorKind
from tierflow.domain.money import CURRENCIES, MAX_DIGITS, Money
from tierflow.portal.access import Viewer
from tierflow.services.commands import MAX_REF, MAX_REFS

# Path and form fields, with the longest value each takes.
ObjectId = Annotated[str, Path(max_length=64)]
ShortField = Annotated[str, Form(max_length=64)]
Field = Annotated[str, Form(max_length=200)]
LongField = Annotated[str, Form(max_length=20_000)]

# The currencies offered on a form, the usual first; the ledger takes any of ``CURRENCIES``.
OFFERED_CURRENCIES: tuple[str, ...] = ("CNY", *sorted(c for c in CURRENCIES if c != "CNY"))


# --- reading forms ---------------------------------------------------------------------------------------


class FormProblem(DomainError):
    """A form field that cannot become a command body; shown next to the form (422)."""

    code = "invalid_form"
    kind = ErrorKind.UNPROCESSABLE


_DECIMAL = re.compile(r"-?[0-9]+(?:\.[0-9]+)?")


def parse_amount(text: str, currency: str, *, what: str = "amount", zero_ok: bool = False) -> Money:
    """A plain decimal in ``currency``: exact (no float), positive unless ``zero_ok``, with the currency's
    decimal places at most. Every refusal says what to type instead."""
    value = text.strip()
    places = CURRENCIES.get(currency, 2)
    example = "1250" if places == 0 else "1250." + "0" * places
    if not value:
        raise FormProblem(f"Enter the {what}, such as {example}.")
    if not _DECIMAL.fullmatch(value):
        raise FormProblem(
            f"“{value[:40]}” is not an amount: write the {what} as a plain number such as {example} "
            "(digits and a decimal point; no letters, exponents, spaces or thousands separators)."
        )
    if value.startswith("-"):
        raise FormProblem(f"The {what} cannot be negative.")
    whole, _, frac = value.partition(".")
    if len(frac) > places:
        raise FormProblem(f"{currency} amounts have {places} decimal places at most; “{value[:40]}” has {len(frac)}.")
    if len(whole.lstrip("0")) + len(frac) > MAX_DIGITS:
        raise FormProblem(f"The {what} is far too large.")
    money = Money.parse(value, currency)
    if money.minor == 0 and not zero_ok:
        raise FormProblem(f"The {what} must be more than zero.")
    return money


def parse_currency(text: str) -> str:
    code = text.strip().upper()
    if code not in CURRENCIES:
        raise FormProblem(
            f"“{text.strip()[:12]}” is not a currency the platform takes; choose one of "
            + ", ".join(OFFERED_CURRENCIES)
            + "."
        )
    return code


def parse_rate(text: str) -> str:
    """An annual rate typed in percent ("3.65") as the command's decimal fraction ("0.0365"), exactly."""
    value = text.strip().removesuffix("%").strip()
    if not value:
        raise FormProblem("Enter the annual rate in percent, such as 3.65 for 3.65 % a year.")
    if not _DECIMAL.fullmatch(value) or value.startswith("-"):
        raise FormProblem(
            f"“{text.strip()[:40]}” is not a rate: enter the annual rate in percent as a plain number, such as 3.65."
        )
    frac = value.partition(".")[2]
    if len(frac) > 6:
        raise FormProblem("Give the annual rate with at most 6 decimal places.")
    rate = Decimal(value)
    if rate >= 100:
        raise FormProblem("The annual rate must be below 100 %.")
    return format(rate.scaleb(-2), "f")


def parse_refs(text: str, *, missing: str = "Enter at least one invoice number.") -> list[str]:
    """Invoice numbers, one a line or separated by commas; blanks dropped, repeats kept once. ``missing`` is the
    message when there is none (it says what the invoices are for)."""
    refs: list[str] = []
    for part in re.split(r"[,\r\n]+", text):
        ref = part.strip()
        if ref and ref not in refs:
            refs.append(ref)
    if not refs:
        raise FormProblem(missing)
    if len(refs) > MAX_REFS:
        raise FormProblem(f"List at most {MAX_REFS} invoice numbers.")
    long = [r for r in refs if len(r) > MAX_REF]
    if long:
        raise FormProblem(f"An invoice number has at most {MAX_REF} characters; “{long[0][:40]}…” is longer.")
    return refs


def parse_date(text: str) -> date:
    """A maturity date typed as YYYY-MM-DD."""
    value = text.strip()
    if not value:
        raise FormProblem("Enter the maturity date (the day the payable is due).")
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise FormProblem(f"“{value[:20]}” is not a date: give the maturity date as YYYY-MM-DD.") from None


# --- what the pages share --------------------------------------------------------------------------------


def today_of(platform: Platform) -> date:
    """The platform's date today (UTC), by its clock."""
    return platform.clock().astimezone(UTC).date()


def days_to(maturity: Any, today: date) -> int | None:
    """Days from ``today`` to ``maturity`` (an ISO date), negative once past; None when it is not a date."""
    try:
        return (date.fromisoformat(str(maturity)) - today).days
    except ValueError:
        return None


def directory(platform: Platform, viewer: Viewer, role: str | None) -> list[dict[str, Any]]:
    """Every registered party of ``role`` (paging through the directory), sorted by name."""
    found: list[dict[str, Any]] = []
    after: str | None = None
    while True:
        batch = platform.queries.parties(viewer.party, role=role, limit=500, after=after)
        found.extend(batch.items)
        if not batch.has_more or not batch.items:
            break
        after = str(batch.items[-1]["id"])
    return sorted(found, key=lambda p: (str(p["name"]).casefold(), str(p["id"])))


def percent(rate: Any) -> str:
    """A stored annual rate ("0.0365") as the percent people type and read ("3.65")."""
    try:
        value = Decimal(str(rate)).scaleb(2)
    except ArithmeticError:
        return str(rate)
    text = format(value, "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def refused(error: DomainError) -> bool:
    """Errors shown on the form (bad amount, wrong state...) rather than as a not-found/not-allowed page."""
    return error.kind not in (ErrorKind.NOT_FOUND, ErrorKind.FORBIDDEN)


def error_status(error: DomainError) -> int:
    """The status of a page that shows a refusal on its form: 409 for a conflict, else 422."""
    return 409 if error.kind is ErrorKind.CONFLICT else 422
