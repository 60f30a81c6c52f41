"""PostgreSQL backups: ``pg_dump`` of each service's schema, restored with ``pg_restore`` into
``psql --single-transaction`` so a restore replaces a schema whole or not at all.

Services that share a database are dumped from one exported snapshot, so their dumps, and the
feed positions in the manifest, are one instant of the whole platform.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import asyncpg
from sqlalchemy.engine import make_url

from bw.backup_manifest import FeedPosition, ServicePositions
from bw.databases import ServiceDatabase
from bw.errors import OperatorError


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise OperatorError(
            f"{name} is not installed; it comes with PostgreSQL's client tools "
            "(Debian/Ubuntu: apt install postgresql-client)"
        )
    return path


def _connection(url: str) -> tuple[str, dict[str, str]]:
    """A libpq connection string without the password, and the environment carrying it."""
    parsed = make_url(url)
    env = dict(os.environ)
    if parsed.password:
        env["PGPASSWORD"] = str(parsed.password)
    dsn = parsed.set(drivername="postgresql", password=None).render_as_string()
    return dsn, env


def _run(command: list[str], env: dict[str, str], what: str) -> None:
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        lines = [line for line in done.stderr.splitlines() if line.strip()]
        raise OperatorError(f"{what} failed: {lines[-1] if lines else f'exit {done.returncode}'}")


def _major(version_text: str) -> int:
    match = re.search(r"\b(\d+)\.\d+", version_text)
    return int(match.group(1)) if match else 0


async def _check_pg_dump_version(conn: asyncpg.Connection) -> None:
    server = int(await conn.fetchval("SHOW server_version_num")) // 10000
    done = await asyncio.to_thread(
        subprocess.run, [_tool("pg_dump"), "--version"], capture_output=True, text=True
    )
    client = _major(done.stdout)
    if client < server:
        raise OperatorError(
            f"pg_dump {client} cannot dump PostgreSQL {server}: install postgresql-client-{server}"
        )


def _quoted(schema: str) -> str:
    return '"' + schema.replace('"', '""') + '"'


async def _positions(conn: asyncpg.Connection, schema: str) -> ServicePositions:
    async def table(name: str) -> bool:
        return bool(await conn.fetchval("SELECT to_regclass($1)", f"{_quoted(schema)}.{name}"))

    revision = None
    if await table("alembic_version"):
        revision = await conn.fetchval(f"SELECT version_num FROM {_quoted(schema)}.alembic_version")
    feed_end = FeedPosition(0, None)
    if await table("outbox"):
        row = await conn.fetchrow(
            f"SELECT id, occurred_at FROM {_quoted(schema)}.outbox ORDER BY id DESC LIMIT 1"
        )
        if row is not None:
            feed_end = FeedPosition(int(row["id"]), _iso(row["occurred_at"]))
    cursors: dict[str, FeedPosition] = {}
    if await table("feed_cursor"):
        rows = await conn.fetch(
            f"SELECT source, last_event_id, last_event_at FROM {_quoted(schema)}.feed_cursor"
        )
        cursors = {
            r["source"]: FeedPosition(int(r["last_event_id"]), _iso(r["last_event_at"]))
            for r in rows
        }
    return ServicePositions(revision=revision, feed_end=feed_end, cursors=cursors)


def _iso(value: Any) -> str | None:
    return (
        None if value is None else value.isoformat() if hasattr(value, "isoformat") else str(value)
    )


def _asyncpg_dsn(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


async def dump_schemas(
    databases: list[ServiceDatabase], directory: Path
) -> dict[str, tuple[Path, ServicePositions]]:
    """Dump the schemas of services sharing one database from a single snapshot, with the
    positions that snapshot holds."""
    dsn, env = _connection(databases[0].url)
    conn = await asyncpg.connect(_asyncpg_dsn(databases[0].url))
    files: dict[str, tuple[Path, ServicePositions]] = {}
    try:
        await _check_pg_dump_version(conn)
        transaction = conn.transaction(isolation="repeatable_read", readonly=True)
        await transaction.start()
        try:
            snapshot = await conn.fetchval("SELECT pg_export_snapshot()")
            for database in databases:
                assert database.schema is not None
                positions = await _positions(conn, database.schema)
                target = directory / f"{database.service}.dump"
                command = [
                    _tool("pg_dump"),
                    "--format=custom",
                    f"--schema={database.schema}",
                    f"--snapshot={snapshot}",
                    f"--file={target}",
                    f"--dbname={dsn}",
                ]
                await asyncio.to_thread(_run, command, env, f"pg_dump of {database.service}")
                files[database.service] = (target, positions)
        finally:
            await transaction.rollback()
    finally:
        await conn.close()
    return files


async def read_positions(database: ServiceDatabase) -> ServicePositions:
    """Positions of a schema as it is now (used right after its restore)."""
    assert database.schema is not None
    conn = await asyncpg.connect(_asyncpg_dsn(database.url))
    try:
        return await _positions(conn, database.schema)
    finally:
        await conn.close()


def _emptying_sql(schema: str) -> str:
    """Drops everything inside the schema but keeps the schema itself, so a service role that
    owns its schema without CREATE on the database (deploy/postgres-init.sql) can restore it."""
    literal = "'" + schema.replace("'", "''") + "'"
    return f"""
