"""Two replicas of every service on one PostgreSQL database, 50 clients through the gateway, and
kill -9 of one replica of each service mid-load: no idempotent request fails, and afterwards the
reports equal their sources (issue 12).

Every request of the load is idempotent (GETs, and creates sent with an Idempotency-Key), so the
gateway may retry any of them on the surviving replica. Killed: the first replica of assessment
and of training (the one reporting's feed readers and training's reference checks try first, so
they must pass over it to the second), and the reporting replica that holds the sync lease at
that moment, so the other must take the sync over.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import signal
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from bw.runner import Platform
from services.common.db import make_engine
from services.common.feed_order import FeedPosition
from tests.e2e.conftest import SERVICES, free_port
from tests.support import TEST_DATABASE_URL, auth_header

pytestmark = [
    pytest.mark.processes,
    pytest.mark.skipif(
        not TEST_DATABASE_URL, reason="PostgreSQL pass only: replicas share one database"
    ),
]

CLIENTS = 50
# Guards against a hung test; nothing asserts how long anything took.
PATIENCE = 90.0
STAFF = auth_header("staff")


@dataclass
class Outcome:
    kind: str
    started: float
    status: int | None  # None: the request failed without an answer
    error: str = ""
    feed_event: str | None = None
    created_id: str | None = None


def factory_body(n: int) -> dict[str, Any]:
    return {"name": f"Namangan Tikuv {n}", "country": "UZ", "region": "Namangan"}


def course_body(n: int) -> dict[str, Any]:
    return {
        "code": f"CHAOS-{n}-{uuid.uuid4().hex[:6]}",
        "title": {"en": "Workplace cooperation", "uz": "Ish joyida hamkorlik"},
        "topic": "workplace_cooperation",
        "duration_days": 1,
    }


async def one_request(client: httpx.AsyncClient, kind: str, n: int) -> Outcome:
    started = time.monotonic()
    keyed = {**STAFF, "idempotency-key": str(uuid.uuid4())}
    try:
        if kind == "factory_write":
            response = await client.post("/v1/factories", json=factory_body(n), headers=keyed)
        elif kind == "course_write":
            response = await client.post("/v1/courses", json=course_body(n), headers=keyed)
        elif kind == "factory_read":
            response = await client.get("/v1/factories", params={"limit": 20}, headers=STAFF)
        elif kind == "course_read":
            response = await client.get("/v1/courses", params={"limit": 20}, headers=STAFF)
        else:
            response = await client.get("/v1/reports/freshness", headers=STAFF)
    except httpx.HTTPError as exc:
        return Outcome(kind, started, None, f"{type(exc).__name__}: {exc}")
    created = response.json().get("id") if response.status_code == 201 else None
    return Outcome(
        kind,
        started,
        response.status_code,
        response.text[:300] if response.status_code >= 300 else "",
        response.headers.get("feed-event"),
        created,
    )


KINDS = ["factory_read", "factory_write", "course_read", "course_write", "report_read"]


async def load(gateway: str, stop: asyncio.Event, outcomes: list[Outcome]) -> None:
    counter = itertools.count()
    limits = httpx.Limits(max_connections=CLIENTS, max_keepalive_connections=CLIENTS)

    async with httpx.AsyncClient(base_url=gateway, timeout=30.0, limits=limits) as client:

        async def one_client() -> None:
            while not stop.is_set():
                n = next(counter)
                outcomes.append(await one_request(client, KINDS[n % len(KINDS)], n))

        await asyncio.gather(*(one_client() for _ in range(CLIENTS)))


async def sync_leader_pid(env: dict[str, str]) -> int | None:
    engine = make_engine(env["DATABASE_URL"])
    try:
        async with engine.connect() as conn:
            holder = await conn.scalar(
                text(
                    f'SELECT holder FROM "{env["REPORTING_DB_SCHEMA"]}".worker_lease '
                    "WHERE name = 'reporting-sync'"
                )
            )
    finally:
        await engine.dispose()
    return int(str(holder).rsplit(":", 1)[1]) if holder else None


async def until(condition: Callable[[], bool], deadline: float) -> None:
    while True:
        if condition() or time.monotonic() > deadline:
            return
        await asyncio.sleep(0.1)


async def chaos(platform: Platform, env: dict[str, str]) -> tuple[list[Outcome], float, list[str]]:
    outcomes: list[Outcome] = []
    stop = asyncio.Event()
    running = asyncio.create_task(load(platform.url("gateway"), stop, outcomes))
    deadline = time.monotonic() + PATIENCE
    await until(lambda: len(outcomes) >= 300 or running.done(), deadline)
    leader = await sync_leader_pid(env)
    replicas = platform.replica_names("reporting")
    holders = [n for n in replicas if platform.processes[n].pid == leader]
    assert holders, f"no reporting replica holds the sync lease (holder pid {leader})"
    reporting = holders[0]
    killed = ["assessment", "training", reporting]
    for name in killed:
        os.kill(platform.processes[name].pid, signal.SIGKILL)
    killed_at = time.monotonic()
    before = len(outcomes)
    await until(lambda: len(outcomes) >= before + 600 or running.done(), deadline)
    stop.set()
    await running
    return outcomes, killed_at, killed


async def wait_applied(gateway: str, events: list[str]) -> dict[str, Any]:
    """Poll freshness until reporting has applied each source's last written event."""
    deadline = time.monotonic() + PATIENCE
    answers: dict[str, Any] = {}
    async with httpx.AsyncClient(base_url=gateway, timeout=10.0) as client:
        for event in events:
            while time.monotonic() < deadline:
                response = await client.get(
                    "/v1/reports/freshness", params={"event": event}, headers=STAFF
                )
                answers[event] = response.json().get("event")
                if response.status_code == 200 and answers[event]["applied"]:
                    break
                await asyncio.sleep(0.5)
    return answers


