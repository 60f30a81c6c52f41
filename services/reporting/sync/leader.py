"""Work that must run in one reporting process at a time (the sync, the webhook deliverer),
however many replicas run: a lease row per piece of work, renewed by its holder.

A replica that holds the lease runs the work; the others try every third of the lease and take
over once it has expired, so a killed leader (kill -9 included) is replaced within one lease
(5 s by default). A table row, not a PostgreSQL advisory lock, so the same code runs on SQLite,
and a leader cut off from the database loses the lease instead of holding a dead connection's
lock. Correctness never rests on the lease alone: the sync compares its locked cursor before
applying a page and deliveries are claimed row by row, so two leaders for a moment (a stalled
process whose lease ran out) apply nothing twice; the lease keeps the work from being done twice
for nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import update
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import col

from services.common.db import Database
from services.reporting.models import WorkerLease

log = logging.getLogger("bw.reporting.leader")

Work = Callable[[], Coroutine[Any, Any, None]]


def replica_name() -> str:
    """This process, as the lease names its holder."""
    return f"{socket.gethostname()}:{os.getpid()}"


async def acquire(db: Database, name: str, holder: str, ttl: float) -> bool:
    """Take or renew the lease ``name`` for ``ttl`` seconds; True if ``holder`` now holds it."""
    now = datetime.now(UTC)
    expires = now + timedelta(seconds=ttl)
    async with db.sessionmaker() as session:
        renewed = await session.execute(
            update(WorkerLease)
            .where(
                col(WorkerLease.name) == name,
                (col(WorkerLease.holder) == holder) | (col(WorkerLease.expires_at) < now),
            )
            .values(holder=holder, expires_at=expires)
        )
        taken = renewed.rowcount  # type: ignore[attr-defined]
        if not taken:
            table = WorkerLease.__table__  # type: ignore[attr-defined]
            insert = postgresql.insert if db.engine.dialect.name == "postgresql" else sqlite.insert
            created = await session.execute(
                insert(table)
                .values(name=name, holder=holder, expires_at=expires, acquired_at=now)
                .on_conflict_do_nothing(index_elements=["name"])
            )
            taken = created.rowcount  # type: ignore[attr-defined]
        await session.commit()
    return bool(taken)


async def release(db: Database, name: str, holder: str) -> None:
    """Let a stand-by take over at once (a clean shutdown), instead of after the lease."""
    past = datetime.now(UTC) - timedelta(seconds=1)
    async with db.sessionmaker() as session:
        await session.execute(
            update(WorkerLease)
            .where(col(WorkerLease.name) == name, col(WorkerLease.holder) == holder)
            .values(expires_at=past)
        )
        await session.commit()


class Leadership:
    """Runs ``work`` while this replica holds the lease ``name``; stands by otherwise."""

    def __init__(self, db: Database, name: str, ttl: float, holder: str | None = None) -> None:
        self.db = db
        self.name = name
        self.ttl = ttl
        self.holder = holder or replica_name()
        self.leading = False

    async def _hold(self) -> bool:
        try:
            return await acquire(self.db, self.name, self.holder, self.ttl)
        except Exception:  # the database is unreachable: not the leader until it answers
            log.exception("lease renewal failed", extra={"lease": self.name})
            return False

    async def run(self, work: Work) -> None:
        task: asyncio.Task[None] | None = None
        try:
            while True:
                self.leading = await self._hold()
                if self.leading and (task is None or task.done()):
                    log.info("leading", extra={"lease": self.name, "holder": self.holder})
                    task = asyncio.create_task(work(), name=f"{self.name}-work")
                elif not self.leading and task is not None:
                    log.warning("lost the lease; standing by", extra={"lease": self.name})
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError, Exception):
                        await task
                    task = None
                await asyncio.sleep(self.ttl / 3)
        finally:
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
            if self.leading:
                with contextlib.suppress(Exception):
                    await asyncio.shield(release(self.db, self.name, self.holder))
            self.leading = False