DO $$
DECLARE r record;
BEGIN
  FOR r IN SELECT c.relname, c.relkind FROM pg_class c
           JOIN pg_namespace n ON n.oid = c.relnamespace
           WHERE n.nspname = {literal} AND c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f') LOOP
    EXECUTE format('DROP %s IF EXISTS %I.%I CASCADE',
      CASE r.relkind WHEN 'v' THEN 'VIEW' WHEN 'm' THEN 'MATERIALIZED VIEW'
        WHEN 'S' THEN 'SEQUENCE' WHEN 'f' THEN 'FOREIGN TABLE' ELSE 'TABLE' END,
      {literal}, r.relname);
  END LOOP;
  FOR r IN SELECT t.typname FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
           WHERE n.nspname = {literal} AND t.typtype IN ('e', 'd', 'c', 'r')
             AND NOT EXISTS (SELECT 1 FROM pg_class c WHERE c.reltype = t.oid) LOOP
    EXECUTE format('DROP TYPE IF EXISTS %I.%I CASCADE', {literal}, r.typname);
  END LOOP;
  FOR r IN SELECT p.oid::regprocedure AS routine FROM pg_proc p
           JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = {literal} LOOP
    EXECUTE format('DROP ROUTINE IF EXISTS %s CASCADE', r.routine);
  END LOOP;
END $$;
"""


async def _schema_exists(database: ServiceDatabase) -> bool:
    conn = await asyncpg.connect(_asyncpg_dsn(database.url))
    try:
        found = await conn.fetchval(
            "SELECT 1 FROM pg_namespace WHERE nspname = $1", database.schema
        )
    finally:
        await conn.close()
    return found is not None


def restore_schema(database: ServiceDatabase, dump: Path) -> None:
    """Replace what the service's schema holds with the dump's, in one transaction."""
    assert database.schema is not None
    dsn, env = _connection(database.url)
    pg_restore = _tool("pg_restore")
    with tempfile.TemporaryDirectory() as scratch:
        emptying, listing, script = (
            Path(scratch) / n for n in ("empty.sql", "list", "restore.sql")
        )
        emptying.write_text(_emptying_sql(database.schema), encoding="utf-8")
        selection: list[str] = []
        if asyncio.run(_schema_exists(database)):
            # Keep the schema (and its owner): restore only what is inside it.
            _run([pg_restore, f"--file={listing}", "--list", str(dump)], env, "pg_restore --list")
            entries = listing.read_text(encoding="utf-8").splitlines()
            kept = [e for e in entries if f" SCHEMA - {database.schema} " not in f"{e} "]
            listing.write_text("\n".join(kept) + "\n", encoding="utf-8")
            selection = [f"--use-list={listing}"]
        _run(
            [
                pg_restore,
                "--no-owner",
                "--no-privileges",
                *selection,
                f"--file={script}",
                str(dump),
            ],
            env,
            f"pg_restore of {database.service}",
        )
        _run(
            [
                _tool("psql"),
                "--no-psqlrc",
                "--quiet",
                "--set=ON_ERROR_STOP=1",
                "--single-transaction",
                f"--file={emptying}",
                f"--file={script}",
                f"--dbname={dsn}",
            ],
            env,
            f"restore of {database.service} into schema {database.schema}",
        )
