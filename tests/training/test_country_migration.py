"""The migration that adds ``country`` to training rows fills existing rows with the country the
operator names (TRAINING_BACKFILL_COUNTRY), on SQLite and PostgreSQL; without one they stay empty
for the service to complete from the assessment service."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from sqlalchemy import text

from services.common.db import Database
from services.common.migrate import upgrade
from tests.support import database_location, drop_schema

BEFORE_COUNTRIES = "b2c3d4e5f6a7"


async def countries_after_upgrade(tmp_path: Path, name: str) -> set[tuple[str, str | None]]:
    """Migrate to just before ``country``, store a committee and a seminar, migrate to head."""
    url, schema = database_location(name, tmp_path)
    await asyncio.to_thread(upgrade, "training", url, schema, BEFORE_COUNTRIES)
    database = Database(url, schema)
    now = datetime.now(UTC)
    try:
        async with database.sessionmaker() as session:
            await session.execute(
                text(
                    "INSERT INTO committee (version, id, factory_id, created_at, updated_at) "
                    "VALUES (1, 'com_old', 'fac_old', :now, :now)"
                ),
                {"now": now},
            )
            await session.execute(
                text(
                    "INSERT INTO seminar (version, id, kind, event_date, topic, organisations, "
                    "participants_women, participants_men, created_at, updated_at) VALUES "
                    "(1, 'sem_old', 'pac_meeting', :day, 'PAC', '[]', 1, 1, :now, :now)"
                ),
                {"now": now, "day": date(2024, 5, 1)},
            )
            await session.commit()
        await asyncio.to_thread(upgrade, "training", url, schema)
        async with database.sessionmaker() as session:
            rows = await session.execute(
                text("SELECT id, country FROM committee UNION SELECT id, country FROM seminar")
            )
            return {(row[0], row[1]) for row in rows}
    finally:
        await database.dispose()
        await drop_schema(url, schema)


async def test_existing_rows_get_the_country_the_operator_names(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TRAINING_BACKFILL_COUNTRY", "UZ")
    rows = await countries_after_upgrade(tmp_path, "training_backfill_uz")
    assert rows == {("com_old", "UZ"), ("sem_old", "UZ")}


async def test_without_a_named_country_existing_rows_stay_empty(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("TRAINING_BACKFILL_COUNTRY", raising=False)
    rows = await countries_after_upgrade(tmp_path, "training_backfill_none")
    assert rows == {("com_old", None), ("sem_old", None)}
