"""A list paged as Core rows (``select_rows``) is the list paged as ORM objects: the same values,
order, cursors and totals, on SQLite and PostgreSQL; only what the session keeps differs."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import Row, select

from services.common.db import Database
from services.common.pagination import PageParams, Sorting, paginate, select_rows
from tests.common.notes_app import Note

TEXTS = ["beta", "alpha", "gamma"]
SORTING = Sorting(Note.id, text=Note.text, version=Note.version)
COLUMNS = ("id", "text", "version")


@pytest.fixture
async def notes(notes_database: Database) -> Database:
    async with notes_database.sessionmaker() as session:
        for i in range(11):
            session.add(Note(id=f"n{(i * 7) % 11:03d}", text=TEXTS[i % 3]))
        await session.commit()
    return notes_database


async def walk(
    database: Database, rows: bool, sort: str | None, *, on_connection: bool = False
) -> list[Any]:
    """Every page of the list, as (values of each row, next cursor, total) per page; rows on
    the Core read connection too (``on_connection``), as the lists of rows read them."""
    pages: list[Any] = []
    cursor = None
    while True:
        params = PageParams(limit=4, cursor=cursor, sort=sort, include_total=True)
        stmt = (select_rows(Note) if rows else select(Note)).where(Note.text != "zeta")  # type: ignore[arg-type]
        if on_connection:
            async for connection in database.read_connection():
                page, cursor = await paginate(connection, stmt, SORTING, params)
        else:
            async with database.sessionmaker() as session:
                page, cursor = await paginate(session, stmt, SORTING, params)
        assert all(isinstance(item, Row) is rows for item in page)
        values = [tuple(getattr(item, name) for name in COLUMNS) for item in page]
        pages.append((values, cursor, params.total))
        if cursor is None:
            return pages


@pytest.mark.parametrize("sort", [None, "text", "-text", "-id"])
async def test_rows_page_exactly_as_objects(notes: Database, sort: str | None) -> None:
    as_rows = await walk(notes, True, sort)
    assert as_rows == await walk(notes, False, sort)
    assert as_rows == await walk(notes, True, sort, on_connection=True)
    assert len(as_rows) == 3 and as_rows[0][2] == 11  # 4 + 4 + 3, every page counted


async def test_a_read_connection_pages_rows_only(notes: Database) -> None:
    """Objects need the ORM session: asked of a bare connection, a list of objects is a
    programming error at once, not Core rows where the router expects objects."""
    async for connection in notes.read_connection():
        with pytest.raises(TypeError, match="select_rows"):
            await paginate(connection, select(Note), SORTING, PageParams(limit=5, cursor=None))


async def test_rows_are_not_kept_by_the_session(notes: Database) -> None:
    async with notes.sessionmaker() as session:
        params = PageParams(limit=5, cursor=None)
        rows, _ = await paginate(session, select_rows(Note), SORTING, params)
        assert len(rows) == 5 and len(session.identity_map) == 0
        objects, _ = await paginate(session, select(Note), SORTING, params)
        assert len(session.identity_map) == len(objects) == 5  # the control: objects are kept


async def test_rows_see_what_the_session_has_not_flushed_yet(notes: Database) -> None:
    """As ``session.execute`` would: pending objects are flushed before the rows are read."""
    async with notes.sessionmaker() as session:
        session.add(Note(id="n000a", text="delta"))
        page, _ = await paginate(
            session, select_rows(Note), SORTING, PageParams(limit=2, cursor=None)
        )
        assert [row.id for row in page] == ["n000", "n000a"]
        await session.rollback()


async def test_rows_see_changes_and_deletions_the_session_has_not_flushed_yet(
    notes: Database,
) -> None:
    """A changed object alone, then a deleted one alone, is flushed before the rows are read."""
    async with notes.sessionmaker() as session:
        first = await session.get(Note, "n000")
        assert first is not None
        first.text = "changed"
        page, _ = await paginate(
            session, select_rows(Note), SORTING, PageParams(limit=1, cursor=None)
        )
        assert [(row.id, row.text) for row in page] == [("n000", "changed")]
        await session.rollback()
    async with notes.sessionmaker() as session:
        first = await session.get(Note, "n000")
        await session.delete(first)
        page, _ = await paginate(
            session, select_rows(Note), SORTING, PageParams(limit=1, cursor=None)
        )
        assert [row.id for row in page] != ["n000"]
        await session.rollback()
