"""Test plumbing shared by every test package: databases on SQLite or PostgreSQL, tokens."""

from __future__ import annotations

import asyncio
import os
import uuid
from pathlib import Path

from sqlalchemy import MetaData, delete, text

from services.common.auth import mint_token
from services.common.db import Database, make_engine
from services.common.migrate import upgrade
from services.common.settings import AuthSettings

TEST_DATABASE_URL = os.environ.get("TEST_DATABASE_URL")
RUN_ID = uuid.uuid4().hex[:8]

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


async def migrated_database(service: str, tmp_dir: Path) -> Database:
    url, schema = database_location(service, tmp_dir)
    await asyncio.to_thread(upgrade, service, url, schema)
    return Database(url, schema)


async def drop_schema(url: str, schema: str | None) -> None:
    if schema is None:
        return
    engine = make_engine(url)
    async with engine.begin() as conn:
        await conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
    await engine.dispose()


async def empty_tables(database: Database, metadata: MetaData) -> None:
    async with database.sessionmaker() as session:
        for table in reversed(metadata.sorted_tables):
            await session.execute(delete(table))
        await session.commit()


def token(role: str, *, ttl_seconds: int = 600, **claims: str | None) -> str:
    return mint_token(TEST_AUTH, role=role, ttl_seconds=ttl_seconds, **claims)


def auth_header(role: str, **claims: str | None) -> dict[str, str]:
    return {"authorization": f"Bearer {token(role, **claims)}"}
