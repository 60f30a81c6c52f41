"""The change feed's cursor, page and Feed-Event, rule by rule (issue 15): what the ``after``
query accepts, how a bare id resumes a PostgreSQL feed (ADR 0011), how a page says whether more
follow and where to go on, that the route waits for short transactions holding events back, and
which answers name the event a write committed. The feed's order itself is test_feed_xid.py's."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select
from sqlmodel import col

from services.common.app import create_service_app, get_read_session
from services.common.db import Database
from services.common.feed_order import FeedPosition
from services.common.outbox import (
    FeedEventMiddleware,
    changes_router,
    install_feed_events,
    read_changes,
)
from services.common.settings import ServiceSettings
from tests.common.notes_app import NoteOutbox, NotesTable
from tests.common.notes_app import append_note_event as append
from tests.common.notes_app import router as notes_router
from tests.support import TEST_AUTH, TEST_DATABASE_URL, auth_header

SERVICE = auth_header("service")
CHANGES = "/internal/v1/changes"
postgresql_only = pytest.mark.skipif(
    not TEST_DATABASE_URL, reason="PostgreSQL only: SQLite's feed pages by id, without txids"
)
# A read waits only while an open transaction holds events back, and returns as soon as it
# ends; the cap is for a loaded machine whose unrelated transactions end slowly.
WAIT = 5.0


@pytest.fixture
async def feed_client(notes_database: Database) -> AsyncIterator[httpx.AsyncClient]:
    """The notes service with the change feed mounted, as every service mounts it."""
    app = create_service_app(
        title="notes",
        description="feed test app",
        settings=ServiceSettings(service_name="notes"),
        routers=[notes_router, changes_router(NoteOutbox, get_read_session)],
        database=notes_database,
        auth_settings=TEST_AUTH,
    )
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://notes") as client:
        yield client


@pytest.fixture(params=["sqlite", *(["postgresql"] if TEST_DATABASE_URL else [])])
async def any_feed(
    request: pytest.FixtureRequest, notes_database: Database, tmp_path: Path
) -> AsyncIterator[Database]:
    """Each feed there is: SQLite's (by id) in every pass, PostgreSQL's (by txid) in its pass,
    so a rule of the page is held on both whichever pass runs."""
    if request.param == "postgresql" or not TEST_DATABASE_URL:
        yield notes_database
        return
    database = Database(f"sqlite+aiosqlite:///{tmp_path / 'feed.db'}")
    async with database.engine.begin() as conn:
        await conn.run_sync(NotesTable.metadata.create_all)
    yield database
    await database.dispose()


async def seed_transactions(database: Database, groups: list[list[int]]) -> list[int | None]:
    """Each group of ids committed by a transaction of its own, in order; their txids."""
    for ids in groups:
        async with database.sessionmaker() as session:
            for ident in ids:
                session.add(
                    NoteOutbox(
                        id=ident,
                        event_type="note.created",
                        aggregate_type="note",
                        aggregate_id=f"n{ident}",
                    )
                )
            await session.commit()
    txid_of = {ident: txid for txid, ident in await stored(database)}
    return [txid_of[ids[0]] for ids in groups]


async def stored(database: Database) -> list[tuple[int | None, int]]:
    """Every event's ``(txid, id)``, in id order."""
    async with database.sessionmaker() as session:
        rows = await session.execute(
            select(col(NoteOutbox.txid), col(NoteOutbox.id)).order_by("id")
        )
        return [(txid, int(ident or 0)) for txid, ident in rows.all()]  # ids are never NULL


async def read(database: Database, after: str, limit: int = 100) -> tuple[list[int], str, bool]:
    async with database.sessionmaker() as session:
        page = await read_changes(session, NoteOutbox, after, limit, hold_wait=WAIT)
    return [e.id for e in page.items], page.next_cursor, page.has_more


# The cursor as a query parameter


async def test_a_cursor_that_is_not_a_position_is_a_422_problem(
    feed_client: httpx.AsyncClient,
) -> None:
    response = await feed_client.get(CHANGES, params={"after": "12.x"}, headers=SERVICE)
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert body["title"] == "Validation failed"
    assert body["detail"] == "not a feed position: '12.x'"
    assert body["errors"] == [{"location": "", "message": "not a feed position: '12.x'"}]


async def test_a_cursor_of_up_to_40_characters_is_read_and_a_longer_one_refused(
    feed_client: httpx.AsyncClient,
) -> None:
    """The longest position, ``<19 digits>.<19 digits>``, is 39 characters; the parser strips
    blanks, so the 40-character limit is what refuses a padded one."""
    longest = f"{'1' * 19}.{'1' * 19}"
    at_limit = await feed_client.get(CHANGES, params={"after": f" {longest}"}, headers=SERVICE)
    assert at_limit.status_code == 200, at_limit.text
    assert at_limit.json() == {"items": [], "next_cursor": longest, "has_more": False}
    over = await feed_client.get(CHANGES, params={"after": f"  {longest}"}, headers=SERVICE)
    assert over.status_code == 422
    assert over.headers["content-type"].startswith("application/problem+json")
    [error] = over.json()["errors"]
    assert error["location"] == "/query/after"


