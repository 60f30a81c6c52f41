"""The audit log, rule by rule (issue 15): each filter narrows to what it names and nothing else
(the time window includes its start and excludes its end), pages follow the log's order, the
filters' lengths are bounded, and only an admin reads it. Built on the notes outbox, so the
events and their times are the test's own."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from services.common.app import create_service_app, get_read_session
from services.common.audit import audit_router
from services.common.db import Database
from services.common.settings import ServiceSettings
from tests.common.notes_app import NoteOutbox
from tests.support import TEST_AUTH, auth_header

ADMIN = auth_header("admin")
START = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
EVENTS = "/v1/audit/notes/events"


def audit_app(database: Database) -> FastAPI:
    return create_service_app(
        title="notes",
        description="",
        settings=ServiceSettings(service_name="notes"),
        routers=[audit_router(NoteOutbox, "notes", get_read_session)],
        database=database,
        auth_settings=TEST_AUTH,
    )


@pytest.fixture
async def audit(notes_database: Database) -> AsyncIterator[httpx.AsyncClient]:
    """Four events an hour apart: two notes, two authors, a note and a notebook."""
    rows = [
        ("note.created", "note", "n1", "ana", START),
        ("note.updated", "note", "n1", "ben", START + timedelta(hours=1)),
        ("note.created", "note", "n2", "ana", START + timedelta(hours=2)),
        ("notebook.created", "notebook", "n1", None, START + timedelta(hours=3)),
    ]
    async with notes_database.sessionmaker() as session:
        for event_type, aggregate_type, aggregate_id, actor, at in rows:
            session.add(
                NoteOutbox(
                    event_type=event_type,
                    aggregate_type=aggregate_type,
                    aggregate_id=aggregate_id,
                    occurred_at=at,
                    payload={"id": aggregate_id, "by": actor},
                    request_id=f"req-{event_type}-{aggregate_id}",
                    actor_subject=actor,
                    actor_role="staff" if actor else None,
                )
            )
        await session.commit()
    transport = httpx.ASGITransport(app=audit_app(notes_database))
    async with httpx.AsyncClient(transport=transport, base_url="http://notes") as client:
        yield client


async def events(client: httpx.AsyncClient, **params: Any) -> list[tuple[str, str]]:
    response = await client.get(EVENTS, params=params, headers=ADMIN)
    assert response.status_code == 200, response.text
    return [(e["event_type"], e["aggregate_id"]) for e in response.json()["items"]]


async def test_unfiltered_it_is_every_event_oldest_first_with_its_state(
    audit: httpx.AsyncClient,
) -> None:
    response = await audit.get(EVENTS, params={"include_total": "true"}, headers=ADMIN)
    body = response.json()
    assert body["total"] == 4 and body["next_cursor"] is None
    first = body["items"][0]
    assert {k: first[k] for k in ("event_type", "actor_subject", "actor_role", "request_id")} == {
        "event_type": "note.created",
        "actor_subject": "ana",
        "actor_role": "staff",
        "request_id": "req-note.created-n1",
    }
    assert first["state"] == {"id": "n1", "by": "ana"}
    assert [e["occurred_at"][:13] for e in body["items"]] == [
        "2026-03-01T09",
        "2026-03-01T10",
        "2026-03-01T11",
        "2026-03-01T12",
    ]


async def test_each_filter_narrows_to_what_it_names(audit: httpx.AsyncClient) -> None:
    assert await events(audit, aggregate_type="notebook") == [("notebook.created", "n1")]
    assert await events(audit, aggregate_id="n2") == [("note.created", "n2")]
    assert await events(audit, actor="ben") == [("note.updated", "n1")]
    assert await events(audit, aggregate_type="note", aggregate_id="n1") == [
        ("note.created", "n1"),
        ("note.updated", "n1"),
    ]


async def test_the_window_includes_its_start_and_excludes_its_end(
    audit: httpx.AsyncClient,
) -> None:
    window = {
        "since": (START + timedelta(hours=1)).isoformat(),
        "until": (START + timedelta(hours=3)).isoformat(),
    }
    assert await events(audit, **window) == [("note.updated", "n1"), ("note.created", "n2")]
    assert await events(audit, since=window["until"]) == [("notebook.created", "n1")]
    assert await events(audit, until=window["since"]) == [("note.created", "n1")]


async def test_pages_follow_the_log_and_can_be_sorted_by_time(audit: httpx.AsyncClient) -> None:
    first = (await audit.get(EVENTS, params={"limit": 3}, headers=ADMIN)).json()
    rest = (
        await audit.get(EVENTS, params={"limit": 3, "cursor": first["next_cursor"]}, headers=ADMIN)
    ).json()
    assert len(first["items"]) == 3 and [e["aggregate_id"] for e in rest["items"]] == ["n1"]
    newest = await events(audit, sort="-occurred_at", limit=1)
    assert newest == [("notebook.created", "n1")]


@pytest.mark.parametrize(
    ("name", "longest"), [("aggregate_type", 80), ("aggregate_id", 64), ("actor", 200)]
)
async def test_filters_are_as_long_as_the_columns_they_match(
    audit: httpx.AsyncClient, name: str, longest: int
) -> None:
    fits = await audit.get(EVENTS, params={name: "x" * longest}, headers=ADMIN)
    too_long = await audit.get(EVENTS, params={name: "x" * (longest + 1)}, headers=ADMIN)
    assert fits.status_code == 200 and fits.json()["items"] == []
    assert too_long.status_code == 422


async def test_only_an_admin_reads_it(audit: httpx.AsyncClient) -> None:
    assert (await audit.get(EVENTS)).status_code == 401
    assert (await audit.get(EVENTS, headers=auth_header("staff"))).status_code == 403


def test_it_is_published_as_the_services_audit_log(notes_database: Database) -> None:
    operation = audit_app(notes_database).openapi()["paths"][EVENTS]["get"]
    assert operation["summary"] == "Audit log of the notes service"
    assert operation["tags"] == ["audit"]
    assert operation["x-access"] == {"roles": ["admin"], "anonymous": False}
