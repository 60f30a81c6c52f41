"""Writers of one process take turns on a SQLite database (services/common/sqlite_driver.py):
first come, first served, on the event loop, instead of each sleeping in SQLite's busy handler
and retrying. The busy timeout is set to almost nothing here, so a writer that reached SQLite
while another held the lock would fail at once: every test below that waits and succeeds
shows the turn, not SQLite, did the waiting."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncConnection

import services.common.db as db_module
from services.common.db import Database
from tests.support import backend

pytestmark = pytest.mark.skipif(backend() != "sqlite", reason="the SQLite driver's own rules")

TURN_WAIT_MS = 300  # the busy timeout, and so how long a writer waits for its turn


@pytest.fixture
async def database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Database]:
    monkeypatch.setattr(db_module, "SQLITE_BUSY_TIMEOUT_MS", TURN_WAIT_MS)
    database = Database(f"sqlite+aiosqlite:///{tmp_path / 'turns.db'}")
    async with database.engine.begin() as conn:
        await conn.execute(text("CREATE TABLE entry (n INTEGER, writer TEXT)"))
    # Open the pool's connections now, so that a writer reaches its turn without a trip to a
    # new connection's thread, in the order it was started.
    async with AsyncExitStack() as stack:
        for _ in range(4):
            await stack.enter_async_context(database.engine.connect())
    yield database
    await database.dispose()


async def write(
    database: Database,
    writer: str,
    log: list[str],
    hold: asyncio.Event,
    began: asyncio.Event | None = None,
) -> None:
    """One writer's transaction: begin (waiting for the turn), note the order, hold it open."""
    async with database.engine.begin() as conn:
        await conn.execute(text("INSERT INTO entry VALUES (1, :w)"), {"w": writer})
        log.append(writer)
        if began is not None:
            began.set()
        await hold.wait()


async def written(database: Database) -> list[str]:
    async with database.engine.connect() as conn:
        rows = await conn.execute(text("SELECT writer FROM entry ORDER BY rowid"))
        return list(rows.scalars())


def turn_is_free(database: Database) -> bool:
    """Nobody holds this process's turn to write: a leaked one would no longer block the next
    writer for ever (it waits out the busy timeout, then goes to SQLite), so look at it."""
    return not database.engine.dialect.loaded_dbapi.write_turns.lock().locked()


async def settle() -> None:
    """Let every task started so far run up to where it waits."""
    for _ in range(20):
        await asyncio.sleep(0)


async def test_writers_queue_for_their_turn_and_write_in_the_order_they_asked(
    database: Database,
) -> None:
    log: list[str] = []
    names = ("first", "second", "third", "fourth")
    holds = {name: asyncio.Event() for name in names}
    began = asyncio.Event()
    first = asyncio.create_task(write(database, "first", log, holds["first"], began))
    await began.wait()
    others = []
    for name in names[1:]:
        others.append(asyncio.create_task(write(database, name, log, holds[name])))
        await settle()  # each asks before the next
    await asyncio.sleep(TURN_WAIT_MS / 1000 / 2)
    assert log == ["first"]  # the others wait; none has failed on the locked file
    assert not any(task.done() for task in others)

    # The last to ask is let go first: it still writes after those who asked before it.
    for name in reversed(names):
        holds[name].set()
    await asyncio.gather(first, *others)
    assert log == ["first", "second", "third", "fourth"]
    assert await written(database) == log


async def test_a_writer_that_waits_past_the_busy_timeout_gets_sqlites_locked_error(
    database: Database,
) -> None:
    log: list[str] = []
    release = asyncio.Event()
    began = asyncio.Event()
    holder = asyncio.create_task(write(database, "holder", log, release, began))
    await began.wait()
    with pytest.raises(OperationalError, match="database is locked"):
        await write(database, "late", log, asyncio.Event())
    release.set()
    await holder
    # The late writer gave nothing back it did not have: the next one writes at once.
    done = asyncio.Event()
    done.set()
    await write(database, "next", log, done)
    assert await written(database) == ["holder", "next"]


async def test_a_rolled_back_writer_gives_its_turn_back(database: Database) -> None:
    with pytest.raises(RuntimeError):
        async with database.engine.begin() as conn:
            await conn.execute(text("INSERT INTO entry VALUES (1, 'undone')"))
            raise RuntimeError("the route failed")
    done = asyncio.Event()
    done.set()
    assert turn_is_free(database)
    await asyncio.wait_for(write(database, "after", [], done), 5)
    assert await written(database) == ["after"]


async def test_a_writer_whose_connection_is_invalidated_gives_its_turn_back(
    database: Database,
) -> None:
    async with database.engine.connect() as conn:
        await conn.begin()
        await conn.execute(text("INSERT INTO entry VALUES (1, 'lost')"))
        await conn.invalidate()
    done = asyncio.Event()
    done.set()
    assert turn_is_free(database)
    await asyncio.wait_for(write(database, "after", [], done), 5)
    assert await written(database) == ["after"]


async def test_a_begin_refused_by_another_process_gives_the_turn_back(
    database: Database, tmp_path: Path
) -> None:
    """A writer outside this process (here a plain sqlite3 connection) still meets SQLite's
    busy timeout; the refused BEGIN leaves no turn held behind it."""
    other = sqlite3.connect(tmp_path / "turns.db", isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    try:
        with pytest.raises(OperationalError, match="locked"):
            await write(database, "refused", [], asyncio.Event())
    finally:
        other.execute("ROLLBACK")
        other.close()
    done = asyncio.Event()
    done.set()
    assert turn_is_free(database)
    await asyncio.wait_for(write(database, "after", [], done), 5)
    assert await written(database) == ["after"]


async def test_readers_take_no_turn(database: Database) -> None:
    log: list[str] = []
    release = asyncio.Event()
    began = asyncio.Event()
    holder = asyncio.create_task(write(database, "holder", log, release, began))
    await began.wait()

    async def read(conn: AsyncConnection) -> int:
        await (await conn.execution_options(sqlite_begin="DEFERRED")).begin()
        return int((await conn.execute(text("SELECT count(*) FROM entry"))).scalar_one())

    async with database.engine.connect() as conn:
        assert await asyncio.wait_for(read(conn), 5) == 0  # the holder has not committed
    release.set()
    await holder


async def test_a_writer_cancelled_as_its_turn_comes_stops_and_leaves_the_turn_free(
    database: Database,
) -> None:
    """The turn is handed over and the waiting task cancelled in the same step (a background
    loop stopped at shutdown as the lock came free). Python 3.11's ``asyncio.wait_for`` then
    swallowed the cancellation and wrote on: the loop never stopped, nor the process."""
    turns = database.engine.dialect.loaded_dbapi.write_turns
    lock = turns.lock()
    await lock.acquire()  # a writer of this process holds the turn
    go = asyncio.Event()
    go.set()  # were the cancellation lost, the waiter would write and end normally
    waiter = asyncio.create_task(write(database, "cancelled", [], go))
    await settle()
    assert not waiter.done()
    lock.release()  # the turn passes to the waiter...
    waiter.cancel()  # ...which is cancelled before it runs again
    with pytest.raises(asyncio.CancelledError):
        await waiter
    await settle()
    assert not lock.locked()
    done = asyncio.Event()
    done.set()
    assert turn_is_free(database)
    await asyncio.wait_for(write(database, "after", [], done), 5)
    assert await written(database) == ["after"]
