"""PostgreSQL's feed without a lock (ADR 0011): writers commit in parallel, the feed serves
events in transaction-id order below the snapshot's xmin, so an event whose transaction began
first but commits last is never skipped. SQLite has one writer at a time and keeps id order."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import text

from services.common.db import Database
from services.common.feed_order import FeedPosition
from services.common.outbox import read_changes
from tests.common.notes_app import NoteOutbox
from tests.common.notes_app import append_note_event as append
from tests.common.notes_app import current_txid as txid_of
from tests.support import TEST_DATABASE_URL

pytestmark = pytest.mark.skipif(
    not TEST_DATABASE_URL, reason="PostgreSQL only: SQLite has one writer at a time"
)


async def read(database: Database, after: str, wait: float = 0) -> tuple[list[str], str]:
    """One page; without ``wait``, what the feed serves right now."""
    async with database.sessionmaker() as session:
        page = await read_changes(session, NoteOutbox, after, 100, hold_wait=wait)
    return [e.aggregate_id for e in page.items], page.next_cursor


async def test_a_transaction_that_began_first_and_commits_last_is_not_skipped(
    notes_database: Database,
) -> None:
    async with (
        notes_database.sessionmaker() as early,
        notes_database.sessionmaker() as late,
    ):
        await append(early, "early")  # takes its transaction id first, stays open
        # The later writer does not wait for the earlier one (no lock).
        await asyncio.wait_for(append(late, "late"), 10)
        early_txid, late_txid = await txid_of(early), await txid_of(late)
        assert early_txid < late_txid
        await late.commit()  # and commits first
        served, cursor = await read(notes_database, "0")
        # "late" is committed, but an open transaction below it could still add an event
        # ahead of it: the feed holds it back rather than serve past "early".
        assert served == []
        assert cursor == "0"
        await early.commit()
    served, cursor = await read(notes_database, cursor, wait=30)
    assert served == ["early", "late"]  # transaction-id order, the late commit included
    assert FeedPosition.parse(cursor).txid == late_txid


async def test_a_rolled_back_transaction_holds_nothing_back(notes_database: Database) -> None:
    async with notes_database.sessionmaker() as gone, notes_database.sessionmaker() as kept:
        await append(gone, "gone")
        await append(kept, "kept")
        await kept.commit()
        await gone.rollback()
    served, _ = await read(notes_database, "0", wait=30)
    assert served == ["kept"]


async def test_a_write_takes_no_advisory_lock(notes_database: Database) -> None:
    async with notes_database.sessionmaker() as writer, notes_database.sessionmaker() as watcher:
        await append(writer, "n1")
        pid = (await writer.execute(text("SELECT pg_backend_pid()"))).scalar_one()
        locks = await watcher.execute(
            text("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = :pid"),
            {"pid": pid},
        )
        assert locks.scalar_one() == 0
        await writer.commit()


async def test_a_reader_waits_for_a_short_transaction_holding_events_back(
    notes_database: Database,
) -> None:
    async with notes_database.sessionmaker() as early, notes_database.sessionmaker() as late:
        await append(early, "early")
        await append(late, "late")
        await late.commit()
        async with notes_database.sessionmaker() as session:
            reading = asyncio.create_task(read_changes(session, NoteOutbox, "0", 100, hold_wait=30))
            await asyncio.sleep(0.1)
            assert not reading.done(), "the reader served past an open transaction"
            await early.commit()
            page = await asyncio.wait_for(reading, 30)
    assert [e.aggregate_id for e in page.items] == ["early", "late"]


async def test_a_bare_id_resumes_after_that_event(notes_database: Database) -> None:
    """A reader from before the switch-over holds an id; the feed resumes after that event."""
    async with notes_database.sessionmaker() as session:
        for name in ("a", "b", "c"):
            await append(session, name)
        await session.commit()
    served, cursor = await read(notes_database, "0", wait=30)
    first = await read_first_id(notes_database)
    assert served == ["a", "b", "c"]
    rest, next_cursor = await read(notes_database, str(first), wait=30)  # a bare id: after "a"
    assert rest == ["b", "c"] and next_cursor == cursor


async def read_first_id(database: Database) -> int:
    async with database.sessionmaker() as session:
        return int((await session.execute(text("SELECT min(id) FROM outbox"))).scalar_one())


async def test_an_open_transaction_elsewhere_does_not_hold_the_feed_back(
    notes_database: Database,
) -> None:
    """Only transactions that may write this outbox (holding a lock in its schema) count: a
    long transaction of another service, or another database, does not stall this feed."""
    async with notes_database.sessionmaker() as elsewhere:
        await elsewhere.execute(text("CREATE TEMP TABLE elsewhere (n int)"))
        await elsewhere.execute(text("INSERT INTO elsewhere VALUES (1)"))
        await txid_of(elsewhere)  # an open transaction with an id, below the writer's
        async with notes_database.sessionmaker() as writer:
            await append(writer, "served")
            await writer.commit()
        served, _ = await read(notes_database, "0")
        assert served == ["served"]
        await elsewhere.rollback()
