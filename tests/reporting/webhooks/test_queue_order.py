"""Deliveries queued by two transactions at once (the assessment and training readers) are
sent in ``seq`` order: a later seq never becomes visible before an earlier one commits."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from fastapi import FastAPI

from services.common.db import Database
from services.reporting.webhooks.deliverer import utcnow
from services.reporting.webhooks.events import enqueue, load_subscriptions
from tests.reporting.webhooks.support import RECEIVER, Receiver, add_factory, deliverer
from tests.reporting.webhooks.support import feed_from_now as fresh
from tests.support import auth_header

ADMIN = auth_header("admin")


@pytest.fixture
def app(reporting_app: FastAPI) -> FastAPI:
    reporting_app.state.settings.webhook_allow_private_urls = True
    return reporting_app


async def test_a_delivery_queued_while_another_transaction_queues_waits_for_its_commit(
    app: FastAPI, gateway_client: httpx.AsyncClient
) -> None:
    response = await gateway_client.post(
        "/v1/webhooks", json={"url": RECEIVER, "event_types": ["factory.changed"]}, headers=ADMIN
    )
    assert response.status_code == 201, response.text
    log = fresh()
    add_factory(log, "fac_first")
    add_factory(log, "fac_second")
    first_event, second_event = log.events
    database: Database = app.state.db
    receiver = Receiver()
    sender = deliverer(app, receiver)

    async with database.sessionmaker() as first:
        subscriptions = await load_subscriptions(first)
        assert await enqueue(first, "assessment", first_event, subscriptions) == 1

        async def queue_second() -> None:
            async with database.sessionmaker() as second:
                await enqueue(second, "training", second_event, subscriptions)
                await second.commit()

        second_task = asyncio.create_task(queue_second())
        # The second transaction has had every chance to queue and commit; on SQLite it waits
        # for the first's write lock, on PostgreSQL for the queue's turn.
        await asyncio.sleep(0.3)
        assert await sender.due_heads(utcnow()) == [], "a delivery overtook an uncommitted one"
        await first.commit()
    await asyncio.wait_for(second_task, 10)

    assert await sender.run_once() == 1
    assert await sender.run_once() == 1
    sent = [body["data"]["id"] for body in receiver.bodies()]
    assert sent == ["fac_first", "fac_second"]
