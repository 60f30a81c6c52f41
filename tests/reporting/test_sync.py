"""The sync worker: idempotent applies, corrections, a source that is down, the in-app task."""

from __future__ import annotations

import asyncio

import httpx
from fastapi import FastAPI
from sqlalchemy import update

from services.common.db import Database
from services.reporting.app import create_app
from services.reporting.models import FeedCursor
from services.reporting.settings import ReportingSettings
from services.reporting.sync.worker import SyncWorker, backoff_delay
from tests.reporting.conftest import readers_for, sync_sources
from tests.reporting.feedgen import (
    FakeSource,
    FeedLog,
    Programme,
    assessment_payload,
    catalog_payload,
    factory_payload,
    fake_source_app,
)
from tests.support import TEST_AUTH, auth_header

STAFF = auth_header("staff")


def client_for(app: FastAPI) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://reporting")


async def cp_counts(app: FastAPI, **params: str) -> dict[str, tuple[int, int]]:
    async with client_for(app) as client:
        response = await client.get(
            "/v1/reports/non-compliance/compliance-points", params=params, headers=STAFF
        )
    assert response.status_code == 200, response.text
    return {
        i["compliance_point_code"]: (i["factories_assessed"], i["factories_non_compliant"])
        for i in response.json()["items"]
    }


async def rewind(database: Database) -> None:
    async with database.sessionmaker() as session:
        await session.execute(update(FeedCursor).values(last_event_id=0))
        await session.commit()


async def test_replaying_the_whole_feed_changes_nothing(
    reporting_app: FastAPI, programme: Programme
) -> None:
    sources = {"assessment": FakeSource(programme.assessment)}
    assert await sync_sources(reporting_app, sources) == len(programme.assessment.events)
    first = await cp_counts(reporting_app)
    assert await sync_sources(reporting_app, sources) == 0, "the cursor was not kept"
    await rewind(reporting_app.state.db)
    await sync_sources(reporting_app, sources, page_size=13)
    assert await cp_counts(reporting_app) == first
    assert sum(n for n, _ in first.values()) > 0


def single_assessment_feed() -> tuple[FeedLog, dict]:
    feed = FeedLog()
    catalog = feed.add("catalog.published", catalog_payload("cat_1"))
    feed.add("factory.created", factory_payload("fac_1"))
    feed.add(
        "assessment.published",
        assessment_payload("asm_1", "fac_1", catalog, non_compliant={"OS-1-1"}),
    )
    return feed, catalog


async def test_a_correction_counts_only_once_it_is_published(reporting_app: FastAPI) -> None:
    feed, catalog = single_assessment_feed()
    source = {"assessment": FakeSource(feed)}
    await sync_sources(reporting_app, source)
    assert (await cp_counts(reporting_app))["OS-1"] == (1, 1)

    draft = assessment_payload(
        "asm_2", "fac_1", catalog, published=False, revision=2, supersedes_id="asm_1"
    )
    feed.add("assessment.created", draft)
    await sync_sources(reporting_app, source)
    assert (await cp_counts(reporting_app))["OS-1"] == (1, 1), "a draft correction replaced it"

    feed.add(
        "assessment.published",
        assessment_payload(
            "asm_2", "fac_1", catalog, non_compliant=set(), revision=2, supersedes_id="asm_1"
        ),
    )
    await sync_sources(reporting_app, source)
    assert (await cp_counts(reporting_app))["OS-1"] == (1, 0)

    # A replay of the first revision (after a crash) must not bring it back.
    await rewind(reporting_app.state.db)
    await sync_sources(reporting_app, source, page_size=2)
    assert (await cp_counts(reporting_app))["OS-1"] == (1, 0)


async def test_information_questions_and_unanswered_ones_are_left_out(
    reporting_app: FastAPI,
) -> None:
    feed = FeedLog()
    catalog = feed.add("catalog.published", catalog_payload("cat_1"))
    feed.add("factory.created", factory_payload("fac_1"))
    # OS-2's finding questions are unanswered, so OS-2 does not apply to this factory.
    feed.add(
        "assessment.published",
        assessment_payload(
            "asm_1", "fac_1", catalog, non_compliant={"CL-1-1"}, not_answered={"OS-2-1", "OS-2-2"}
        ),
    )
    await sync_sources(reporting_app, {"assessment": FakeSource(feed)})
    async with client_for(reporting_app) as client:
        questions = (
            await client.get("/v1/reports/non-compliance/questions", headers=STAFF)
        ).json()["items"]
    codes = {q["question_code"] for q in questions}
    assert "CL-1-3" not in codes, "an information-only question was counted"
    assert "OS-2-1" not in codes
    assert "OS-2" not in await cp_counts(reporting_app)
    assert (await cp_counts(reporting_app))["CL-1"] == (1, 1)


