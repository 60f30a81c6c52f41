"""ETag rules one by one (issue 15): how If-Match is read (lists, weak tags, ``*``), the exact
428 and 412 answers, ``updated_at`` moving on update, and the second line of defence: the
versioned UPDATE that refuses a writer who passed the header check with a version since
overtaken. The last one races two open transactions, which only PostgreSQL runs side by side."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm.exc import StaleDataError
from starlette.requests import Request

from services.common.db import Database
from services.common.etag import (
    commit_update,
    etag_for,
    none_match,
    require_if_match,
    stale_write_guard,
)
from services.common.outbox import append_event
from services.common.problems import Problem
from tests.common.notes_app import Note, NoteOutbox
from tests.support import TEST_DATABASE_URL

CURRENT = etag_for("note_1", 3)


def request(if_match: str | None) -> Request:
    headers = [] if if_match is None else [(b"if-match", if_match.encode())]
    return Request({"type": "http", "method": "PATCH", "path": "/", "headers": headers})


def refused(if_match: str | None, current: str = CURRENT) -> Problem:
    with pytest.raises(Problem) as caught:
        require_if_match(request(if_match), current)
    return caught.value


def test_the_etag_names_the_object_and_its_version() -> None:
    assert etag_for("note_1", 3) == '"note_1.v3"'


def test_no_if_match_is_428_saying_what_to_send() -> None:
    problem = refused(None)
    assert (problem.status, problem.title) == (428, "Precondition Required")
    assert problem.detail == (
        "Send If-Match with the ETag you last read, so a concurrent change is not lost."
    )


def test_a_stale_tag_is_412_naming_the_current_one() -> None:
    problem = refused(etag_for("note_1", 2))
    assert (problem.status, problem.title) == (412, "Precondition Failed")
    assert problem.detail == (
        f"The resource has changed since you read it (current ETag {CURRENT}); "
        "read it again and reapply your change."
    )


@pytest.mark.parametrize(
    "if_match",
    [
        CURRENT,
        "*",
        f"W/{CURRENT}",
        f'"other.v1", {CURRENT}',
        f'"other.v1",{CURRENT}',
        f'{CURRENT},"other.v1"',
        f' W/"other.v1" ,  W/{CURRENT} ',
    ],
)
def test_the_current_tag_anywhere_in_the_list_weak_or_strong_or_a_star_matches(
    if_match: str,
) -> None:
    require_if_match(request(if_match), CURRENT)


@pytest.mark.parametrize(
    "if_match",
    [f"w/{CURRENT}", f"{CURRENT}W/", f'"other.v1" {CURRENT}', '"*"', "**", f"{CURRENT[:-1]}"],
)
def test_anything_else_is_412(if_match: str) -> None:
    assert refused(if_match).status == 412


def test_an_exact_match_counts_even_for_a_weak_current_tag() -> None:
    require_if_match(request(f"W/{CURRENT}"), f"W/{CURRENT}")


class FakeSession:
    """Records the order of a commit_update's steps; ``flush`` may fail like a lost race."""

    def __init__(self, fail_flush: bool = False) -> None:
        self.calls: list[str] = []
        self.fail_flush = fail_flush

    async def flush(self) -> None:
        self.calls.append("flush")
        if self.fail_flush:
            raise StaleDataError("UPDATE statement on table 'note' expected to update 1 row(s)")

    async def commit(self) -> None:
        self.calls.append("commit")


class Row:
    def __init__(self) -> None:
        self.text = "old"
        self.updated_at = datetime(2020, 1, 1, tzinfo=UTC)


def recorder(session: FakeSession) -> Callable[[], Awaitable[object]]:
    async def record_event() -> object:
        session.calls.append("event")
        return None

    return record_event


async def test_commit_update_applies_the_changes_moves_updated_at_and_commits_once() -> None:
    session, row = FakeSession(), Row()
    before = datetime.now(UTC)
    await commit_update(session, row, {"text": "new"}, recorder(session))  # type: ignore[arg-type]
    assert row.text == "new"
    assert before <= row.updated_at <= datetime.now(UTC)
    assert row.updated_at.tzinfo is not None
    assert session.calls == ["flush", "event", "commit"]


async def test_a_row_without_updated_at_gets_none() -> None:
    session = FakeSession()

    class Plain:
        text = "old"

    row: Any = Plain()
    await commit_update(session, row, {"text": "new"}, recorder(session))  # type: ignore[arg-type]
    assert row.text == "new" and not hasattr(row, "updated_at")


