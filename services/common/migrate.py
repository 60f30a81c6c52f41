"""Alembic plumbing shared by every service's migration environment and by `bw migrate`.

Each service has its own environment under ``migrations/<service>/``; on PostgreSQL its tables
and its ``alembic_version`` table live in the service's schema.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from alembic import command, context
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import MetaData, text
from sqlalchemy.engine import Connection

from services.common.db import is_sqlite, make_engine

REPO_ROOT = Path(__file__).resolve().parents[2]
MIGRATIONS_DIR = REPO_ROOT / "migrations"


def alembic_config(service: str, url: str, schema: str | None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR / service))
    config.set_main_option("path_separator", "os")
    config.set_main_option("version_locations", str(MIGRATIONS_DIR / service / "versions"))
    config.attributes["database_url"] = url
    config.attributes["schema"] = schema
    return config


def upgrade(service: str, url: str, schema: str | None, revision: str = "head") -> None:
    command.upgrade(alembic_config(service, url, schema), revision)


def script_directory(service: str) -> ScriptDirectory:
    return ScriptDirectory.from_config(alembic_config(service, "", None))


def head_revision(service: str) -> str:
    head = script_directory(service).get_current_head()
    assert head is not None, f"{service} has no migrations"
    return head


def first_revision(service: str) -> str:
    [base] = script_directory(service).get_bases()
    return base


def revisions_between(service: str, current: str | None, target: str = "head") -> list[str]:
    """Revisions an upgrade from ``current`` (None: an empty database) would apply, oldest first.

    Raises ``KeyError`` when ``current`` is not a revision this code knows (a newer version).
    """
    scripts = script_directory(service)
    if current is not None:
        try:
            scripts.get_revision(current)
        except Exception as exc:  # alembic raises several kinds for an unknown id
            raise KeyError(current) from exc
    steps = scripts.iterate_revisions(target, current or "base")
    return [step.revision for step in reversed(list(steps))]


async def current_revision(url: str, schema: str | None) -> str | None:
    """The revision a database is at; None when it was never migrated."""
    engine = make_engine(url, schema)
    try:
        async with engine.connect() as conn:
            return await conn.run_sync(
                lambda sync: MigrationContext.configure(
                    sync, opts={"version_table_schema": schema}
                ).get_current_revision()
            )
    finally:
        await engine.dispose()


def run_env(metadata: MetaData) -> None:
    """Body of every ``env.py``: run migrations online through an async engine."""
    config = context.config
    url: str = config.attributes["database_url"]
    schema: str | None = config.attributes.get("schema")

    def do_run(connection: Connection) -> None:
        context.configure(
            connection=connection,
            target_metadata=metadata,
            version_table_schema=schema,
            compare_type=True,
            render_as_batch=is_sqlite(url),
        )
        with context.begin_transaction():
            context.run_migrations()

    async def run() -> None:
        engine = make_engine(url, schema)
        try:
            if schema:
                # Check first: a service role may own its schema without CREATE on the database.
                async with engine.begin() as conn:
                    exists = await conn.scalar(
                        text("SELECT 1 FROM pg_namespace WHERE nspname = :s"), {"s": schema}
                    )
                    if not exists:
                        await conn.execute(text(f'CREATE SCHEMA "{schema}"'))
            async with engine.connect() as conn:
                await conn.run_sync(do_run)
                await conn.commit()
        finally:
            await engine.dispose()

    asyncio.run(run())
