"""Webhooks with real processes: reporting (uvicorn) pulling a fake source's feeds and sending to
a receiver process that answers slowly, so a kill -9 lands while a delivery is in flight.

- One replica killed with SIGKILL mid-delivery, three times, then restarted: every delivery
  reaches the receiver, in order, and a duplicate carries the same webhook-id and body.
- Two replicas on one database: the sync and the deliverer run in one of them only (one lease
  holder, nothing sent twice); kill -9 of the leader and the survivor takes over within seconds.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from services.common.db import Database
from services.reporting.models import WorkerLease
from services.reporting.sync.lifespan import DELIVERY_LEASE, SYNC_LEASE
from services.reporting.webhooks import signing
from services.reporting.webhooks.models import WebhookDelivery, WebhookSubscription
from tests.reporting.feedgen import generate_programme
from tests.support import TEST_AUTH, free_port

pytestmark = pytest.mark.processes

REPO = Path(__file__).resolve().parents[2]
SEED, FACTORIES = 31, 4
WAIT = 90.0
TYPES = ["factory.changed", "assessment.published", "assessment.revised", "training.attendance"]


def expected_deliveries() -> int:
    """One per factory event, published assessment and training session of the programme."""
    programme = generate_programme(seed=SEED, factories=FACTORIES, cycles=3)
    events = programme.assessment.events + programme.training.events
    return sum(
        e["aggregate_type"] in ("factory", "training_session")
        or e["event_type"] == "assessment.published"
        for e in events
    )


def wait_for_http(url: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + WAIT
    while True:
        try:
            httpx.get(url, timeout=1.0)
            return
        except httpx.HTTPError:
            assert process.poll() is None, f"{url}: the process exited"
            assert time.monotonic() < deadline, f"{url} did not start"
            time.sleep(0.1)


def start(args: list[str], url: str) -> subprocess.Popen[bytes]:
    process = subprocess.Popen([sys.executable, *args], cwd=REPO, env={**os.environ, **auth()})
    wait_for_http(url, process)
    return process


def auth() -> dict[str, str]:
    return {
        "AUTH_JWT_SECRET": TEST_AUTH.jwt_secret,
        "AUTH_ISSUER": TEST_AUTH.issuer,
        "AUTH_AUDIENCE": TEST_AUTH.audience,
    }


@pytest.fixture
def servers(tmp_path: Path) -> Iterator[tuple[str, str, Path]]:
    """The fake source (both feeds) and the slow receiver; their URLs and the receiver's log."""
    feed_port, hook_port = free_port(), free_port()
    log = tmp_path / "received.jsonl"
    log.touch()
    feed_args = ["--port", str(feed_port), "--seed", str(SEED), "--factories", str(FACTORIES)]
    feed = start(
        ["-m", "tests.reporting.fake_feed_server", *feed_args],
        f"http://127.0.0.1:{feed_port}/assessment/internal/v1/changes",
    )
    hook_args = ["--port", str(hook_port), "--log", str(log), "--delay", "0.15"]
    receiver = start(
        ["-m", "tests.reporting.webhooks.receiver_server", *hook_args],
        f"http://127.0.0.1:{hook_port}/",
    )
    yield f"http://127.0.0.1:{feed_port}", f"http://127.0.0.1:{hook_port}/hook", log
    for process in (feed, receiver):
        process.terminate()
        process.wait(timeout=10)


def reporting_env(database: Database, feed_url: str) -> dict[str, str]:
    env = {
        **os.environ,
        **auth(),
        "REPORTING_DATABASE_URL": database.url,
        "REPORTING_ASSESSMENT_URL": feed_url + "/assessment",
        "REPORTING_TRAINING_URL": feed_url + "/training",
        "REPORTING_SYNC_PAGE_SIZE": "5",
        "REPORTING_SYNC_INTERVAL_SECONDS": "0.2",
        "REPORTING_WEBHOOK_ALLOW_PRIVATE_URLS": "true",
        "REPORTING_WEBHOOK_POLL_SECONDS": "0.1",
        "REPORTING_WEBHOOK_TIMEOUT_SECONDS": "2",
        "REPORTING_WEBHOOK_LEASE_SECONDS": "3",
        # Long enough that a leader starved of CPU under CI load keeps its lease; a take-over
        # after a kill -9 still comes within this many seconds.
        "REPORTING_LEADER_LEASE_SECONDS": "4",
    }
    if database.schema:
        env["REPORTING_DB_SCHEMA"] = database.schema
    return env


async def start_reporting(env: dict[str, str]) -> asyncio.subprocess.Process:
    port = free_port()
    command = [sys.executable, "-m", "uvicorn", "services.reporting.app:create_app", "--factory"]
    command += ["--port", str(port), "--log-level", "warning", "--no-access-log"]
    return await asyncio.create_subprocess_exec(*command, cwd=REPO, env=env)


