"""Idempotency-Key rules one by one (issue 15): each answer the middleware gives in its own
words, what a record keeps and for how long, which responses are remembered (any 2xx, a plain
200 too) and which forgotten (any failure, a refused commit), what a replay repeats, and that
other methods pass through untouched."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import APIRouter, Depends, Request
from fastapi.responses import StreamingResponse
from sqlalchemy import select, update
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.types import Message

from services.common.app import create_service_app, get_session
from services.common.auth import Access, Principal, Role
from services.common.db import Database, UnitOfWork
from services.common.idempotency import (
    MAX_KEY_LENGTH,
    IdempotencyMiddleware,
    _read_body,
    _replaying,
    _request_hash,
    _Response,
    purge_expired,
)
from services.common.ids import new_id
from services.common.problems import conflict
from services.common.settings import ServiceSettings
from tests.common.notes_app import Note, NoteIdempotency, router
from tests.support import TEST_AUTH, TEST_DATABASE_URL, auth_header

WRITER = auth_header("admin", subject="writer")
PROBLEM = "application/problem+json"

extra = APIRouter(prefix="/v1/keyed")
admin_only = Access(Role.ADMIN)


@extra.post("/plain")
async def create_with_plain_200(
    tag: str = "plain",
    session: AsyncSession = Depends(get_session),
    _: Principal = Depends(admin_only),
) -> dict[str, str]:
    """Answers 200, not 201: a success all the same, so it must be remembered."""
    note = Note(id=new_id("note"), text=tag)
    session.add(note)
    await session.commit()
    return {"id": note.id}


@extra.post("/streamed", status_code=201)
async def create_streamed(
    session: AsyncSession = Depends(get_session), _: Principal = Depends(admin_only)
) -> StreamingResponse:
    """A body in several chunks, an ETag, and a header that is not to be replayed."""
    note = Note(id=new_id("note"), text="streamed")
    session.add(note)
    await session.commit()

    async def chunks() -> AsyncIterator[bytes]:
        for part in (b'{"id": "', note.id.encode(), b'", "parts": [1, 2', b", 3]}"):
            yield part

    return StreamingResponse(
        chunks(),
        status_code=201,
        media_type="application/json",
        headers={"etag": f'"{note.id}.v1"', "x-trace-note": "not replayed"},
    )


@extra.post("/refused-once", status_code=201)
async def create_after_a_refusal(
    request: Request,
    session: AsyncSession = Depends(get_session),
    _: Principal = Depends(admin_only),
) -> dict[str, str]:
    """Writes, then refuses with a 409 while the app says so: the write must not stay."""
    note = Note(id=new_id("note"), text="refused")
    session.add(note)
    await session.commit()
    if request.app.state.refuse:
        raise conflict("Refused this time.")
    return {"id": note.id}


@extra.post("/held", status_code=201)
async def create_when_released(
    request: Request,
    session: AsyncSession = Depends(get_session),
    _: Principal = Depends(admin_only),
) -> dict[str, str]:
    """Writes, then holds its transaction open until the test releases it."""
    note = Note(id=new_id("note"), text="held")
    session.add(note)
    await session.commit()
    request.app.state.holding.set()
    await request.app.state.release.wait()
    return {"id": note.id}


@pytest.fixture
async def keyed_client(notes_database: Database) -> AsyncIterator[httpx.AsyncClient]:
    app = create_service_app(
        title="keyed",
        description="",
        settings=ServiceSettings(service_name="notes", max_body_bytes=1000),
        routers=[extra, router],
        database=notes_database,
        auth_settings=TEST_AUTH,
        idempotency_model=NoteIdempotency,
    )
    app.state.refuse = False
    app.state.holding, app.state.release = asyncio.Event(), asyncio.Event()
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://notes") as client:
        client.app = app  # type: ignore[attr-defined]
        yield client


async def notes(database: Database) -> int:
    async with database.sessionmaker() as session:
        return len((await session.execute(select(Note))).scalars().all())


async def records(database: Database) -> list[NoteIdempotency]:
    async with database.sessionmaker() as session:
        return list((await session.execute(select(NoteIdempotency))).scalars().all())


def problem(response: httpx.Response, status: int, title: str, detail: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM)
    body = response.json()
    assert (body["status"], body["title"], body["detail"]) == (status, title, detail)
    assert body["instance"] == httpx.URL(str(response.request.url)).path


def post(client: httpx.AsyncClient, key: str, text: str = "t", path: str = "/v1/notes") -> Any:
    return client.post(path, json={"text": text}, headers={**WRITER, "idempotency-key": key})


@pytest.mark.parametrize("key", ["", "k" * (MAX_KEY_LENGTH + 1)])
async def test_an_empty_or_over_long_key_is_400_saying_the_limits(
    keyed_client: httpx.AsyncClient, notes_database: Database, key: str
) -> None:
    response = await post(keyed_client, key)
    detail = f"An Idempotency-Key has 1 to {MAX_KEY_LENGTH} characters."
    problem(response, 400, "Invalid Idempotency-Key", detail)
    assert await notes(notes_database) == 0 and await records(notes_database) == []


async def test_a_key_reused_for_another_request_is_422_saying_so(
    keyed_client: httpx.AsyncClient,
) -> None:
    assert (await post(keyed_client, "reused", "a")).status_code == 201
    detail = "This Idempotency-Key was used with a different request; use a new key."
    problem(await post(keyed_client, "reused", "b"), 422, "Idempotency key reused", detail)


async def test_the_query_string_is_part_of_the_request(keyed_client: httpx.AsyncClient) -> None:
    headers = {**WRITER, "idempotency-key": "query"}
    assert (await keyed_client.post("/v1/keyed/plain?tag=a", headers=headers)).status_code == 200
    again = await keyed_client.post("/v1/keyed/plain?tag=b", headers=headers)
    assert again.status_code == 422


async def test_a_pending_record_is_409_saying_to_retry_shortly(
    keyed_client: httpx.AsyncClient, notes_database: Database
) -> None:
    body = b'{"text":"t"}'
    now = datetime.now(UTC)
    async with notes_database.sessionmaker() as session:
        session.add(
            NoteIdempotency(
                scope_key="writer:/v1/notes:pending",
                request_hash=_request_hash(
                    {"method": "POST", "path": "/v1/notes", "query_string": b""}, body
                ),
                created_at=now,
                expires_at=now + timedelta(hours=1),
            )
        )
        await session.commit()
    response = await keyed_client.post(
        "/v1/notes",
        content=body,
        headers={**WRITER, "idempotency-key": "pending", "content-type": "application/json"},
    )
    detail = "A request with this Idempotency-Key is still being processed; retry shortly."
    problem(response, 409, "Request in progress", detail)


async def test_a_record_keeps_when_it_was_made_and_lasts_a_day(
    keyed_client: httpx.AsyncClient, notes_database: Database
) -> None:
    before = datetime.now(UTC)
    assert (await post(keyed_client, "dated")).status_code == 201
    after = datetime.now(UTC)
    [record] = await records(notes_database)
    created, expires = _aware(record.created_at), _aware(record.expires_at)
    assert before <= created <= after
    assert expires - created == timedelta(hours=24)
    assert record.status == 201 and record.scope_key == "writer:/v1/notes:dated"


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


async def test_a_completed_record_older_than_the_pending_timeout_still_replays(
    keyed_client: httpx.AsyncClient, notes_database: Database
) -> None:
    first = await post(keyed_client, "kept")
    async with notes_database.sessionmaker() as session:
        await session.execute(
            update(NoteIdempotency).values(created_at=datetime.now(UTC) - timedelta(hours=1))
        )
        await session.commit()
    again = await post(keyed_client, "kept")
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json() == first.json()
    assert await notes(notes_database) == 1


async def test_a_plain_200_is_remembered_and_replayed(
    keyed_client: httpx.AsyncClient, notes_database: Database
) -> None:
    headers = {**WRITER, "idempotency-key": "plain"}
    first = await keyed_client.post("/v1/keyed/plain", headers=headers)
    again = await keyed_client.post("/v1/keyed/plain", headers=headers)
    assert first.status_code == again.status_code == 200
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json() == first.json()
    assert await notes(notes_database) == 1


async def test_a_replay_repeats_body_type_and_etag_with_its_true_length_and_nothing_else(
    keyed_client: httpx.AsyncClient,
) -> None:
    headers = {**WRITER, "idempotency-key": "streamed"}
    first = await keyed_client.post("/v1/keyed/streamed", headers=headers)
    again = await keyed_client.post("/v1/keyed/streamed", headers=headers)
    assert first.status_code == again.status_code == 201
    assert first.headers["x-trace-note"] == "not replayed"
    assert again.content == first.content and again.json()["parts"] == [1, 2, 3]
    assert again.headers["content-type"] == first.headers["content-type"]
    assert again.headers["etag"] == first.headers["etag"]
    assert again.headers["content-length"] == str(len(first.content))
    assert "x-trace-note" not in again.headers


async def test_a_refused_attempt_is_forgotten_with_its_writes_and_a_retry_runs(
    keyed_client: httpx.AsyncClient, notes_database: Database
) -> None:
    headers = {**WRITER, "idempotency-key": "refused-once"}
    keyed_client.app.state.refuse = True  # type: ignore[attr-defined]
    refused = await keyed_client.post("/v1/keyed/refused-once", headers=headers)
    assert refused.status_code == 409
    assert await notes(notes_database) == 0 and await records(notes_database) == []
    keyed_client.app.state.refuse = False  # type: ignore[attr-defined]
    retried = await keyed_client.post("/v1/keyed/refused-once", headers=headers)
    assert retried.status_code == 201 and "idempotent-replayed" not in retried.headers
    assert await notes(notes_database) == 1


async def test_a_commit_the_database_refuses_is_503_asking_for_a_retry_and_keeps_nothing(
    keyed_client: httpx.AsyncClient,
    notes_database: Database,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def refuse(self: UnitOfWork) -> None:
        await self.close_sessions()
        raise OperationalError("COMMIT", {}, Exception("disk I/O error"))

    monkeypatch.setattr(UnitOfWork, "commit", refuse)
    with caplog.at_level(logging.ERROR, logger="bw.idempotency"):
        response = await post(keyed_client, "refused-commit")
    detail = "The request could not be committed; retry it with the same key."
    problem(response, 503, "Service Unavailable", detail)
    assert "commit of an idempotent request failed" in caplog.text
    monkeypatch.undo()
    assert await notes(notes_database) == 0 and await records(notes_database) == []


async def test_other_methods_pass_through_with_a_key_and_leave_no_record(
    keyed_client: httpx.AsyncClient, notes_database: Database
) -> None:
    created = await keyed_client.post("/v1/notes", json={"text": "v1"}, headers=WRITER)
    url, etag = f"/v1/notes/{created.json()['id']}", created.headers["etag"]
    for text in ("v2", "v3"):
        response = await keyed_client.patch(
            url,
            json={"text": text},
            headers={**WRITER, "idempotency-key": "patch", "if-match": etag},
        )
        assert response.status_code == 200 and "idempotent-replayed" not in response.headers
        assert response.json()["text"] == text
        etag = response.headers["etag"]
    assert await records(notes_database) == []


def test_the_defaults_keep_a_key_a_day_and_abandon_a_pending_record_after_a_minute() -> None:
    middleware = IdempotencyMiddleware(router, NoteIdempotency)  # type: ignore[arg-type]
    assert middleware.ttl == timedelta(hours=24)
    assert middleware.pending_timeout == timedelta(seconds=60)


def receiving(*messages: Message) -> Any:
    queue = list(messages)

    async def receive() -> Message:
        return queue.pop(0)

    return receive


async def test_the_body_is_read_whole_and_a_missing_body_is_empty() -> None:
    chunks = receiving(
        {"type": "http.request", "body": b"ab", "more_body": True},
        {"type": "http.request", "more_body": True},
        {"type": "http.request", "body": b"c"},
    )
    assert await _read_body(chunks) == b"abc"


async def test_a_client_gone_while_sending_gets_nothing_and_the_route_never_runs() -> None:
    called: list[str] = []
    sent: list[Message] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        called.append("app")

    async def send(message: Message) -> None:
        sent.append(message)

    middleware = IdempotencyMiddleware(app, NoteIdempotency)
    scope = {
        "type": "http",
        "method": "POST",
        "path": "/v1/notes",
        "query_string": b"",
        "headers": [(b"idempotency-key", b"gone")],
    }
    disconnect = receiving(
        {"type": "http.request", "body": b"{", "more_body": True}, {"type": "http.disconnect"}
    )
    await middleware(scope, disconnect, send)
    assert called == [] and sent == []


async def test_the_route_reads_the_body_once_then_hears_the_client_leave() -> None:
    rest = receiving({"type": "http.disconnect"})
    replay = _replaying(b"body", rest)
    assert await replay() == {"type": "http.request", "body": b"body", "more_body": False}
    assert await replay() == {"type": "http.disconnect"}


async def test_a_response_is_held_whole_and_a_body_message_without_body_adds_nothing() -> None:
    held = _Response()
    assert not held.succeeded
    await held.capture({"type": "http.response.start", "status": 299, "headers": [(b"a", b"b")]})
    await held.capture({"type": "http.response.body", "more_body": True})
    await held.capture({"type": "http.response.body", "body": b"x"})
    assert held.succeeded and held.chunks == [b"", b"x"] and held.headers == [(b"a", b"b")]
    await held.capture({"type": "http.response.start", "status": 300})
    assert not held.succeeded


@pytest.mark.skipif(
    not TEST_DATABASE_URL,
    reason="PostgreSQL only: SQLite queues a second writer at BEGIN, before it can insert a key",
)
async def test_a_retry_racing_an_open_attempt_waits_for_it_then_replays_on_postgresql(
    keyed_client: httpx.AsyncClient, notes_database: Database
) -> None:
    """The retry's insert of the same key waits on the first attempt's open transaction; once
    that commits, the retry finds the record and replays it: one note, one answer."""
    headers = {**WRITER, "idempotency-key": "raced"}
    first = asyncio.create_task(keyed_client.post("/v1/keyed/held", headers=headers))
    await asyncio.wait_for(keyed_client.app.state.holding.wait(), 30)  # type: ignore[attr-defined]
    retry = asyncio.create_task(keyed_client.post("/v1/keyed/held", headers=headers))
    await asyncio.sleep(0.2)  # let the retry reach its insert (if later, it still replays)
    keyed_client.app.state.release.set()  # type: ignore[attr-defined]
    answered, replayed = await first, await retry
    assert answered.status_code == replayed.status_code == 201
    assert replayed.headers["idempotent-replayed"] == "true"
    assert replayed.json() == answered.json()
    assert await notes(notes_database) == 1


async def test_purging_deletes_expired_records_only_and_counts_them(
    notes_database: Database,
) -> None:
    now = datetime.now(UTC)
    async with notes_database.sessionmaker() as session:
        for key, expires in (("old-1", -60), ("old-2", -1), ("live", 3600)):
            session.add(
                NoteIdempotency(
                    scope_key=f"writer:/v1/notes:{key}",
                    request_hash="h",
                    created_at=now - timedelta(days=1),
                    expires_at=now + timedelta(seconds=expires),
                )
            )
        await session.commit()
    assert await purge_expired(notes_database.sessionmaker, NoteIdempotency) == 2
    assert [r.scope_key for r in await records(notes_database)] == ["writer:/v1/notes:live"]
    assert await purge_expired(notes_database.sessionmaker, NoteIdempotency) == 0
