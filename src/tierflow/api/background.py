"""The server's background duties: integrate new journal entries and sign checkpoints every interval,
expire transfer offers whose time has passed, and mark financings unpaid after maturity overdue (both
signed by the operator's key, like any command)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from typing import Any

from tierflow.api.routes_pact import deliver as deliver_pact_event
from tierflow.bootstrap import Platform
from tierflow.services.commands import SignedCommand
from tierflow.services.financing_case import Acting
from tierflow.services.sweeps import expire_due_offers

log = logging.getLogger("tierflow.background")


def expire_offers(platform: Platform, limit: int = 200) -> int:
    def sign(kind: str, body: Mapping[str, Any]) -> SignedCommand:
        return platform.operator.command(kind, body, now=platform.clock)

    return expire_due_offers(platform.uow, platform.ledger, sign, limit=limit)


def mark_overdue_financings(platform: Platform) -> int:
    operator = platform.operator

    def submit(kind: str, body: dict[str, Any]) -> Mapping[str, Any]:
        return platform.ledger.submit(operator.command(kind, body, now=platform.clock)).effects

    return len(platform.cases.sweep_overdue(Acting(operator.party_id, None, submit)))


class Background:
    def __init__(self, platform: Platform) -> None:
        self._platform = platform
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="integrator", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def _run(self) -> None:
        interval = self._platform.settings.integrate_interval_ms / 1000
        batch = self._platform.settings.integrate_batch
        ticks = 0
        while not self._stop.wait(interval):
            try:
                self._platform.journal.integrate_all(batch)
                ticks += 1
                if ticks % 50 == 0:
                    expire_offers(self._platform)
                if ticks % 600 == 0:
                    mark_overdue_financings(self._platform)
                if ticks % 100 == 0:
                    self._platform.footprints.deliver_due(deliver_pact_event)
            except Exception:  # keep serving; the next tick retries
                log.exception("background integration failed")
