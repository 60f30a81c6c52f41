"""``/v1/webhooks`` through the gateway: who sees which subscription, what is refused, the
secret shown once; and the lease that keeps background work in one replica."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from fastapi import FastAPI

from services.reporting.sync.leader import Leadership, acquire
from services.reporting.webhooks.events import EVENT_TYPES
from tests.reporting.webhooks.support import RECEIVER
from tests.support import auth_header

ADMIN = auth_header("admin")
BRAND_X = auth_header("brand", brand_id="brd_x")
BRAND_Y = auth_header("brand", brand_id="brd_y")
PUBLIC_URL = "https://93.184.215.14/hook"


async def create(
    client: httpx.AsyncClient, headers: dict[str, str], url: str = PUBLIC_URL
) -> httpx.Response:
    body = {"url": url, "event_types": ["factory.changed"]}
    return await client.post("/v1/webhooks", json=body, headers=headers)


async def test_a_brand_sees_and_manages_only_its_own_subscriptions(
    gateway_client: httpx.AsyncClient,
) -> None:
    mine = (await create(gateway_client, BRAND_X)).json()
    theirs = (await create(gateway_client, BRAND_Y)).json()
    assert mine["brand_id"] == "brd_x"
    listed = (await gateway_client.get("/v1/webhooks", headers=BRAND_X)).json()
    assert [h["id"] for h in listed["items"]] == [mine["id"]]
    other = await gateway_client.get(f"/v1/webhooks/{theirs['id']}", headers=BRAND_X)
    assert other.status_code == 404
    assert other.headers["content-type"] == "application/problem+json"
    delete = await gateway_client.delete(
        f"/v1/webhooks/{theirs['id']}", headers={**BRAND_X, "if-match": "*"}
    )
    assert delete.status_code == 404
    admin_sees = (await gateway_client.get("/v1/webhooks", headers=ADMIN)).json()
    assert {mine["id"], theirs["id"]} <= {h["id"] for h in admin_sees["items"]}


async def test_the_secret_is_shown_at_creation_only(gateway_client: httpx.AsyncClient) -> None:
    created = await create(gateway_client, ADMIN)
    assert created.status_code == 201
    assert created.json()["secret"].startswith("whsec_")
    assert created.headers["location"] == f"/v1/webhooks/{created.json()['id']}"
    read = await gateway_client.get(created.headers["location"], headers=ADMIN)
    assert "secret" not in read.json()
    assert created.json()["secret"] not in read.text


@pytest.mark.parametrize(
    "url", ["http://93.184.215.14/hook", "https://127.0.0.1/hook", "https://10.0.0.8/x"]
)
async def test_an_unsafe_url_is_a_422_problem(gateway_client: httpx.AsyncClient, url: str) -> None:
    response = await create(gateway_client, ADMIN, url)
    assert response.status_code == 422
    assert response.json()["errors"][0]["location"] == "/body/url"


async def test_a_loopback_url_is_allowed_when_the_setting_says_so(
    gateway_client: httpx.AsyncClient, reporting_app: FastAPI
) -> None:
    reporting_app.state.settings.webhook_allow_private_urls = True
    assert (await create(gateway_client, ADMIN, RECEIVER)).status_code == 201


async def test_unknown_event_types_are_refused_and_the_known_ones_listed(
    gateway_client: httpx.AsyncClient,
) -> None:
    body = {"url": PUBLIC_URL, "event_types": ["factory.exploded"]}
    refused = await gateway_client.post("/v1/webhooks", json=body, headers=ADMIN)
    assert refused.status_code == 422
    listed = (await gateway_client.get("/v1/webhooks/event-types", headers=BRAND_X)).json()
    assert [t["type"] for t in listed["items"]] == list(EVENT_TYPES)


async def test_changes_need_the_current_etag_and_delete_stops_everything(
    gateway_client: httpx.AsyncClient,
) -> None:
    created = await create(gateway_client, ADMIN)
    path = created.headers["location"]
    stale = created.headers["etag"]
    patched = await gateway_client.patch(
        path, json={"description": "ERP"}, headers={**ADMIN, "if-match": stale}
    )
    assert patched.status_code == 200 and patched.json()["description"] == "ERP"
    again = await gateway_client.patch(
        path, json={"description": "x"}, headers={**ADMIN, "if-match": stale}
    )
    assert again.status_code == 412
    gone = await gateway_client.delete(path, headers={**ADMIN, "if-match": patched.headers["etag"]})
    assert gone.status_code == 200
    assert (await gateway_client.get(path, headers=ADMIN)).status_code == 404


@pytest.mark.parametrize(
    "headers",
    [auth_header("staff"), auth_header("constituent"), auth_header("factory", factory_id="fac_1")],
)
async def test_other_roles_are_refused(
    gateway_client: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    assert (await create(gateway_client, headers)).status_code == 403


async def test_one_holder_at_a_time_and_an_expired_lease_is_taken_over(
    reporting_app: FastAPI,
) -> None:
    db = reporting_app.state.db
    # Leases long enough for a loaded machine, but for the one meant to run out.
    assert await acquire(db, "job", "replica-a", ttl=30)
    assert not await acquire(db, "job", "replica-b", ttl=30)
    assert await acquire(db, "job", "replica-a", ttl=0.3)  # renewal, shortened
    await asyncio.sleep(0.35)  # replica-a stops renewing (killed)
    assert await acquire(db, "job", "replica-b", ttl=30)
    assert not await acquire(db, "job", "replica-a", ttl=30)


async def test_only_the_leader_runs_the_work_and_a_stand_by_takes_over(
    reporting_app: FastAPI,
) -> None:
    db = reporting_app.state.db
    runs: list[str] = []

    def work(name: str):  # type: ignore[no-untyped-def]
        async def run() -> None:
            runs.append(name)
            await asyncio.Event().wait()

        return run

    # A lease of 3 s: a leader renewing every second keeps it however loaded the machine; the
    # stand-by, trying every second too, takes over once the leader's clean stop releases it.
    first, second = Leadership(db, "job2", 3.0, "a"), Leadership(db, "job2", 3.0, "b")
    task_a = asyncio.create_task(first.run(work("a")))
    await asyncio.sleep(0.05)
    task_b = asyncio.create_task(second.run(work("b")))
    await asyncio.sleep(0.3)
    assert runs == ["a"] and first.leading and not second.leading
    task_a.cancel()  # a clean stop releases the lease at once
    await asyncio.gather(task_a, return_exceptions=True)
    for _ in range(100):
        if runs == ["a", "b"]:
            break
        await asyncio.sleep(0.05)
    assert runs == ["a", "b"] and second.leading
    task_b.cancel()
    await asyncio.gather(task_b, return_exceptions=True)
