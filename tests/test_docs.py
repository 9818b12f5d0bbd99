"""The documentation names every setting, route, error code and command kind the code has."""

from __future__ import annotations

import re
from pathlib import Path

from fastapi.routing import APIRoute

from tierflow.api import ROUTERS
from tierflow.config import Settings
from tierflow.domain.documents import DOCUMENT_ERRORS
from tierflow.domain.errors import ALL_ERRORS
from tierflow.domain.financing_case import CASE_ERRORS
from tierflow.services.commands import KINDS
from tierflow.services.errors import SERVICE_ERRORS

DOCS = Path(__file__).resolve().parent.parent / "docs"
TEST_ONLY_VARIABLES = {"TIERFLOW_TEST_POSTGRES_URL", "TIERFLOW_REQUIRE_POSTGRES"}


def _read(name: str) -> str:
    return (DOCS / name).read_text(encoding="utf-8")


def test_configuration_documents_exactly_the_settings() -> None:
    text = _read("CONFIGURATION.md")
    expected = {f"TIERFLOW_{name.upper()}" for name in Settings.model_fields}
    named = set(re.findall(r"\bTIERFLOW_[A-Z0-9_]*[A-Z0-9]", text))
    assert expected - named == set(), "settings missing from CONFIGURATION.md"
    assert named - expected - TEST_ONLY_VARIABLES == set(), "CONFIGURATION.md names unknown variables"


def test_api_documents_every_route() -> None:
    text = _read("API.md")
    paths = {route.path for router in ROUTERS for route in router.routes if isinstance(route, APIRoute)}
    assert paths, "no routes found"
    assert sorted(p for p in paths if f"`{p}`" not in text) == []


def test_api_documents_every_error_code() -> None:
    text = _read("API.md")
    codes = {error.code for error in (*ALL_ERRORS, *SERVICE_ERRORS, *DOCUMENT_ERRORS, *CASE_ERRORS)}
    assert sorted(c for c in codes if f"`{c}`" not in text) == []


def test_api_documents_every_command_kind() -> None:
    text = _read("API.md")
    assert sorted(k for k in KINDS if f"`{k}`" not in text) == []
