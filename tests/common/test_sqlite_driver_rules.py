"""Rules of the SQLite driver (services/common/sqlite_driver.py) that the trip counts of
tests/common/test_db_round_trips.py leave open: a cursor closed or soft-closed releases its
sqlite3 cursor yet keeps what SQLAlchemy still reads, a connection closed underneath is a
disconnect the pool replaces, and an unclosed connection never keeps the process alive."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import OperationalError
from sqlalchemy.util.concurrency import await_

from services.common.db import Database
from services.common.sqlite_driver import _raw
from tests.support import backend

pytestmark = pytest.mark.skipif(backend() != "sqlite", reason="the SQLite driver's own rules")


@pytest.fixture
async def database(tmp_path: Path) -> AsyncIterator[Database]:
    database = Database(f"sqlite+aiosqlite:///{tmp_path / 'driver.db'}")
    yield database
    await database.dispose()


def is_closed(raw: sqlite3.Cursor) -> bool:
    try:
        raw.fetchall()
    except sqlite3.ProgrammingError:
        return True
    return False


async def test_a_soft_closed_cursor_keeps_its_rows_and_description(database: Database) -> None:
    """A Core execute soft-closes the cursor before handing the result back: the sqlite3
    cursor is released at once, the rows and column names stay readable."""
    async with database.engine.connect() as conn:
        result = await conn.execute(text("SELECT 1 AS one, 2 AS two"))
        cursor: Any = result.cursor
        assert is_closed(_raw(cursor._cursor))
        assert [column[0] for column in cursor.description] == ["one", "two"]
        await cursor._async_soft_close()  # a second soft close changes nothing
        assert [column[0] for column in cursor.description] == ["one", "two"]
        assert result.all() == [(1, 2)]


async def test_closing_a_cursor_closes_its_sqlite3_cursor(database: Database) -> None:
    def run(sync: Connection) -> tuple[list[Any], bool, bool]:
        cursor: Any = sync.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        raw = _raw(cursor._cursor)
        cursor.execute("SELECT 1 UNION ALL SELECT 2")
        rows = cursor.fetchall()
        open_before = not is_closed(raw)
        cursor.close()
        return rows, open_before, is_closed(raw)

    async with database.engine.connect() as conn:
        rows, open_before, closed_after = await conn.run_sync(run)
    assert rows == [(1,), (2,)]
    assert open_before and closed_after


async def test_a_connection_closed_underneath_is_a_disconnect_the_pool_replaces(
    database: Database,
) -> None:
    async with database.engine.connect() as conn:
        await conn.execute(text("SELECT 1"))

        def close_underneath(sync: Connection) -> None:
            adapted: Any = sync.connection.dbapi_connection
            await_(adapted._connection.close())

        await conn.run_sync(close_underneath)
        with pytest.raises(OperationalError) as raised:
            await conn.execute(text("SELECT 1"))
        assert raised.value.connection_invalidated
    async with database.engine.connect() as conn:
        assert (await conn.execute(text("SELECT 41 + 1"))).scalar_one() == 42


async def test_a_connections_thread_never_keeps_the_process_alive(database: Database) -> None:
    """aiosqlite's thread is a daemon: a connection left open does not block interpreter exit."""
    async with database.engine.connect() as conn:
        raw = await conn.get_raw_connection()
        assert raw.driver_connection._thread.daemon is True  # type: ignore[union-attr]
