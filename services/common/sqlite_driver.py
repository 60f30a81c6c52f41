"""SQLAlchemy's aiosqlite adapter with fewer trips to the connection's thread.

aiosqlite runs every call on a thread of its own, one trip (a queue put, a thread wake-up, a
loop wake-up) per call. SQLAlchemy's adapter makes about four per statement (open a cursor,
execute, fetch the rows, close the cursor) and two more per request for rollbacks that find no
transaction (the session's, then the pool's reset). Under load those trips, not SQLite, were
most of a short read's cost (see bench/history.md). Here:

- a statement is one trip: execute and fetch run together on the connection's thread;
- opening and closing a cursor touch no database file and run where they are called;
- ``BEGIN DEFERRED`` (a reader's start, which takes no lock) runs where it is called; every
  other statement, ``BEGIN IMMEDIATE`` included (it may wait up to the busy timeout for the
  write lock), still runs on the thread, so the event loop never waits on a lock;
- a commit or rollback with no transaction open is a no-op, as in SQLite, without a trip;
- the rollback that ends a reader's transaction (begun ``BEGIN DEFERRED``) runs where it is
  called: it only releases the reader's snapshot and waits for no lock. A writer's rollback
  stays on the thread.

The connection is opened with ``check_same_thread=False``: calls on one connection still come
one at a time (SQLAlchemy awaits each), some from the loop's thread, some from aiosqlite's.
Server-side (streaming) cursors keep SQLAlchemy's behaviour unchanged.
"""

from __future__ import annotations

import collections
import sqlite3
from typing import Any, cast

import aiosqlite
from sqlalchemy.dialects.sqlite.aiosqlite import (
    AsyncAdapt_aiosqlite_connection,
    AsyncAdapt_aiosqlite_cursor,
    AsyncAdapt_aiosqlite_dbapi,
)
from sqlalchemy.util.concurrency import await_

# Statements that take no lock and do no I/O: run without a trip to the thread.
_READER_BEGIN = "BEGIN DEFERRED"
_LOCK_FREE = frozenset({_READER_BEGIN})


def _raw(cursor: Any) -> sqlite3.Cursor:
    """The sqlite3 cursor inside an aiosqlite one."""
    raw: sqlite3.Cursor = cursor._cursor
    return raw


class _Cursor(AsyncAdapt_aiosqlite_cursor):
    __slots__ = ()

    def _make_new_cursor(self, connection: Any) -> Any:
        try:
            raw = connection._conn.cursor()
        except ValueError as error:
            # Closed underneath: a disconnect (the pool drops the connection), as in the stock
            # adapter, rather than a dead connection handed out again and again.
            self._adapt_connection._handle_exception(error)
        return _Opened(aiosqlite.Cursor(connection, raw))

    async def _execute_async(self, operation: Any, parameters: Any) -> Any:
        raw = _raw(self._cursor)

        def run() -> list[Any] | None:
            raw.execute(operation, () if parameters is None else parameters)
            return raw.fetchall() if raw.description else None

        async with self._adapt_connection._execute_mutex:
            rows = run() if operation in _LOCK_FREE else await self._connection._execute(run)
            if operation.startswith("BEGIN"):
                cast(_Connection, self._adapt_connection).reading = operation == _READER_BEGIN
        if rows is not None:
            self._rows = collections.deque(rows)
        return self._cursor

    async def _async_soft_close(self) -> None:
        if self._soft_closed_memoized:
            return
        self._soft_closed_memoized = self._soft_closed_memoized.union(
            {"description": self._cursor.description}
        )
        _raw(self._cursor).close()

    def close(self) -> None:
        self._rows.clear()
        if not self._soft_closed_memoized:
            _raw(self._cursor).close()


class _Opened:
    """What SQLAlchemy enters to get its cursor: one already open, no trip."""

    def __init__(self, cursor: aiosqlite.Cursor) -> None:
        self.cursor = cursor

    async def __aenter__(self) -> aiosqlite.Cursor:
        return self.cursor


class _Connection(AsyncAdapt_aiosqlite_connection):
    __slots__ = ("reading",)
    _cursor_cls = _Cursor

    def __init__(self, dbapi: Any, connection: Any) -> None:
        super().__init__(dbapi, connection)
        self.reading = False  # the open transaction began BEGIN DEFERRED: a reader's

    def _in_transaction(self) -> bool:
        raw = self._connection._connection
        return raw is not None and raw.in_transaction

    def rollback(self) -> None:
        reading, self.reading = self.reading, False
        if not self._in_transaction():
            return
        if not reading:
            super().rollback()
            return
        try:
            self._connection._connection.rollback()
        except Exception as error:
            self._handle_exception(error)

    def commit(self) -> None:
        self.reading = False
        if self._in_transaction():
            super().commit()


class _Dbapi(AsyncAdapt_aiosqlite_dbapi):
    def connect(self, *arg: Any, **kw: Any) -> _Connection:
        kw["check_same_thread"] = False
        connection = self.aiosqlite.connect(*arg, **kw)
        connection._thread.daemon = True
        return _Connection(self, await_(connection))


def sqlite_dbapi() -> Any:
    """The ``module`` to give ``create_async_engine`` for a ``sqlite+aiosqlite`` URL."""
    return _Dbapi(aiosqlite, sqlite3)
