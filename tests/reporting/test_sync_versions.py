"""Reporting keeps the newest snapshot of an aggregate whatever order the feed brings them in
(ADR 0011): on PostgreSQL the feed is in transaction-id order, and of two overlapping writes to
one factory the one that began first may commit last with the newer version."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select, text

from services.assessment.events import emit
from services.assessment.factories.service import snapshot
from services.assessment.models import Factory as SourceFactory
from services.assessment.models import OutboxEvent
from services.reporting.models import Factory
from services.reporting.settings import ReportingSettings
from services.reporting.sync.worker import make_readers
from services.reporting.webhooks.models import WebhookDelivery
from tests.assessment.builders import new_factory
from tests.reporting.feedgen import FeedLog
from tests.reporting.webhooks.support import RECEIVER, add_factory, feed_from_now, sync
from tests.support import TEST_AUTH, TEST_DATABASE_URL, auth_header

ADMIN = auth_header("admin")


def add_versioned(log: FeedLog, ident: str, verb: str, version: int, **fields: Any) -> None:
    add_factory(log, ident, verb, **fields)
    log.events[-1]["aggregate_version"] = version


async def region_in_reports(app: FastAPI, factory_id: str) -> str | None:
    async with app.state.db.sessionmaker() as session:
        row = await session.get(Factory, factory_id)
    return None if row is None else row.region


async def test_an_older_snapshot_after_a_newer_one_is_not_applied_nor_delivered(
    reporting_app: FastAPI, gateway_client: httpx.AsyncClient
) -> None:
    reporting_app.state.settings.webhook_allow_private_urls = True
    hook = await gateway_client.post(
        "/v1/webhooks", json={"url": RECEIVER, "event_types": ["factory.changed"]}, headers=ADMIN
    )
    assert hook.status_code == 201, hook.text
    log = feed_from_now()
    add_versioned(log, "fac_1", "created", 1, region="Toshkent")
    add_versioned(log, "fac_1", "updated", 3, region="Andijon")
    add_versioned(log, "fac_1", "updated", 2, region="Namangan")  # overtaken, delivered late
    assert await sync(reporting_app, log) == 3
    assert await region_in_reports(reporting_app, "fac_1") == "Andijon"
    async with reporting_app.state.db.sessionmaker() as session:
        queued = (await session.execute(select(WebhookDelivery.event_id))).scalars().all()
    assert sorted(queued) == [1, 2]  # the created and the version-3 events; not event 3


async def test_an_event_without_a_version_is_applied_in_feed_order(
    reporting_app: FastAPI,
) -> None:
    log = feed_from_now()
    add_versioned(log, "fac_2", "created", 2, region="Andijon")
    add_factory(log, "fac_2", "updated", region="Namangan")  # a source sending no version
    await sync(reporting_app, log)
    assert await region_in_reports(reporting_app, "fac_2") == "Namangan"


@pytest.mark.skipif(not TEST_DATABASE_URL, reason="PostgreSQL only: overlapping writers")
async def test_overlapping_writes_to_one_factory_end_as_the_last_committed(
    assessment_app: FastAPI, assessment_client: httpx.AsyncClient, reporting_app: FastAPI
) -> None:
    """The write that began first commits last: its event comes first in the feed (lower
    transaction id) with the newer version, and reporting keeps it."""
    factory_id = (await new_factory(assessment_client, region="Toshkent"))["id"]
    db = assessment_app.state.db
    async with db.sessionmaker() as first, db.sessionmaker() as second:
        await first.execute(text("SELECT pg_current_xact_id()"))  # begins first
        row = await second.get(SourceFactory, factory_id)
        assert row is not None
        row.region = "Namangan"
        await second.flush()
        await emit(second, "factory.updated", factory_id, snapshot(row))
        await second.commit()  # version 2, committed first
        row = await first.get(SourceFactory, factory_id)
        assert row is not None and row.version == 2
        row.region = "Andijon"
        await first.flush()
        await emit(first, "factory.updated", factory_id, snapshot(row))
        await first.commit()  # version 3, committed last
    async with db.sessionmaker() as session:
        events = (
            await session.execute(
                select(OutboxEvent.aggregate_version)
                .where(OutboxEvent.aggregate_id == factory_id)
                .order_by(OutboxEvent.txid, OutboxEvent.id)  # the feed's order
            )
        ).scalars()
        assert list(events) == [1, 3, 2]  # version 3 comes before version 2
        assert await session.scalar(select(func.count()).select_from(OutboxEvent)) >= 3

    [reader] = make_readers(
        reporting_app.state.db,
        ReportingSettings(),
        TEST_AUTH,
        {"assessment": httpx.ASGITransport(app=assessment_app)},
        sources=["assessment"],
    )
    async with reader.client:
        await reader.catch_up()
    assert await region_in_reports(reporting_app, factory_id) == "Andijon"