async def ids(env: dict[str, str], service: str, table: str) -> set[str]:
    engine = make_engine(env["DATABASE_URL"])
    schema = env[f"{service.upper()}_DB_SCHEMA"]
    try:
        async with engine.connect() as conn:
            rows = await conn.execute(text(f'SELECT id FROM "{schema}".{table}'))
            return {str(r[0]) for r in rows}
    finally:
        await engine.dispose()


def last_event(outcomes: list[Outcome], source: str) -> str:
    """The source's last event in feed order (``<txid>.<id>`` positions on PostgreSQL)."""
    positions = [
        FeedPosition.parse(o.feed_event.split(":")[1])
        for o in outcomes
        if o.feed_event and o.feed_event.startswith(f"{source}:")
    ]
    return f"{source}:{max(positions, key=FeedPosition.key)}"


def test_killing_one_replica_of_each_service_under_load(migrated_env: dict[str, str]) -> None:
    env = {
        **migrated_env,
        "GATEWAY_RATE_LIMIT_PER_MINUTE": "100000000",
        "GATEWAY_RATE_LIMIT_BURST": "1000000",
        "REPORTING_SYNC_INTERVAL_SECONDS": "0.5",
        "GATEWAY_HEALTH_CHECK_INTERVAL_SECONDS": "0.5",
    }
    for service in SERVICES:
        env[f"{service.upper()}_LOG_LEVEL"] = "WARNING"
    # Every process on a port the system just gave out: the ports after the highest (what
    # `bw up` uses) may be taken by another program here.
    names = [*SERVICES, *(f"{s}-2" for s in SERVICES), "gateway"]
    platform = Platform(
        host="127.0.0.1", ports={n: free_port() for n in names}, env=env, replicas=2
    )
    platform.start()
    try:
        platform.wait_ready(timeout=PATIENCE)
        outcomes, killed_at, killed = asyncio.run(chaos(platform, env))
        dead = {name: platform.processes[name].poll() for name in killed}
        events = [last_event(outcomes, "assessment"), last_event(outcomes, "training")]
        applied = asyncio.run(wait_applied(platform.url("gateway"), events))
        sources = {
            "factory": asyncio.run(ids(env, "assessment", "factory")),
            "course": asyncio.run(ids(env, "training", "course")),
        }
        read_model = {
            "factory": asyncio.run(ids(env, "reporting", "factory")),
            "course": asyncio.run(ids(env, "reporting", "course")),
        }
    finally:
        platform.stop()

    assert dead == {name: -signal.SIGKILL for name in killed}
    after_kill = [o for o in outcomes if o.started >= killed_at]
    assert len(after_kill) >= 300, "the load did not go on after the kill"
    assert {o.kind for o in after_kill} == set(KINDS)
    failed = [o for o in outcomes if o.status not in (200, 201)]
    assert not failed, f"{len(failed)} of {len(outcomes)} idempotent requests failed: " + "; ".join(
        f"{o.kind} {o.status} {o.error}" for o in failed[:10]
    )
    assert all(answer and answer["applied"] for answer in applied.values()), applied
    # Reports equal their sources: every factory and course written, once, nothing else.
    created = {
        "factory": {o.created_id for o in outcomes if o.kind == "factory_write"},
        "course": {o.created_id for o in outcomes if o.kind == "course_write"},
    }
    for table in ("factory", "course"):
        assert created[table] <= sources[table]
        assert read_model[table] == sources[table], table
