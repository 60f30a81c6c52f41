"""Cursor pagination rules one by one (issue 15): a cursor round-trips and is opaque, only a
cursor the key column can hold reaches SQL, pages follow the key with no gap and no repeat, the
last page has no next cursor, and a page's schema is named after its items."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import BaseModel
from sqlalchemy import BigInteger, Integer, Numeric, String, event, select
from sqlmodel import AutoString

from services.common.db import Database
from services.common.pagination import (
    MAX_LIMIT,
    Page,
    PageParams,
    _fits_key,
    _from_cursor,
    decode_cursor,
    encode_cursor,
    page_params,
    paginate,
    readable_generic_name,
)
from services.common.problems import Problem
from tests.common.notes_app import Note


@pytest.mark.parametrize("key", ["note_01J", 7, "Oʻzbekiston", "Ўзбекистон", 2**40])
def test_a_cursor_round_trips_and_carries_no_padding(key: object) -> None:
    cursor = encode_cursor(key)
    assert "=" not in cursor and "+" not in cursor and "/" not in cursor
    assert decode_cursor(cursor) == key


def test_a_cursor_is_url_safe_base64_of_the_json_key() -> None:
    assert encode_cursor("a?b>") == "ImE_Yj4i"
    assert decode_cursor("ImE_Yj4i") == "a?b>"


@pytest.mark.parametrize("cursor", ["!!!", "bm90IGpzb24", "gA", "x"])
def test_a_cursor_this_api_did_not_issue_is_400(cursor: str) -> None:
    with pytest.raises(Problem) as caught:
        decode_cursor(cursor)
    assert (caught.value.status, caught.value.title) == (400, "Invalid cursor")
    assert caught.value.detail == "The cursor is not one this API issued."


@pytest.mark.parametrize(
    ("after", "key_type", "fits"),
    [
        (0, Integer(), True),
        (2**31 - 1, Integer(), True),
        (2**31, Integer(), False),
        (-1, Integer(), False),
        (2**63 - 1, BigInteger(), True),
        (2**63, BigInteger(), False),
        (True, Integer(), False),
        ("5", Integer(), False),
        (5.0, Integer(), False),
        ("note_1", String(), True),
        ("note_1", AutoString(), True),
        ("a\x00b", AutoString(), False),
        ("a\ud800b", String(), False),
        (5, String(), False),
        ("x", Numeric(), True),
        (5, Numeric(), True),
        (False, Numeric(), False),
        (None, Numeric(), False),
    ],
)
def test_only_a_cursor_the_key_column_can_hold_fits(
    after: object, key_type: object, fits: bool
) -> None:
    assert _fits_key(after, key_type) is fits  # type: ignore[arg-type]


def test_page_params_default_to_fifty_with_no_cursor() -> None:
    assert page_params(50, None) == PageParams(limit=50, cursor=None)
    assert MAX_LIMIT == 500


def test_a_page_is_named_after_its_items() -> None:
    class FactoryRead(BaseModel):
        name: str

    assert readable_generic_name((FactoryRead,), "Page") == "FactoryPage"
    assert readable_generic_name((int,), "List") == "intList"
    assert Page[FactoryRead].__name__ == "FactoryPage"  # type: ignore[valid-type]


async def _pages(database: Database, limit: int) -> list[list[str]]:
    pages: list[list[str]] = []
    cursor: str | None = None
    async with database.sessionmaker() as session:
        while True:
            rows, cursor = await paginate(
                session, select(Note), Note.id, PageParams(limit=limit, cursor=cursor)
            )
            pages.append([row.id for row in rows])
            if cursor is None:
                return pages


async def test_pages_follow_the_key_without_gap_or_repeat_and_the_last_has_no_cursor(
    notes_database: Database,
) -> None:
    async with notes_database.sessionmaker() as session:
        session.add_all(Note(id=f"note_{i}", text="t") for i in (3, 1, 5, 2, 4))
        await session.commit()
    assert await _pages(notes_database, 2) == [
        ["note_1", "note_2"],
        ["note_3", "note_4"],
        ["note_5"],
    ]
    assert await _pages(notes_database, 5) == [["note_1", "note_2", "note_3", "note_4", "note_5"]]
    assert await _pages(notes_database, 6) == [["note_1", "note_2", "note_3", "note_4", "note_5"]]


async def test_the_next_cursor_is_the_last_key_of_the_page(notes_database: Database) -> None:
    async with notes_database.sessionmaker() as session:
        session.add_all(Note(id=f"note_{i}", text="t") for i in (1, 2, 3))
        await session.commit()
        rows, cursor = await paginate(
            session, select(Note), Note.id, PageParams(limit=2, cursor=None)
        )
    assert [r.id for r in rows] == ["note_1", "note_2"]
    assert cursor == encode_cursor("note_2")


async def test_a_cursor_of_the_wrong_kind_is_400_before_any_query(
    notes_database: Database,
) -> None:
    async with notes_database.sessionmaker() as session:
        with pytest.raises(Problem) as caught:
            await paginate(
                session, select(Note), Note.id, PageParams(limit=2, cursor=encode_cursor(7))
            )
    assert (caught.value.status, caught.value.title) == (400, "Invalid cursor")
    assert caught.value.detail == "The cursor is not one this API issued."


def test_a_parameter_without_a_name_is_named_by_its_text() -> None:
    assert readable_generic_name(("FactoryRead",), "Page") == "FactoryPage"


def test_a_text_sort_value_must_be_text_the_column_can_store() -> None:
    assert _from_cursor("alpha", Note.text) == "alpha"
    assert _from_cursor(5, Note.text) is None
    assert _from_cursor("a\x00b", Note.text) is None


async def test_a_page_asks_the_database_for_one_row_past_its_limit(
    notes_database: Database,
) -> None:
    """Only ``limit + 1`` rows are read, however long the list: the extra one says whether
    there is a next page. Without the LIMIT every page would read the whole list."""
    statements: list[tuple[str, Any]] = []

    def seen(_conn: object, _cursor: object, statement: str, parameters: Any, *_: object) -> None:
        statements.append((statement, parameters))

    async with notes_database.sessionmaker() as session:
        session.add_all(Note(id=f"note_{i}", text="t") for i in range(4))
        await session.commit()
    event.listen(notes_database.engine.sync_engine, "before_cursor_execute", seen)
    try:
        async with notes_database.sessionmaker() as session:
            rows, _ = await paginate(
                session, select(Note), Note.id, PageParams(limit=2, cursor=None)
            )
    finally:
        event.remove(notes_database.engine.sync_engine, "before_cursor_execute", seen)
    assert [row.id for row in rows] == ["note_0", "note_1"]
    pages = [params for sql, params in statements if "FROM note" in sql and "LIMIT" in sql]
    assert len(pages) == 1 and 3 in pages[0]  # limit 2, plus the one that shows a next page