async def test_a_lost_race_at_flush_is_412_and_nothing_is_recorded_or_committed() -> None:
    session = FakeSession(fail_flush=True)
    with pytest.raises(Problem) as caught:
        await commit_update(session, Row(), {"text": "new"}, recorder(session))  # type: ignore[arg-type]
    assert (caught.value.status, caught.value.title) == (412, "Precondition Failed")
    assert caught.value.detail == "The resource changed while you were updating it; read it again."
    assert session.calls == ["flush"]


async def test_the_guard_lets_other_errors_through_unchanged() -> None:
    with pytest.raises(ValueError, match="not a race"):
        async with stale_write_guard():
            raise ValueError("not a race")


async def _seed(database: Database) -> str:
    async with database.sessionmaker() as session:
        session.add(Note(id="note_race", text="v1"))
        await session.commit()
    return "note_race"


def _event(session: Any, text: str) -> Callable[[], Awaitable[object]]:
    return lambda: append_event(
        session,
        NoteOutbox,
        event_type="note.updated",
        aggregate_type="note",
        aggregate_id="note_race",
        payload={"text": text},
    )


async def test_a_writer_overtaken_after_its_header_check_gets_412(
    notes_database: Database,
) -> None:
    """Both writers read version 1 (so both pass If-Match); the first commits; the second's
    versioned UPDATE finds no row of version 1 and is refused, its event rolled back. (Each
    read is ended at once: on SQLite every transaction holds the one write lock.)"""
    note_id = await _seed(notes_database)
    async with notes_database.sessionmaker() as first, notes_database.sessionmaker() as second:
        mine = await first.get(Note, note_id)
        await first.commit()
        theirs = await second.get(Note, note_id)
        await second.commit()
        assert mine is not None and theirs is not None and theirs.version == 1
        await commit_update(first, mine, {"text": "first"}, _event(first, "first"))
        with pytest.raises(Problem) as caught:
            await commit_update(second, theirs, {"text": "second"}, _event(second, "second"))
        assert caught.value.status == 412
    await _assert_only_the_first_write(notes_database, note_id)


async def _assert_only_the_first_write(database: Database, note_id: str) -> None:
    async with database.sessionmaker() as session:
        note = await session.get(Note, note_id)
        events = (await session.execute(select(NoteOutbox.payload))).scalars().all()
    assert note is not None and (note.text, note.version) == ("first", 2)
    assert events == [{"text": "first"}]


@pytest.mark.skipif(
    not TEST_DATABASE_URL,
    reason="PostgreSQL only: SQLite lets one writer in at a time, so two writers never overlap",
)
async def test_two_open_transactions_racing_on_postgresql_one_wins_one_is_412(
    notes_database: Database,
) -> None:
    """The second UPDATE waits on the first one's row lock, then finds the version moved on."""
    note_id = await _seed(notes_database)
    async with notes_database.sessionmaker() as first, notes_database.sessionmaker() as second:
        mine, theirs = await first.get(Note, note_id), await second.get(Note, note_id)
        assert mine is not None and theirs is not None
        mine.text = "first"
        await first.flush()  # holds the row lock, not yet committed
        racing = asyncio.create_task(
            commit_update(second, theirs, {"text": "second"}, _event(second, "second"))
        )
        await asyncio.sleep(0.2)  # let it reach the lock (if it is later, it still loses)
        await append_event(
            first,
            NoteOutbox,
            event_type="note.updated",
            aggregate_type="note",
            aggregate_id=note_id,
            payload={"text": "first"},
        )
        await first.commit()
        with pytest.raises(Problem) as caught:
            await asyncio.wait_for(racing, timeout=30)
        assert caught.value.status == 412
    await _assert_only_the_first_write(notes_database, note_id)


@pytest.mark.parametrize(
    ("header", "etag", "matches"),
    [
        ('"a.v1"', '"a.v1"', True),
        ("*", '"a.v1"', True),
        ('W/"a.v1"', '"a.v1"', True),
        ('"a.v1"', 'W/"a.v1"', True),
        ('"b.v1", "a.v1"', '"a.v1"', True),
        ('"b.v1","a.v1"', '"a.v1"', True),
        ('"a.v1"', '"a.v2"', False),
        ('w/"a.v1"', '"a.v1"', False),
        ('"a.v1"W/', '"a.v1"', False),
        ('"b.v1" "a.v1"', '"a.v1"', False),
        ('"*"', '"a.v1"', False),
    ],
)
def test_if_none_match_compares_weakly_and_takes_a_list_or_a_star(
    header: str, etag: str, matches: bool
) -> None:
    assert none_match(header, etag) is matches
