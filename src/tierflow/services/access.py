"""API tokens: how a caller proves which party it is (its Ed25519 key then proves what it did).

A token is 32 random bytes shown once; only its SHA-256 is stored.
"""

from __future__ import annotations

import hashlib
import secrets

from tierflow.domain.model import Party
from tierflow.services.errors import Unauthenticated
from tierflow.services.ports import UnitOfWorkFactory


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_token() -> str:
    return "tf_" + secrets.token_urlsafe(32)


class AccessService:
    def __init__(self, uow_factory: UnitOfWorkFactory) -> None:
        self._uow = uow_factory
        self._cache: dict[str, Party] = {}

    def issue_token(self, party_id: str) -> str:
        token = new_token()
        with self._uow() as uow:
            uow.repo.set_token_hash(party_id, token_hash(token))
            uow.commit()
        self._cache = {k: v for k, v in self._cache.items() if v.id != party_id}
        return token

    def authenticate(self, token: str | None) -> Party:
        if not token:
            raise Unauthenticated("Send 'Authorization: Bearer <token>'.")
        digest = token_hash(token)
        party = self._cache.get(digest)
        if party is None:
            with self._uow(read_only=True) as uow:
                party = uow.repo.party_by_token_hash(digest)
            if party is None:
                raise Unauthenticated("The token is not valid.")
            self._cache[digest] = party
        return party
