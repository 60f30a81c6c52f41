"""Text filter rules one by one (issue 15, docs/api-conventions.md "Filters"): free text matches
case-insensitively in every script the platform stores, a prefix's ``%`` and ``_`` are literal,
any of several columns may match, and the query parameters say so in their description. The
SQL rules run on the test database (SQLite or PostgreSQL); SQLite's own ``lower()`` replacement
is also checked on a bare sqlite3 connection, the same on either run.
"""

from __future__ import annotations

import sqlite3
from typing import Any

import pytest
from sqlalchemy import ColumnElement, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.common.db import Database
from services.common.text_filters import (
    FREE_TEXT,
    PREFIX,
    free_text_query,
    prefix_query,
    register_sqlite_functions,
    text_equals,
    text_starts_with,
)
from tests.common.notes_app import Note

NAMES = {
    "note_latin": "Samarkand Textiles",
    "note_uz": "Oʻzbek Ipak",
    "note_cyrillic": "Фарғона Текс",
    "note_percent": "100% Cotton",
    "note_underscore": "Knit_Works",
    "note_other": "Andijan Denim",
}


@pytest.fixture
async def session(notes_database: Database) -> Any:
    async with notes_database.sessionmaker() as session:
        session.add_all(Note(id=ident, text=text) for ident, text in NAMES.items())
        await session.commit()
        yield session


async def matching(session: AsyncSession, condition: ColumnElement[bool]) -> set[str]:
    return set((await session.execute(select(Note.id).where(condition))).scalars())


@pytest.mark.parametrize(
    ("typed", "found"),
    [
        ("samarkand textiles", {"note_latin"}),
        ("SAMARKAND TEXTILES", {"note_latin"}),
        ("фАРҒОНА тЕКС", {"note_cyrillic"}),
        ("OʻZBEK IPAK", {"note_uz"}),
        ("Samarkand", set()),  # equality, not a prefix
    ],
)
async def test_free_text_equals_in_any_case_and_script(
    session: AsyncSession, typed: str, found: set[str]
) -> None:
    assert await matching(session, text_equals(Note.text, typed)) == found


@pytest.mark.parametrize(
    ("prefix", "found"),
    [
        ("sam", {"note_latin"}),
        ("SAM", {"note_latin"}),
        ("фарғ", {"note_cyrillic"}),
        ("ФАРҒ", {"note_cyrillic"}),
        ("100%", {"note_percent"}),
        ("%", set()),  # literal, not "anything"
        ("_", set()),  # literal, not "any one character"
        ("knit_", {"note_underscore"}),
        ("k_it", set()),
        ("textiles", set()),  # a prefix, not a substring
    ],
)
async def test_a_prefix_matches_the_start_case_insensitively_and_literally(
    session: AsyncSession, prefix: str, found: set[str]
) -> None:
    assert await matching(session, text_starts_with(prefix, Note.text)) == found


async def test_a_prefix_may_match_any_of_several_columns(session: AsyncSession) -> None:
    condition = text_starts_with("NOTE_LAT", Note.text, Note.id)
    assert await matching(session, condition) == {"note_latin"}
    condition = text_starts_with("andij", Note.id, Note.text)
    assert await matching(session, condition) == {"note_other"}


async def test_a_prefix_over_no_columns_matches_nothing(session: AsyncSession) -> None:
    assert await matching(session, text_starts_with("sam")) == set()


def sqlite_connection() -> sqlite3.Connection:
    connection = sqlite3.connect(":memory:")
    register_sqlite_functions(connection)
    return connection


def test_sqlite_lower_folds_every_script_and_keeps_null() -> None:
    connection = sqlite_connection()
    row = connection.execute("SELECT lower('ФАРҒОНА Oʻ'), lower('ABC'), lower(NULL), lower(7)")
    assert row.fetchone() == ("фарғона oʻ", "abc", None, 7)


def test_sqlite_lower_is_deterministic_so_an_index_may_use_it() -> None:
    connection = sqlite_connection()
    connection.execute("CREATE TABLE factory (name TEXT)")
    connection.execute("CREATE INDEX factory_name_folded ON factory (lower(name))")


def test_a_free_text_parameter_is_optional_and_says_how_it_matches() -> None:
    described = free_text_query(description="Region of the factory.", max_length=120)
    assert described.default is None
    assert described.description == f"Region of the factory. {FREE_TEXT}"
    assert any(getattr(rule, "max_length", None) == 120 for rule in described.metadata)
    assert free_text_query().description == FREE_TEXT


def test_a_prefix_parameter_is_optional_non_empty_and_says_how_it_matches() -> None:
    prefix = prefix_query(max_length=100)
    assert prefix.default is None
    assert prefix.description == PREFIX
    limits = {
        name: getattr(rule, name)
        for rule in prefix.metadata
        for name in ("min_length", "max_length")
        if hasattr(rule, name)
    }
    assert limits == {"min_length": 1, "max_length": 100}
