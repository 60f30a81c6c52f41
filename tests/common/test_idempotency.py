"""A retried creating POST with the same Idempotency-Key creates nothing new; a failed attempt
leaves nothing behind, not even its key."""

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from fastapi import APIRouter, Depends, Request, Response
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.common.app import create_service_app, get_session
from services.common.auth import Access, Principal, Role
from services.common.db import Database
from services.common.etag import etag_for
from services.common.idempotency import MAX_KEY_LENGTH, _request_hash
from services.common.ids import new_id
from services.common.problems import Problem, not_found
from services.common.settings import ServiceSettings
from tests.common.notes_app import Note, NoteIdempotency, NoteIn, router
from tests.support import TEST_AUTH, auth_header

ADMIN = auth_header("admin")


async def count(client: httpx.AsyncClient) -> int:
    return (await client.get("/v1/notes", headers=ADMIN)).json()["count"]


async def test_retry_with_same_key_replays_the_first_response(
    notes_client: httpx.AsyncClient,
) -> None:
    headers = {**ADMIN, "idempotency-key": "k-1"}
    first = await notes_client.post("/v1/notes", json={"text": "Ишчилар"}, headers=headers)
    second = await notes_client.post("/v1/notes", json={"text": "Ишчилар"}, headers=headers)
    assert first.status_code == second.status_code == 201
    assert second.json() == first.json()
    assert second.headers["idempotent-replayed"] == "true"
    assert second.headers["etag"] == first.headers["etag"]
    assert await count(notes_client) == 1


async def test_same_key_other_body_is_422_and_creates_nothing(
    notes_client: httpx.AsyncClient,
) -> None:
    headers = {**ADMIN, "idempotency-key": "k-2"}
    await notes_client.post("/v1/notes", json={"text": "a"}, headers=headers)
    response = await notes_client.post("/v1/notes", json={"text": "b"}, headers=headers)
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("application/problem+json")
    assert await count(notes_client) == 1


async def test_keys_are_scoped_to_the_caller(notes_client: httpx.AsyncClient) -> None:
    body = {"text": "same"}
    await notes_client.post(
        "/v1/notes",
        json=body,
        headers={**auth_header("admin", subject="a"), "idempotency-key": "k"},
    )
    await notes_client.post(
        "/v1/notes",
        json=body,
        headers={**auth_header("staff", subject="b"), "idempotency-key": "k"},
    )
    assert await count(notes_client) == 2


async def test_failed_attempt_is_not_remembered(notes_client: httpx.AsyncClient) -> None:
    headers = {"idempotency-key": "k-3"}
    refused = await notes_client.post("/v1/notes", json={"text": "x"}, headers=headers)
    assert refused.status_code == 401
    accepted = await notes_client.post(
        "/v1/notes", json={"text": "x"}, headers={**ADMIN, **headers}
    )
    assert accepted.status_code == 201
    assert await count(notes_client) == 1


async def test_concurrent_retries_create_exactly_one(notes_client: httpx.AsyncClient) -> None:
    headers = {**ADMIN, "idempotency-key": "k-4"}
    responses = await asyncio.gather(
        *(notes_client.post("/v1/notes", json={"text": "n"}, headers=headers) for _ in range(10))
    )
    assert {r.status_code for r in responses} == {201}
    assert len({r.json()["id"] for r in responses}) == 1
    assert await count(notes_client) == 1


# A route that answers with ETag and Location, and can be told to fail after it committed.
located = APIRouter(prefix="/v1/located-notes")


@located.post("", status_code=201)
async def create_located_note(
    body: NoteIn,
    request: Request,
    response: Response,
    session: AsyncSession = Depends(get_session),
    _: Principal = Depends(Access(Role.ADMIN)),
) -> dict[str, object]:
    note = Note(id=new_id("note"), text=body.text)
    session.add(note)
    await session.commit()
    if request.app.state.fail_after_commit:
        raise Problem(503, "A service this write needs is down.")
    response.headers["ETag"] = etag_for(note.id, note.version)
    response.headers["Location"] = f"/v1/notes/{note.id}"
    return {"id": note.id}


