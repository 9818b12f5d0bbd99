"""Portal accounts: the people who sign in to the web portal for a party, their sessions, and custody of
the party's signing key.

- A **user** belongs to one party and has a role: ``member`` (acts for the party: every act becomes a
  command signed with the party's key) or ``auditor`` (reads, never acts). Passwords are hashed with
  Argon2id (``argon2-cffi``, the reference implementation's bindings, with its recommended parameters).
- A **session** is 32 random bytes in a cookie; only its SHA-256 is stored, with an expiry and the CSRF
  token the portal checks on every form. Signing in always makes a new session (no fixation); signing out
  deletes it.
- **Custody**: browser users cannot be expected to hold Ed25519 keys, so the platform keeps the signing
  seed of a party whose people use the portal, sealed with XSalsa20-Poly1305 (PyNaCl ``SecretBox``) under
  a key derived from the platform seed. Journal entries made this way are still signed by the party's key;
  the threat model says what custody means for non-repudiation. The API keeps client-side signing.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Protocol

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from nacl.exceptions import CryptoError
from nacl.secret import SecretBox
from nacl.signing import SigningKey

from tierflow.domain.errors import DomainError, ErrorKind
from tierflow.domain.model import Party
from tierflow.services.errors import NotFound, Unauthenticated
from tierflow.services.ledger import Clock

CUSTODY_LABEL = b"tierflow/custody-key/v1"
MAX_FAILURES = 5
FAILURE_WINDOW = timedelta(minutes=15)
USERNAME = re.compile(r"^[a-z0-9][a-z0-9._-]{2,63}$")
MIN_PASSWORD = 10


class PortalRole(StrEnum):
    MEMBER = "member"
    AUDITOR = "auditor"


class AccountError(DomainError):
    code = "invalid_account"
    kind = ErrorKind.INVALID


class UsernameTaken(DomainError):
    code = "username_taken"
    kind = ErrorKind.CONFLICT


class TooManyAttempts(DomainError):
    code = "too_many_sign_in_attempts"
    kind = ErrorKind.FORBIDDEN


class CustodyUnavailable(DomainError):
    code = "no_custodial_key"
    kind = ErrorKind.FORBIDDEN


@dataclass(frozen=True, slots=True)
class User:
    id: str
    username: str
    display_name: str
    party: Party
    role: PortalRole

    @property
    def can_act(self) -> bool:
        return self.role is PortalRole.MEMBER


@dataclass(frozen=True, slots=True)
class Session:
    user: User
    csrf_token: str
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class StoredUser:
    user: User
    password_hash: str


class AccountStore(Protocol):
    """Persistence of users, sessions and sealed keys (``tierflow.store.accounts``)."""

    def add_user(self, user: User, password_hash: str, created_at: datetime) -> None: ...
    def user_by_username(self, username: str) -> StoredUser | None: ...
    def set_password_hash(self, user_id: str, password_hash: str) -> None: ...
    def add_session(self, token_hash: str, user_id: str, csrf_token: str, expires_at: datetime) -> None: ...
    def session(self, token_hash: str) -> Session | None: ...
    def delete_session(self, token_hash: str) -> None: ...
    def delete_expired_sessions(self, now: datetime) -> int: ...
    def put_sealed_seed(self, party_id: str, sealed: bytes) -> None: ...
    def sealed_seed(self, party_id: str) -> bytes | None: ...
    def party(self, party_id: str) -> Party | None: ...


def session_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def custody_key(platform_seed: bytes) -> bytes:
    return hashlib.sha256(CUSTODY_LABEL + platform_seed).digest()


class AccountService:
    def __init__(
        self,
        store: AccountStore,
        *,
        custody_key: bytes,
        clock: Clock,
        session_ttl: timedelta = timedelta(hours=8),
        hasher: PasswordHasher | None = None,
    ) -> None:
        self._store = store
        self._box = SecretBox(custody_key)
        self._clock = clock
        self._ttl = session_ttl
        self._hasher = hasher or PasswordHasher()
        self._dummy: str | None = None
        # Failed sign-ins per username, in this process (a deployment with several processes divides the limit
        # by nothing: put a rate-limiting proxy in front as well, as the threat model says).
        self._failures: dict[str, list[datetime]] = {}
        self._failures_lock = threading.Lock()

    def _dummy_hash(self) -> str:
        """Verified against when the username is unknown, so a wrong name costs what a wrong password costs."""
        if self._dummy is None:
            self._dummy = self._hasher.hash(secrets.token_urlsafe(16))
        return self._dummy

    def _now(self) -> datetime:
        return self._clock()

    # --- users ----------------------------------------------------------------------------------------

    def create_user(
        self, *, username: str, password: str, party_id: str, display_name: str, role: PortalRole
    ) -> User:
        username = username.strip().lower()
        if not USERNAME.match(username):
            raise AccountError(
                "A username is 3 to 64 characters: lower-case letters, digits, '.', '_' or '-'.", field="username"
            )
        if len(password) < MIN_PASSWORD:
            raise AccountError(f"A password needs at least {MIN_PASSWORD} characters.", field="password")
        if not display_name.strip() or len(display_name) > 200:
            raise AccountError("A display name is 1 to 200 characters.", field="display_name")
        party = self._store.party(party_id)
        if party is None:
            raise NotFound(f"No party {party_id!r}.", party_id=party_id)
        if self._store.user_by_username(username) is not None:
            raise UsernameTaken(f"The username {username!r} is taken.", username=username)
        user = User("usr_" + secrets.token_hex(10), username, display_name.strip(), party, PortalRole(role))
        self._store.add_user(user, self._hasher.hash(password), self._now())
        return user

    # --- sessions -------------------------------------------------------------------------------------

    def _recent_failures(self, username: str, now: datetime) -> list[datetime]:
        with self._failures_lock:
            recent = [t for t in self._failures.get(username, []) if now - t < FAILURE_WINDOW]
            self._failures[username] = recent
            return recent

    def _record_failure(self, username: str, now: datetime) -> None:
        with self._failures_lock:
            self._failures.setdefault(username, []).append(now)

    def sign_in(self, username: str, password: str) -> tuple[str, Session]:
        """A new session for correct credentials; the same error, after the same work, for any failure. After
        ``MAX_FAILURES`` failures for one username within ``FAILURE_WINDOW``, that username is refused (even
        with the right password) until the oldest failure leaves the window: guessing stays slow."""
        username = username.strip().lower()
        now = self._now()
        recent = self._recent_failures(username, now)
        if len(recent) >= MAX_FAILURES:
            wait = FAILURE_WINDOW - (now - recent[0])
            minutes = max(1, -(-int(wait.total_seconds()) // 60))
            raise TooManyAttempts(
                f"Too many failed sign-ins for this username; try again in {minutes} minute"
                f"{'' if minutes == 1 else 's'}."
            )
        stored = self._store.user_by_username(username)
        try:
            self._hasher.verify(stored.password_hash if stored else self._dummy_hash(), password)
        except (VerificationError, InvalidHashError):
            stored = None
        if stored is None:
            self._record_failure(username, now)
            raise Unauthenticated("The username or password is not right.")
        if self._hasher.check_needs_rehash(stored.password_hash):
            self._store.set_password_hash(stored.user.id, self._hasher.hash(password))
        token = secrets.token_urlsafe(32)
        session = Session(stored.user, secrets.token_urlsafe(32), self._now() + self._ttl)
        self._store.add_session(session_hash(token), stored.user.id, session.csrf_token, session.expires_at)
        return token, session

    def session(self, token: str | None) -> Session | None:
        if not token or len(token) > 100:
            return None
        found = self._store.session(session_hash(token))
        if found is None or found.expires_at <= self._now():
            return None
        return found

    def sign_out(self, token: str) -> None:
        self._store.delete_session(session_hash(token))

    def purge_sessions(self) -> int:
        return self._store.delete_expired_sessions(self._now())

    # --- custody --------------------------------------------------------------------------------------

    def keep_signing_key(self, party_id: str, key: SigningKey) -> None:
        party = self._store.party(party_id)
        if party is None or bytes(key.verify_key) != party.public_key:
            raise AccountError("The key is not the registered key of that party.", party_id=party_id)
        self._store.put_sealed_seed(party_id, bytes(self._box.encrypt(bytes(key))))

    def signing_key(self, user: User) -> SigningKey:
        """The party's signing key, for a user allowed to act for it."""
        if not user.can_act:
            raise CustodyUnavailable("An auditor's account reads; it cannot act for the party.")
        sealed = self._store.sealed_seed(user.party.id)
        if sealed is None:
            raise CustodyUnavailable(
                "The platform holds no signing key for your party; sign commands with your own key through the API."
            )
        try:
            key = SigningKey(self._box.decrypt(sealed))
        except CryptoError:
            raise CustodyUnavailable("The custodial key cannot be opened with this platform key.") from None
        if bytes(key.verify_key) != user.party.public_key:
            # The party rotated its key elsewhere; acting with the old one would be refused anyway.
            raise CustodyUnavailable("The custodial key is not the party's current key.")
        return key
