"""Running a signed command from an HTTP request: kind and path checks, Idempotency-Key, group commit."""

from __future__ import annotations

import hashlib
from typing import Any

from fastapi import Request

from tierflow.api.problems import ApiProblem
from tierflow.api.schemas import SignedCommandIn
from tierflow.bootstrap import Platform
from tierflow.domain.model import Party
from tierflow.ledger.canonical import canonical_json
from tierflow.services.commands import SignedCommand
from tierflow.services.ledger import Accepted, Idempotency, Submission

IDEMPOTENCY_HEADER = "Idempotency-Key"


def idempotency(request: Request, payload: SignedCommandIn) -> Idempotency:
    key = request.headers.get(IDEMPOTENCY_HEADER)
    if not key:
        raise ApiProblem(
            400, "idempotency_key_missing", f"State-changing requests need an {IDEMPOTENCY_HEADER} header."
        )
    if len(key) > 255:
        raise ApiProblem(400, "idempotency_key_invalid", f"{IDEMPOTENCY_HEADER} is at most 255 characters.")
    try:
        body = canonical_json({"command": payload.command, "signature": payload.signature})
    except (TypeError, ValueError) as error:
        raise ApiProblem(400, "invalid_command", f"The command is not canonicalisable JSON: {error}.") from None
    return Idempotency(key, hashlib.sha256(body).hexdigest())


async def run(
    request: Request,
    platform: Platform,
    party: Party,
    payload: SignedCommandIn,
    kind: str,
    **path: str,
) -> Accepted:
    if payload.command.get("kind") != kind:
        raise ApiProblem(
            400, "wrong_command_kind", f"This endpoint takes {kind!r} commands.", got=str(payload.command.get("kind"))
        )
    body: Any = payload.command.get("body")
    for name, value in path.items():
        if not isinstance(body, dict) or body.get(name) != value:
            raise ApiProblem(400, "path_mismatch", f"The command's body.{name} must equal the id in the path.")
    key = idempotency(request, payload)
    committer = request.app.state.committer
    submission = Submission(SignedCommand(payload.command, payload.signature), party, key)
    accepted: Accepted = await committer.submit_async(submission)
    return accepted
