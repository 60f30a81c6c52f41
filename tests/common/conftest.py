from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text

from services.common.db import Database
from tests.common.notes_app import NotesTable, create_notes_app
from tests.support import database_location, drop_schema


@pytest.fixture
async def notes_database(tmp_path: Path) -> AsyncIterator[Database]:
    url, schema = database_location("notes", tmp_path)
    if schema:
        schema = f"{schema}_{tmp_path.name[-12:]}".replace("-", "_").lower()
        setup = Database(url)
        async with setup.engine.begin() as conn:
            await conn.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{schema}"'))
        await setup.dispose()
    database = Database(url, schema)
    async with database.engine.begin() as conn:
        await conn.run_sync(NotesTable.metadata.create_all)
    yield database
    await database.dispose()
    await drop_schema(url, schema)


@pytest.fixture
async def notes_client(notes_database: Database) -> AsyncIterator[httpx.AsyncClient]:
    app = create_notes_app(notes_database)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://notes") as client:
        yield client
