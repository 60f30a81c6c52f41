"""Rules of the alembic plumbing (services/common/migrate.py) that the schema and upgrade tests of
tests/common/test_migrations.py leave open: each service's configuration points at its own
chain, the chain's ends and steps are what `bw migrate` reports, a database's revision is read
back, and autogenerate in these environments compares column types (and on SQLite renders
batch operations, the only way SQLite can alter a column)."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import AsyncIterator, Callable
from itertools import pairwise
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import Integer

import services.common.migrate as migrate_module
from services.common.db import Database
from services.common.migrate import (
    MIGRATIONS_DIR,
    alembic_config,
    current_revision,
    first_revision,
    head_revision,
    revisions_between,
    script_directory,
    upgrade,
)
from services.training.models import metadata as training_metadata
from tests.support import RUN_ID, TEST_DATABASE_URL, drop_schema

SERVICES = ("assessment", "training", "reporting")


@pytest.fixture
async def scratch(tmp_path: Path) -> AsyncIterator[Callable[[str], Database]]:
    """Fresh, empty training databases named by tag, dropped afterwards."""
    made: list[Database] = []

    def make(tag: str) -> Database:
        if TEST_DATABASE_URL:
            database = Database(TEST_DATABASE_URL, f"t_{RUN_ID}_migrate_{tag}")
        else:
            database = Database(f"sqlite+aiosqlite:///{tmp_path / f'{tag}.db'}")
        made.append(database)
        return database

    yield make
    for database in made:
        await database.dispose()
        await drop_schema(database.url, database.schema)


async def migrate_to(database: Database, revision: str) -> None:
    await database.engine.dispose()  # alembic runs on its own loop, in a thread
    await asyncio.to_thread(upgrade, "training", database.url, database.schema, revision)


def test_the_configuration_points_at_the_services_own_chain() -> None:
    config = alembic_config("training", "sqlite+aiosqlite:///x.db", "training")
    assert config.get_main_option("script_location") == str(MIGRATIONS_DIR / "training")
    versions = str(MIGRATIONS_DIR / "training" / "versions")
    assert config.get_main_option("version_locations") == versions
    assert config.get_main_option("path_separator") == "os"
    assert config.attributes == {"database_url": "sqlite+aiosqlite:///x.db", "schema": "training"}
    assert script_directory("training").versions == versions


@pytest.mark.parametrize("service", SERVICES)
def test_the_chain_runs_one_step_at_a_time_from_its_first_revision_to_head(service: str) -> None:
    chain = revisions_between(service, None)
    assert chain[0] == first_revision(service) and chain[-1] == head_revision(service)
    scripts = script_directory(service)
    assert scripts.get_revision(chain[0]).down_revision is None
    for older, newer in pairwise(chain):
        assert scripts.get_revision(newer).down_revision == older
    assert revisions_between(service, chain[0]) == chain[1:]
    assert revisions_between(service, chain[-1]) == []
    assert revisions_between(service, None, chain[1]) == chain[:2]
    assert revisions_between(service, chain[0], chain[1]) == [chain[1]]


def test_a_revision_this_code_does_not_know_is_a_key_error() -> None:
    """What `bw migrate` reports as a database newer than the code."""
    with pytest.raises(KeyError) as raised:
        revisions_between("training", "0123456789ab")
    assert raised.value.args == ("0123456789ab",)  # a log of it names the revision


async def test_the_revision_a_database_is_at_is_read_back(
    scratch: Callable[[str], Database],
) -> None:
    database = scratch("current")
    assert await current_revision(database.url, database.schema) is None  # never migrated
    first = first_revision("training")
    await migrate_to(database, first)
    assert await current_revision(database.url, database.schema) == first
    await migrate_to(database, "head")  # again, on a database (and schema) that exists
    assert await current_revision(database.url, database.schema) == head_revision("training")


async def test_autogenerate_compares_column_types_and_batches_on_sqlite(
    scratch: Callable[[str], Database], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A new migration is drafted with ``alembic revision --autogenerate`` through these
    environments: a changed column type must show up in it, and on SQLite as a batch
    operation (SQLite alters a column only by copying its table)."""
    database = scratch("autogenerate")
    await migrate_to(database, "head")
    copy = tmp_path / "migrations"
    shutil.copytree(MIGRATIONS_DIR / "training", copy / "training")
    monkeypatch.setattr(migrate_module, "MIGRATIONS_DIR", copy)
    monkeypatch.setattr(training_metadata.tables["course"].c["title_en"], "type", Integer())
    config = alembic_config("training", database.url, database.schema)
    await asyncio.to_thread(command.revision, config, "probe", autogenerate=True)
    [drafted] = list((copy / "training" / "versions").glob("*_probe.py"))
    script = drafted.read_text()
    assert "'title_en'" in script and "type_=sa.Integer()" in script, script
    batched = "with op.batch_alter_table('course'" in script
    assert batched == database.is_sqlite, script