MAX_BODY_BYTES = 1000


@located.post("/{note_id}/copies", status_code=201)
async def copy_note(
    note_id: str,
    session: AsyncSession = Depends(get_session),
    _: Principal = Depends(Access(Role.ADMIN)),
) -> dict[str, object]:
    """Reads through the session, so it is inside a transaction when it answers 404."""
    original = await session.get(Note, note_id)
    if original is None:
        raise not_found("Note", note_id)
    copy = Note(id=new_id("note"), text=original.text)
    session.add(copy)
    await session.commit()
    return {"id": copy.id}


@pytest.fixture
async def located_client(notes_database: Database) -> AsyncIterator[httpx.AsyncClient]:
    app = create_service_app(
        title="located",
        description="",
        settings=ServiceSettings(service_name="notes", max_body_bytes=MAX_BODY_BYTES),
        routers=[located, router],
        database=notes_database,
        auth_settings=TEST_AUTH,
        idempotency_model=NoteIdempotency,
    )
    app.state.fail_after_commit = False
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://notes") as client:
        client.app = app  # type: ignore[attr-defined]
        yield client


async def stored_records(database: Database) -> list[NoteIdempotency]:
    async with database.sessionmaker() as session:
        return list((await session.execute(select(NoteIdempotency))).scalars().all())


async def test_a_failed_attempt_keeps_nothing_it_committed_and_a_retry_runs(
    located_client: httpx.AsyncClient, notes_database: Database
) -> None:
    headers = {**ADMIN, "idempotency-key": "fails-once"}
    located_client.app.state.fail_after_commit = True  # type: ignore[attr-defined]
    failed = await located_client.post("/v1/located-notes", json={"text": "t"}, headers=headers)
    assert failed.status_code == 503
    assert await count(located_client) == 0
    assert await stored_records(notes_database) == []

    located_client.app.state.fail_after_commit = False  # type: ignore[attr-defined]
    retried = await located_client.post("/v1/located-notes", json={"text": "t"}, headers=headers)
    assert retried.status_code == 201
    assert "idempotent-replayed" not in retried.headers
    assert await count(located_client) == 1


async def test_replay_repeats_etag_and_location(located_client: httpx.AsyncClient) -> None:
    headers = {**ADMIN, "idempotency-key": "located"}
    first = await located_client.post("/v1/located-notes", json={"text": "t"}, headers=headers)
    again = await located_client.post("/v1/located-notes", json={"text": "t"}, headers=headers)
    assert first.status_code == again.status_code == 201
    assert again.headers["idempotent-replayed"] == "true"
    assert (
        again.headers["location"] == first.headers["location"] == f"/v1/notes/{first.json()['id']}"
    )
    assert again.headers["etag"] == first.headers["etag"]
    assert again.json() == first.json()


async def test_an_expired_key_runs_the_request_again(
    located_client: httpx.AsyncClient, notes_database: Database
) -> None:
    headers = {**ADMIN, "idempotency-key": "expires"}
    first = await located_client.post("/v1/located-notes", json={"text": "t"}, headers=headers)
    async with notes_database.sessionmaker() as session:
        await session.execute(
            update(NoteIdempotency).values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
        )
        await session.commit()
    again = await located_client.post("/v1/located-notes", json={"text": "t"}, headers=headers)
    assert again.status_code == 201
    assert "idempotent-replayed" not in again.headers
    assert again.json()["id"] != first.json()["id"]
    assert await count(located_client) == 2
    [record] = await stored_records(notes_database)
    assert _aware(record.expires_at) > datetime.now(UTC)


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


WRITER = auth_header("admin", subject="writer")
BODY = b'{"text":"t"}'


