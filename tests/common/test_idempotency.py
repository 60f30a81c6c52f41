"""A retried creating POST with the same Idempotency-Key creates nothing new."""

import asyncio

import httpx

from tests.support import auth_header

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
    statuses = sorted(r.status_code for r in responses)
    assert set(statuses) <= {201, 409}
    assert 201 in statuses
    assert await count(notes_client) == 1
