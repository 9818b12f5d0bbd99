"""Duties nobody asks for but the platform owes: expiring transfer offers whose time has passed.

The platform acts like any party: it signs a ``transfer.expire`` command with the operator's key, so the
expiry is in the journal, attributable, and replayable.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

from tierflow.domain.errors import DomainError
from tierflow.services.commands import SignedCommand
from tierflow.services.ledger import LedgerService, rfc3339
from tierflow.services.ports import UnitOfWorkFactory

log = logging.getLogger("tierflow.sweeps")

Sign = Callable[[str, Mapping[str, Any]], SignedCommand]


def expire_due_offers(uow: UnitOfWorkFactory, ledger: LedgerService, sign: Sign, *, limit: int = 200) -> int:
    """Expires up to ``limit`` offers past their time; returns how many it expired."""
    with uow(read_only=True) as work:
        due = work.repo.expired_offer_ids(rfc3339(ledger.clock()), limit)
    done = 0
    for offer_id in due:
        try:
            ledger.submit(sign("transfer.expire", {"offer_id": offer_id}))
            done += 1
        except DomainError as error:  # answered by its recipient meanwhile
            log.info("offer %s not expired: %s", offer_id, error.code)
    return done
