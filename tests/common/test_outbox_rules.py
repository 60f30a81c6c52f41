"""The outbox and its feed, rule by rule (issue 15): an event records who and which request made
it; a page is in id order, says whether more follow (exactly-full pages included) and where to
go on. On PostgreSQL, writers queue on an advisory lock so ids follow commit order: a reader
never sees event 6 while 5 can still commit. That last part runs only on PostgreSQL."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlalchemy import select, text

from services.common.auth import Principal, current_principal_var
from services.common.db import Database
from services.common.observability import request_id_var
from services.common.outbox import (
    append_event,
    changes_router,
    declare_feed_event_header,
    read_changes,
)
from tests.common.notes_app import NoteOutbox
from tests.support import TEST_DATABASE_URL


async def append(session: Any, aggregate_id: str, request_id: str | None = None) -> None:
    await append_event(
        session,
        NoteOutbox,
        event_type="note.created",
        aggregate_type="note",
        aggregate_id=aggregate_id,
        payload={"id": aggregate_id},
        request_id=request_id,
    )


async def stored(database: Database) -> list[NoteOutbox]:
    async with database.sessionmaker() as session:
        return list((await session.execute(select(NoteOutbox).order_by(NoteOutbox.id))).scalars())


async def test_an_event_records_the_caller_and_the_request(notes_database: Database) -> None:
    principal = current_principal_var.set(Principal(subject="dilnoza", role="staff"))
    request = request_id_var.set("req-42")
    try:
        async with notes_database.sessionmaker() as session:
            await append(session, "n1")
            await append(session, "n2", request_id="req-given")
            await session.commit()
    finally:
        current_principal_var.reset(principal)
        request_id_var.reset(request)
    first, second = await stored(notes_database)
    assert (first.actor_subject, first.actor_role, first.request_id) == (
        "dilnoza",
        "staff",
        "req-42",
    )
    assert second.request_id == "req-given"
    assert first.payload == {"id": "n1"} and first.occurred_at is not None


async def test_an_event_outside_a_request_names_nobody(notes_database: Database) -> None:
    async with notes_database.sessionmaker() as session:
        await append(session, "n1")
        await session.commit()
    [event] = await stored(notes_database)
    assert (event.actor_subject, event.actor_role, event.request_id) == (None, None, None)


async def _seed(database: Database, ids: list[int]) -> None:
    async with database.sessionmaker() as session:
        for ident in ids:  # inserted out of order: the feed must sort by id
            session.add(
                NoteOutbox(
                    id=ident,
                    event_type="note.created",
                    aggregate_type="note",
                    aggregate_id=f"n{ident}",
                )
            )
        await session.commit()


async def test_a_page_is_in_id_order_after_the_cursor(notes_database: Database) -> None:
    await _seed(notes_database, [5, 2, 9, 7])
    async with notes_database.sessionmaker() as session:
        page = await read_changes(session, NoteOutbox, after=2, limit=2)
        rest = await read_changes(session, NoteOutbox, after=int(page.next_cursor), limit=2)
    assert [e.id for e in page.items] == [5, 7] and page.next_cursor == "7" and page.has_more
    assert [e.id for e in rest.items] == [9] and rest.next_cursor == "9" and not rest.has_more


async def test_an_exactly_full_last_page_says_no_more(notes_database: Database) -> None:
    await _seed(notes_database, [1, 2, 3])
    async with notes_database.sessionmaker() as session:
        page = await read_changes(session, NoteOutbox, after=0, limit=3)
    assert [e.id for e in page.items] == [1, 2, 3] and page.has_more is False


async def test_an_empty_page_keeps_the_cursor(notes_database: Database) -> None:
    await _seed(notes_database, [1])
    async with notes_database.sessionmaker() as session:
        page = await read_changes(session, NoteOutbox, after=40, limit=5)
    assert page.items == [] and page.next_cursor == "40" and page.has_more is False


def test_the_feed_is_published_under_the_internal_tag() -> None:
    async def no_session() -> Any:
        yield None

    router = changes_router(NoteOutbox, no_session)
    [route] = router.routes
    assert route.path == "/internal/v1/changes"  # type: ignore[attr-defined]
    assert route.tags == ["internal"]  # type: ignore[attr-defined]


@pytest.mark.skipif(
    not TEST_DATABASE_URL,
    reason="PostgreSQL only: it draws ids before commit; SQLite has one writer at a time",
)
async def test_a_second_writer_waits_for_the_first_so_ids_follow_commit_order(
    notes_database: Database,
) -> None:
    async with (
        notes_database.sessionmaker() as first,
        notes_database.sessionmaker() as second,
        notes_database.sessionmaker() as watcher,
    ):
        first_pid, second_pid = await _pid(first), await _pid(second)
        await append(first, "first")  # takes the outbox lock until it commits
        assert await _advisory_locks(watcher, first_pid) == [True]
        waiting = asyncio.create_task(_append_and_commit(second, "second"))
        while await _advisory_locks(watcher, second_pid) != [False]:  # queued, not granted
            assert not waiting.done(), "the second writer did not wait for the first"
            await asyncio.sleep(0.02)
        await first.commit()
        await asyncio.wait_for(waiting, 30)
    events = await stored(notes_database)
    assert [e.aggregate_id for e in events] == ["first", "second"]


async def _pid(session: Any) -> int:
    """The backend of the session's transaction (kept: the session is not ended here)."""
    return int((await session.execute(text("SELECT pg_backend_pid()"))).scalar_one())


