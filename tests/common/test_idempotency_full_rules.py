"""Idempotency-Key rules the whole (unsampled) mutation run found unpinned (issue 15): keys
as long as the limit allows stay distinct, a record's key and a request's hash keep their form
from one release to the next, each refusal names its problem type, an empty success replays
empty, and a refused commit is logged in its own words."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import APIRouter, Depends, Response
from sqlalchemy import select
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncSession

from services.common.app import create_service_app, get_session
from services.common.auth import Access, Principal, Role
from services.common.db import Database, UnitOfWork
from services.common.idempotency import MAX_KEY_LENGTH, _request_hash
from services.common.ids import new_id
from services.common.problems import PROBLEM_TYPE_BASE
from services.common.settings import ServiceSettings
from tests.common.notes_app import Note, NoteIdempotency, router
from tests.support import TEST_AUTH, auth_header

# The longest subject a token may carry, and keys of the longest length allowed.
LONG_WRITER = auth_header("admin", subject="w" * 200)
WRITER = auth_header("admin", subject="writer")

quiet = APIRouter(prefix="/v1/quiet")


@quiet.post("", status_code=204)
async def create_without_a_body(
    session: AsyncSession = Depends(get_session), _: Principal = Depends(Access(Role.ADMIN))
) -> Response:
    """A success with nothing to say: its replay must say nothing too."""
    session.add(Note(id=new_id("note"), text="quiet"))
    await session.commit()
    return Response(status_code=204)


@pytest.fixture
async def client(notes_database: Database) -> AsyncIterator[httpx.AsyncClient]:
    app = create_service_app(
        title="keyed",
        description="",
        settings=ServiceSettings(service_name="notes"),
        routers=[quiet, router],
        database=notes_database,
        auth_settings=TEST_AUTH,
        idempotency_model=NoteIdempotency,
    )
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://notes") as client:
        yield client


async def notes(database: Database) -> list[str]:
    async with database.sessionmaker() as session:
        return sorted((await session.execute(select(Note.text))).scalars().all())


async def scope_keys(database: Database) -> list[str]:
    async with database.sessionmaker() as session:
        return list((await session.execute(select(NoteIdempotency.scope_key))).scalars().all())


def long_key(last: str) -> str:
    return "k" * (MAX_KEY_LENGTH - 1) + last


@pytest.mark.parametrize("texts", [("one", "two"), ("same", "same")])
async def test_two_long_keys_differing_only_at_the_end_are_two_requests(
    client: httpx.AsyncClient, notes_database: Database, texts: tuple[str, str]
) -> None:
    """A record's key holds caller, path and key; cut to the column's length, two keys that
    differ past the cut were one: the second create was refused (422) or, with the same body,
    answered with the first one's replay and never made."""
    answers = [
        await client.post(
            "/v1/notes", json={"text": text}, headers={**LONG_WRITER, "idempotency-key": key}
        )
        for text, key in zip(texts, (long_key("1"), long_key("2")), strict=True)
    ]
    assert [a.status_code for a in answers] == [201, 201], answers[-1].text
    assert "idempotent-replayed" not in answers[1].headers
    assert await notes(notes_database) == sorted(texts)
    keys = await scope_keys(notes_database)
    assert len(set(keys)) == 2 and all(len(k) <= 300 for k in keys)  # the column's length


async def test_a_long_key_sent_again_is_replayed(
    client: httpx.AsyncClient, notes_database: Database
) -> None:
    headers = {**LONG_WRITER, "idempotency-key": long_key("1")}
    first = await client.post("/v1/notes", json={"text": "once"}, headers=headers)
    again = await client.post("/v1/notes", json={"text": "once"}, headers=headers)
    assert first.status_code == again.status_code == 201
    assert again.headers["idempotent-replayed"] == "true" and again.json() == first.json()
    assert await notes(notes_database) == ["once"]


async def test_a_scope_key_that_fits_is_kept_as_is_and_a_longer_one_ends_in_its_digest(
    client: httpx.AsyncClient, notes_database: Database
) -> None:
    """Records outlive a deploy: a retry after one must find its record under the same key, so
    the form is pinned. Up to the column's 300 characters, caller:path:key as it was."""
    fits = "f" * (300 - len(f"{'w' * 200}:/v1/notes:"))
    longer = fits + "g"
    for key in (fits, longer):
        headers = {**LONG_WRITER, "idempotency-key": key}
        assert (await client.post("/v1/notes", json={"text": key}, headers=headers)).is_success
    whole = f"{'w' * 200}:/v1/notes:{longer}"
    digest = hashlib.sha256(whole.encode()).hexdigest()
    assert sorted(await scope_keys(notes_database)) == sorted(
        [f"{'w' * 200}:/v1/notes:{fits}", f"{whole[: 300 - 65]}#{digest}"]
    )


async def test_each_refusal_names_its_problem_type(client: httpx.AsyncClient) -> None:
    too_long = await client.post(
        "/v1/notes", json={"text": "t"}, headers={**WRITER, "idempotency-key": long_key("xx")}
    )
    headers = {**WRITER, "idempotency-key": "reused"}
    await client.post("/v1/notes", json={"text": "a"}, headers=headers)
    reused = await client.post("/v1/notes", json={"text": "b"}, headers=headers)
    assert (too_long.status_code, reused.status_code) == (400, 422)
    assert too_long.json()["type"] == PROBLEM_TYPE_BASE + "invalid-idempotency-key"
    assert reused.json()["type"] == PROBLEM_TYPE_BASE + "idempotency-key-reused"


async def test_an_empty_success_replays_empty(
    client: httpx.AsyncClient, notes_database: Database
) -> None:
    headers = {**WRITER, "idempotency-key": "quiet"}
    first = await client.post("/v1/quiet", headers=headers)
    again = await client.post("/v1/quiet", headers=headers)
    assert first.status_code == again.status_code == 204
    assert again.headers["idempotent-replayed"] == "true"
    assert again.content == b"" and again.headers["content-length"] == "0"
    assert await notes(notes_database) == ["quiet"]


async def test_a_commit_the_database_refuses_is_logged_in_its_own_words_with_the_error(
    client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    async def refuse(self: UnitOfWork) -> None:
        await self.close_sessions()
        raise OperationalError("COMMIT", {}, Exception("disk I/O error"))

    monkeypatch.setattr(UnitOfWork, "commit", refuse)
    with caplog.at_level(logging.ERROR, logger="bw.idempotency"):
        response = await client.post(
            "/v1/notes", json={"text": "t"}, headers={**WRITER, "idempotency-key": "refused"}
        )
    assert response.status_code == 503
    [record] = [r for r in caplog.records if r.name == "bw.idempotency"]
    assert record.getMessage() == "commit of an idempotent request failed"
    assert record.exc_info is not None and record.exc_info[0] is OperationalError


def test_a_requests_hash_is_the_same_from_one_release_to_the_next() -> None:
    """Records live a day, across deploys: a retry after one must find its record's hash, or
    it is refused as another request (422)."""
    scope = {"method": "POST", "path": "/v1/notes", "query_string": b"tag=a"}
    assert _request_hash(scope, b'{"text":"t"}') == (
        "dd46a6e3c9de8920a903fecbd88fb01f983db8e66e45faa7824079e2d60d624b"
    )
