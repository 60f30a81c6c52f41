"""A request's unit of work: sessions join one transaction, and the unit's owner ends it."""

from __future__ import annotations

from sqlalchemy import func, select

from services.common.db import Database
from tests.common.notes_app import Note


async def stored_notes(database: Database) -> int:
    async for session in database.session():
        return int((await session.execute(select(func.count()).select_from(Note))).scalar_one())
    raise AssertionError("no session")


async def test_a_session_commits_only_when_the_unit_does(notes_database: Database) -> None:
    async with notes_database.request_transaction() as unit:
        async for session in notes_database.session():
            session.add(Note(id="note_1", text="t"))
            await session.commit()  # releases its savepoint; the unit is still open
        await unit.rollback()
    assert await stored_notes(notes_database) == 0
    async with notes_database.request_transaction() as unit:
        async for session in notes_database.session():
            session.add(Note(id="note_2", text="t"))
            await session.commit()
        await unit.commit()
    assert await stored_notes(notes_database) == 1


async def test_a_session_left_open_ends_with_its_unit(notes_database: Database) -> None:
    """A dependency generator a failing route leaves unfinished is closed whenever it is
    collected: by then its unit's connection may serve another request."""
    async with notes_database.request_transaction() as unit:
        sessions = notes_database.session()
        session = await anext(sessions)
        session.add(Note(id="note_1", text="t"))
        await session.flush()
        await unit.rollback()
        assert not session.in_transaction(), "the unit ended with a session still in it"
    async with notes_database.request_transaction() as unit:
        async for other in notes_database.session():
            other.add(Note(id="note_2", text="t"))
            await other.commit()
        await sessions.aclose()  # the late close, while another unit holds the connection
        await unit.commit()
    assert await stored_notes(notes_database) == 1
