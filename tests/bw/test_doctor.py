"""`bw doctor`: every row ok on a deployment that has what it needs, and each missing thing
named with what to do, and exit code 1."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from typer.testing import CliRunner

from bw.doctor import check_redis, gather_findings
from bw.main import app
from bw.resync import resync_reporting
from gateway.settings import GatewaySettings
from services.common.db import Database
from tests.bw.conftest import closed_port, point_bw_at
from tests.support import TEST_AUTH

runner = CliRunner()


async def test_a_deployment_with_what_it_needs_is_all_ok(
    monkeypatch: pytest.MonkeyPatch,
    assessment_database: Database,
    training_database: Database,
    reporting_database: Database,
    assessment_app: FastAPI,
    training_app: FastAPI,
    reporting_app: FastAPI,
    gateway_app: FastAPI,
) -> None:
    point_bw_at(
        monkeypatch,
        {
            "assessment": assessment_database,
            "training": training_database,
            "reporting": reporting_database,
        },
    )
    monkeypatch.delenv("REDIS_URL", raising=False)
    await resync_reporting(TEST_AUTH)  # reporting has just caught up with both feeds
    gateway = GatewaySettings()
    urls = gateway.service_urls()
    served = {"assessment": assessment_app, "training": training_app, "reporting": reporting_app}
    mounts: dict[str, httpx.AsyncBaseTransport] = {
        urls[name]: httpx.ASGITransport(app=service) for name, service in served.items()
    }
    mounts[f"http://127.0.0.1:{gateway.port}"] = httpx.ASGITransport(app=gateway_app)

    findings = await gather_findings(max_lag=300, mounts=mounts)

    assert [f for f in findings if not f.ok] == []
    checks = {f.check for f in findings}
    assert {"assessment database", "reporting database", "token secret", "PDF rendering"} <= checks
    assert {"PDF fonts", "gateway", "reporting service", "redis"} <= checks
    assert {"reporting feed: assessment", "reporting feed: training"} <= checks


def test_each_missing_thing_is_a_row_saying_what_to_do(
    sqlite_deployment: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "400")  # one table row per line, whatever the detail
    monkeypatch.delenv("AUTH_JWT_SECRET", raising=False)
    monkeypatch.delenv("AUTH_JWT_SECRET_FILE", raising=False)
    monkeypatch.delenv("BW_ENV", raising=False)
    for name in ("ASSESSMENT", "TRAINING", "REPORTING"):
        monkeypatch.setenv(f"GATEWAY_{name}_URL", f"http://127.0.0.1:{closed_port()}")
    monkeypatch.setenv("GATEWAY_PORT", str(closed_port()))
    monkeypatch.setenv("REDIS_URL", f"redis://127.0.0.1:{closed_port()}/0")
    first = runner.invoke(app, ["migrate", "assessment", "--revision", "f1d2b75fecef"])
    assert first.exit_code == 0, first.output

    result = runner.invoke(app, ["doctor"])

    assert result.exit_code == 1, result.output
    rows = {line.split("│")[1].strip(): line for line in result.stdout.splitlines() if "│" in line}
    assert "migrations pending: bw migrate" in rows["assessment database"]
    assert "not created" in rows["training database"]
    assert "built-in development secret" in rows["token secret"]
    assert "AUTH_JWT_SECRET" in rows["token secret"]
    assert "does not answer" in rows["gateway"] and "does not answer" in rows["training service"]
    assert "unreachable" in rows["redis"]
    assert "run `bw migrate`" in rows["reporting feeds"]


def test_development_mode_allows_the_built_in_secret_with_a_note(
    sqlite_deployment: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "400")
    monkeypatch.delenv("AUTH_JWT_SECRET", raising=False)
    monkeypatch.setenv("BW_ENV", "development")
    result = runner.invoke(app, ["doctor"])
    [row] = [line for line in result.stdout.splitlines() if "token secret" in line]
    assert "note" in row and "never outside development" in row


@pytest.fixture
async def fake_redis() -> AsyncIterator[dict[str, str]]:
    """A server speaking just enough of Redis's protocol; ``answers`` sets its reply."""
    answers = {"PING": "+PONG"}

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while header := await reader.readline():
            words = []
            for _ in range(int(header[1:])):
                await reader.readline()  # $length
                words.append((await reader.readline()).decode().strip())
            writer.write((answers.get(words[0], "+OK") + "\r\n").encode())
            await writer.drain()
        writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    answers["url"] = f"redis://127.0.0.1:{port}/0"
    async with server:
        yield answers


async def test_redis_that_answers_is_ok(fake_redis: dict[str, str]) -> None:
    finding = await check_redis(fake_redis["url"])
    assert finding.ok, finding.detail


async def test_redis_that_wants_a_password_is_flagged(fake_redis: dict[str, str]) -> None:
    fake_redis["PING"] = "-NOAUTH Authentication required."
    finding = await check_redis(fake_redis["url"])
    assert not finding.ok and "NOAUTH" in finding.detail


async def test_not_a_redis_url_is_flagged() -> None:
    finding = await check_redis("http://127.0.0.1:6379")
    assert not finding.ok and "redis://host:port" in finding.detail


async def test_each_replica_of_a_service_is_checked_on_its_own_row(
    sqlite_deployment: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """GATEWAY_TRAINING_URL lists two replicas: the one answering is ok, the dead one is
    flagged by its own URL (not a comma-joined string nothing could connect to)."""
    alive = "http://127.0.0.1:18002"
    dead = f"http://127.0.0.1:{closed_port()}"
    monkeypatch.setenv("GATEWAY_TRAINING_URL", f"{alive}, {dead}")
    monkeypatch.setenv("GATEWAY_ASSESSMENT_URL", alive)
    ready = FastAPI()

    @ready.get("/health/ready")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    findings = await gather_findings(max_lag=300, mounts={alive: httpx.ASGITransport(app=ready)})

    rows = {f.check: f for f in findings}
    assert rows["training service 1/2"].ok
    assert rows["training service 1/2"].detail == f"ready at {alive}"
    assert not rows["training service 2/2"].ok
    assert dead.removeprefix("http://") in rows["training service 2/2"].detail
    assert rows["assessment service"].ok  # a single URL keeps its plain row
    assert "training service" not in rows
