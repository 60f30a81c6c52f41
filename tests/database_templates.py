"""Each service's migrated schema, built once per test run and copied wherever a test needs a
fresh one: running the migrations takes seconds, a copy takes milliseconds.

SQLite: the three migrated files, copied. PostgreSQL: one template database holding the three
service schemas, cloned with ``CREATE DATABASE ... TEMPLATE`` (falls back to migrating schemas
when the role may not create databases). The first pytest process that needs a template builds
it under a file lock; the others of the run (xdist workers share ``BW_TEST_RUN``) reuse it.
"""

from __future__ import annotations

import asyncio
import fcntl
import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import make_url, text
from sqlalchemy.exc import DBAPIError

from services.common.db import make_engine
from services.common.migrate import upgrade

SERVICES = ("assessment", "training", "reporting")
RUN_ENV = "BW_TEST_RUN"
CLONE_ATTEMPTS = 20


def run_id() -> str:
    """One id per pytest run, shared by its xdist workers (they inherit the controller's env)."""
    return os.environ.setdefault(RUN_ENV, uuid.uuid4().hex[:8])


def run_dir() -> Path:
    directory = Path(tempfile.gettempdir()) / f"bw-test-{run_id()}"
    directory.mkdir(parents=True, exist_ok=True)
    return directory


@contextmanager
def _run_lock() -> Iterator[None]:
    with (run_dir() / ".lock").open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def sqlite_url(path: Path) -> str:
    return f"sqlite+aiosqlite:///{path}"


def sqlite_template() -> Path:
    """The directory of the three migrated SQLite files, built on first use."""
    directory = run_dir() / "sqlite"
    with _run_lock():
        if not (directory / ".built").exists():
            directory.mkdir(exist_ok=True)
            for service in SERVICES:
                upgrade(service, sqlite_url(directory / f"{service}.db"), None)
            (directory / ".built").touch()
    return directory


def copy_sqlite(service: str, target: Path) -> Path:
    """A fresh migrated SQLite file for ``service`` at ``target``."""
    source = sqlite_template() / f"{service}.db"
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, target)
    return target


def with_database(url: str, name: str) -> str:
    return make_url(url).set(database=name).render_as_string(hide_password=False)


def template_name() -> str:
    return f"bw_tpl_{run_id()}"


async def _autocommit(url: str, *statements: str) -> None:
    engine = make_engine(url)
    try:
        async with engine.connect() as conn:
            conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
            for statement in statements:
                await conn.execute(text(statement))
    finally:
        await engine.dispose()


def _build_pg_template(url: str) -> str | None:
    """The template database's name, or None when this role may not create databases."""
    marker = run_dir() / "pg-template"
    with _run_lock():
        if marker.exists():
            return marker.read_text() or None
        name = template_name()
        try:
            asyncio.run(_autocommit(url, f'CREATE DATABASE "{name}"'))
        except DBAPIError:
            marker.write_text("")
            return None
        for service in SERVICES:
            upgrade(service, with_database(url, name), service)
        marker.write_text(name)
        return name


async def clone_pg(url: str, name: str) -> str | None:
    """A new database ``name`` holding the three migrated service schemas (each named after its
    service); its URL, or None when no template can be made here."""
    template = await asyncio.to_thread(_build_pg_template, url)
    if template is None:
        return None
    create = f'CREATE DATABASE "{name}" TEMPLATE "{template}"'
    for attempt in range(1, CLONE_ATTEMPTS + 1):
        try:
            await _autocommit(url, create)
            return with_database(url, name)
        except DBAPIError as error:
            # Two clones of one template at the same instant: PostgreSQL refuses the second
            # ("being accessed by other users") rather than queueing it.
            if "being accessed by other users" not in str(error) or attempt == CLONE_ATTEMPTS:
                raise
            await asyncio.sleep(0.1 * attempt)
    raise AssertionError("unreachable")


async def drop_pg(url: str, name: str) -> None:
    await _autocommit(url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _pg_template_built() -> bool:
    marker = run_dir() / "pg-template"
    return marker.exists() and bool(marker.read_text())


async def drop_run_databases(url: str) -> None:
    """Every database this run created (the template and any clone a crashed worker left)."""
    if not _pg_template_built():
        return  # no template, so no clone either: nothing to connect for
    engine = make_engine(url)
    try:
        async with engine.connect() as conn:
            rows = await conn.execute(
                text("SELECT datname FROM pg_database WHERE datname LIKE :pattern"),
                {"pattern": f"bw\\_%\\_{run_id()}%"},
            )
            names = sorted((row[0] for row in rows), key=lambda n: n == template_name())
    finally:
        await engine.dispose()
    for name in names:  # clones before their template
        await drop_pg(url, name)


def remove_run_dir() -> None:
    shutil.rmtree(run_dir(), ignore_errors=True)
