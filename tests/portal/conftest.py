"""Portal fixtures: a small supply chain whose people sign in to the portal (both databases), and a client
that signs in and posts forms with the session's CSRF token."""

from __future__ import annotations

import os
import re
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar

import pytest
from fastapi.testclient import TestClient

from tests.conftest import CHROMIUM, Chain, FakeClock, browser_unavailable
from tierflow.bootstrap import Platform, open_platform
from tierflow.client import PartyKey
from tierflow.config import Settings
from tierflow.portal import create_app
from tierflow.services.accounts import PortalRole
from tierflow.store.engine import make_engine

PASSWORD = "correct-horse-battery"
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


class World(Chain):
    """Core Co, Tier-1..3 Ltd and First Bank (from ``Chain``), each with a portal user; plus the operator's
    staff and an auditor. The platform keeps every party's key (custody)."""

    USERS: ClassVar[dict[str, str]] = {
        "core.clerk": "core",
        "supplier1": "tier1",
        "supplier2": "tier2",
        "supplier3": "tier3",
        "bank.officer": "bank",
    }

    def __init__(self, platform: Platform, clock: FakeClock) -> None:
        super().__init__(platform, clock)
        self.other_bank = self.register("Second Bank", "financial_institution")
        accounts = platform.accounts
        for username, attr in self.USERS.items():
            key: PartyKey = getattr(self, attr)
            accounts.keep_signing_key(key.party_id, key.signing_key)
            accounts.create_user(username=username, password=PASSWORD, party_id=key.party_id,
                                 display_name=username.title(), role=PortalRole.MEMBER)
        accounts.keep_signing_key(platform.operator.party_id, platform.operator.signing_key)
        accounts.create_user(username="operator", password=PASSWORD, party_id=platform.operator.party_id,
                             display_name="Ops", role=PortalRole.MEMBER)
        accounts.create_user(username="auditor", password=PASSWORD, party_id=platform.operator.party_id,
                             display_name="Auditor", role=PortalRole.AUDITOR)


class Browser:
    """A TestClient with one user's session (cookies) and the CSRF token of that session."""

    def __init__(self, client: TestClient) -> None:
        self.client = client
        self.csrf = ""

    def sign_in(self, username: str, password: str = PASSWORD) -> Any:
        r = self.client.post("/portal/login", data={"username": username, "password": password},
                             follow_redirects=False)
        assert r.status_code == 303, r.text
        page = self.client.get("/portal/history")
        found = CSRF.search(page.text)
        assert found, "no CSRF token on the page"
        self.csrf = found.group(1)
        return r

    def get(self, path: str, **kwargs: Any) -> Any:
        return self.client.get(path, **kwargs)

    def post(self, path: str, data: dict[str, Any] | None = None, *, csrf: bool = True, **kwargs: Any) -> Any:
        form = dict(data or {})
        if csrf:
            form.setdefault("csrf_token", self.csrf)
        kwargs.setdefault("follow_redirects", False)
        return self.client.post(path, data=form, **kwargs)


@pytest.fixture
def world(platform: Platform, clock: FakeClock) -> World:
    return World(platform, clock)


@pytest.fixture
def portal_app(platform: Platform, world: World) -> Iterator[TestClient]:
    with TestClient(create_app(platform, background=True)) as client:
        yield client


@pytest.fixture
def browser(platform: Platform, world: World) -> Iterator[Any]:
    """``browser("supplier1")``: a signed-in client per call (each with its own cookies)."""
    app = create_app(platform, background=True)

    def make(username: str | None = None) -> Browser:
        b = Browser(TestClient(app))  # its own cookie jar; the lifespan runs once, below
        if username:
            b.sign_in(username)
        return b

    with TestClient(app):  # starts the group committer and the journal integrator
        yield make


# --- a live server and a real browser (Playwright driving Debian's Chromium) -----------------------------

REQUIRE_BROWSER = os.environ.get("TIERFLOW_REQUIRE_BROWSER") == "1"
ARTIFACTS = Path(os.environ.get("TIERFLOW_TEST_ARTIFACTS", "test-artifacts"))


@dataclass
class LiveServer:
    url: str
    platform: Platform
    world: World
    clock: FakeClock


@pytest.fixture
def live_server(tmp_path: Path) -> Iterator[LiveServer]:
    """The whole server (API + portal) on a free port, over SQLite, with a controllable clock."""
    import uvicorn

    reason = browser_unavailable()
    if reason:
        if REQUIRE_BROWSER:
            pytest.fail(reason)
        pytest.skip(reason)
    clock = FakeClock(datetime.now(UTC).replace(microsecond=0))
    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'live.db'}", data_dir=tmp_path / "var", password_hash_memory_kib=1024,
        password_hash_time_cost=1, trade_checks="record",  # as tests/conftest.py: placeholder documents
    )
    platform = open_platform(settings, clock=clock, engine=make_engine(settings.database_url))
    world = World(platform, clock)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = uvicorn.Config(create_app(platform), host="127.0.0.1", port=port, log_level="warning")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            pytest.fail("the live server did not start")
        time.sleep(0.05)
    try:
        yield LiveServer(f"http://127.0.0.1:{port}", platform, world, clock)
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        platform.close()


@pytest.fixture
def chromium(live_server: LiveServer) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            yield browser
        finally:
            browser.close()


def screenshot(page: Any, name: str) -> None:
    """Saves a full-page screenshot as a test artifact (not committed)."""
    folder = ARTIFACTS / "screenshots"
    folder.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(folder / f"{name}.png"), full_page=True)
