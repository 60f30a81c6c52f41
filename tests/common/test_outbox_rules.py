"""The outbox and its feed, rule by rule (issue 15): an event records who and which request made
it; a page is in id order (within one transaction on PostgreSQL), says whether more follow
(exactly-full pages included) and where to go on. How PostgreSQL's feed never skips a late
commit without a lock (transaction-id order below the snapshot's xmin) is in
test_feed_xid.py."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

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


async def test_an_event_records_the_version_its_aggregate_was_left_at(
    notes_database: Database,
) -> None:
    """Readers keep the newest version of an aggregate (transaction-id order is not commit
    order for overlapping writers): the version must reach the feed."""
    async with notes_database.sessionmaker() as session:
        await append_event(
            session,
            NoteOutbox,
            event_type="note.updated",
            aggregate_type="note",
            aggregate_id="n1",
            payload={"id": "n1"},
            aggregate_version=7,
        )
        await append(session, "n2")
        await session.commit()
        page = await read_changes(session, NoteOutbox, after=0, limit=10, hold_wait=5)
    assert [(e.aggregate_id, e.aggregate_version) for e in page.items] == [("n1", 7), ("n2", None)]


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
    await _seed(notes_database, [5, 2, 9, 7])  # one transaction: one txid on PostgreSQL
    async with notes_database.sessionmaker() as session:
        page = await read_changes(session, NoteOutbox, after=2, limit=2)
        rest = await read_changes(session, NoteOutbox, after=page.next_cursor, limit=2)
    txid = page.items[0].txid
    assert (txid is None) == (not TEST_DATABASE_URL)  # a txid on PostgreSQL only
    prefix = f"{txid}." if txid is not None else ""
    assert [e.id for e in page.items] == [5, 7] and page.has_more
    assert page.next_cursor == f"{prefix}7"
    assert [e.id for e in rest.items] == [9] and rest.next_cursor == f"{prefix}9"
    assert not rest.has_more


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
            "/v1/drafts": {"post": {"summary": "no responses declared"}},
        }
    }
    declare_feed_event_header(document, "assessment")
    declare_feed_event_header(document, "assessment")  # idempotent
    paths = document["paths"]
    header = paths["/v1/notes"]["post"]["responses"]["201"]["headers"]["Feed-Event"]
    assert header == {
        "description": "The change-feed event this write committed, as `source:position` "
        "(`assessment:1234` on SQLite, `assessment:<txid>.<id>` on PostgreSQL); present when the "
        "write changed data the reports are built from. Pass it to "
        "`GET /v1/reports/freshness?event=` to learn when the reports include it.",
        "schema": {"type": "string", "pattern": r"^[a-z]+:[0-9]{1,19}(\.[0-9]{1,19})?$"},
    }
    assert set(paths["/v1/notes/{id}"]["patch"]["responses"]["200"]["headers"]) == {
        "ETag",
        "Feed-Event",
    }
    assert "headers" in paths["/v1/notes/{id}"]["delete"]["responses"]["204"]
    assert "headers" not in paths["/v1/notes"]["post"]["responses"]["422"]
    assert "headers" not in paths["/v1/notes"]["get"]["responses"]["200"]
    assert paths["/v1/notes/{id}"]["put"]["responses"]["200"] == "not a response object"
    assert paths["/v1/drafts"] == {"post": {"summary": "no responses declared"}}
    empty: dict[str, Any] = {}
    declare_feed_event_header(empty, "assessment")
    assert empty == {}
