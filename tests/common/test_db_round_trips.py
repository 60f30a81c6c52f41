"""The database access path's short cuts (services/common/db.py, sqlite_driver.py): what a read
costs in trips to aiosqlite's thread or round trips to PostgreSQL, and that the short cuts
change no result: reads see committed rows, errors are SQLAlchemy's, a dead pooled connection is
still replaced. Counted, never timed."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import aclosing
from typing import Any

import aiosqlite
import asyncpg
import pytest
from sqlalchemy import event, func, select, text
from sqlalchemy.exc import IntegrityError

import services.common.db as db_module
from services.common.db import Database
from tests.common.notes_app import Note
from tests.support import backend

sqlite_only = pytest.mark.skipif(backend() != "sqlite", reason="aiosqlite's thread")
postgresql_only = pytest.mark.skipif(backend() != "postgresql", reason="asyncpg's pool")


@pytest.fixture
def thread_trips(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Every call aiosqlite sends to its connection's thread, by function name."""
    trips: list[str] = []
    send = aiosqlite.Connection._execute

    async def counted(self: aiosqlite.Connection, fn: Any, *args: Any, **kwargs: Any) -> Any:
        trips.append(getattr(fn, "__name__", repr(fn)))
        return await send(self, fn, *args, **kwargs)

    monkeypatch.setattr(aiosqlite.Connection, "_execute", counted)
    yield trips


def statements_of(database: Database) -> list[str]:
    seen: list[str] = []
    event.listen(
        database.engine.sync_engine,
        "before_cursor_execute",
        lambda _c, _cur, statement, *_rest: seen.append(statement.split()[0].upper()),
    )
    return seen


async def add_note(database: Database, ident: str) -> None:
    async with aclosing(database.session()) as sessions:
        async for session in sessions:
            session.add(Note(id=ident, text=f"text of {ident}"))
            await session.commit()


async def read_notes(database: Database, reader: str = "read_session") -> list[str]:
    """The notes' ids, read through ``reader``: the ORM read session, or the Core read
    connection that lists of rows take."""
    async with aclosing(getattr(database, reader)()) as readers:
        async for session_or_connection in readers:
            stmt = select(Note.id).order_by(Note.id)  # type: ignore[arg-type]
            rows = await session_or_connection.execute(stmt)
            return list(rows.scalars())
    raise AssertionError("no reader")


READERS = pytest.mark.parametrize("reader", ["read_session", "read_connection"])


@sqlite_only
@READERS
async def test_a_sqlite_read_is_one_trip_to_the_thread(
    notes_database: Database, thread_trips: list[str], reader: str
) -> None:
    await add_note(notes_database, "note_1")
    await read_notes(notes_database, reader)  # the pool's connection is open now
    thread_trips.clear()
    assert await read_notes(notes_database, reader) == ["note_1"]
    # The SELECT (executed and fetched in one call); BEGIN DEFERRED, the rollback that ends the
    # read, cursors and the pool's reset make none. The stock adapter made nine.
    assert thread_trips == ["run"], thread_trips


@sqlite_only
async def test_a_sqlite_reader_ends_its_snapshot_and_a_writer_rolls_back_on_the_thread(
    notes_database: Database, thread_trips: list[str]
) -> None:
    """The reader's rollback, run on the loop, really ends its transaction: the pooled
    connection's next read sees a later commit. A writer's rollback still goes to the thread."""
    await add_note(notes_database, "note_1")
    assert await read_notes(notes_database) == ["note_1"]
    await add_note(notes_database, "note_2")
    assert await read_notes(notes_database) == ["note_1", "note_2"]
    thread_trips.clear()
    with pytest.raises(IntegrityError):
        await add_note(notes_database, "note_1")
    assert thread_trips[-1] == "rollback", thread_trips


@sqlite_only
async def test_a_sqlite_writer_still_takes_the_lock_on_the_thread(
    notes_database: Database, thread_trips: list[str]
) -> None:
    """BEGIN IMMEDIATE may wait for the write lock: it must never run on the event loop."""
    await read_notes(notes_database)
    thread_trips.clear()
    seen = statements_of(notes_database)
    await add_note(notes_database, "note_1")
    assert seen[0] == "BEGIN" and len(thread_trips) >= len(seen), (seen, thread_trips)


async def test_reads_see_committed_rows_and_errors_stay_sqlalchemys(
    notes_database: Database,
) -> None:
    await add_note(notes_database, "note_1")
    await add_note(notes_database, "note_2")
    assert await read_notes(notes_database) == ["note_1", "note_2"]
    with pytest.raises(IntegrityError):
        await add_note(notes_database, "note_1")
    async with aclosing(notes_database.read_session()) as sessions:
        async for session in sessions:
            count = await session.execute(select(func.count()).select_from(Note))
            assert count.scalar_one() == 2


@pytest.fixture
def server_transactions(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Every transaction asyncpg starts on the server (a BEGIN round trip each)."""
    started: list[str] = []
    start = asyncpg.transaction.Transaction.start

    async def counted(self: asyncpg.transaction.Transaction) -> None:
        started.append("BEGIN")
        await start(self)

    monkeypatch.setattr(asyncpg.transaction.Transaction, "start", counted)
    yield started


@postgresql_only
@READERS
async def test_a_postgresql_read_is_one_round_trip(
    notes_database: Database, server_transactions: list[str], reader: str
) -> None:
    """No BEGIN, no ROLLBACK, no ping of a connection in steady use: the SELECT alone."""
    await add_note(notes_database, "note_1")
    await read_notes(notes_database, reader)  # a pooled connection, recently used
    server_transactions.clear()
    seen = statements_of(notes_database)
    assert await read_notes(notes_database, reader) == ["note_1"]
    assert seen == ["SELECT"] and server_transactions == [], (seen, server_transactions)
    await add_note(notes_database, "note_2")  # a write still runs in a transaction
    assert server_transactions == ["BEGIN"]


@postgresql_only
async def test_a_dead_idle_postgresql_connection_is_replaced(
    notes_database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    await add_note(notes_database, "note_1")
    async with notes_database.engine.connect() as connection:
        victim = (await connection.execute(text("SELECT pg_backend_pid()"))).scalar_one()
    killer = Database(notes_database.url)
    async with killer.engine.connect() as connection:
        await connection.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": victim})
    await killer.dispose()
    monkeypatch.setattr(db_module, "PING_AFTER_IDLE_SECONDS", 0.0)  # every checkout is "idle"
    assert await read_notes(notes_database) == ["note_1"]
    async with notes_database.engine.connect() as connection:
        assert (await connection.execute(text("SELECT pg_backend_pid()"))).scalar_one() != victim
