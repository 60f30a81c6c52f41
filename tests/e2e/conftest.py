"""Fixtures for tests that start real processes the way `make run` does."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from bw.runner import Platform
from tests.database_templates import clone_pg, copy_sqlite, drop_pg, run_id
from tests.support import RUN_ID, TEST_AUTH, TEST_DATABASE_URL, drop_schema, free_port

SERVICES = ("assessment", "training", "reporting")


def platform_env(var_dir: Path, tag: str) -> dict[str, str]:
    env = {
        **os.environ,
        "BW_VAR_DIR": str(var_dir),
        "AUTH_JWT_SECRET": TEST_AUTH.jwt_secret,
        "AUTH_ISSUER": TEST_AUTH.issuer,
        "AUTH_AUDIENCE": TEST_AUTH.audience,
    }
    env.pop("DATABASE_URL", None)
    if TEST_DATABASE_URL:
        env["DATABASE_URL"] = TEST_DATABASE_URL
        for service in SERVICES:
            env[f"{service.upper()}_DB_SCHEMA"] = f"t_{RUN_ID}_{tag}_{service}"
    return env


def bw(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bw.main", *args],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )


@contextmanager
def migrated_databases(var_dir: Path, tag: str) -> Iterator[dict[str, str]]:
    """The platform's environment over freshly migrated databases, copied from the run's
    template (what `bw migrate` would build, without its process start-up and migrations)."""
    env = platform_env(var_dir, tag)
    if not TEST_DATABASE_URL:
        for service in SERVICES:
            copy_sqlite(service, var_dir / f"{service}.db")
        yield env
        return
    clone = f"bw_e2e_{run_id()}_{RUN_ID}_{tag}"
    cloned_url = asyncio.run(clone_pg(TEST_DATABASE_URL, clone))
    if cloned_url is None:  # this role may not create databases: migrate private schemas
        bw("migrate", env=env)
        try:
            yield env
        finally:
            for service in SERVICES:
                asyncio.run(drop_schema(TEST_DATABASE_URL, env[f"{service.upper()}_DB_SCHEMA"]))
        return
    env["DATABASE_URL"] = cloned_url
    for service in SERVICES:
        env[f"{service.upper()}_DB_SCHEMA"] = service
    try:
        yield env
    finally:
        asyncio.run(drop_pg(TEST_DATABASE_URL, clone))


@pytest.fixture
def migrated_env(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[dict[str, str]]:
    """A test's own platform environment over freshly migrated databases."""
    tag = request.node.name[-6:].replace("[", "").replace("]", "").lower()
    with migrated_databases(tmp_path / "var", tag) as env:
        yield env


def start_platform(env: dict[str, str], attempts: int = 3) -> Platform:
    """The four apps on free ports; a port taken between choosing and binding it (another
    program on the machine) costs a retry on new ports, not a failed test."""
    for attempt in range(1, attempts + 1):
        ports = {name: free_port() for name in (*SERVICES, "gateway")}
        running = Platform(host="127.0.0.1", ports=ports, env=env)
        running.start()
        try:
            running.wait_ready(timeout=60)
            return running
        except RuntimeError:  # a process exited at startup
            running.stop()
            if attempt == attempts:
                raise
    raise AssertionError("unreachable")


@pytest.fixture
def platform(migrated_env: dict[str, str]) -> Iterator[Platform]:
    running = start_platform(migrated_env)
    try:
        yield running
    finally:
        running.stop()
