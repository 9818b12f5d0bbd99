"""Portal accounts: passwords, sessions and custody of a party's signing key (both databases)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from nacl.signing import SigningKey

from tests.conftest import Chain, FakeClock
from tierflow.bootstrap import Platform
from tierflow.domain.errors import DomainError
from tierflow.services.accounts import AccountError, CustodyUnavailable, PortalRole, TooManyAttempts, UsernameTaken
from tierflow.services.errors import NotFound, Unauthenticated

PASSWORD = "a-long-password"


def _user(platform: Platform, chain: Chain, username: str = "clerk", role: PortalRole = PortalRole.MEMBER):  # type: ignore[no-untyped-def]
    return platform.accounts.create_user(
        username=username, password=PASSWORD, party_id=chain.core.party_id, display_name="Clerk", role=role
    )


def test_sign_in_gives_a_fresh_session_each_time(platform: Platform, chain: Chain) -> None:
    user = _user(platform, chain)
    token1, session1 = platform.accounts.sign_in("clerk", PASSWORD)
    token2, session2 = platform.accounts.sign_in("  CLERK ", PASSWORD)
    assert token1 != token2 and session1.csrf_token != session2.csrf_token
    found = platform.accounts.session(token1)
    assert found is not None and found.user.id == user.id and found.user.party.id == chain.core.party_id
    assert found.user.party.name == "Core Co"
    platform.accounts.sign_out(token1)
    assert platform.accounts.session(token1) is None
    assert platform.accounts.session(token2) is not None


@pytest.mark.parametrize(("username", "password"), [("clerk", "wrong-password"), ("nobody", PASSWORD), ("", "")])
def test_wrong_credentials_get_one_answer(platform: Platform, chain: Chain, username: str, password: str) -> None:
    _user(platform, chain)
    with pytest.raises(Unauthenticated, match="username or password"):
        platform.accounts.sign_in(username, password)


def test_sessions_expire(platform: Platform, chain: Chain, clock: FakeClock) -> None:
    _user(platform, chain)
    token, _ = platform.accounts.sign_in("clerk", PASSWORD)
    clock.advance(minutes=platform.settings.session_ttl_minutes + 1)
    assert platform.accounts.session(token) is None
    assert platform.accounts.purge_sessions() == 1
    assert platform.accounts.session(None) is None and platform.accounts.session("x" * 500) is None


@pytest.mark.parametrize(
    ("username", "password", "error"),
    [("ab", PASSWORD, AccountError), ("Has Space", PASSWORD, AccountError), ("clerk", "short", AccountError)],
)
def test_bad_accounts_are_refused(
    platform: Platform, chain: Chain, username: str, password: str, error: type[DomainError]
) -> None:
    with pytest.raises(error):
        platform.accounts.create_user(
            username=username, password=password, party_id=chain.core.party_id, display_name="X",
            role=PortalRole.MEMBER,
        )


def test_usernames_are_unique_and_parties_must_exist(platform: Platform, chain: Chain) -> None:
    _user(platform, chain)
    with pytest.raises(UsernameTaken):
        _user(platform, chain)
    with pytest.raises(NotFound):
        platform.accounts.create_user(
            username="ghost", password=PASSWORD, party_id="pty_unknown", display_name="X", role=PortalRole.MEMBER
        )


def test_custody_signs_with_the_party_key_only_for_members(platform: Platform, chain: Chain) -> None:
    member = _user(platform, chain)
    auditor = _user(platform, chain, "auditor", PortalRole.AUDITOR)
    with pytest.raises(CustodyUnavailable, match="no signing key"):
        platform.accounts.signing_key(member)
    platform.accounts.keep_signing_key(chain.core.party_id, chain.core.signing_key)
    assert bytes(platform.accounts.signing_key(member)) == bytes(chain.core.signing_key)
    with pytest.raises(CustodyUnavailable, match="auditor"):
        platform.accounts.signing_key(auditor)
    with pytest.raises(AccountError, match="not the registered key"):
        platform.accounts.keep_signing_key(chain.core.party_id, SigningKey.generate())


def test_sealed_keys_are_not_stored_in_the_clear(platform: Platform, chain: Chain) -> None:
    from sqlalchemy import select

    from tierflow.store import schema as t

    platform.accounts.keep_signing_key(chain.core.party_id, chain.core.signing_key)
    with platform.engine.connect() as conn:
        sealed = conn.execute(select(t.custodial_keys.c.sealed_seed)).scalar_one()
    assert bytes(chain.core.signing_key) not in bytes(sealed)
    assert len(bytes(sealed)) == 32 + 40  # seed + nonce + MAC


def test_session_ttl_is_a_setting(platform: Platform) -> None:
    assert timedelta(minutes=platform.settings.session_ttl_minutes) == timedelta(hours=8)


def test_repeated_failures_lock_the_username_for_a_while(platform: Platform, chain: Chain, clock: FakeClock) -> None:
    _user(platform, chain)
    for _ in range(5):
        with pytest.raises(Unauthenticated):
            platform.accounts.sign_in("clerk", "wrong-password")
    with pytest.raises(TooManyAttempts, match="try again in 15 minutes"):
        platform.accounts.sign_in("clerk", PASSWORD)  # even the right password waits
    clock.advance(minutes=10)
    with pytest.raises(TooManyAttempts, match="try again in 5 minutes"):
        platform.accounts.sign_in("CLERK", PASSWORD)
    clock.advance(minutes=5, seconds=1)
    token, _ = platform.accounts.sign_in("clerk", PASSWORD)
    assert platform.accounts.session(token) is not None
    for _ in range(5):  # unknown usernames are limited the same way, and other names are unaffected
        with pytest.raises(Unauthenticated):
            platform.accounts.sign_in("nobody", "x")
    with pytest.raises(TooManyAttempts):
        platform.accounts.sign_in("nobody", "x")
    platform.accounts.sign_in("clerk", PASSWORD)