async def _advisory_locks(session: Any, pid: int) -> list[bool]:
    """Whether each advisory lock that backend holds or waits for is granted."""
    rows = await session.execute(
        text("SELECT granted FROM pg_locks WHERE locktype = 'advisory' AND pid = :pid"),
        {"pid": pid},
    )
    granted = [bool(g) for g in rows.scalars()]
    await session.rollback()  # a fresh snapshot of pg_locks next time
    return granted


async def _append_and_commit(session: Any, aggregate_id: str) -> None:
    await append(session, aggregate_id)
    await session.commit()


def test_every_write_success_declares_the_feed_event_header_and_nothing_else_does() -> None:
    document: dict[str, Any] = {
        "paths": {
            "/v1/notes": {
                "post": {"responses": {"201": {}, "422": {}}},
                "get": {"responses": {"200": {}}},
                "parameters": [],
            },
            "/v1/notes/{id}": {
                "patch": {"responses": {"200": {"headers": {"ETag": {}}}}},
                "delete": {"responses": {"204": {}}},
                "put": {"responses": {"200": "not a response object"}},
            },
        }
    }
    declare_feed_event_header(document, "assessment")
    declare_feed_event_header(document, "assessment")  # idempotent
    paths = document["paths"]
    header = paths["/v1/notes"]["post"]["responses"]["201"]["headers"]["Feed-Event"]
    assert header == {
        "description": "The change-feed event this write committed, as `source:id` (e.g. "
        "`assessment:1234`); present when the write changed data the reports are built from. "
        "Pass it to `GET /v1/reports/freshness?event=` to learn when the reports include it.",
        "schema": {"type": "string", "pattern": "^[a-z]+:[0-9]+$"},
    }
    assert set(paths["/v1/notes/{id}"]["patch"]["responses"]["200"]["headers"]) == {
        "ETag",
        "Feed-Event",
    }
    assert "headers" in paths["/v1/notes/{id}"]["delete"]["responses"]["204"]
    assert "headers" not in paths["/v1/notes"]["post"]["responses"]["422"]
    assert "headers" not in paths["/v1/notes"]["get"]["responses"]["200"]
    assert paths["/v1/notes/{id}"]["put"]["responses"]["200"] == "not a response object"
    empty: dict[str, Any] = {}
    declare_feed_event_header(empty, "assessment")
    assert empty == {}
