"""Acting for a party from the browser: build the command, sign it with the party's custodial key, and hand it
to the same group committer as the API. No business rule lives here: the ledger service decides.

Every action form carries a one-time ``idempotency_key`` (made when the form is rendered), so a double click
or a resubmitted page returns the first answer instead of acting twice.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import anyio.from_thread
from fastapi import Request
from starlette.datastructures import FormData

from tierflow.client import PartyKey
from tierflow.ledger.canonical import canonical_json
from tierflow.portal.access import Viewer, platform_of
from tierflow.services.financing_case import Acting
from tierflow.services.ledger import Accepted, Idempotency, Submission

IDEMPOTENCY_FIELD = "idempotency_key"
_TOKEN = re.compile(r"^[A-Za-z0-9_-]{16,64}$")


async def _form(request: Request) -> FormData:
    return await request.form()


def act(request: Request, viewer: Viewer, kind: str, body: Mapping[str, Any], *, per_command: bool = False) -> Accepted:
    """Sign ``kind`` with the party's key and wait for the group commit. Called from the action routes, which are
    plain ``def`` (FastAPI runs them in its thread pool): the page's reads and this wait stay off the event loop
    that also serves the API.

    ``per_command``: the form's one-time key is combined with the command's fingerprint, for a form that submits
    several commands (each then replays its own first answer)."""
    platform = platform_of(request)
    key = platform.accounts.signing_key(viewer.user)
    signed = PartyKey(key).command(kind, body, now=platform.clock)
    form = anyio.from_thread.run(_form, request)  # already parsed for the route's parameters: no second read
    token = form.get(IDEMPOTENCY_FIELD)
    idempotency = None
    if isinstance(token, str) and _TOKEN.match(token):
        fingerprint = hashlib.sha256(canonical_json({"kind": kind, "body": dict(body)})).hexdigest()
        name = f"portal:{token}:{fingerprint[:24]}" if per_command else f"portal:{token}"
        idempotency = Idempotency(name, fingerprint)
    accepted: Accepted = request.app.state.committer.submit(Submission(signed, viewer.party, idempotency))
    return accepted


@dataclass
class CaseActing:
    """The signed-in user acting on a financing case through ``FinancingCaseService``: its ``acting`` signs each
    command with the party's custodial key (``act``), naming the user as the maker or checker; ``accepted`` keeps
    the answers, the last one's journal entry is shown after the redirect."""

    acting: Acting
    accepted: list[Accepted] = field(default_factory=list)

    @property
    def event_id(self) -> str | None:
        return self.accepted[-1].event_id if self.accepted else None


def case_acting(request: Request, viewer: Viewer, *, per_command: bool = False) -> CaseActing:
    answers: list[Accepted] = []

    def submit(kind: str, body: dict[str, Any]) -> Mapping[str, Any]:
        accepted = act(request, viewer, kind, body, per_command=per_command)
        answers.append(accepted)
        return accepted.effects

    return CaseActing(Acting(viewer.party.id, viewer.user.username, submit), answers)
