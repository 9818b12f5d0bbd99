"""The Alembic migrations build exactly the schema the code declares (``store/schema.py``), on both
databases, and can be taken back down."""

from __future__ import annotations

from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from tierflow.store.engine import make_engine
from tierflow.store.migrate import downgrade, upgrade
from tierflow.store.schema import metadata


def _differences(engine: Any) -> list[Any]:
    with engine.connect() as conn:
        return list(compare_metadata(MigrationContext.configure(conn), metadata))


def test_migrations_match_the_declared_schema(database_url: str) -> None:
    engine = make_engine(database_url)
    try:
        upgrade(engine)
        assert _differences(engine) == []
        downgrade(engine, "0002")
        upgrade(engine)
        assert _differences(engine) == []
    finally:
        engine.dispose()
