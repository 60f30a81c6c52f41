"""Async engine and sessions: SQLite (WAL, busy timeout) embedded, PostgreSQL (asyncpg) in prod.

Models carry no schema; on PostgreSQL each connection's ``search_path`` is set to the service's
schema, so the same tables and migrations serve both back ends.

A request can run as one unit of work (:meth:`Database.request_transaction`): every session the
request opens joins one outer transaction through savepoints, so a route's ``commit()`` only
releases its savepoint, and whoever opened the unit (the idempotency middleware) commits the
route's writes together with what it adds itself, or nothing at all.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from contextvars import ContextVar
from typing import Any

import pydantic_core
from sqlalchemy import event
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from services.common.sqlite_driver import sqlite_dbapi
from services.common.text_filters import register_sqlite_functions

SQLITE_BUSY_TIMEOUT_MS = 15_000
# A pooled PostgreSQL connection idle longer than this is checked before use.
PING_AFTER_IDLE_SECONDS = 5.0
_LAST_USED = "bw_last_used"
_AUTOCOMMIT = {"isolation_level": "AUTOCOMMIT"}

# The open unit of work of the current request, with the database it belongs to: several apps
# can share one task (in-process test transports), and only sessions of the same database join.
_unit_of_work: ContextVar[UnitOfWork | None] = ContextVar("bw_unit_of_work", default=None)


def is_sqlite(url: str) -> bool:
    return url.startswith("sqlite")


def make_engine(url: str, schema: str | None = None, echo: bool = False) -> AsyncEngine:
    # JSON columns are read by pydantic's parser: one call into Rust per value instead of
    # json.loads's three Python frames (two per row of a factories page, issue 12).
    kwargs: dict[str, Any] = {"echo": echo, "json_deserializer": pydantic_core.from_json}
    if is_sqlite(url):
        kwargs["connect_args"] = {"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000}
        kwargs["module"] = sqlite_dbapi()  # fewer trips to aiosqlite's thread
    else:
        kwargs["pool_size"] = 10
        kwargs["max_overflow"] = 10
        if schema:
            kwargs["connect_args"] = {"server_settings": {"search_path": schema}}
    engine = create_async_engine(url, **kwargs)
    if is_sqlite(url):
        _configure_sqlite(engine)
    else:
        _ping_idle_connections(engine)
    return engine


def _ping_idle_connections(engine: AsyncEngine) -> None:
    """Check a pooled connection before use only when it has been idle a while, instead of
    ``pool_pre_ping`` on every checkout: asyncpg's ping is three round trips (BEGIN, ``;``,
    ROLLBACK), more than a short read itself. A connection that fails the check is replaced,
    as with ``pool_pre_ping``; one that dies while in steady use fails its request, and
    SQLAlchemy then replaces every connection of the pool."""

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(_dbapi_connection: Any, record: Any) -> None:
        record.info[_LAST_USED] = time.monotonic()

    @event.listens_for(engine.sync_engine, "checkin")
    def _on_checkin(_dbapi_connection: Any, record: Any) -> None:
        if record is not None:
            record.info[_LAST_USED] = time.monotonic()

    @event.listens_for(engine.sync_engine, "checkout")
    def _on_checkout(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        last_used = record.info.get(_LAST_USED, 0.0)
        if time.monotonic() - last_used < PING_AFTER_IDLE_SECONDS:
            return
        try:
            dbapi_connection.ping()
        except Exception as exc:
            raise DisconnectionError("the pooled connection failed its check") from exc


def _configure_sqlite(engine: AsyncEngine) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy, not pysqlite, decide when transactions begin, so that BEGIN IMMEDIATE
        # below takes the write lock up front and concurrent writers queue instead of failing.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()
        register_sqlite_functions(dbapi_connection)  # lower() folds every script, as on PG

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Any) -> None:
        # Writers take the lock up front (no deadlocking lock upgrades); readers opt out.
        mode = conn.get_execution_options().get("sqlite_begin", "IMMEDIATE")
        conn.exec_driver_sql(f"BEGIN {mode}")


class UnitOfWork:
    """The open transaction of one request, and the sessions that joined it."""

    def __init__(self, database: Database, connection: AsyncConnection) -> None:
        self.database = database
        self.connection = connection
        self._sessions: list[AsyncSession] = []

    def join(self) -> AsyncSession:
        # commit() and rollback() then act on a savepoint; the unit's owner ends the transaction.
        session = self.database.sessionmaker(
            bind=self.connection, join_transaction_mode="create_savepoint"
        )
        self._sessions.append(session)
        return session

    async def commit(self) -> None:
        await self.close_sessions()
        await self.connection.commit()

    async def rollback(self) -> None:
        await self.close_sessions()
        if self.connection.in_transaction():
            await self.connection.rollback()

    async def close_sessions(self) -> None:
        """Close the joined sessions, even those whose owner has not (a dependency generator
        left unfinished): closed later, they would act on a connection already back in the
        pool. What a session did not commit is rolled back to its savepoint, and with it
        anything written on the connection since, so call this before adding to the unit."""
        sessions, self._sessions = self._sessions, []
        for session in sessions:
            await session.close()


class Database:
    """One engine and session factory per app, created at startup and disposed at shutdown."""

    def __init__(self, url: str, schema: str | None = None, echo: bool = False) -> None:
        self.url = url
        self.schema = schema
        self.engine = make_engine(url, schema, echo)
        self.sessionmaker = async_sessionmaker(self.engine, expire_on_commit=False)
        # The same pool, each connection taken with a reader's options (read_options).
        self.read_engine = self.engine.execution_options(**self.read_options)

    @property
    def is_sqlite(self) -> bool:
        return is_sqlite(self.url)

    @property
    def read_options(self) -> dict[str, Any]:
        """A reader's connection options. SQLite: a deferred transaction, one snapshot for
        every read. PostgreSQL: no transaction; at READ COMMITTED each statement sees what a
        transaction would have shown it, and the BEGIN and ROLLBACK round trips are gone."""
        return {"sqlite_begin": "DEFERRED"} if self.is_sqlite else _AUTOCOMMIT

    async def session(self) -> AsyncIterator[AsyncSession]:
        async with self._joined_or_new_session() as session:
            yield session

    async def read_session(self) -> AsyncIterator[AsyncSession]:
        """A session for reads only: on SQLite it does not queue behind writers. Inside a unit
        of work it joins it, so a request reads its own uncommitted writes."""
        if self._open_unit() is not None:
            async with self._joined_or_new_session() as session:
                yield session
            return
        async with self.sessionmaker() as session:
            await session.connection(execution_options=self.read_options)
            yield session

    async def read_connection(self) -> AsyncIterator[AsyncConnection]:
        """A Core connection for reads only, for routes that read rows, not objects: the same
        snapshot as :meth:`read_session` without the ORM session around it. Inside a unit of
        work it is the unit's connection, so a request reads its own uncommitted writes."""
        unit = self._open_unit()
        if unit is not None:
            yield unit.connection
            return
        async with self.read_engine.connect() as connection:
            yield connection

    @asynccontextmanager
    async def request_transaction(self) -> AsyncIterator[UnitOfWork]:
        """One transaction for a whole request; the caller ends it with ``commit()`` or
        ``rollback()``, and whatever it has not committed when the block ends is rolled back.
        Sessions opened in the block (:meth:`session`, :meth:`read_session`) join it through
        savepoints. On SQLite it takes the write lock at once, like every writing session."""
        async with self.engine.connect() as connection:
            await connection.begin()
            unit = UnitOfWork(self, connection)
            token = _unit_of_work.set(unit)
            try:
                yield unit
            finally:
                _unit_of_work.reset(token)
                await unit.rollback()

    def _open_unit(self) -> UnitOfWork | None:
        unit = _unit_of_work.get()
        # A task started inside the request keeps a copy of its context: once the unit has
        # ended, that task's sessions open their own transactions.
        if unit is None or unit.database is not self or not unit.connection.in_transaction():
            return None
        return unit

    def _joined_or_new_session(self) -> AsyncSession:
        unit = self._open_unit()
        return self.sessionmaker() if unit is None else unit.join()

    async def dispose(self) -> None:
        await self.engine.dispose()