async def test_without_a_cursor_the_feed_starts_at_the_beginning(
    feed_client: httpx.AsyncClient,
) -> None:
    for text in ("first", "second"):
        created = await feed_client.post(
            "/v1/notes", json={"text": text}, headers=auth_header("staff")
        )
        assert created.status_code == 201, created.text
    response = await feed_client.get(CHANGES, headers=SERVICE)
    assert response.status_code == 200, response.text
    page = response.json()
    assert [e["payload"]["text"] for e in page["items"]] == ["first", "second"]
    assert page["has_more"] is False
    last = page["items"][-1]
    assert page["next_cursor"] == str(FeedPosition(last["txid"], last["id"]))


# The page: its size, whether more follow, where to go on (both databases)


async def test_a_page_holds_at_most_limit_events_and_says_whether_more_follow(
    any_feed: Database,
) -> None:
    await seed_transactions(any_feed, [[1, 2, 3]])
    assert (await read(any_feed, "0", limit=2))[0::2] == ([1, 2], True)
    assert (await read(any_feed, "0", limit=3))[0::2] == ([1, 2, 3], False)
    assert (await read(any_feed, "0", limit=4))[0::2] == ([1, 2, 3], False)
    assert (await read(any_feed, "1", limit=1))[0::2] == ([2], True)
    assert (await read(any_feed, "2", limit=1))[0::2] == ([3], False)


async def test_an_empty_page_gives_back_the_cursor_it_was_given(any_feed: Database) -> None:
    [txid] = await seed_transactions(any_feed, [[1, 2]])
    assert (txid is None) == (any_feed.engine.dialect.name == "sqlite")
    ids, cursor, _ = await read(any_feed, "0")
    assert ids == [1, 2] and cursor == str(FeedPosition(txid, 2))
    assert await read(any_feed, cursor) == ([], cursor, False)
    assert await read(any_feed, "7") == ([], "7", False)


# A bare id on PostgreSQL: a reader from before the switch-over to (txid, id) positions


@postgresql_only
async def test_a_bare_id_resumes_after_the_last_event_at_or_below_it(
    notes_database: Database,
) -> None:
    """The reader applied every event up to its id: the feed goes on after the last of those,
    in its transaction's place (events of the same transaction above the id included)."""
    _, _, last = await seed_transactions(notes_database, [[5], [9, 11], [12]])
    end = str(FeedPosition(last, 12))
    assert await read(notes_database, "5") == ([9, 11, 12], end, False)
    assert await read(notes_database, "9") == ([11, 12], end, False)
    assert await read(notes_database, "10") == ([11, 12], end, False)
    assert await read(notes_database, "11") == ([12], end, False)
    assert await read(notes_database, "12") == ([], "12", False)


@postgresql_only
async def test_a_bare_id_below_every_event_starts_at_the_beginning(
    notes_database: Database,
) -> None:
    _, last = await seed_transactions(notes_database, [[5, 6], [8]])
    end = str(FeedPosition(last, 8))
    assert await read(notes_database, "4") == ([5, 6, 8], end, False)
    assert await read(notes_database, "0") == ([5, 6, 8], end, False)
    assert (await read(notes_database, "4", limit=2))[0::2] == ([5, 6], True)


@postgresql_only
async def test_a_txid_cursor_resumes_at_its_place_in_transaction_order(
    notes_database: Database,
) -> None:
    """``<txid>.<id>`` is taken as given, not looked up by its id: what follows it is every
    event of a later transaction, whatever its id, and the same transaction's higher ids."""
    first, second, third = await seed_transactions(notes_database, [[5], [9, 11], [12]])
    end = str(FeedPosition(third, 12))
    assert await read(notes_database, f"{first}.99") == ([9, 11, 12], end, False)
    assert await read(notes_database, f"{second}.10") == ([11, 12], end, False)
    assert await read(notes_database, f"{third}.0") == ([12], end, False)


@postgresql_only
async def test_a_page_short_of_events_held_back_says_more_follow(
    notes_database: Database,
) -> None:
    """A reader that does not wait gets what is served so far and is told to come back."""
    async with notes_database.sessionmaker() as early, notes_database.sessionmaker() as late:
        await append(early, "early")  # the lower txid, still open
        await append(late, "late")
        await late.commit()
        async with notes_database.sessionmaker() as session:
            page = await read_changes(session, NoteOutbox, "0", 10, hold_wait=0)
        assert (page.items, page.next_cursor, page.has_more) == ([], "0", True)
        await early.commit()
    async with notes_database.sessionmaker() as session:
        page = await read_changes(session, NoteOutbox, "0", 10, hold_wait=WAIT)
    assert [e.aggregate_id for e in page.items] == ["early", "late"] and not page.has_more