async def subscribe(database: Database, url: str) -> str:
    """An admin subscription that predates the programme's events (the feed's clock is 2023)."""
    secret = signing.new_secret()
    async with database.sessionmaker() as session:
        session.add(
            WebhookSubscription(
                id="whk_e2e",
                url=url,
                event_types=TYPES,
                owner_subject="e2e",
                owner_role="admin",
                secret=secret,
                created_at=datetime(2000, 1, 1, tzinfo=UTC),
            )
        )
        await session.commit()
    return secret


def received(log: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in log.read_text().splitlines() if line.strip()]


async def queued(database: Database) -> list[WebhookDelivery]:
    async with database.sessionmaker() as session:
        stmt = select(WebhookDelivery).order_by(WebhookDelivery.seq)  # type: ignore[arg-type]
        return list((await session.execute(stmt)).scalars())


async def wait_until(condition: Any, what: str) -> None:
    deadline = time.monotonic() + WAIT
    while not await condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.05)


async def all_sent(database: Database) -> bool:
    rows = await queued(database)
    return len(rows) == expected_deliveries() and all(r.status == "succeeded" for r in rows)


def check_received(log: Path, rows: list[WebhookDelivery], secret: str) -> list[dict[str, Any]]:
    """Every queued delivery arrived, first arrivals in queue order, every copy signed, and
    copies of one webhook-id identical."""
    got = received(log)
    first_seen = list(dict.fromkeys(r["id"] for r in got))
    assert first_seen == [row.id for row in rows]
    bodies: dict[str, str] = {}
    for record in got:
        headers = {
            "webhook-id": record["id"],
            "webhook-timestamp": record["timestamp"],
            "webhook-signature": record["signature"],
        }
        signing.verify(secret, headers, record["body"].encode(), now=int(record["timestamp"]))
        assert bodies.setdefault(record["id"], record["body"]) == record["body"]
    return got


async def test_kill_9_mid_delivery_loses_nothing_and_repeats_the_same_webhook_id(
    reporting_app: FastAPI, servers: tuple[str, str, Path]
) -> None:
    feed_url, hook_url, log = servers
    database: Database = reporting_app.state.db
    secret = await subscribe(database, hook_url)
    env = reporting_env(database, feed_url)
    for _kill in range(3):
        before = len(received(log))
        process = await start_reporting(env)

        async def more_arrived(before: int = before) -> bool:
            return len(received(log)) > before

        try:
            await wait_until(more_arrived, "a delivery to arrive")
        finally:  # killed on a failure too: a stray replica would outlive the test
            process.send_signal(signal.SIGKILL)  # the receiver is still answering it
            await process.wait()
    assert not await all_sent(database), "the kills should have come before the end"

    process = await start_reporting(env)
    try:
        await wait_until(lambda: all_sent(database), "every delivery to succeed")
    finally:
        process.terminate()
        await process.wait()
    rows = await queued(database)
    got = check_received(log, rows, secret)
    assert len(rows) == expected_deliveries()
    assert len(got) > len(rows), "a kill mid-delivery should have caused a redelivery"


async def holder(database: Database, name: str) -> str | None:
    async with database.sessionmaker() as session:
        lease = await session.get(WorkerLease, name)
        if lease is None:
            return None
        expires = lease.expires_at.replace(tzinfo=lease.expires_at.tzinfo or UTC)
        return lease.holder if expires > datetime.now(UTC) else None


async def test_two_replicas_do_the_work_once_and_the_survivor_takes_over_from_a_killed_leader(
    reporting_app: FastAPI, servers: tuple[str, str, Path]
) -> None:
    feed_url, hook_url, log = servers
    database: Database = reporting_app.state.db
    secret = await subscribe(database, hook_url)
    env = reporting_env(database, feed_url)
    first = await start_reporting(env)

    async def both_led() -> bool:
        held = {await holder(database, SYNC_LEASE), await holder(database, DELIVERY_LEASE)}
        return None not in held

    await wait_until(both_led, "a leader of the sync and of the deliveries")
    second = await start_reporting(env)
    try:
        leaders = {await holder(database, SYNC_LEASE), await holder(database, DELIVERY_LEASE)}
        assert leaders == {f"{os.uname().nodename}:{first.pid}"}

        async def some_arrived() -> bool:
            return len(received(log)) >= 5

        await wait_until(some_arrived, "deliveries from the leader")
        assert {await holder(database, DELIVERY_LEASE)} == leaders  # no hand-over while alive
        first.send_signal(signal.SIGKILL)
        killed_at = time.monotonic()
        await first.wait()

        async def taken_over() -> bool:
            return await holder(database, DELIVERY_LEASE) == f"{os.uname().nodename}:{second.pid}"

        await wait_until(taken_over, "the survivor to take over")
        print(f"\nsurvivor took over {time.monotonic() - killed_at:.2f} s after kill -9")
        await wait_until(lambda: all_sent(database), "every delivery to succeed")
    finally:
        for process in (first, second):
            if process.returncode is None:
                process.terminate()
                await process.wait()
    rows = await queued(database)
    got = check_received(log, rows, secret)
    # At most the one in flight at the kill came twice; nothing else was sent by both.
    assert len(got) - len(rows) <= 1
