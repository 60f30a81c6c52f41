"""Read sessions on one committed state of the read model, so that a report's independent
sections can run at the same time on several connections (each on a core of its own) and
still add up as if read in one transaction.

PostgreSQL shares a snapshot exactly: the first connection exports its ``REPEATABLE READ``
snapshot (``pg_export_snapshot()``) and the others adopt it (``SET TRANSACTION SNAPSHOT``).

SQLite cannot share one (its C API can, when built with ``SQLITE_ENABLE_SNAPSHOT``, which
Python's sqlite3 is not), so the snapshots are proved equal instead. A connection's
``PRAGMA data_version`` moves when it starts a read transaction after any other connection or
process has committed. The first connection reads it in a transaction of its own (t0), the
others then open their snapshots, and the first opens its own reading it again (t1): the same
value means no commit at all between t0 and t1, so every snapshot opened in between shows the
same state. Unlike a stamp that writers must remember to move (the feed cursors), this catches
every write: a sync page, a rebuild, a webhook delivery, a hand-made fix, another process.
When the value moved, only the first session is handed out: its snapshot alone is a
consistent view, and the caller reads everything on it, as in the one-session path.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Coroutine, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any, TypeVar
from weakref import WeakKeyDictionary

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from services.common.db import Database

_DATA_VERSION = "PRAGMA data_version"
# What pg_export_snapshot() returns (e.g. 00000003-0000001B-1): checked before it is inlined
# into SET TRANSACTION SNAPSHOT, which takes no bound parameter.
_SNAPSHOT_ID = re.compile(r"^[0-9A-F]+(-[0-9A-F]+)+$")

# Connections a process holds for reports beyond each report's first, at most. More reports
# at once gain nothing on two cores; and a report holds its first connection while it takes
# another, so were there no bound, reports could empty the pool and all wait on each other.
EXTRA_CONNECTIONS = 2
_extra_in_use: WeakKeyDictionary[Database, int] = WeakKeyDictionary()

T = TypeVar("T")


@asynccontextmanager
async def shared_snapshot(database: Database, sessions: int) -> AsyncIterator[list[AsyncSession]]:
    """Up to ``sessions`` read-only sessions that all see the same committed state: fewer
    when no more connections are spare (:data:`EXTRA_CONNECTIONS`), the first alone when
    their sameness could not be proved (SQLite: a commit landed while they opened). Use each
    session from one task at a time."""
    async with AsyncExitStack() as stack:
        extra = min(sessions - 1, EXTRA_CONNECTIONS - _extra_in_use.get(database, 0))
        if extra > 0:
            _extra_in_use[database] = _extra_in_use.get(database, 0) + extra
            stack.callback(_release, database, extra)
        connections = [
            await stack.enter_async_context(_read_connection(database))
            for _ in range(1 + max(extra, 0))
        ]
        shared = await _open_snapshots(connections, database.is_sqlite)
        chosen = connections if shared else connections[:1]
        yield [
            await stack.enter_async_context(AsyncSession(bind=connection)) for connection in chosen
        ]


def _release(database: Database, extra: int) -> None:
    _extra_in_use[database] -= extra


@asynccontextmanager
async def _read_connection(database: Database) -> AsyncIterator[AsyncConnection]:
    async with database.engine.connect() as connection:
        if database.is_sqlite:  # a reader's deferred transaction: no lock, no wait for writers
            await connection.execution_options(sqlite_begin="DEFERRED")
        else:
            await connection.execution_options(
                isolation_level="REPEATABLE READ", postgresql_readonly=True
            )
        try:
            yield connection
        finally:
            await connection.rollback()


async def _data_version(connection: AsyncConnection) -> int:
    """Also opens the connection's snapshot (a read transaction) if none is open."""
    return int((await connection.exec_driver_sql(_DATA_VERSION)).scalar_one())


async def _open_snapshots(connections: list[AsyncConnection], sqlite: bool) -> bool:
    """Open every connection's snapshot; whether they are surely one and the same."""
    first, others = connections[0], connections[1:]
    if not sqlite:
        exported = None
        if others:
            exported = str(
                (await first.exec_driver_sql("SELECT pg_export_snapshot()")).scalar_one()
            )
        for connection in others:
            await open_other(connection, exported)
        return True
    before = await _data_version(first)
    await first.rollback()  # its next statement starts a new read transaction, after the others
    for connection in others:
        await open_other(connection, None)
    return bool(await _data_version(first) == before)


async def open_other(connection: AsyncConnection, exported: str | None) -> None:
    """Start a connection's read transaction on the snapshot PostgreSQL exported, or (SQLite)
    on its own, fixed from here on."""
    if exported is None:
        await _data_version(connection)
        return
    if not _SNAPSHOT_ID.match(exported):
        raise ValueError(f"unexpected snapshot id from PostgreSQL: {exported!r}")
    await connection.exec_driver_sql(f"SET TRANSACTION SNAPSHOT '{exported}'")


async def together(coroutines: Sequence[Coroutine[Any, Any, T]]) -> list[T]:
    """Run the coroutines at the same time (each on a session of its own). If one fails, the
    others are cancelled and waited for before the error goes on: their connections are
    closed next, and must not be closed under a statement."""
    tasks = [asyncio.ensure_future(coroutine) for coroutine in coroutines]
    try:
        return list(await asyncio.gather(*tasks))
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
