"""Test plumbing shared by every test package: databases on SQLite or PostgreSQL, tokens."""

from __future__ import annotations

import asyncio
import os
import random
import socket
import uuid
from pathlib import Path

from sqlalchemy import MetaData, text

from services.common.auth import mint_token
from services.common.db import Database, make_engine
from services.common.migrate import upgrade
from services.common.settings import AuthSettings
from tests.database_templates import clone_pg, copy_sqlite, drop_pg, run_id, sqlite_url

TEST_DATABASE_URL = os.environ.get("TEST_DATABASE_URL")
RUN_ID = uuid.uuid4().hex[:8]  # this process's own: xdist workers of one run differ
# Tokens minted at import time (module constants) must outlive the slowest session.
DEFAULT_TOKEN_TTL_SECONDS = 6 * 3600

TEST_AUTH = AuthSettings(
    jwt_secret="test-secret-that-is-long-enough-for-hs256-0123456789",
    issuer="bw-test",
    audience="bw-platform",
)


def backend() -> str:
    return "postgresql" if TEST_DATABASE_URL else "sqlite"


def database_location(service: str, tmp_dir: Path) -> tuple[str, str | None]:
    """A fresh, private place for one service's tables: a SQLite file or a PostgreSQL schema."""
    if TEST_DATABASE_URL:
        return TEST_DATABASE_URL, f"t_{RUN_ID}_{service}"
    return f"sqlite+aiosqlite:///{tmp_dir / (service + '.db')}", None


_worker_database: dict[str, str | None] = {}


def worker_database_name() -> str:
    return f"bw_w_{run_id()}_{RUN_ID}"


async def _worker_database_url() -> str | None:
    """This process's clone of the PostgreSQL template (None: no template possible here)."""
    assert TEST_DATABASE_URL
    if "url" not in _worker_database:
        _worker_database["url"] = await clone_pg(TEST_DATABASE_URL, worker_database_name())
    return _worker_database["url"]


async def drop_worker_database() -> None:
    if TEST_DATABASE_URL and _worker_database.pop("url", None):
        await drop_pg(TEST_DATABASE_URL, worker_database_name())


async def migrated_database(service: str, tmp_dir: Path) -> Database:
    """A migrated, private database for one service, copied from the run's template."""
    if TEST_DATABASE_URL:
        cloned = await _worker_database_url()
        if cloned is not None:
            return Database(cloned, service)
        url, schema = database_location(service, tmp_dir)
        await asyncio.to_thread(upgrade, service, url, schema)
        return Database(url, schema)
    path = await asyncio.to_thread(copy_sqlite, service, tmp_dir / f"{service}.db")
    return Database(sqlite_url(path))


async def drop_schema(url: str, schema: str | None) -> None:
    if schema is None:
        return
    engine = make_engine(url)
    async with engine.begin() as conn:
        await conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
    await engine.dispose()


def _delete_statements(metadata: MetaData) -> list[str]:
    """Children first, so foreign keys never object. DELETE, not TRUNCATE: ids keep counting
    up as they do in production, and PostgreSQL's TRUNCATE of small tables is slower."""
    return [f'DELETE FROM "{table.name}"' for table in reversed(metadata.sorted_tables)]


async def empty_tables(database: Database, metadata: MetaData) -> None:
    statements = _delete_statements(metadata)
    async with database.engine.connect() as conn:
        if database.is_sqlite:
            async with conn.begin():
                for statement in statements:
                    await conn.exec_driver_sql(statement)
            return
        # One round trip: a multi-statement simple query runs as one implicit transaction.
        raw = await conn.get_raw_connection()
        await raw.driver_connection.execute(";".join(statements))  # type: ignore[union-attr]


def token(role: str, *, ttl_seconds: int = DEFAULT_TOKEN_TTL_SECONDS, **claims: str | None) -> str:
    return mint_token(TEST_AUTH, role=role, ttl_seconds=ttl_seconds, **claims)


def auth_header(role: str, **claims: str | None) -> dict[str, str]:
    return {"authorization": f"Bearer {token(role, **claims)}"}


# Ports for test servers come from below the kernel's ephemeral range (32768-60999 on Linux):
# a port bind(0) hands out and releases can be given at once to another process's outgoing
# connection or bind(0), so a server started on it a moment later finds it taken (seen under
# CI, with both database passes and their workers opening connections all the while).
TEST_PORTS = range(20_000, 32_000)


def free_port() -> int:
    """A local port nothing listens on now, out of the kernel's way; for a test server to take
    (or, closed, for a test of a refused connection)."""
    for _ in range(200):
        port = random.choice(TEST_PORTS)
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port for a test server")
