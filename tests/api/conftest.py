"""HTTP fixtures: the app over a platform (both databases), and parties registered through the API."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.conftest import FakeClock
from tierflow.api import create_app
from tierflow.bootstrap import Platform
from tierflow.client import PartyKey


@dataclass
class Actor:
    key: PartyKey
    token: str

    @property
    def id(self) -> str:
        return self.key.party_id

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


class Api:
    def __init__(self, client: TestClient, platform: Platform, clock: FakeClock) -> None:
        self.client = client
        self.platform = platform
        self.clock = clock
        self.operator = Actor(platform.operator, platform.access.issue_token(platform.operator.party_id))

    def register(self, name: str, role: str) -> Actor:
        key = PartyKey.generate()
        signed = key.registration(name=name, role=role, operator_id=self.operator.id, now=self.clock)
        r = self.client.post("/v1/parties", json={"command": signed.command, "signature": signed.signature},
                             headers={**self.operator.auth, "Idempotency-Key": str(uuid.uuid4())})
        assert r.status_code == 201, r.text
        return Actor(key, r.json()["token"])

    def post(self, path: str, who: Actor, kind: str, body: dict[str, Any], *, key: str | None = None,
             expect: int | None = 201) -> Any:
        signed = who.key.command(kind, body, now=self.clock)
        r = self.client.post(path, json={"command": signed.command, "signature": signed.signature},
                             headers={**who.auth, "Idempotency-Key": key or str(uuid.uuid4())})
        if expect is not None:
            assert r.status_code == expect, r.text
        return r

    def get(self, path: str, who: Actor | None = None, **params: Any) -> Any:
        return self.client.get(path, headers=who.auth if who else {}, params=params)


@pytest.fixture
def api(platform: Platform, clock: FakeClock) -> Iterator[Api]:
    app = create_app(platform, background=False)
    with TestClient(app, raise_server_exceptions=False) as client:
        yield Api(client, platform, clock)


@pytest.fixture
def cast(api: Api) -> dict[str, Actor]:
    return {
        "core": api.register("Core Co", "core_enterprise"),
        "t1": api.register("Tier-1 Ltd", "supplier"),
        "t2": api.register("Tier-2 Ltd", "supplier"),
        "bank": api.register("First Bank", "financial_institution"),
    }
