"""Rules of the idempotency purge that tests/common/test_idempotency_purge.py leaves open: a
batch is bounded, a record expiring this instant is still live, the loop yields (without
waiting) between batches, retries round after round and logs each failure, and a purger never
started is not running. Driven by an injected clock and a zero interval, never by waiting."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta

import pytest

import services.common.idempotency_purge as purge_module
from services.common.db import Database
from services.common.idempotency_purge import IdempotencyPurger, purge_batch, utc_now
from tests.common.notes_app import NoteIdempotency
from tests.common.test_idempotency_purge import NOW, _keys, _seed


async def test_one_batch_deletes_at_most_its_size(notes_database: Database) -> None:
    await _seed(notes_database, {f"old-{i}": -60 - i for i in range(7)})
    deleted = await purge_batch(notes_database.sessionmaker, NoteIdempotency, NOW, 3)
    assert deleted == 3
    assert len(await _keys(notes_database)) == 4


async def test_a_record_expiring_this_instant_is_still_live(notes_database: Database) -> None:
    """Expired means ``expires_at`` before now, as the middleware reads it: not at now."""
    await _seed(notes_database, {"now": 0, "before": -1})
    purger = IdempotencyPurger(
        notes_database.sessionmaker, NoteIdempotency, interval=3600, clock=lambda: NOW
    )
    assert await purger.step() == 1
    assert await _keys(notes_database) == {"now"}


async def test_the_round_yields_between_batches_without_waiting(
    notes_database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Waiting writers get the lock between two batches; the purge itself never sleeps."""
    await _seed(notes_database, {f"old-{i}": -60 - i for i in range(7)})
    pauses: list[float] = []
    real_sleep = asyncio.sleep

    async def recorded(delay: float) -> None:
        pauses.append(delay)
        await real_sleep(0)

    monkeypatch.setattr("services.common.idempotency_purge.asyncio.sleep", recorded)
    purger = IdempotencyPurger(
        notes_database.sessionmaker, NoteIdempotency, interval=3600, batch=3, clock=lambda: NOW
    )
    assert await purger.step() == 7
    assert pauses == [0, 0]  # after the two full batches (3 and 3), none after the last (1)


async def test_failing_rounds_are_each_logged_and_retried_every_interval(
    caplog: pytest.LogCaptureFixture,
) -> None:
    failures = 0
    third = asyncio.Event()

    def broken() -> object:
        nonlocal failures
        failures += 1
        if failures == 3:
            third.set()
        raise RuntimeError("database gone")

    purger = IdempotencyPurger(broken, NoteIdempotency, interval=0.0)
    with caplog.at_level(logging.ERROR, logger=purge_module.log.name):
        purger.start()
        await third.wait()
        await purger.stop()
    assert purger.rounds >= 3
    logged = [r for r in caplog.records if r.name == purge_module.log.name]
    assert len(logged) >= 3
    assert logged[0].getMessage() == "idempotency purge failed; retrying in 0.0 s"
    assert logged[0].exc_info is not None and "database gone" in str(logged[0].exc_info[1])


async def test_the_task_is_named_for_task_dumps_and_a_purger_never_started_is_idle() -> None:
    idle = IdempotencyPurger(lambda: None, NoteIdempotency, interval=3600)
    assert not idle.running
    await idle.stop()  # nothing to stop: returns at once
    assert not idle.running

    started = asyncio.Event()

    def waiting() -> object:
        started.set()
        raise RuntimeError("no database in this test")

    purger = IdempotencyPurger(waiting, NoteIdempotency, interval=3600)
    purger.start()
    await started.wait()
    assert "idempotency-purge" in {task.get_name() for task in asyncio.all_tasks()}
    await purger.stop()
    assert "idempotency-purge" not in {task.get_name() for task in asyncio.all_tasks()}


def test_the_clock_is_aware_utc() -> None:
    """Expiries are stored in UTC: a naive local clock would compare against the wrong hour."""
    now = utc_now()
    assert now.tzinfo is not None and now.utcoffset() == timedelta(0)
    assert abs(now - datetime.now(UTC)) < timedelta(minutes=1)
