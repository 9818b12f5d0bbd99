"""Replay: rebuild the projections from the journal alone, and check that every entry re-executes the same.

Each leaf is parsed strictly, its command re-verified and re-executed through ``LedgerService.replay_entry``
with the recorded event id and acceptance time, against an empty database. Object ids derive from the
event id and handlers are deterministic, so the recomputed effects (and hence the rebuilt leaf bytes) must
equal the recorded ones. The genesis entry carries the platform policy, so the replay applies the rules the
platform applied.

The first entry that does not re-execute the same stops the replay; the report says which one and why.
Everything before it is committed, so the rebuilt database can be inspected.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from tierflow.domain.errors import DomainError
from tierflow.domain.rules import Policy
from tierflow.ledger.canonical import canonical_json
from tierflow.ledger.envelope import Entry, EnvelopeError, build_leaf, parse_leaf, parse_rfc3339
from tierflow.services.ledger import LedgerService, policy_from_json
from tierflow.services.ports import UnitOfWork, UnitOfWorkFactory

GENESIS_KIND = "party.register"


@runtime_checkable
class HasUnitOfWork(Protocol):
    """Anything that exposes a unit-of-work factory (such as the composition root's ``Platform``)."""

    @property
    def uow(self) -> UnitOfWorkFactory: ...


@dataclass(frozen=True, slots=True)
class Divergence:
    """The first entry that did not re-execute as recorded."""

    index: int  # position in the replayed sequence (0 = genesis)
    event_id: str | None
    kind: str | None
    reason: str
    expected: Mapping[str, Any] | None = None  # recorded effects
    actual: Mapping[str, Any] | None = None  # recomputed effects

    def describe(self) -> str:
        where = f"entry {self.index}"
        if self.event_id is not None:
            where += f" ({self.event_id}, {self.kind})"
        text = f"{where}: {self.reason}"
        if self.expected is not None or self.actual is not None:
            text += f"\n  recorded effects: {_show(self.expected)}\n  replayed effects: {_show(self.actual)}"
        return text


@dataclass(frozen=True, slots=True)
class ReplayReport:
    replayed: int  # entries re-executed identically (and committed)
    policy: Policy | None  # the policy the replay applied (from genesis unless given)
    last_event_id: str | None
    divergence: Divergence | None = None

    @property
    def ok(self) -> bool:
        return self.divergence is None

    def describe(self) -> str:
        if self.divergence is None:
            return f"replayed {self.replayed} entries; every one re-executed as recorded"
        return f"replay stopped after {self.replayed} identical entries at {self.divergence.describe()}"


class _Diverged(Exception):
    def __init__(self, divergence: Divergence) -> None:
        super().__init__(divergence.reason)
        self.divergence = divergence


def _show(value: Mapping[str, Any] | None) -> str:
    if value is None:
        return "-"
    try:
        return canonical_json(dict(value)).decode()
    except (TypeError, ValueError):
        return repr(value)


def _canonical(value: Mapping[str, Any]) -> bytes | None:
    try:
        return canonical_json(dict(value))
    except (TypeError, ValueError):
        return None


def replay_journal(
    leaves: Iterable[bytes],
    target: UnitOfWorkFactory | HasUnitOfWork,
    *,
    policy: Policy | None = None,
    commit_every: int = 256,
) -> ReplayReport:
    """Re-executes ``leaves`` (in journal order, genesis first) into the empty database behind ``target``.

    ``policy`` overrides the policy carried by the genesis entry (for a journal whose genesis lacks one).
    """
    factory = target.uow if isinstance(target, HasUnitOfWork) else target
    ledger: LedgerService | None = None
    replayed = 0
    last: str | None = None
    pending = 0
    uow: UnitOfWork = factory()
    uow.__enter__()
    try:
        for index, raw in enumerate(leaves):
            try:
                entry = _parse(index, raw)
                if ledger is None:
                    ledger = LedgerService(
                        factory, policy=policy or _genesis_policy(index, entry), check_freshness=False
                    )
                try:
                    with uow.savepoint():
                        _replay_one(ledger, uow, index, entry)
                except DomainError as error:  # a database refusal, translated by the savepoint
                    reason = f"refused on replay: {error.code}: {error.message}"
                    raise _Diverged(Divergence(index, entry.id, entry.kind, reason)) from None
            except _Diverged as stop:
                uow.commit()
                return ReplayReport(replayed, ledger.policy if ledger else policy, last, stop.divergence)
            replayed += 1
            last = entry.id
            pending += 1
            if pending >= commit_every:
                uow.commit()
                uow.__exit__(None, None, None)
                uow = factory()
                uow.__enter__()
                pending = 0
        uow.commit()
    finally:
        uow.__exit__(None, None, None)
    return ReplayReport(replayed, ledger.policy if ledger else policy, last)


def _parse(index: int, raw: bytes) -> Entry:
    try:
        entry = parse_leaf(bytes(raw))
    except EnvelopeError as error:
        raise _Diverged(Divergence(index, None, None, f"malformed leaf: {error.reason}")) from None
    if entry.kind != entry.command["kind"]:
        reason = f"the leaf's kind differs from its command's ({entry.command['kind']!r})"
        raise _Diverged(Divergence(index, entry.id, entry.kind, reason))
    return entry


def _genesis_policy(index: int, entry: Entry) -> Policy:
    body = entry.command["body"]
    if index != 0 or entry.kind != GENESIS_KIND or not isinstance(body.get("policy"), Mapping):
        reason = "the first entry must be the genesis registration carrying the platform policy"
        raise _Diverged(Divergence(index, entry.id, entry.kind, reason))
    try:
        return policy_from_json(body["policy"])
    except (KeyError, TypeError, ValueError) as error:
        raise _Diverged(
            Divergence(index, entry.id, entry.kind, f"the genesis policy is malformed: {error!r}")
        ) from None


def _replay_one(ledger: LedgerService, uow: UnitOfWork, index: int, entry: Entry) -> None:
    """Re-executes one entry inside the caller's savepoint; raises ``_Diverged`` (rolling it back)."""
    at = parse_rfc3339(entry.at)
    try:
        accepted = ledger.replay_entry(uow, entry.command, entry.signature, entry.id, at)
    except DomainError as error:
        raise _Diverged(
            Divergence(
                index, entry.id, entry.kind, f"refused on replay: {error.code}: {error.message}", expected=entry.effects
            )
        ) from None
    effects = dict(accepted.effects)
    if _canonical(effects) != _canonical(entry.effects) or _canonical(effects) is None:
        raise _Diverged(
            Divergence(
                index,
                entry.id,
                entry.kind,
                "the recomputed effects differ from the recorded ones",
                expected=entry.effects,
                actual=effects,
            )
        )
    if accepted.at != entry.at:
        raise _Diverged(Divergence(index, entry.id, entry.kind, f"accepted at {accepted.at}, recorded at {entry.at}"))
    rebuilt = build_leaf(
        event_id=entry.id,
        kind=entry.kind,
        at=accepted.at,
        command=entry.command,
        signature=entry.signature,
        effects=effects,
    )
    if rebuilt != entry.raw:
        reason = "the rebuilt leaf bytes differ from the recorded ones"
        raise _Diverged(Divergence(index, entry.id, entry.kind, reason))
