"""Engines, sessions and the unit of work, rule by rule (issue 15): PostgreSQL pools and
schemas, SQLite's pragmas, reads that do not queue behind a writer, a session that rolls back
only its own savepoint, and which sessions join a unit (same database, unit still open)."""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import func, inspect, select, text

from services.common.db import SQLITE_BUSY_TIMEOUT_MS, Database, make_engine
from tests.common.notes_app import Note, NotesTable
from tests.support import TEST_DATABASE_URL

PG_URL = "postgresql+asyncpg://nobody@127.0.0.1:1/none"  # never connected to


async def count(database: Database) -> int:
    async with database.sessionmaker() as session:
        return int((await session.execute(select(func.count()).select_from(Note))).scalar_one())


def test_a_postgresql_engine_keeps_a_pool_of_ten_plus_ten() -> None:
    engine = make_engine(PG_URL, echo=True)
    pool = engine.sync_engine.pool
    assert pool.size() == 10
    assert pool._max_overflow == 10  # type: ignore[attr-defined]
    assert engine.echo is True
    assert make_engine(PG_URL).echo is False


def test_a_database_remembers_where_it_points() -> None:
    database = Database(PG_URL, "assessment")
    assert (database.url, database.schema, database.is_sqlite) == (PG_URL, "assessment", False)
    assert database.engine.echo is False
    assert Database(PG_URL, echo=True).engine.echo is True


@pytest.fixture
async def sqlite_database(tmp_path: Path) -> AsyncIterator[Database]:
    database = Database(f"sqlite+aiosqlite:///{tmp_path / 'other.db'}")
    async with database.engine.begin() as conn:
        await conn.run_sync(NotesTable.metadata.create_all)
    yield database
    await database.dispose()


async def test_every_sqlite_connection_gets_wal_a_busy_timeout_and_foreign_keys(
    sqlite_database: Database,
) -> None:
    async with sqlite_database.engine.connect() as conn:
        pragmas = [
            (await conn.exec_driver_sql(f"PRAGMA {name}")).scalar_one()
            for name in ("journal_mode", "busy_timeout", "foreign_keys", "synchronous")
        ]
    assert pragmas == ["wal", SQLITE_BUSY_TIMEOUT_MS, 1, 1]


@pytest.mark.skipif(not TEST_DATABASE_URL, reason="PostgreSQL only: SQLite has no schemas")
async def test_a_postgresql_connection_searches_the_service_schema_only(
    notes_database: Database,
) -> None:
    async with notes_database.sessionmaker() as session:
        path = (await session.execute(text("SHOW search_path"))).scalar_one()
    assert notes_database.schema and path == notes_database.schema


async def test_objects_stay_readable_after_commit(notes_database: Database) -> None:
    async with notes_database.sessionmaker() as session:
        note = Note(id="note_1", text="t")
        session.add(note)
        await session.commit()
        assert not inspect(note).expired
        assert note.text == "t"


# Both ways to read: the ORM session, and the Core connection of lists of rows.
READERS = pytest.mark.parametrize("reader", ["read_session", "read_connection"])


@READERS
async def test_a_read_outside_a_unit_does_not_wait_for_an_open_writer(
    sqlite_database: Database, reader: str
) -> None:
    """On SQLite a writer holds the one write lock from BEGIN; a reader must not queue."""
    async with sqlite_database.sessionmaker() as writer:
        writer.add(Note(id="note_1", text="t"))
        await writer.flush()  # holds the write lock, uncommitted
        reads = getattr(sqlite_database, reader)()
        reader = await asyncio.wait_for(anext(reads), SQLITE_BUSY_TIMEOUT_MS / 1000 / 3)
        seen = (await reader.execute(select(func.count()).select_from(Note))).scalar_one()
        await reads.aclose()
        assert seen == 0
        await writer.commit()


@READERS
async def test_a_read_inside_a_unit_sees_the_units_own_writes(
    notes_database: Database, reader: str
) -> None:
    async with notes_database.request_transaction() as unit:
        async for session in notes_database.session():
            session.add(Note(id="note_1", text="t"))
            await session.commit()  # the savepoint only
        async for read in getattr(notes_database, reader)():
            seen = (await read.execute(select(func.count()).select_from(Note))).scalar_one()
        await unit.rollback()
    assert seen == 1
    assert await count(notes_database) == 0


async def test_a_session_rolling_back_undoes_only_its_own_savepoint(
    notes_database: Database,
) -> None:
    async with notes_database.request_transaction() as unit:
        async for session in notes_database.session():
            session.add(Note(id="note_kept", text="t"))
            await session.commit()
        async for session in notes_database.session():
            session.add(Note(id="note_undone", text="t"))
            await session.flush()
            await session.rollback()
        await unit.commit()
    async with notes_database.sessionmaker() as session:
        ids = (await session.execute(select(Note.id))).scalars().all()
    assert ids == ["note_kept"]


async def test_a_session_of_another_database_does_not_join_the_unit(
    notes_database: Database, sqlite_database: Database
) -> None:
    async with notes_database.request_transaction() as unit:
        async for session in sqlite_database.session():
            session.add(Note(id="note_elsewhere", text="t"))
            await session.commit()  # its own transaction: committed for good
        await unit.rollback()
    assert await count(sqlite_database) == 1


async def test_a_task_outliving_its_unit_opens_its_own_transaction(
    notes_database: Database,
) -> None:
    async with notes_database.request_transaction() as unit:
        context = contextvars.copy_context()  # what a task started in the request keeps
        await unit.rollback()

    async def late_write() -> None:
        async for session in notes_database.session():
            session.add(Note(id="note_late", text="t"))
            await session.commit()

    await asyncio.create_task(late_write(), context=context)
    assert await count(notes_database) == 1
