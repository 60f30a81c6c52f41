"""Where each service's database is, checked before anything connects to it.

A URL the platform cannot use, or an SQLite file that does not exist yet (connecting would
quietly create an empty one), is refused with the one thing to do. ``bw migrate`` alone may
create: the SQLite file's directory, or the PostgreSQL database when the role may.
"""

from __future__ import annotations

import asyncio
import os
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError
from sqlalchemy.ext.asyncio import create_async_engine

from bw.errors import URL_FORMS, OperatorError, caused_by, safe_url, working_on
from bw.services import SERVICES, spec
from services.common.db import Database

SUPPORTED_DRIVERS = {"postgresql+asyncpg", "sqlite+aiosqlite"}


@dataclass(frozen=True)
class ServiceDatabase:
    """One service's database as configured: URL, PostgreSQL schema, and where that came from."""

    service: str
    url: str
    schema: str | None
    configured_by: str

    @property
    def is_sqlite(self) -> bool:
        return self.url.startswith("sqlite")

    @property
    def label(self) -> str:
        return f"{self.service} database"

    @property
    def sqlite_path(self) -> Path:
        database = make_url(self.url).database
        if not database:
            raise OperatorError(f"{self.configured_by} names no SQLite file; {URL_FORMS}")
        return Path(database)

    @property
    def where(self) -> str:
        return f"schema {self.schema} of {safe_url(self.url)}" if self.schema else self.url

    def working(self) -> AbstractContextManager[None]:
        """Failures inside the block name this database."""
        return working_on(self.label, self.url)

    def require_sqlite_file(self) -> None:
        """An SQLite file must exist before anything but `bw migrate` opens it."""
        if self.is_sqlite and not self.sqlite_path.exists():
            raise OperatorError(
                f"the {self.label} {self.sqlite_path} does not exist yet: run `bw migrate`"
            )

    def open(self) -> Database:
        self.require_sqlite_file()
        return Database(self.url, self.schema)


def configured_by(service: str) -> str:
    prefix = spec(service).env_prefix
    if os.environ.get(f"{prefix}DATABASE_URL"):
        return f"{prefix}DATABASE_URL"
    if os.environ.get("DATABASE_URL"):
        return "DATABASE_URL"
    return "the default (BW_VAR_DIR)"


def service_database(service: str) -> ServiceDatabase:
    """The service's database as its settings resolve it, with the URL checked."""
    settings = spec(service).settings_class()
    source = configured_by(service)
    url = settings.resolved_database_url()
    check_url(url, source)
    return ServiceDatabase(service, url, settings.resolved_schema(), source)


def all_databases(names: list[str] | None = None) -> list[ServiceDatabase]:
    return [service_database(name) for name in names or [s.name for s in SERVICES]]


def check_url(url: str, source: str) -> URL:
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise OperatorError(f"{source} is not a database URL ({url!r}); {URL_FORMS}") from exc
    if parsed.drivername not in SUPPORTED_DRIVERS:
        raise OperatorError(
            f"{source} uses driver {parsed.drivername!r}, which the platform does not speak; "
            + URL_FORMS
        )
    if parsed.drivername.startswith("postgresql") and not parsed.database:
        raise OperatorError(f"{source} names no database ({safe_url(url)}); {URL_FORMS}")
    return parsed


def libpq_url(url: str) -> str:
    """The same database as a plain ``postgresql://`` URL, for pg_dump, psql and createdb."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def createdb_command(url: str) -> str:
    parsed = make_url(url)
    owner = f" -O {parsed.username}" if parsed.username else ""
    return (
        f"createdb -h {parsed.host or 'localhost'} -p {parsed.port or 5432} -U postgres"
        f"{owner} {parsed.database}"
    )


async def _database_exists(url: str) -> bool:
    engine = create_async_engine(url)
    try:
        async with engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
        return True
    except DBAPIError as exc:
        if caused_by(exc, "InvalidCatalogNameError"):
            return False
        raise
    finally:
        await engine.dispose()


async def _create_database(url: str) -> None:
    """CREATE DATABASE through the maintenance database, when the role may create databases."""
    parsed = make_url(url)
    name = parsed.database
    maintenance = create_async_engine(parsed.set(database="postgres"), isolation_level="AUTOCOMMIT")
    refuse = OperatorError(
        f'database "{name}" does not exist on {parsed.host or "localhost"} and the role '
        f"{parsed.username or '(default)'} may not create it; as a PostgreSQL superuser run: "
        f"{createdb_command(url)}"
    )
    try:
        async with maintenance.connect() as conn:
            may_create = await conn.scalar(
                text("SELECT rolcreatedb OR rolsuper FROM pg_roles WHERE rolname = current_user")
            )
            if not may_create:
                raise refuse
            quoted = '"' + str(name).replace('"', '""') + '"'
            await conn.execute(text(f"CREATE DATABASE {quoted}"))
    except DBAPIError as exc:
        raise refuse from exc
    finally:
        await maintenance.dispose()


def ensure_database(database: ServiceDatabase) -> bool:
    """Make sure the database exists; True when this call created it."""
    if database.is_sqlite:
        path = database.sqlite_path
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise OperatorError(
                f"cannot create {path.parent} for the {database.label}: {exc.strerror}"
            ) from exc
        return not path.exists()
    with database.working():
        if asyncio.run(_database_exists(database.url)):
            return False
        asyncio.run(_create_database(database.url))
    return True
