"""SQL store of portal users, sessions and sealed custodial keys (``tierflow.services.accounts``).

Each call is its own short transaction: reads take no write lock (``READ_ONLY``); the few writes (sign-in,
sign-out) are single statements.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from tierflow.domain.model import Party, Role
from tierflow.services.accounts import PortalRole, Session, StoredUser, User, UsernameTaken
from tierflow.store import schema as t
from tierflow.store.engine import READ_ONLY
from tierflow.store.repository import party_from_row


def _ts(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds")


class SqlAccountStore:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def _read(self, stmt: Any) -> Any:
        with self._engine.connect() as conn:
            conn = conn.execution_options(**{READ_ONLY: True})
            with conn.begin():
                return conn.execute(stmt).first()

    def _write(self, stmt: Any) -> int:
        with self._engine.begin() as conn:
            return int(conn.execute(stmt).rowcount or 0)

    @staticmethod
    def _user(row: Any) -> User:
        party = Party(row.party_id, row.party_name, Role(row.role), bytes(row.public_key))
        return User(row.id, row.username, row.display_name, party, PortalRole(row.user_role))

    def _user_select(self) -> Any:
        u, p = t.portal_users.c, t.parties.c
        return select(
            u.id,
            u.username,
            u.display_name,
            u.party_id,
            u.role.label("user_role"),
            u.password_hash,
            p.name.label("party_name"),
            p.role,
            p.public_key,
        ).join(t.parties, t.parties.c.id == u.party_id)

    def add_user(self, user: User, password_hash: str, created_at: datetime) -> None:
        try:
            self._write(
                insert(t.portal_users).values(
                    id=user.id,
                    username=user.username,
                    display_name=user.display_name,
                    party_id=user.party.id,
                    role=user.role.value,
                    password_hash=password_hash,
                    created_at=_ts(created_at),
                )
            )
        except IntegrityError:
            raise UsernameTaken(f"The username {user.username!r} is taken.", username=user.username) from None

    def user_by_username(self, username: str) -> StoredUser | None:
        row = self._read(self._user_select().where(t.portal_users.c.username == username))
        return StoredUser(self._user(row), row.password_hash) if row else None

    def set_password_hash(self, user_id: str, password_hash: str) -> None:
        self._write(update(t.portal_users).where(t.portal_users.c.id == user_id).values(password_hash=password_hash))

    def add_session(self, token_hash: str, user_id: str, csrf_token: str, expires_at: datetime) -> None:
        self._write(
            insert(t.portal_sessions).values(
                token_hash=token_hash, user_id=user_id, csrf_token=csrf_token, expires_at=_ts(expires_at)
            )
        )

    def session(self, token_hash: str) -> Session | None:
        s = t.portal_sessions.c
        row = self._read(
            self._user_select()
            .add_columns(s.csrf_token, s.expires_at)
            .join(t.portal_sessions, s.user_id == t.portal_users.c.id)
            .where(s.token_hash == token_hash)
        )
        if row is None:
            return None
        return Session(self._user(row), row.csrf_token, datetime.fromisoformat(row.expires_at))

    def delete_session(self, token_hash: str) -> None:
        self._write(delete(t.portal_sessions).where(t.portal_sessions.c.token_hash == token_hash))

    def delete_expired_sessions(self, now: datetime) -> int:
        return self._write(delete(t.portal_sessions).where(t.portal_sessions.c.expires_at <= _ts(now)))

    def put_sealed_seed(self, party_id: str, sealed: bytes) -> None:
        with self._engine.begin() as conn:
            c = t.custodial_keys.c
            if conn.execute(select(c.party_id).where(c.party_id == party_id)).first():
                conn.execute(update(t.custodial_keys).where(c.party_id == party_id).values(sealed_seed=sealed))
            else:
                conn.execute(insert(t.custodial_keys).values(party_id=party_id, sealed_seed=sealed))

    def sealed_seed(self, party_id: str) -> bytes | None:
        row = self._read(select(t.custodial_keys.c.sealed_seed).where(t.custodial_keys.c.party_id == party_id))
        return bytes(row.sealed_seed) if row else None

    def party(self, party_id: str) -> Party | None:
        row = self._read(select(t.parties).where(t.parties.c.id == party_id))
        return party_from_row(row) if row else None
