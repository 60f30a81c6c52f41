"""`bw sync` killed with SIGKILL mid-run, several times, then resumed: the read model ends up
exactly as the raw events say (nothing lost, nothing counted twice)."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from services.common.db import Database
from services.reporting.models import FeedCursor
from tests.reporting.feedgen import generate_programme
from tests.reporting.reference import counts, reference, training_totals
from tests.support import TEST_AUTH, auth_header, free_port

pytestmark = pytest.mark.processes

REPO = Path(__file__).resolve().parents[2]
SEED, FACTORIES = 31, 10
WAIT_SECONDS = 60


@pytest.fixture
def feed_server() -> Iterator[str]:
    # A free port can be taken between choosing it and binding it: try a few.
    for _attempt in range(3):
        started = _start_feed_server(free_port())
        if started is not None:
            break
    else:
        pytest.fail("the fake source did not start on any of three ports")
    process, url = started
    yield url
    process.terminate()
    process.wait(timeout=10)


def _start_feed_server(port: int) -> tuple[subprocess.Popen[bytes], str] | None:
    env = {**os.environ, **auth_env()}
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.reporting.fake_feed_server",
            "--port",
            str(port),
            "--seed",
            str(SEED),
            "--factories",
            str(FACTORIES),
            "--delay",
            "0.05",
        ],
        cwd=REPO,
        env=env,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + WAIT_SECONDS
    while True:
        try:
            httpx.get(url + "/assessment/internal/v1/changes", timeout=1.0)
            return process, url
        except httpx.HTTPError:
            if process.poll() is not None:
                return None  # exited: most likely the port was taken
            assert time.monotonic() < deadline, "the fake source did not start"
            time.sleep(0.1)


def auth_env() -> dict[str, str]:
    return {
        "AUTH_JWT_SECRET": TEST_AUTH.jwt_secret,
        "AUTH_ISSUER": TEST_AUTH.issuer,
        "AUTH_AUDIENCE": TEST_AUTH.audience,
    }


def sync_command(database: Database, source_url: str) -> tuple[list[str], dict[str, str]]:
    env = {
        **os.environ,
        **auth_env(),
        "REPORTING_DATABASE_URL": database.url,
        "REPORTING_ASSESSMENT_URL": source_url + "/assessment",
        "REPORTING_TRAINING_URL": source_url + "/training",
        "REPORTING_SYNC_PAGE_SIZE": "7",
    }
    if database.schema:
        env["REPORTING_DB_SCHEMA"] = database.schema
    return [sys.executable, "-m", "bw.main", "sync", "--retries", "0"], env


async def applied_events(database: Database) -> int:
    async with database.sessionmaker() as session:
        rows = (await session.execute(select(FeedCursor.last_event_id))).scalars().all()
        return sum(rows)


async def test_sync_survives_kill_9_at_any_point(reporting_app: FastAPI, feed_server: str) -> None:
    database: Database = reporting_app.state.db
    command, env = sync_command(database, feed_server)
    progress = 0
    for _kill in range(4):
        process = await asyncio.create_subprocess_exec(*command, cwd=REPO, env=env)
        deadline = time.monotonic() + WAIT_SECONDS
        while await applied_events(database) <= progress and process.returncode is None:
            assert time.monotonic() < deadline, "bw sync made no progress"
            await asyncio.sleep(0.02)
        if process.returncode is None:
            process.send_signal(signal.SIGKILL)
        await process.wait()
        progress = await applied_events(database)
    total = await applied_events(database)
    programme = generate_programme(seed=SEED, factories=FACTORIES, cycles=3)
    assert 0 < total < len(programme.assessment.events) + len(programme.training.events), (
        "the kills should have interrupted the sync before the end"
    )

    finished = await asyncio.create_subprocess_exec(*command, cwd=REPO, env=env)
    assert await asyncio.wait_for(finished.wait(), WAIT_SECONDS * 2) == 0
    assert await applied_events(database) == len(programme.assessment.events) + len(
        programme.training.events
    )

    expected = reference(programme)[0]
    expected_training = training_totals(programme, 2023)
    transport = httpx.ASGITransport(app=reporting_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://reporting") as client:
        staff = auth_header("staff")
        points = (
            await client.get("/v1/reports/non-compliance/compliance-points", headers=staff)
        ).json()
        questions = (await client.get("/v1/reports/non-compliance/questions", headers=staff)).json()
        activity = (await client.get("/v1/reports/activity?year=2023", headers=staff)).json()
    assert points["summary"]["factories_assessed"] == expected["factories"]
    assert {
        i["compliance_point_code"]: (i["factories_assessed"], i["factories_non_compliant"])
        for i in points["items"]
    } == counts(expected, "points")
    assert {
        i["question_code"]: (i["factories_assessed"], i["factories_non_compliant"])
        for i in questions["items"]
    } == counts(expected, "questions")
    assert activity["training"]["sessions"] == expected_training["sessions"]
    assert activity["training"]["participants"]["total"] == expected_training["participants"]
    assert activity["training"]["participants"]["female"] == expected_training["female"]
