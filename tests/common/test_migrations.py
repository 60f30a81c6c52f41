"""Each service's migrations produce exactly its models' schema (no autogenerate diff), on
SQLite and on PostgreSQL, where tables and the version table live in the service's schema; and
a database holding the demo data upgrades from each service's first revision to head with its
data and its reports intact."""

import asyncio
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import MetaData, Table, inspect, select, text

from bw.resync import resync
from services.assessment.demo_data import DEMO_SEED
from services.assessment.models import metadata as assessment_metadata
from services.assessment.seeding import seed_demo as seed_assessment
from services.common.db import Database
from services.common.migrate import revisions_between, upgrade
from services.reporting.app import create_app as create_reporting
from services.reporting.models import FeedCursor
from services.reporting.models import metadata as reporting_metadata
from services.reporting.settings import ReportingSettings
from services.reporting.sync.rebuild import SOURCE_AGGREGATES, forget_source
from services.training.models import metadata as training_metadata
from services.training.seed import seed_demo as seed_training
from tests.support import RUN_ID, TEST_AUTH, TEST_DATABASE_URL, auth_header, drop_schema

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


# --- upgrades: the demo data survive every migration from each service's first revision -------

# Columns a migration renamed: (service, table) -> {name at the older revision: name at head}.
RENAMED = {("training", "course"): {"title": "title_en"}}
SERVICES = ("assessment", "training", "reporting")


@pytest.fixture
async def scratch(tmp_path: Path) -> AsyncIterator[Callable[[str, str], Database]]:
    """Fresh, empty databases named by (tag, service), dropped afterwards."""
    made: list[Database] = []

    def make(tag: str, service: str) -> Database:
        if TEST_DATABASE_URL:
            database = Database(TEST_DATABASE_URL, f"t_{RUN_ID}_{tag}_{service}")
        else:
            database = Database(f"sqlite+aiosqlite:///{tmp_path / f'{tag}-{service}.db'}")
        made.append(database)
        return database

    yield make
    for database in made:
        await database.dispose()
        await drop_schema(database.url, database.schema)


async def migrate_to(database: Database, service: str, revision: str) -> None:
    await database.engine.dispose()  # alembic runs on its own loop, in a thread
    await asyncio.to_thread(upgrade, service, database.url, database.schema, revision)


async def reflected_rows(database: Database) -> dict[str, tuple[Table, list[dict[str, Any]]]]:
    """Every table but alembic's, with its rows in primary-key order."""
    async with database.engine.connect() as conn:
        metadata = MetaData()
        await conn.run_sync(lambda sync: metadata.reflect(sync))
        found = {}
        for table in metadata.sorted_tables:
            if table.name == "alembic_version":
                continue
            order = list(table.primary_key.columns) or list(table.columns)
            rows = (await conn.execute(select(table).order_by(*order))).mappings().all()
            found[table.name] = (table, [dict(row) for row in rows])
    return found


async def seeded_at_head(make: Callable[[str, str], Database]) -> dict[str, Database]:
    databases = {service: make("head", service) for service in SERVICES}
    for service, database in databases.items():
        await migrate_to(database, service, "head")
    demo = await seed_assessment(databases["assessment"], DEMO_SEED)
    await seed_training(databases["training"], demo.factories, demo.assessments, seed=DEMO_SEED)
    await resync(databases, TEST_AUTH)
    return databases


async def upgraded_step_by_step(
    service: str, reference: Database, make: Callable[[str, str], Database]
) -> Database:
    """From the first revision to head, one migration at a time. Each table gets the demo's
    rows at the revision that creates it, and each column its values at the revision that adds
    it (as that version would have written them); a renamed column is never written again, so
    its values reach head only if the rename keeps them."""
    wanted = await reflected_rows(reference)
    database = make("old", service)
    written: dict[str, set[str]] = {}  # table -> head names of the columns holding demo values
    for revision in revisions_between(service, None):
        await migrate_to(database, service, revision)
        for name, (table, rows) in (await reflected_rows(database)).items():
            if name not in wanted or not wanted[name][1]:
                continue
            renamed = RENAMED.get((service, name), {})
            head_name = {c.name: renamed.get(c.name, c.name) for c in table.columns}
            new = [c for c in table.columns if head_name[c.name] not in written.get(name, set())]
            if not new:
                continue
            async with database.engine.begin() as conn:
                if not rows:
                    values = [{c: row[head_name[c]] for c in head_name} for row in wanted[name][1]]
                    await conn.execute(table.insert(), values)
                else:
                    keys = list(table.primary_key.columns)
                    for row in wanted[name][1]:
                        await conn.execute(
                            table.update()
                            .where(*(key == row[head_name[key.name]] for key in keys))
                            .values({c.name: row[head_name[c.name]] for c in new})
                        )
            written.setdefault(name, set()).update(head_name[c.name] for c in new)
    return database


async def reports(reporting: Database) -> dict[str, Any]:
    app = create_reporting(ReportingSettings(sync_enabled=False), reporting, TEST_AUTH)
    transport = httpx.ASGITransport(app=app)
    headers = auth_header("staff")
    async with httpx.AsyncClient(transport=transport, base_url="http://reporting") as client:
        points = await client.get("/v1/reports/non-compliance/compliance-points", headers=headers)
        annual = await client.get("/v1/reports/annual/2024?country=UZ", headers=headers)
    assert points.status_code == 200 and annual.status_code == 200, annual.text
    body = annual.json()
    for moment in ("generated_at", "data_as_of"):
        body.pop(moment)
    return {"compliance_points": points.json(), "annual": body}


async def test_demo_data_and_reports_survive_every_upgrade(
    scratch: Callable[[str, str], Database],
) -> None:
    head = await seeded_at_head(scratch)
    expected_reports = await reports(head["reporting"])
    assert expected_reports["annual"]["overview"]["assessments_in_period"] > 0

    upgraded = {
        service: await upgraded_step_by_step(service, head[service], scratch)
        for service in SERVICES
    }
    for service in SERVICES:
        before, after = await reflected_rows(head[service]), await reflected_rows(upgraded[service])
        assert set(after) == set(before), service
        for name, (_table, rows) in before.items():
            assert len(after[name][1]) == len(rows), f"{service}.{name} lost rows"
            assert after[name][1] == rows, f"{service}.{name} changed in the upgrade"
    assert await reports(upgraded["reporting"]) == expected_reports

    # The upgraded feeds still carry everything: a read model rebuilt from them agrees too.
    async with upgraded["reporting"].sessionmaker() as session:
        for source in SOURCE_AGGREGATES:
            cursor = await session.get(FeedCursor, source)
            await forget_source(session, source, cursor)
        await session.commit()
    await resync(upgraded, TEST_AUTH)
    assert await reports(upgraded["reporting"]) == expected_reports