@postgresql_only
async def test_the_route_waits_for_a_short_transaction_holding_events_back(
    notes_database: Database, feed_client: httpx.AsyncClient
) -> None:
    """The route passes no wait of its own: the default hold wait lets a reader that comes just
    after a commit find the event, instead of an empty page while another writer finishes."""
    async with notes_database.sessionmaker() as early, notes_database.sessionmaker() as late:
        await append(early, "early")  # the lower txid, still open
        await append(late, "late")
        await late.commit()
        reading = asyncio.create_task(feed_client.get(CHANGES, headers=SERVICE))
        await asyncio.sleep(0.2)
        assert not reading.done(), "the route served, or gave up, past an open transaction"
        await early.commit()
        response = await asyncio.wait_for(reading, 30)
    assert response.status_code == 200, response.text
    page = response.json()
    assert [e["aggregate_id"] for e in page["items"]] == ["early", "late"]
    assert page["has_more"] is False


# Feed-Event: only a successful write that appended names its event, the highest of them


def appending_app(database: Database, status: int, transactions: int = 1) -> FeedEventMiddleware:
    """An ASGI app that appends one event per transaction, then answers ``status``."""

    async def app(scope: Any, receive: Any, send: Callable[[Any], Awaitable[None]]) -> None:
        for n in range(transactions):
            async with database.sessionmaker() as session:
                await append(session, f"n{n}")
                await session.commit()
        await send({"type": "http.response.start", "status": status, "headers": []})
        await send({"type": "http.response.body", "body": b"done"})

    return FeedEventMiddleware(app, source="notes")


async def request(app: Any, method: str) -> httpx.Response:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://notes") as client:
        return await client.request(method, "/anything")


async def positions(database: Database) -> list[str]:
    return [f"notes:{FeedPosition(txid, ident)}" for txid, ident in await stored(database)]


@pytest.mark.parametrize("status", [200, 201, 299])
async def test_a_successful_write_names_the_highest_event_it_appended(
    notes_database: Database, status: int
) -> None:
    response = await request(appending_app(notes_database, status, transactions=2), "POST")
    assert response.status_code == status and response.content == b"done"
    first, second = await positions(notes_database)
    assert response.headers.get_list("feed-event") == [second]
    assert first != second


@pytest.mark.parametrize("status", [300, 304, 400, 500])
async def test_an_answer_other_than_2xx_names_no_event(
    notes_database: Database, status: int
) -> None:
    response = await request(appending_app(notes_database, status), "PATCH")
    assert response.status_code == status
    assert len(await positions(notes_database)) == 1  # it appended, yet names nothing
    assert "feed-event" not in response.headers


@pytest.mark.parametrize("method", ["GET", "HEAD", "OPTIONS"])
async def test_a_read_names_no_event_even_when_it_appended(
    notes_database: Database, method: str
) -> None:
    response = await request(appending_app(notes_database, 200), method)
    assert response.status_code == 200
    assert len(await positions(notes_database)) == 1
    assert "feed-event" not in response.headers


async def test_a_scope_other_than_http_passes_through_untouched() -> None:
    seen: list[tuple[Any, Any, Any]] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        seen.append((scope, receive, send))

    async def receive() -> dict[str, Any]:
        return {"type": "lifespan.startup"}

    async def send(_message: Any) -> None:
        return None

    scope = {"type": "lifespan", "asgi": {"version": "3.0"}}
    await FeedEventMiddleware(app, source="notes")(scope, receive, send)
    assert seen == [(scope, receive, send)]


# Installing Feed-Event on a service app


def notes_app(database: Database) -> FastAPI:
    return create_service_app(
        title="notes",
        description="feed test app",
        settings=ServiceSettings(service_name="notes"),
        routers=[notes_router],
        database=database,
        auth_settings=TEST_AUTH,
    )


async def test_a_service_documents_feed_event_under_its_own_name(notes_database: Database) -> None:
    responses = notes_app(notes_database).openapi()["paths"]["/v1/notes"]["post"]["responses"]
    header = responses["201"]["headers"]["Feed-Event"]
    assert "(`notes:1234` on SQLite, `notes:<txid>.<id>` on PostgreSQL)" in header["description"]
    assert "Feed-Event" not in responses["422"].get("headers", {})


async def test_feed_event_cannot_be_installed_once_the_app_has_served(
    notes_database: Database,
) -> None:
    """Middleware added after the stack is built would silently never run."""
    app = notes_app(notes_database)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://n") as c:
        assert (await c.get("/health/live")).status_code == 200
    message = "install_feed_events must run before the app serves its first request"
    with pytest.raises(RuntimeError) as refused:
        install_feed_events(app, "notes")
    assert str(refused.value) == message
