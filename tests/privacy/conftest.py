"""The privacy tests need libsodium (ristretto255). Without it they are skipped with a notice, unless
``TIERFLOW_REQUIRE_LIBSODIUM=1`` (CI) makes that a failure."""

from __future__ import annotations

import os

import pytest

from tierflow.privacy.ristretto import INSTALL_HINT, available


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    del config
    if available():
        return
    if os.environ.get("TIERFLOW_REQUIRE_LIBSODIUM") == "1":
        raise pytest.UsageError(f"TIERFLOW_REQUIRE_LIBSODIUM=1 but libsodium is missing: {INSTALL_HINT}")
    skip = pytest.mark.skip(reason=f"libsodium with ristretto255 is not installed ({INSTALL_HINT})")
    for item in items:
        if "tests/privacy/" in str(item.path).replace(os.sep, "/"):
            item.add_marker(skip)
