"""What every command handler works with: the ``Context`` of one command, its ``Result``, and the loading
helpers that keep the lock order (party (obligor) → voucher → offer/financing/freeze → holdings).

Handlers run inside the caller's transaction and never commit. They are deterministic given the command,
the event id and the acceptance time, which is what lets a replay of the journal rebuild the same state.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from tierflow.domain import operations as ops
from tierflow.domain.errors import CurrencyMismatch
from tierflow.domain.model import Holding, Party, Role, Voucher
from tierflow.domain.money import Money
from tierflow.domain.rules import Policy
from tierflow.services import commands as c
from tierflow.services.errors import InvalidCommand, NotFound, UnknownParty
from tierflow.services.ids import IdFactory
from tierflow.services.ports import Repository


@dataclass(slots=True)
class Context:
    repo: Repository
    actor_id: str
    actor: Party | None  # None only while registering the genesis operator
    body: Mapping[str, Any]
    at: datetime
    event_id: str
    ids: IdFactory
    policy: Policy
    offer_ttl: timedelta

    @property
    def today(self) -> date:
        return self.at.date()

    def require_actor(self) -> Party:
        if self.actor is None:
            raise UnknownParty("The acting party is not registered.", party=self.actor_id)
        return self.actor


@dataclass(slots=True)
class Result:
    effects: dict[str, Any]
    concerns: set[str] = field(default_factory=set)
    warnings: list[str] = field(default_factory=list)


Handler = Callable[[Context], Result]


def load_party(repo: Repository, party_id: object, field_name: str) -> Party:
    if not isinstance(party_id, str):
        raise InvalidCommand(f"'{field_name}' must be a party id.", field=field_name)
    party = repo.get_party(party_id)
    if party is None:
        raise UnknownParty(f"No party {party_id!r} is registered.", party=party_id, field=field_name)
    return party


def locked_voucher(repo: Repository, voucher_id: str) -> Voucher:
    voucher = repo.get_voucher(voucher_id, for_update=True)
    if voucher is None:
        raise NotFound(f"No voucher {voucher_id!r}.", voucher_id=voucher_id)
    return voucher


def holding_and_voucher(ctx: Context) -> tuple[Voucher, Holding]:
    holding_id = c.text(ctx.body, "holding_id")
    unlocked = ctx.repo.get_holding(holding_id)
    if unlocked is None or (unlocked.holder != ctx.actor_id and ctx.require_actor().role is not Role.OPERATOR):
        # Unknown and foreign holdings look the same, so ids cannot be probed.
        raise NotFound(f"No holding {holding_id!r} of yours.", holding_id=holding_id)
    voucher = locked_voucher(ctx.repo, unlocked.voucher_id)
    if not ctx.repo.row_locks:  # one writer at a time (SQLite): the first read is already current
        return voucher, unlocked
    holding = ctx.repo.get_holding(holding_id, for_update=True)
    assert holding is not None
    return voucher, holding


def same_currency(amount: Money, voucher: Voucher) -> None:
    if amount.currency != voucher.currency:
        raise CurrencyMismatch(
            f"The voucher is in {voucher.currency}; the amount is in {amount.currency}.",
            expected=voucher.currency,
            got=amount.currency,
        )


def store_outcome(ctx: Context, outcome: ops.Outcome, voucher_before: Voucher | None = None) -> None:
    ctx.repo.supersede(outcome.superseded, ctx.event_id)
    ctx.repo.add_holdings(outcome.created, ctx.event_id)
    for holding in outcome.updated:
        ctx.repo.set_holding_status(holding, ctx.event_id)
    if outcome.voucher is not None and outcome.voucher != voucher_before:
        ctx.repo.update_voucher(outcome.voucher)


def ids_of(holdings: tuple[Holding, ...]) -> list[str]:
    return [h.id for h in holdings]
