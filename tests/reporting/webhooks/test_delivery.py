"""From a source event to a signed request at the receiver: queued with the sync's commit,
sent in order, retried with the same webhook-id, within the subscriber's access only.
Subscriptions are made through the gateway, as an integrator would."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select

from services.reporting.models import OutboxEvent
from services.reporting.webhooks.models import WebhookDelivery
from tests.reporting.webhooks.support import (
    RECEIVER,
    Receiver,
    add_factory,
    consent,
    deliverer,
    feed_from_now,
    sync,
)
from tests.support import auth_header

ADMIN = auth_header("admin")
BRAND_X = auth_header("brand", brand_id="brd_x")


@pytest.fixture
def app(reporting_app: FastAPI) -> FastAPI:
    reporting_app.state.settings.webhook_allow_private_urls = True  # the loopback receiver
    return reporting_app


async def subscribe(
    client: httpx.AsyncClient, headers: dict[str, str], *types: str
) -> dict[str, Any]:
    response = await client.post(
        "/v1/webhooks", json={"url": RECEIVER, "event_types": list(types)}, headers=headers
    )
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


async def deliveries(
    client: httpx.AsyncClient, hook: dict[str, Any], headers: dict[str, str] = ADMIN
) -> list[dict[str, Any]]:
    response = await client.get(f"/v1/webhooks/{hook['id']}/deliveries", headers=headers)
    assert response.status_code == 200, response.text
    return response.json()["items"]  # type: ignore[no-any-return]


async def test_an_applied_event_reaches_the_receiver_signed_and_logged(
    app: FastAPI, gateway_client: httpx.AsyncClient
) -> None:
    hook = await subscribe(gateway_client, ADMIN, "factory.changed")
    log = feed_from_now()
    add_factory(log, "fac_1", name="Тошкент тикувчилик")
    log.add("catalog.published", {"id": "cat_9", "clusters": []})  # not subscribed
    await sync(app, log)
    receiver = Receiver(status=200)
    assert await deliverer(app, receiver).run_once() == 1

    [request] = receiver.requests
    receiver.verify_all(hook["secret"])
    body = receiver.bodies()[0]
    assert body["type"] == "factory.changed"
    assert body["data"]["id"] == "fac_1"
    assert body["data"]["name"] == "Тошкент тикувчилик"
    assert body["data"]["change"] == "created"
    [logged] = await deliveries(gateway_client, hook)
    assert logged["id"] == request.headers["webhook-id"]
    assert (logged["status"], logged["attempts"], logged["last_status_code"]) == (
        "succeeded",
        1,
        200,
    )
    attempts = await gateway_client.get(
        f"/v1/webhooks/{hook['id']}/attempts?delivery_id={logged['id']}", headers=ADMIN
    )
    [attempt] = attempts.json()["items"]
    assert attempt["delivery_id"] == logged["id"]
    assert attempt["outcome"] == "succeeded"
    assert attempt["response_status"] == 200
    assert attempt["duration_ms"] >= 0
    assert len(attempt["response_excerpt"]) == 200  # the receiver said 1500 characters


async def test_a_replayed_page_queues_nothing_twice(
    app: FastAPI, gateway_client: httpx.AsyncClient
) -> None:
    await subscribe(gateway_client, ADMIN, "factory.changed")
    log = feed_from_now()
    add_factory(log, "fac_1")
    add_factory(log, "fac_1", "updated")
    await sync(app, log)
    async with app.state.db.sessionmaker() as session:  # the cursor back: the page again
        await session.execute(
            WebhookDelivery.__table__.update().values(status="pending")  # type: ignore[attr-defined]
        )
        from services.reporting.models import FeedCursor

        cursor = await session.get(FeedCursor, "assessment")
        assert cursor is not None
        cursor.last_event_id = 0
        await session.commit()
    await sync(app, log)
    async with app.state.db.sessionmaker() as session:
        count = (await session.execute(select(func.count()).select_from(WebhookDelivery))).scalar()
    assert count == 2


async def test_a_brand_gets_only_factories_that_consent_and_a_revocation_stops_it_at_once(
    app: FastAPI, gateway_client: httpx.AsyncClient
) -> None:
    hook = await subscribe(gateway_client, BRAND_X, "factory.changed", "training.attendance")
    log, training = feed_from_now(), feed_from_now()
    add_factory(log, "fac_a", buyer_brand_ids=["brd_x", "brd_y"])
    add_factory(log, "fac_b")
    consent(log, "con_1", "fac_a", "brd_x")
    add_factory(log, "fac_a", "updated", buyer_brand_ids=["brd_x", "brd_y"])
    add_factory(log, "fac_b", "updated")
    training.add(
        "training_session.created",
        {"id": "ses_1", "factory_ids": ["fac_a", "fac_b"], "participants": {"total": 9}},
    )
    await sync(app, log, training)
    receiver = Receiver()
    sender = deliverer(app, receiver)
    while await sender.run_once():
        pass
    bodies = receiver.bodies()
    assert [(b["type"], b["data"]["id"]) for b in bodies] == [
        ("factory.changed", "fac_a"),
        ("training.attendance", "ses_1"),
    ]
    assert bodies[0]["data"]["buyer_brand_ids"] == ["brd_x"]  # not the other buyer
    assert bodies[1]["data"]["factory_ids"] == ["fac_a"]  # not the other factory

    # Queued while consent was live, revoked before it is sent: it is never sent.
    add_factory(log, "fac_a", "updated", region="Samarqand")
    await sync(app, log)
    consent(log, "con_1", "fac_a", "brd_x", revoked=True)
    add_factory(log, "fac_a", "updated", region="Buxoro")
    await sync(app, log)
    while await sender.run_once():
        pass
    assert len(receiver.requests) == 2
    logged = await deliveries(gateway_client, hook, BRAND_X)
    assert [d["status"] for d in logged] == ["succeeded", "succeeded", "skipped"]


async def test_a_failing_receiver_holds_back_only_its_own_subscription_in_order_then_is_disabled(
    app: FastAPI, gateway_client: httpx.AsyncClient
) -> None:
    failing = await subscribe(gateway_client, ADMIN, "factory.changed")
    healthy = await subscribe(gateway_client, auth_header("service"), "factory.changed")
    log = feed_from_now()
    add_factory(log, "fac_1")
    add_factory(log, "fac_2")
    await sync(app, log)
    bad, good = Receiver(status=503), Receiver()

    def route(request: httpx.Request) -> httpx.Response:
        return (bad if failing["id"] in request.headers["webhook-id"] else good).handle(request)

    from services.reporting.webhooks.deliverer import Deliverer
    from tests.reporting.webhooks.support import test_settings

    settings = test_settings(webhook_disable_after_failures=3, webhook_disable_after_seconds=0)
    sender = Deliverer(app.state.db, settings, httpx.MockTransport(route))
    for _round in range(6):
        await sender.run_once()
    assert {b["data"]["id"] for b in good.bodies()} == {"fac_1", "fac_2"}
    # Only the head was tried, three times with one webhook-id, then the endpoint disabled.
    assert len(set(bad.ids())) == 1 and len(bad.ids()) == 3
    state = (await gateway_client.get(f"/v1/webhooks/{failing['id']}", headers=ADMIN)).json()
    assert state["enabled"] is False
    assert "3 failed attempts" in state["disabled_reason"]
    assert healthy["id"] != failing["id"]

    bad.status = 200
    etag = (await gateway_client.get(f"/v1/webhooks/{failing['id']}", headers=ADMIN)).headers[
        "etag"
    ]
    enabled = await gateway_client.patch(
        f"/v1/webhooks/{failing['id']}",
        json={"enabled": True},
        headers={**ADMIN, "if-match": etag},
    )
    assert enabled.json()["enabled"] is True and enabled.json()["consecutive_failures"] == 0
    while await sender.run_once():
        pass
    assert [b["data"]["id"] for b in bad.bodies()[3:]] == ["fac_1", "fac_2"]
    assert bad.ids()[3] == bad.ids()[0]  # the same message, retried


async def test_rotation_signs_with_both_secrets_during_the_grace_period(
    app: FastAPI, gateway_client: httpx.AsyncClient
) -> None:
    hook = await subscribe(gateway_client, ADMIN, "factory.changed")
    etag = (await gateway_client.get(f"/v1/webhooks/{hook['id']}", headers=ADMIN)).headers["etag"]
    rotated = await gateway_client.post(
        f"/v1/webhooks/{hook['id']}/rotate", json={}, headers={**ADMIN, "if-match": etag}
    )
    assert rotated.status_code == 200, rotated.text
    new_secret = rotated.json()["secret"]
    assert new_secret != hook["secret"]
    log = feed_from_now()
    add_factory(log, "fac_1")
    await sync(app, log)
    receiver = Receiver()
    await deliverer(app, receiver).run_once()
    assert len(receiver.requests[0].headers["webhook-signature"].split(" ")) == 2
    receiver.verify_all(hook["secret"])
    receiver.verify_all(new_secret)


async def test_manual_redelivery_sends_the_same_message_again(
    app: FastAPI, gateway_client: httpx.AsyncClient
) -> None:
    hook = await subscribe(gateway_client, ADMIN, "factory.changed")
    log = feed_from_now()
    add_factory(log, "fac_1")
    await sync(app, log)
    receiver = Receiver()
    sender = deliverer(app, receiver)
    await sender.run_once()
    [logged] = await deliveries(gateway_client, hook)
    again = await gateway_client.post(
        f"/v1/webhooks/{hook['id']}/deliveries/{logged['id']}/redeliver", headers=ADMIN
    )
    assert again.status_code == 202, again.text
    assert again.json()["status"] == "pending"
    await sender.run_once()
    assert receiver.ids() == [logged["id"], logged["id"]]
    assert receiver.bodies()[0] == receiver.bodies()[1]


async def test_an_annual_report_publication_is_delivered_from_reportings_own_outbox(
    app: FastAPI, gateway_client: httpx.AsyncClient
) -> None:
    hook = await subscribe(gateway_client, BRAND_X, "annual_report.published")
    async with app.state.db.sessionmaker() as session:
        session.add(
            OutboxEvent(
                event_type="report_publication.created",
                aggregate_type="report_publication",
                aggregate_id="pub_1",
                payload={"id": "pub_1", "year": 2025, "country": "UZ"},
            )
        )
        await session.commit()
    receiver = Receiver()
    sender = deliverer(app, receiver)
    assert await sender.run_once() == 1
    assert await sender.run_once() == 0  # the cursor moved with the queued delivery
    [body] = receiver.bodies()
    assert body == {
        "type": "annual_report.published",
        "timestamp": body["timestamp"],
        "data": {"id": "pub_1", "year": 2025, "country": "UZ"},
    }
    receiver.verify_all(hook["secret"])
