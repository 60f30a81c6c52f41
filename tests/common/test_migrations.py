"""Each service's migrations produce exactly its models' schema (no autogenerate diff), on
SQLite and on PostgreSQL, where tables and the version table live in the service's schema."""

from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import MetaData, inspect, text

from services.assessment.models import metadata as assessment_metadata
from services.common.db import Database
from services.reporting.models import metadata as reporting_metadata
from services.training.models import metadata as training_metadata

METADATA = {
    "assessment": assessment_metadata,
    "training": training_metadata,
    "reporting": reporting_metadata,
}


@pytest.fixture
def databases(
    assessment_database: Database, training_database: Database, reporting_database: Database
) -> dict[str, Database]:
    return {
        "assessment": assessment_database,
        "training": training_database,
        "reporting": reporting_database,
    }


def _diff(connection: Any, metadata: MetaData) -> list[Any]:
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return list(compare_metadata(context, metadata))


@pytest.mark.parametrize("service", sorted(METADATA))
async def test_migrated_schema_equals_models(service: str, databases: dict[str, Database]) -> None:
    database = databases[service]
    async with database.engine.connect() as conn:
        differences = await conn.run_sync(_diff, METADATA[service])
        tables = await conn.run_sync(lambda c: set(inspect(c).get_table_names()))
    assert differences == []
    assert "alembic_version" in tables
    assert set(METADATA[service].tables) <= tables


@pytest.mark.parametrize("service", sorted(METADATA))
async def test_postgres_tables_live_in_the_service_schema(
    service: str, databases: dict[str, Database]
) -> None:
    database = databases[service]
    if database.is_sqlite:
        assert database.schema is None  # one SQLite file per service instead
        return
    async with database.engine.connect() as conn:
        rows = await conn.execute(
            text("SELECT table_name FROM information_schema.tables WHERE table_schema = :s"),
            {"s": database.schema},
        )
        in_schema = {row[0] for row in rows}
    assert {"alembic_version", *METADATA[service].tables} <= in_schema
