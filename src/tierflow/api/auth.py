"""Who is calling: a bearer token names the party; its Ed25519 signature on each command proves the act.

Every route declares its access with exactly one of two dependencies: ``CurrentParty`` (a registered party)
or ``public`` (no credentials: checkpoints, the verifier key and proofs, which reveal only hashes). A test
walks the routes and fails on any route that declares neither.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from tierflow.bootstrap import Platform
from tierflow.domain.errors import NotAuthorised
from tierflow.domain.model import Party, Role

bearer = HTTPBearer(auto_error=False, description="API token of a registered party")


async def get_platform(request: Request) -> Platform:
    platform: Platform = request.app.state.platform
    return platform


PlatformDep = Annotated[Platform, Depends(get_platform)]


async def current_party(
    platform: PlatformDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> Party:
    return platform.access.authenticate(credentials.credentials if credentials else None)


async def public() -> None:
    """Marks a route as deliberately open to anyone."""


async def operator(party: Annotated[Party, Depends(current_party)]) -> Party:
    if party.role is not Role.OPERATOR:
        raise NotAuthorised("Only the platform operator may do this.")
    return party


CurrentParty = Annotated[Party, Depends(current_party)]
Operator = Annotated[Party, Depends(operator)]
Public = Depends(public)
