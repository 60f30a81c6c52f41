"""If-Match makes concurrent updates safe: exactly one of many wins, the rest get 412."""

import asyncio

import httpx
from sqlalchemy import select

from services.common.db import Database
from tests.common.notes_app import NoteOutbox
from tests.support import auth_header

ADMIN = auth_header("admin")


async def create(client: httpx.AsyncClient) -> httpx.Response:
    return await client.post("/v1/notes", json={"text": "v1"}, headers=ADMIN)


async def test_update_requires_if_match(notes_client: httpx.AsyncClient) -> None:
    note = (await create(notes_client)).json()
    response = await notes_client.patch(
        f"/v1/notes/{note['id']}", json={"text": "v2"}, headers=ADMIN
    )
    assert response.status_code == 428


async def test_stale_etag_is_412_and_changes_nothing(notes_client: httpx.AsyncClient) -> None:
    created = await create(notes_client)
    note_id, etag = created.json()["id"], created.headers["etag"]
    ok = await notes_client.patch(
        f"/v1/notes/{note_id}", json={"text": "v2"}, headers={**ADMIN, "if-match": etag}
    )
    assert ok.status_code == 200 and ok.headers["etag"] != etag
    stale = await notes_client.patch(
        f"/v1/notes/{note_id}", json={"text": "v3"}, headers={**ADMIN, "if-match": etag}
    )
    assert stale.status_code == 412
    fresh = await notes_client.patch(
        f"/v1/notes/{note_id}",
        json={"text": "v3"},
        headers={**ADMIN, "if-match": ok.headers["etag"]},
    )
    assert fresh.json()["text"] == "v3" and fresh.json()["version"] == 3


async def test_fifty_concurrent_updates_one_wins(
    notes_client: httpx.AsyncClient, notes_database: Database
) -> None:
    created = await create(notes_client)
    note_id, etag = created.json()["id"], created.headers["etag"]
    responses = await asyncio.gather(
        *(
            notes_client.patch(
                f"/v1/notes/{note_id}", json={"text": f"w{i}"}, headers={**ADMIN, "if-match": etag}
            )
            for i in range(50)
        )
    )
    statuses = [r.status_code for r in responses]
    assert statuses.count(200) == 1, statuses
    assert statuses.count(412) == 49
    # Only the winner's change reached the change feed: losers rolled back with their event.
    async with notes_database.sessionmaker() as session:
        events = (await session.execute(select(NoteOutbox.event_type))).scalars().all()
    assert sorted(events) == ["note.created", "note.updated"]
