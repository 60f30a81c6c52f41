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

import asyncio
import collections
import sqlite3
import weakref
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

        connection = cast(_Connection, self._adapt_connection)
        begin = operation.startswith("BEGIN")
        if begin and operation != _READER_BEGIN:
            await connection.take_write_turn()
        try:
            async with self._adapt_connection._execute_mutex:
                rows = run() if operation in _LOCK_FREE else await self._connection._execute(run)
        except BaseException:
            if begin:
                connection.give_back_write_turn()  # no transaction began
            raise
        if begin:
            connection.reading = operation == _READER_BEGIN
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


class WriteTurns:
    """One process's writers of one database, one at a time in the order they asked."""

    def __init__(self) -> None:
        # One lock per event loop: an engine outlives a test's loop in some test set-ups.
        self._locks: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = (
            weakref.WeakKeyDictionary()
        )

    def lock(self) -> asyncio.Lock:
        loop = asyncio.get_running_loop()
        lock = self._locks.get(loop)
        if lock is None:
            lock = self._locks[loop] = asyncio.Lock()
        return lock


class _Connection(AsyncAdapt_aiosqlite_connection):
    __slots__ = ("_turn", "_turn_wait", "_turns", "reading")
    _cursor_cls = _Cursor

    def __init__(self, dbapi: Any, connection: Any, turns: WriteTurns, turn_wait: float) -> None:
        super().__init__(dbapi, connection)
        self.reading = False  # the open transaction began BEGIN DEFERRED: a reader's
        self._turns = turns
        # Held from a writer's BEGIN to its end, with the loop it belongs to.
        self._turn: tuple[asyncio.Lock, asyncio.AbstractEventLoop] | None = None
        self._turn_wait = turn_wait  # as long as SQLite's busy timeout

    async def take_write_turn(self) -> None:
        if self._turn is not None:
            return  # a BEGIN inside a transaction: SQLite itself refuses it
        lock = self._turns.lock()
        try:
            # asyncio.timeout, not wait_for: Python 3.11's wait_for can acquire the lock and
            # still raise, or swallow the task's cancellation (a background loop cancelled at
            # shutdown then ran on, and the process never exited).
            async with asyncio.timeout(self._turn_wait):
                await lock.acquire()
        except TimeoutError:
            # The turn is a queue in front of SQLite's lock, not the lock: past the busy
            # timeout, the BEGIN goes to SQLite as it did before turns, which decides.
            return
        self._turn = lock, asyncio.get_running_loop()

    def give_back_write_turn(self) -> None:
        turn, self._turn = self._turn, None
        if turn is None:
            return
        lock, loop = turn
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            lock.release()
        elif not loop.is_closed():  # a connection collected by the GC, off the loop
            loop.call_soon_threadsafe(lock.release)

    def _in_transaction(self) -> bool:
        raw = self._connection._connection
        return raw is not None and raw.in_transaction

    def rollback(self) -> None:
        try:
            self._rollback()
        finally:
            self.give_back_write_turn()

    def _rollback(self) -> None:
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
        try:
            if self._in_transaction():
                super().commit()
        finally:
            if not self._in_transaction():
                self.give_back_write_turn()

    def close(self) -> None:
        try:
            super().close()
        finally:
            self.give_back_write_turn()

    def terminate(self) -> None:
        try:
            super().terminate()
        finally:
            self.give_back_write_turn()


class _Dbapi(AsyncAdapt_aiosqlite_dbapi):
    def __init__(self, *arg: Any, **kw: Any) -> None:
        super().__init__(*arg, **kw)
        self.write_turns = WriteTurns()  # one engine, one database file

    def connect(self, *arg: Any, **kw: Any) -> _Connection:
        kw["check_same_thread"] = False
        turn_wait = float(kw.get("timeout", 5.0))  # sqlite3's default busy timeout
        connection = self.aiosqlite.connect(*arg, **kw)
        connection._thread.daemon = True
        return _Connection(self, await_(connection), self.write_turns, turn_wait)


def sqlite_dbapi() -> Any:
    """The ``module`` to give ``create_async_engine`` for a ``sqlite+aiosqlite`` URL."""
    return _Dbapi(aiosqlite, sqlite3)
