"""The command service: verify a signed command, execute it in one transaction, journal it.

``submit`` runs one command in its own transaction; ``submit_batch`` runs many in ONE transaction, each in
a savepoint (group commit): a failed command rolls back alone, and the batch pays one durable commit. The
signature is checked before the transaction opens (it is CPU work that needs no lock). A command is
accepted once: its digest is unique in the journal (a replayed signature gets ``replayed_command``), and
its ``issued_at`` must be within the allowed clock skew.

An ``Idempotency-Key`` answer is stored in the same transaction as the effect, so a retried request gets the
same answer and never a second effect.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from tierflow.domain.errors import DomainError, NotAuthorised
from tierflow.domain.model import Party, Role
from tierflow.domain.rules import Policy
from tierflow.ledger.envelope import (
    EnvelopeError,
    SignatureError,
    build_leaf,
    canonical_command,
    digest_of,
    verify_canonical_command,
)
from tierflow.services.commands import SignedCommand, check_envelope
from tierflow.services.context import Context
from tierflow.services.errors import (
    ActorMismatch,
    BadSignature,
    IdempotencyMismatch,
    InvalidCommand,
    ReplayedCommand,
    StaleCommand,
    UnknownParty,
)
from tierflow.services.handlers import HANDLERS
from tierflow.services.ids import IdFactory, new_event_id
from tierflow.services.ports import EventRecord, Repository, StoredAnswer, UnitOfWork, UnitOfWorkFactory

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


def rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


@dataclass(frozen=True, slots=True)
class Idempotency:
    key: str
    request_hash: str


@dataclass(frozen=True, slots=True)
class Submission:
    signed: SignedCommand
    authenticated: Party | None = None  # None: trusted caller (CLI, tests, replay)
    idempotency: Idempotency | None = None


@dataclass(frozen=True, slots=True)
class Accepted:
    event_id: str
    kind: str
    at: str
    effects: Mapping[str, Any]
    warnings: tuple[str, ...] = ()
    replayed_answer: bool = False

    def as_json(self) -> dict[str, Any]:
        return {
            "event_id": self.event_id,
            "kind": self.kind,
            "at": self.at,
            "effects": dict(self.effects),
            "warnings": list(self.warnings),
        }


@dataclass(slots=True)
class Prepared:
    """A submission whose envelope and signature have been checked (or the error that stopped it)."""

    submission: Submission
    actor: Party | None
    digest: str
    error: DomainError | None = None
    command_bytes: bytes = b""
    concerns: set[str] = field(default_factory=set)


def policy_from_json(data: Mapping[str, Any]) -> Policy:
    return Policy(
        tier_limit=int(data["tier_limit"]),
        split_limit=int(data["split_limit"]),
        max_tenor_days=int(data["max_tenor_days"]),
        warn_tenor_months=int(data["warn_tenor_months"]),
        max_face_minor={str(k): int(v) for k, v in dict(data["max_face_minor"]).items()},
        offer_ttl_hours=int(data["offer_ttl_hours"]),
        # Journals begun before trade checks existed never refused on them: they replay in "record" mode.
        trade_checks=str(data.get("trade_checks", "record")),
    )


def policy_to_json(policy: Policy) -> dict[str, Any]:
    return {
        "tier_limit": policy.tier_limit,
        "split_limit": policy.split_limit,
        "max_tenor_days": policy.max_tenor_days,
        "warn_tenor_months": policy.warn_tenor_months,
        "max_face_minor": dict(policy.max_face_minor),
        "offer_ttl_hours": policy.offer_ttl_hours,
        "trade_checks": policy.trade_checks,
    }


class LedgerService:
    def __init__(
        self,
        uow: UnitOfWorkFactory,
        *,
        policy: Policy,
        clock: Clock = utc_now,
        max_skew: timedelta = timedelta(minutes=10),
        check_freshness: bool = True,
    ) -> None:
        self._uow = uow
        self.policy = policy
        self.clock = clock
        self._max_skew = max_skew
        self._check_freshness = check_freshness
        self._parties: dict[str, Party] = {}

    # --- public ---------------------------------------------------------------------------------------

    def submit(
        self,
        signed: SignedCommand,
        *,
        authenticated: Party | None = None,
        idempotency: Idempotency | None = None,
    ) -> Accepted:
        result = self.submit_batch([Submission(signed, authenticated, idempotency)])[0]
        if isinstance(result, DomainError):
            raise result
        return result

    def submit_batch(self, submissions: Sequence[Submission]) -> list[Accepted | DomainError]:
        return self.execute_batch([self.prepare(s) for s in submissions])

    def prepare(self, submission: Submission) -> Prepared:
        """The checks that need no transaction (shape, freshness, signature); safe to run in many threads."""
        return self._prepare(submission)

    def execute_batch(self, prepared: Sequence[Prepared]) -> list[Accepted | DomainError]:
        """Executes prepared commands in ONE transaction, a savepoint each (group commit)."""
        results: list[Accepted | DomainError] = []
        with self._uow() as uow:
            for item in prepared:
                if item.error is not None:
                    results.append(item.error)
                    continue
                try:
                    with uow.savepoint():
                        results.append(self._execute(uow, item))
                except DomainError as error:
                    results.append(error)
            uow.commit()
        return results

    def replay_entry(
        self, uow: UnitOfWork, command: Mapping[str, Any], signature: str, event_id: str, at: datetime
    ) -> Accepted:
        """Re-executes a journalled command with its recorded id and time (used by the replay check)."""
        # The actor is read through the caller's transaction: a second connection would not see parties
        # registered earlier in it, and on SQLite it would wait for the caller's write lock.
        item = self._prepare(Submission(SignedCommand(command, signature)), fresh=False, repo=uow.repo)
        if item.error is not None:
            raise item.error
        with uow.savepoint():
            return self._execute(uow, item, event_id=event_id, at=at)

    # --- steps ----------------------------------------------------------------------------------------

    def _prepare(self, submission: Submission, *, fresh: bool = True, repo: Repository | None = None) -> Prepared:
        signed = submission.signed
        try:
            issued_at = check_envelope(signed.command)
            if fresh and self._check_freshness:
                skew = abs(self.clock() - issued_at)
                if skew > self._max_skew:
                    raise StaleCommand(
                        f"issued_at is {int(skew.total_seconds())} s from the server's clock; "
                        f"at most {int(self._max_skew.total_seconds())} s is allowed.",
                        field="issued_at",
                    )
            actor = self._party(signed.actor) if repo is None else repo.get_party(signed.actor)
            if submission.authenticated is not None and submission.authenticated.id != signed.actor:
                raise ActorMismatch("The command's actor is not the authenticated party.", actor=signed.actor)
            key = self._signing_key(signed, actor)
            try:
                command_bytes = canonical_command(signed.command)
            except EnvelopeError as error:
                raise InvalidCommand(f"The command cannot be canonicalised: {error.reason}.") from None
            verify_canonical_command(command_bytes, signed.signature, key)
            return Prepared(submission, actor, digest_of(command_bytes), command_bytes=command_bytes)
        except SignatureError as error:
            return Prepared(submission, None, "", BadSignature(f"The signature does not verify: {error}."))
        except DomainError as error:
            return Prepared(submission, None, "", error)

    def _signing_key(self, signed: SignedCommand, actor: Party | None) -> bytes:
        if signed.kind == "party.register":
            # Proof of possession: a registration is signed by the new party's own key.
            from base64 import b64decode

            try:
                return b64decode(str(signed.body.get("public_key", "")), validate=True)
            except ValueError:
                raise InvalidCommand("'public_key' must be base64.", field="public_key") from None
        if actor is None:
            raise UnknownParty(f"No party {signed.actor!r} is registered.", party=signed.actor)
        return actor.public_key

    def _party(self, party_id: str) -> Party | None:
        party = self._parties.get(party_id)
        if party is None:
            with self._uow(read_only=True) as uow:
                party = uow.repo.get_party(party_id)
            if party is not None:
                self._parties[party_id] = party
        return party

    def _execute(
        self, uow: UnitOfWork, item: Prepared, *, event_id: str | None = None, at: datetime | None = None
    ) -> Accepted:
        signed = item.submission.signed
        repo = uow.repo
        idem = item.submission.idempotency
        owner = signed.actor
        if idem is not None:
            stored = repo.get_answer(owner, idem.key)
            if stored is not None:
                if stored.request_hash != idem.request_hash:
                    raise IdempotencyMismatch(
                        "This Idempotency-Key was used with a different request body.", key=idem.key
                    )
                data = json.loads(stored.response)
                return Accepted(
                    data["event_id"],
                    data["kind"],
                    data["at"],
                    data["effects"],
                    tuple(data["warnings"]),
                    replayed_answer=True,
                )
        if repo.digest_seen(item.digest):
            raise ReplayedCommand("This signed command has already been executed.", digest=item.digest)
        if item.actor is None and signed.kind != "party.register":
            raise UnknownParty(f"No party {signed.actor!r} is registered.", party=signed.actor)
        if item.actor is None and repo.operator() is not None:
            raise NotAuthorised("Parties are registered by the platform operator.")
        # Normalised to UTC: the journal records UTC, so a replay sees the same instant, date and ids.
        moment = (at or self.clock()).astimezone(UTC)
        eid = event_id or new_event_id(int(moment.timestamp() * 1000))
        ctx = Context(
            repo=repo,
            actor_id=signed.actor,
            actor=item.actor,
            body=signed.body,
            at=moment,
            event_id=eid,
            ids=IdFactory(eid),
            policy=self.policy,
            offer_ttl=timedelta(hours=self.policy.offer_ttl_hours),
        )
        result = HANDLERS[signed.kind](ctx)
        at_text = rfc3339(moment)
        leaf = build_leaf(
            event_id=eid,
            kind=signed.kind,
            at=at_text,
            command=dict(signed.command),
            signature=signed.signature,
            effects=result.effects,
            command_bytes=item.command_bytes,
        )
        concerns = tuple(sorted(result.concerns | {signed.actor}))
        repo.append_event(EventRecord(eid, signed.kind, signed.actor, at_text, item.digest, leaf, concerns))
        accepted = Accepted(eid, signed.kind, at_text, result.effects, tuple(result.warnings))
        if idem is not None:
            repo.put_answer(
                owner, idem.key, StoredAnswer(idem.request_hash, 201, json.dumps(accepted.as_json())), at_text
            )
        return accepted

    def forget_party(self, party_id: str) -> None:
        self._parties.pop(party_id, None)


def is_operator(party: Party | None) -> bool:
    return party is not None and party.role is Role.OPERATOR