async def test_a_source_that_is_down_is_retried_with_backoff_and_old_data_is_served(
    reporting_app: FastAPI,
) -> None:
    feed, catalog = single_assessment_feed()
    source = FakeSource(feed)
    [reader] = readers_for(reporting_app, {"assessment": source})
    waits: list[float] = []

    async def record_wait(seconds: float) -> None:
        waits.append(seconds)

    worker = SyncWorker([reader], interval=1.0, max_backoff=5.0, sleep=record_wait)
    await worker.run_reader(reader, iterations=1)
    before = await cp_counts(reporting_app)

    source.down = True
    feed.add("factory.created", factory_payload("fac_2"))
    feed.add("assessment.published", assessment_payload("asm_9", "fac_2", catalog))
    await worker.run_reader(reader, iterations=5)
    assert waits == [1.0, 2.0, 4.0, 5.0]  # between the five failed attempts
    assert await cp_counts(reporting_app) == before, "the last data must still be served"
    async with client_for(reporting_app) as client:
        freshness = (await client.get("/v1/reports/freshness")).json()
        ready = await client.get("/health/ready")
    feed_state = {f["source"]: f for f in freshness["feeds"]}["assessment"]
    assert feed_state["status"] == "source_unavailable"
    assert feed_state["consecutive_failures"] == 5
    assert "503" in feed_state["last_error"]
    assert ready.status_code == 200
    assert ready.json()["checks"]["feeds"]["status"] == "degraded"

    source.down = False
    await worker.run_reader(reader, iterations=1)
    assert (await cp_counts(reporting_app))["OS-1"] == (2, 1)
    async with client_for(reporting_app) as client:
        freshness = (await client.get("/v1/reports/freshness")).json()
    feed_state = {f["source"]: f for f in freshness["feeds"]}["assessment"]
    assert feed_state["status"] == "ok" and feed_state["last_event_id"] == len(feed.events)
    assert feed_state["data_as_of"] is not None and feed_state["lag_seconds"] >= 0
    await reader.client.aclose()


def test_backoff_doubles_up_to_the_maximum() -> None:
    assert [backoff_delay(n, 2.0, 30.0) for n in range(1, 7)] == [2, 4, 8, 16, 30, 30]


async def test_two_syncers_at_once_apply_each_event_once(
    reporting_app: FastAPI, programme: Programme
) -> None:
    sources = {"training": FakeSource(programme.training)}
    readers = readers_for(reporting_app, sources, 5) + readers_for(reporting_app, sources, 7)
    applied = await asyncio.gather(*(r.catch_up() for r in readers))
    for reader in readers:
        await reader.client.aclose()
    assert sum(applied) == len(programme.training.events)
    async with client_for(reporting_app) as client:
        activity = (await client.get("/v1/reports/activity", headers=STAFF)).json()
    sessions = [e for e in programme.training.events if e["aggregate_type"] == "training_session"]
    assert activity["training"]["participants"]["total"] == sum(
        e["payload"]["participants"]["total"] for e in sessions
    )


async def test_the_app_syncs_in_the_background(
    reporting_database: Database, reporting_app: FastAPI
) -> None:
    feed, _catalog = single_assessment_feed()
    transports: dict[str, httpx.AsyncBaseTransport] = {
        name: httpx.ASGITransport(app=fake_source_app(FakeSource(log), TEST_AUTH))
        for name, log in (("assessment", feed), ("training", FeedLog()))
    }
    app = create_app(
        ReportingSettings(sync_interval_seconds=0.05), reporting_database, TEST_AUTH, transports
    )
    async with app.router.lifespan_context(app):
        for _ in range(200):
            if (await cp_counts(app)).get("OS-1") == (1, 1):
                break
            await asyncio.sleep(0.05)
        assert (await cp_counts(app))["OS-1"] == (1, 1)
        assert (await cp_counts(app, year="2024"))["OS-1"] == (1, 1)
