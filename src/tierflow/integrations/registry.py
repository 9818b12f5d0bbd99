"""A simulation of China's movable-asset financing registry, standing in for the real service.

The real service
----------------

The unified registration and public-notice system for movable-asset financing (动产融资统一登记公示系统,
"中登网", www.zhongdengwang.org.cn) is run by the Credit Reference Center of the People's Bank of China. Since
2021 it is the single national registry for security over movable assets and rights, including pledges
(应收账款质押) and assignments (应收账款转让, 保理) of receivables. What it does:

- a registered user, normally the secured party (担保权人, here the *pledgee*: the financial institution),
  files an initial registration (初始登记) naming the grantor (担保人, here the *pledgor*: the supplier), the
  secured party, a description of the collateral, optionally the secured amount, and a registration period
  (登记期限) chosen by the filer, of at most 30 years;
- the system answers at once with a registration number (登记证明编号, 20 digits on its registration
  certificates; the structure is not published) and a registration time, and publishes the filing;
- anyone may search (查询) the registrations against a grantor and obtain a search certificate; a financier is
  expected to search before taking a receivable;
- it does no substantive review: it records what is filed. Between security interests in the same asset,
  priority follows the order of registration (登记在先, 顺位在先), and a registration lapses when its period
  ends or when the filer cancels it (注销登记).

What the simulation keeps
-------------------------

``SimulatedRegistry`` implements ``tierflow.services.external.FinancingRegistry``. It keeps the filing's
fields, the refusals of malformed filings, the registration period and its lapse, 20-digit registration
numbers, registration times from a clock, search and cancellation. A registration is live through the Beijing
date ``period_end``; a new one needs a ``period_end`` after today and at most 30 years away. Collateral is
identified exactly by the platform's ``collateral_id`` (the real system only has a free-text description), so
a later filing by another pledgee against a live registration of the same collateral — the outside sign of one
receivable being financed twice — is *refused* with ``registry_conflict`` naming the earlier registration,
where the real system would record it behind the first in priority. A filing by the same pledgee for the same
collateral returns the existing registration, so a retried request registers once. The real system's internal
number structure is not published: here a number is an 8-digit serial followed by 12 digits derived from the
filing, which makes numbers unique and stable across restarts. There are no user accounts, fees, modification
codes (修改码), amendments or search certificates.

With a ``path``, every change is appended to a JSON-lines file (one object per line, flushed and fsynced) and
replayed on start; a torn last line left by a crash is dropped. One instance may be shared between threads;
the file is not meant to be shared between processes.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable
from dataclasses import asdict
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from tierflow.domain.money import CURRENCIES
from tierflow.integrations.jsonlines import JsonLines
from tierflow.services.external import ExternalServiceError, Registration, RegistrationRequest

NUMBER_LENGTH = 20
MAX_PERIOD_YEARS = 30
BEIJING = timezone(timedelta(hours=8), "CST")  # the registry's dates are Beijing dates; China has no DST

_TEXT_FIELDS = ("pledgor_name", "pledgor_id", "pledgee_name", "pledgee_id", "collateral_id")


def _utc_now() -> datetime:
    return datetime.now(UTC)


def _invalid(message: str) -> ExternalServiceError:
    return ExternalServiceError("registry_invalid", message)


def _add_years(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February
        return day.replace(year=day.year + years, day=28)


def _request_to_json(request: RegistrationRequest) -> dict[str, Any]:
    data = asdict(request)
    data["period_end"] = request.period_end.isoformat()
    return data


def _request_from_json(data: dict[str, Any]) -> RegistrationRequest:
    return RegistrationRequest(**{**data, "period_end": date.fromisoformat(data["period_end"])})


class SimulatedRegistry:
    """An in-process movable-asset financing registry (see the module docstring for what it keeps)."""

    def __init__(self, path: Path | None = None, *, clock: Callable[[], datetime] = _utc_now) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._registrations: list[Registration] = []  # in order of registration, i.e. of priority
        self._cancelled: dict[str, datetime] = {}
        self._store = JsonLines(path, "registry_unavailable") if path is not None else None
        if self._store is not None:
            for record in self._store.load():
                self._replay(record)

    # --- the service ----------------------------------------------------------------------------------

    def register(self, request: RegistrationRequest) -> Registration:
        """File an initial registration; returns the live one if this pledgee already holds the collateral.

        Raises ``ExternalServiceError`` ``registry_invalid`` for a malformed filing and ``registry_conflict``
        when another pledgee holds a live registration of the same collateral.
        """
        with self._lock:
            now = self._now()
            self._validate(request, now)
            for earlier in self._live(now):
                if earlier.request.collateral_id != request.collateral_id:
                    continue
                if earlier.request.pledgee_id == request.pledgee_id:
                    return earlier
                raise ExternalServiceError(
                    "registry_conflict",
                    f"collateral {request.collateral_id!r} is already registered to {earlier.request.pledgee_name} "
                    f"under registration {earlier.number} of {earlier.registered_at.isoformat()}",
                )
            registration = Registration(number=self._next_number(request), registered_at=now, request=request)
            self._persist(
                {
                    "op": "register",
                    "number": registration.number,
                    "at": now.isoformat(),
                    "request": _request_to_json(request),
                }
            )
            self._registrations.append(registration)
            return registration

    def search(self, collateral_id: str) -> list[Registration]:
        """The live registrations of ``collateral_id``, earliest (highest priority) first."""
        with self._lock:
            return [r for r in self._live(self._now()) if r.request.collateral_id == collateral_id]

    def search_by_pledgor(self, pledgor_id: str) -> list[Registration]:
        """The live registrations against one grantor, earliest first: the real system's public search key."""
        with self._lock:
            return [r for r in self._live(self._now()) if r.request.pledgor_id == pledgor_id]

    def cancel(self, number: str, *, pledgee_id: str) -> None:
        """Cancel (注销) a live registration; only its pledgee may. Cancelling twice is a no-op.

        Raises ``registry_not_found`` for an unknown number and ``registry_forbidden`` for another filer.
        """
        with self._lock:
            registration = next((r for r in self._registrations if r.number == number), None)
            if registration is None:
                raise ExternalServiceError("registry_not_found", f"no registration {number!r}")
            if registration.request.pledgee_id != pledgee_id:
                raise ExternalServiceError(
                    "registry_forbidden", f"registration {number} was filed by another pledgee; only it may cancel"
                )
            if number in self._cancelled:
                return
            now = self._now()
            self._persist({"op": "cancel", "number": number, "at": now.isoformat()})
            self._cancelled[number] = now

    # --- internals ------------------------------------------------------------------------------------

    def _now(self) -> datetime:
        now = self._clock()
        if now.tzinfo is None or now.utcoffset() is None:
            raise ValueError("the registry's clock must return timezone-aware datetimes")
        return now

    def _live(self, now: datetime) -> list[Registration]:
        today = now.astimezone(BEIJING).date()
        return [r for r in self._registrations if r.number not in self._cancelled and r.request.period_end >= today]

    def _validate(self, request: RegistrationRequest, now: datetime) -> None:
        if not isinstance(request, RegistrationRequest):
            raise _invalid(f"expected a RegistrationRequest; got {type(request).__name__}")
        for name in _TEXT_FIELDS:
            value = getattr(request, name)
            if not isinstance(value, str) or not value.strip():
                raise _invalid(f"{name} must be non-empty text; got {value!r}")
        if not isinstance(request.description, str):
            raise _invalid(f"description must be text; got {request.description!r}")
        amount = request.amount_minor
        if isinstance(amount, bool) or not isinstance(amount, int) or amount <= 0:
            raise _invalid(f"amount_minor must be a positive integer of minor units; got {amount!r}")
        if not isinstance(request.currency, str) or request.currency not in CURRENCIES:
            raise _invalid(f"unknown currency {request.currency!r}")
        end = request.period_end
        if not isinstance(end, date) or isinstance(end, datetime):
            raise _invalid(f"period_end must be a date; got {end!r}")
        today = now.astimezone(BEIJING).date()
        if end <= today:
            raise _invalid(f"period_end {end.isoformat()} is not after today ({today.isoformat()}, Beijing)")
        latest = _add_years(today, MAX_PERIOD_YEARS)
        if end > latest:
            raise _invalid(
                f"period_end {end.isoformat()} is beyond the longest period of {MAX_PERIOD_YEARS} years "
                f"({latest.isoformat()})"
            )

    def _next_number(self, request: RegistrationRequest) -> str:
        serial = len(self._registrations) + 1
        digest = hashlib.sha256(f"{serial}\x00{request.collateral_id}\x00{request.pledgee_id}".encode()).digest()
        tail = int.from_bytes(digest[:8], "big") % 10**12
        return f"{serial:08d}{tail:012d}"

    def _persist(self, record: dict[str, Any]) -> None:
        if self._store is None:
            return
        try:
            self._store.append(record)
        except OSError as exc:
            raise ExternalServiceError("registry_unavailable", f"could not record the registration: {exc}") from exc

    def _replay(self, record: dict[str, Any]) -> None:
        try:
            op = record["op"]
            at = datetime.fromisoformat(record["at"])
            if op == "register":
                request = _request_from_json(record["request"])
                self._registrations.append(Registration(number=record["number"], registered_at=at, request=request))
            elif op == "cancel":
                self._cancelled[record["number"]] = at
            else:
                raise ValueError(f"unknown operation {op!r}")
        except (KeyError, TypeError, ValueError) as exc:
            raise ExternalServiceError("registry_unavailable", f"unreadable registry record {record!r}: {exc}") from exc
