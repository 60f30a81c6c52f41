"""The change feed: every write is in it, in commit order, and a reader polling while many
writers run never skips an event that commits late."""

import asyncio
import time
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from services.assessment.models import OutboxEvent
from services.common.db import Database
from services.common.outbox import append_event, read_changes
from tests.assessment.builders import (
    ADMIN,
    created,
    feed,
    grant,
    new_brand,
    new_factory,
    published_assessment,
    published_catalog,
)
from tests.support import auth_header


async def test_every_write_of_a_whole_lifecycle_is_in_the_feed(
    assessment_client: httpx.AsyncClient,
) -> None:
    catalog = await published_catalog(assessment_client)
    brand = await new_brand(assessment_client)
    factory = await new_factory(assessment_client)
    consent = await grant(assessment_client, factory["id"], brand["id"])
    await assessment_client.patch(
        f"/v1/brands/{brand['id']}", json={"type": "partner"}, headers={**ADMIN, "if-match": "*"}
    )
    await assessment_client.post(
        f"/v1/factories/{factory['id']}/consents/{consent['id']}/revoke", headers=ADMIN
    )
    assessment = await published_assessment(assessment_client, factory["id"], catalog["id"])
    events = await feed(assessment_client)
    assert [(e["event_type"], e["aggregate_id"]) for e in events] == [
        ("catalog.created", catalog["id"]),
        ("catalog.published", catalog["id"]),
        ("brand.created", brand["id"]),
        ("factory.created", factory["id"]),
        ("consent.granted", consent["id"]),
        ("brand.updated", brand["id"]),
        ("consent.revoked", consent["id"]),
        ("assessment.created", assessment["id"]),
        ("assessment.status_changed", assessment["id"]),
        ("assessment.updated", assessment["id"]),  # the findings
        ("assessment.status_changed", assessment["id"]),
        ("assessment.published", assessment["id"]),
    ]
    ids = [e["id"] for e in events]
    assert ids == sorted(ids)
    statuses = [e["payload"]["status"] for e in events if e["aggregate_type"] == "assessment"]
    assert statuses == ["scheduled", "in_progress", "in_progress", "draft", "published"]


async def test_failed_writes_leave_no_event(assessment_client: httpx.AsyncClient) -> None:
    await assessment_client.post("/v1/factories", json={"name": "", "country": "UZ"}, headers=ADMIN)
    await assessment_client.post(
        "/v1/factories",
        json={"name": "X", "country": "UZ"},
        headers=auth_header("brand", brand_id="b"),
    )
    await assessment_client.post(
        "/v1/factories/fac_missing/consents", json={"brand_id": "brd_x"}, headers=ADMIN
    )
    assert await feed(assessment_client) == []


async def test_feed_is_only_for_services_and_admins(assessment_client: httpx.AsyncClient) -> None:
    ok = await assessment_client.get("/internal/v1/changes", headers=auth_header("service"))
    refused = await assessment_client.get("/internal/v1/changes", headers=auth_header("staff"))
    assert ok.status_code == 200 and refused.status_code == 403


async def test_many_concurrent_writers_and_a_polling_reader_miss_nothing(
    assessment_client: httpx.AsyncClient,
) -> None:
    writers_done = asyncio.Event()
    seen: list[int] = []

    async def reader() -> None:
        cursor = 0
        while True:
            finished = writers_done.is_set()
            page = (
                await assessment_client.get(
                    "/internal/v1/changes", params={"after": cursor}, headers=ADMIN
                )
            ).json()
            seen.extend(item["id"] for item in page["items"])
            cursor = page["next_cursor"]
            if finished and not page["has_more"]:
                return
            await asyncio.sleep(0)

    async def writer(i: int) -> None:
        await created(
            await assessment_client.post("/v1/brands", json={"name": f"Brand {i}"}, headers=ADMIN)
        )

    reading = asyncio.create_task(reader())
    await asyncio.gather(*(writer(i) for i in range(40)))
    writers_done.set()
    await reading
    everything = [e["id"] for e in await feed(assessment_client)]
    assert len(everything) == 40
    assert seen == everything


async def _late_commit_scenario(
    database: Database, *, kernel_feed: bool
) -> tuple[list[int], list[int]]:
    """Transaction A draws an event id first but commits last; B draws the next id meanwhile.
    A reader polls in between, through the kernel's feed or (the control experiment) by plain
    id order. Returns (ids the reader saw, ids in the table)."""

    async def add(session: AsyncSession, name: str) -> None:
        await append_event(
            session,
            OutboxEvent,
            event_type="brand.created",
            aggregate_type="brand",
            aggregate_id=name,
            payload={"id": name},
        )

    seen: list[int] = []
    cursor: Any = 0

    async def poll() -> None:
        nonlocal cursor
        async for session in database.read_session():
            if kernel_feed:
                page = await read_changes(session, OutboxEvent, cursor, 100, hold_wait=0)
                seen.extend(item.id for item in page.items)
                cursor = page.next_cursor
            else:
                stmt = select(OutboxEvent.id).where(col(OutboxEvent.id) > cursor)
                ids = list((await session.execute(stmt.order_by(OutboxEvent.id))).scalars())
                seen.extend(i for i in ids if i is not None)
                cursor = seen[-1] if seen else cursor

    async def transaction_b() -> None:
        async with database.sessionmaker() as session:
            await add(session, "B")
            await session.commit()

    async with database.sessionmaker() as session_a:
        await add(session_a, "A")  # A's id is drawn, A stays open
        b = asyncio.create_task(transaction_b())
        # Give B every chance to commit before A does (it will, unless it has to wait for A).
        await asyncio.wait({b}, timeout=1.0)
        await poll()
        await session_a.commit()
    await b
    await poll()
    # The kernel's feed serves only below the oldest transaction still running anywhere on the
    # PostgreSQL server (transaction ids are server-wide): another test worker's open
    # transaction can hold both events back for a moment, never skip them. Poll until they come.
    deadline = time.monotonic() + 10
    while kernel_feed and len(seen) < 2 and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
        await poll()
    async with database.sessionmaker() as session:
        in_table = list(
            (await session.execute(select(OutboxEvent.id).order_by(OutboxEvent.id))).scalars()
        )
    return seen, in_table


async def test_an_event_that_commits_late_is_not_skipped(
    assessment_app: FastAPI, assessment_database: Database
) -> None:
    seen, in_table = await _late_commit_scenario(assessment_database, kernel_feed=True)
    assert len(in_table) == 2
    assert seen == in_table


async def test_control_without_serialised_writers_the_reader_would_skip(
    assessment_app: FastAPI, assessment_database: Database
) -> None:
    """Proves the previous test can fail: PostgreSQL lets B commit while A is open (no lock),
    and a reader paging by id alone jumps past A's id; the kernel's feed holds B back until A
    has ended (ADR 0011). SQLite serialises writers by itself (BEGIN IMMEDIATE), so there id
    order is commit order and nothing is skipped."""
    seen, in_table = await _late_commit_scenario(assessment_database, kernel_feed=False)
    assert len(in_table) == 2
    if assessment_database.is_sqlite:
        assert seen == in_table
    else:
        assert seen != in_table and set(in_table) - set(seen) == {in_table[0]}
