"""Periodic purge of expired idempotency records, so the table does not grow forever.

Every service with an idempotency table runs one :class:`IdempotencyPurger` from the kernel's
app lifespan. It deletes in bounded batches, one short transaction each, because on SQLite a
delete holds the database's only write lock: thousands of rows in one statement would make every
writer of the service wait. A failure is logged and the next round tries again; a purge is
housekeeping and must never take the service down. Stopping the app stops the task.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, select

from services.common.idempotency import IdempotencyFields

log = logging.getLogger(__name__)

DEFAULT_BATCH = 500


def utc_now() -> datetime:
    return datetime.now(UTC)


async def purge_batch(
    sessionmaker: Any, model: type[IdempotencyFields], now: datetime, batch: int
) -> int:
    """Delete at most ``batch`` records expired before ``now``, in one short transaction."""
    async with sessionmaker() as session:
        keys = (
            (
                await session.execute(
                    select(model.scope_key)  # type: ignore[call-overload]
                    .where(model.expires_at < now)
                    .limit(batch)
                )
            )
            .scalars()
            .all()
        )
        if not keys:
            return 0
        await session.execute(
            delete(model).where(model.scope_key.in_(keys))  # type: ignore[attr-defined]
        )
        await session.commit()
        return len(keys)


class IdempotencyPurger:
    """One service's purge: ``step()`` is a whole round (what tests drive), ``start()`` and
    ``stop()`` run it every ``interval`` seconds in the background of the app's lifespan."""

    def __init__(
        self,
        sessionmaker: Any,
        model: type[IdempotencyFields],
        interval: float,
        batch: int = DEFAULT_BATCH,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self.sessionmaker = sessionmaker
        self.model = model
        self.interval = interval
        self.batch = batch
        self.clock = clock
        self.rounds = 0
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def step(self) -> int:
        """Purge every record expired now, batch by batch; the number deleted."""
        now = self.clock()
        total = 0
        while True:
            deleted = await purge_batch(self.sessionmaker, self.model, now, self.batch)
            total += deleted
            if deleted < self.batch:
                return total
            await asyncio.sleep(0)  # let waiting writers take the lock between batches

    async def _run(self) -> None:
        while not self._stop.is_set():
            try:
                await self.step()
            except Exception:  # housekeeping: logged, retried next round, never fatal
                log.exception("idempotency purge failed; retrying in %s s", self.interval)
            self.rounds += 1
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), timeout=self.interval)

    def start(self) -> None:
        self._stop.clear()
        self._task = asyncio.create_task(self._run(), name="idempotency-purge")

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    async def stop(self) -> None:
        self._stop.set()
        if self._task is not None:
            await self._task
            self._task = None
