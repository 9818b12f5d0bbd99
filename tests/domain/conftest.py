"""Fixtures for the domain tests."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from .cast import id_factory


@pytest.fixture
def new_id() -> Callable[[], str]:
    return id_factory("x")
