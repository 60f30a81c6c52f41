"""No app starts with the built-in development secret unless BW_ENV=development says it may:
such a deployment would accept admin tokens from anyone who has read this repository."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi import FastAPI

from gateway.app import create_app as create_gateway
from gateway.settings import GatewaySettings
from services.assessment.app import create_app as create_assessment
from services.common.db import Database
from services.common.settings import DEV_JWT_SECRET, InsecureSettings
from services.reporting.app import create_app as create_reporting
from services.reporting.settings import ReportingSettings
from services.training.app import create_app as create_training
from tests.e2e.conftest import free_port

REAL_SECRET = "a-secret-of-our-own-that-is-long-enough-0123456789"
AppFactory = Callable[[Database, Database, Database], FastAPI]

APPS: dict[str, AppFactory] = {
    "assessment": lambda a, _t, _r: create_assessment(database=a),
    "training": lambda _a, t, _r: create_training(database=t),
    "reporting": lambda _a, _t, r: create_reporting(
        ReportingSettings(sync_enabled=False), database=r
    ),
    "gateway": lambda _a, _t, _r: create_gateway(GatewaySettings()),
}


@pytest.fixture(autouse=True)
def production_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Neither a development flag nor a secret of one's own, unless a test sets them."""
    for name in ("BW_ENV", "AUTH_JWT_SECRET", "AUTH_JWT_SECRET_FILE"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(params=sorted(APPS))
def build(
    request: pytest.FixtureRequest,
    assessment_database: Database,
    training_database: Database,
    reporting_database: Database,
) -> Callable[[], FastAPI]:
    """Builds the app when called, so that it reads the environment the test has set."""
    factory = APPS[request.param]
    return lambda: factory(assessment_database, training_database, reporting_database)


async def starts(app: FastAPI) -> bool:
    async with app.router.lifespan_context(app):
        return True


async def test_refuses_to_start_with_the_built_in_secret(build: Callable[[], FastAPI]) -> None:
    with pytest.raises(InsecureSettings, match="set AUTH_JWT_SECRET"):
        await starts(build())


async def test_refuses_the_built_in_secret_from_a_file(
    build: Callable[[], FastAPI], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    secret_file = tmp_path / "jwt-secret"
    secret_file.write_text(DEV_JWT_SECRET + "\n")
    monkeypatch.setenv("AUTH_JWT_SECRET_FILE", str(secret_file))
    with pytest.raises(InsecureSettings):
        await starts(build())


async def test_starts_with_the_built_in_secret_in_development(
    build: Callable[[], FastAPI], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BW_ENV", "development")
    assert await starts(build())


async def test_starts_with_a_secret_of_its_own(
    build: Callable[[], FastAPI], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AUTH_JWT_SECRET", REAL_SECRET)
    monkeypatch.setenv("BW_ENV", "production")
    assert await starts(build())


@pytest.mark.processes
def test_a_service_process_exits_naming_the_variable_to_set(tmp_path: Path) -> None:
    command = [sys.executable, "-m", "uvicorn", "services.assessment.app:create_app"]
    command += ["--factory", "--port", str(free_port())]
    finished = subprocess.run(
        command,
        env={"PATH": "/usr/bin:/bin", "BW_VAR_DIR": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert finished.returncode != 0
    assert "set AUTH_JWT_SECRET" in finished.stderr