async def _post_raw(client: httpx.AsyncClient, key: str) -> httpx.Response:
    return await client.post(
        "/v1/located-notes",
        content=BODY,
        headers={**WRITER, "idempotency-key": key, "content-type": "application/json"},
    )


async def _pending_record(database: Database, key: str, age: timedelta) -> None:
    """A record an earlier version of the middleware committed before running its request."""
    created = datetime.now(UTC) - age
    path = "/v1/located-notes"
    async with database.sessionmaker() as session:
        session.add(
            NoteIdempotency(
                scope_key=f"writer:{path}:{key}",
                request_hash=_request_hash(
                    {"method": "POST", "path": path, "query_string": b""}, BODY
                ),
                created_at=created,
                expires_at=created + timedelta(hours=24),
            )
        )
        await session.commit()


async def test_an_old_pending_record_is_abandoned_and_the_request_runs(
    located_client: httpx.AsyncClient, notes_database: Database
) -> None:
    await _pending_record(notes_database, "left-pending", age=timedelta(minutes=5))
    response = await _post_raw(located_client, "left-pending")
    assert response.status_code == 201
    assert await count(located_client) == 1
    [record] = await stored_records(notes_database)
    assert record.status == 201


async def test_a_fresh_pending_record_of_an_earlier_version_answers_409(
    located_client: httpx.AsyncClient, notes_database: Database
) -> None:
    await _pending_record(notes_database, "in-flight", age=timedelta(seconds=0))
    response = await _post_raw(located_client, "in-flight")
    assert response.status_code == 409
    assert response.headers["content-type"].startswith("application/problem+json")
    assert await count(located_client) == 0


async def test_an_over_long_key_is_400_and_stores_nothing(
    located_client: httpx.AsyncClient, notes_database: Database
) -> None:
    too_long = await _post_raw(located_client, "k" * (MAX_KEY_LENGTH + 1))
    assert too_long.status_code == 400
    assert too_long.headers["content-type"].startswith("application/problem+json")
    assert await count(located_client) == 0
    assert await stored_records(notes_database) == []
    longest = await _post_raw(located_client, "k" * MAX_KEY_LENGTH)
    assert longest.status_code == 201


@pytest.mark.parametrize("text", [b"a\\u0000b", b"a\\ud800b"])
async def test_unstorable_text_with_a_key_is_422_and_stores_nothing(
    located_client: httpx.AsyncClient, notes_database: Database, text: bytes
) -> None:
    response = await located_client.post(
        "/v1/located-notes",
        content=b'{"text": "' + text + b'"}',
        headers={**WRITER, "idempotency-key": "nul", "content-type": "application/json"},
    )
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("application/problem+json")
    assert await count(located_client) == 0
    assert await stored_records(notes_database) == []


async def test_an_over_long_streamed_body_with_a_key_is_413(
    located_client: httpx.AsyncClient, notes_database: Database
) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"text": "'
        for _ in range(MAX_BODY_BYTES // 100 + 1):
            yield b"x" * 100
        yield b'"}'

    response = await located_client.post(
        "/v1/located-notes",
        content=chunks(),  # no Content-Length: the limit is found while reading
        headers={**WRITER, "idempotency-key": "big", "content-type": "application/json"},
    )
    assert response.status_code == 413
    assert response.headers["content-type"].startswith("application/problem+json")
    assert await stored_records(notes_database) == []


async def test_a_route_that_fails_inside_its_transaction_leaves_the_database_usable(
    located_client: httpx.AsyncClient,
) -> None:
    for attempt in range(3):
        missing = await located_client.post(
            "/v1/located-notes/note_missing/copies",
            json={},
            headers={**ADMIN, "idempotency-key": f"copy-{attempt}"},
        )
        assert missing.status_code == 404
        assert (await located_client.get("/v1/notes", headers=ADMIN)).status_code == 200
    created = await located_client.post(
        "/v1/located-notes", json={"text": "t"}, headers={**ADMIN, "idempotency-key": "after"}
    )
    assert created.status_code == 201
    assert await count(located_client) == 1
