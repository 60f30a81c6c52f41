"""The periodic idempotency purge: expired records go in bounded batches, live and pending ones
stay, a failing round is survived, and the task starts and stops with the app. Driven by its
step and an injected clock, never by waiting."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import httpx

from services.common.db import Database
from services.common.idempotency_purge import IdempotencyPurger
from tests.common.notes_app import NoteIdempotency, create_notes_app

NOW = datetime(2026, 1, 1, tzinfo=UTC)


async def _seed(db: Database, expiries: dict[str, int], status: int | None = 201) -> None:
    async with db.sessionmaker() as session:
        for key, seconds in expiries.items():
            session.add(
                NoteIdempotency(
                    scope_key=key,
                    request_hash="h",
                    status=status,
                    created_at=NOW - timedelta(days=1),
                    expires_at=NOW + timedelta(seconds=seconds),
                )
            )
        await session.commit()


async def _keys(db: Database) -> set[str]:
    async with db.sessionmaker() as session:
        rows = await session.execute(NoteIdempotency.__table__.select())  # type: ignore[attr-defined]
        return {r.scope_key for r in rows}


async def test_a_round_deletes_expired_records_in_batches_and_keeps_live_and_pending(
    notes_database: Database,
) -> None:
    await _seed(notes_database, {f"old-{i}": -60 - i for i in range(7)})
    await _seed(notes_database, {"live": 3600})
    await _seed(notes_database, {"pending": 60}, status=None)
    purger = IdempotencyPurger(
        notes_database.sessionmaker, NoteIdempotency, interval=3600, batch=3, clock=lambda: NOW
    )
    assert await purger.step() == 7
    assert await _keys(notes_database) == {"live", "pending"}
    assert await purger.step() == 0
    later = IdempotencyPurger(
        notes_database.sessionmaker,
        NoteIdempotency,
        interval=3600,
        clock=lambda: NOW + timedelta(hours=2),
    )
    assert await later.step() == 2
    assert await _keys(notes_database) == set()


async def test_a_failing_round_is_logged_and_the_task_goes_on_until_stopped() -> None:
    called = asyncio.Event()

    def broken() -> object:
        called.set()
        raise RuntimeError("database gone")

    purger = IdempotencyPurger(broken, NoteIdempotency, interval=3600)
    purger.start()
    assert purger.running
    await called.wait()  # the first round runs at once and fails
    assert purger.rounds == 1
    assert purger.running  # survived: waiting for the next round
    await purger.stop()
    assert not purger.running


async def test_the_app_runs_the_purge_during_its_lifespan_and_stops_it(
    notes_database: Database,
) -> None:
    app = create_notes_app(notes_database)
    async with app.router.lifespan_context(app):
        purger = app.state.idempotency_purger
        assert isinstance(purger, IdempotencyPurger)
        assert purger.running
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app)) as client:
            assert (await client.get("http://notes/health/live")).status_code == 200
    assert not purger.running
