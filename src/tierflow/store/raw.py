"""The hot path's statements, sent straight to the driver.

A signed transfer runs about a dozen small statements. Through SQLAlchemy's ``Connection.execute`` each costs
tens of microseconds of Python before the database sees it (parameter processing, result set-up, events), several
times the statement itself on SQLite; at thousands of operations a second that dominates. These statements are
plain SQL with ``:name`` parameters (rewritten to ``%(name)s`` for psycopg), run on the same driver connection and
therefore inside the same transaction as everything else the unit of work does. Rows come back as named tuples
with the same field names as the tables, so the row-to-domain converters are shared.
"""

from __future__ import annotations

import re
from collections import namedtuple
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from functools import cache, lru_cache
from itertools import count
from typing import Any

from sqlalchemy import Connection, Table

_PARAM = re.compile(r":([a-z_][a-z0-9_]*)")


@lru_cache(maxsize=1024)
def _pyformat(text: str) -> str:
    """``:name`` parameters in psycopg's ``%(name)s`` style (statements repeat, so the rewrite is cached)."""
    return _PARAM.sub(r"%(\1)s", text)


@cache
def _columns(table: Table) -> tuple[str, ...]:
    return tuple(c.name for c in table.columns)


@cache
def _row_type(table: Table) -> Any:
    return namedtuple(f"{table.name}_row", _columns(table))


class RawStatements:
    def __init__(self, conn: Connection) -> None:
        self._postgres = conn.dialect.name == "postgresql"
        self._cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        self._savepoints = count()

    def _sql(self, text: str) -> str:
        return _pyformat(text) if self._postgres else text

    def execute(self, text: str, params: Mapping[str, Any]) -> Any:
        self._cursor.execute(self._sql(text), params)
        return self._cursor

    def executemany(self, text: str, rows: Sequence[Mapping[str, Any]]) -> None:
        self._cursor.executemany(self._sql(text), rows)

    def by_id(self, table: Table, row_id: str, *, lock: bool = False) -> Any:
        sql = f"SELECT {', '.join(_columns(table))} FROM {table.name} WHERE id = :id"
        if lock and self._postgres:
            sql += " FOR UPDATE"
        row = self.execute(sql, {"id": row_id}).fetchone()
        return None if row is None else _row_type(table)(*row)

    def insert(self, table: Table, rows: Sequence[Mapping[str, Any]]) -> None:
        if not rows:
            return
        names = list(rows[0])
        sql = f"INSERT INTO {table.name} ({', '.join(names)}) VALUES ({', '.join(':' + n for n in names)})"
        if len(rows) == 1:
            self.execute(sql, rows[0])
        else:
            self.executemany(sql, rows)

    @contextmanager
    def savepoint(self) -> Iterator[None]:
        name = f"tf_sp_{next(self._savepoints)}"
        self._cursor.execute(f"SAVEPOINT {name}")
        try:
            yield
        except BaseException:
            self._cursor.execute(f"ROLLBACK TO SAVEPOINT {name}")
            self._cursor.execute(f"RELEASE SAVEPOINT {name}")
            raise
        self._cursor.execute(f"RELEASE SAVEPOINT {name}")
